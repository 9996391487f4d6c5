/**
 * The AWS SDK clients, loaded only when an ALB driver first calls AWS: HAProxy and nginx runs never load them, and
 * an ALB dry run loads only ELBv2 (it reads no CloudWatch counters).
 * Credentials come from the SDK's standard chain (environment, web identity from OIDC, profiles, instance roles);
 * endpoints from its standard variables (AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2, AWS_ENDPOINT_URL_CLOUDWATCH,
 * AWS_ENDPOINT_URL), which is also how the tests point it at their stand-in.
 */
import type * as Elbv2 from '@aws-sdk/client-elastic-load-balancing-v2';
import type * as CloudWatch from '@aws-sdk/client-cloudwatch';
import { awsAdvice, classifyAwsError, type AwsErrorKind, type AwsErrorLike } from './errors.js';
import { CallBudget } from '../../model/poll.js';

/** A call AWS refused or never answered: its kind tells bad input from credentials, throttling and outages. */
export class AwsCallError extends Error {
  constructor(
    message: string,
    readonly kind: AwsErrorKind,
    readonly operation: string,
    readonly attempts: number,
    options: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'AwsCallError';
  }
}

export interface ApiTuning {
  /** undefined: the SDK's own chain (AWS_REGION, AWS_DEFAULT_REGION, the profile). */
  readonly region: string | undefined;
  /** Attempts per call: the SDK retries throttling and transient errors with backoff between them. */
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  /** The run's cancel (Tuning.signal): a call in flight is given up, its SDK retries with it. */
  readonly signal?: AbortSignal;
}

/** One call's cost: attempts made (more than one when AWS throttled or failed transiently). */
export interface CallRecord {
  readonly operation: string;
  readonly attempts: number;
}

/** An SDK v3 command, typed by what its handler resolves to (the SDK's own Command type, structurally). */
interface Sendable<Output> {
  resolveMiddleware(...args: never[]): (...args: never[]) => Promise<{ output: Output }>;
}

/** The operation a command calls, from its schema (class names do not survive minifying). */
function operationName(command: object): string {
  const schema = (command as { schema?: unknown }).schema;
  const name = Array.isArray(schema) ? schema[2] : (schema as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? name : command.constructor.name.replace(/Command$/, '');
}

export class AwsApi {
  private elbv2: Promise<{ client: Elbv2.ElasticLoadBalancingV2Client; sdk: typeof Elbv2 }> | undefined;
  private cloudwatch: Promise<{ client: CloudWatch.CloudWatchClient; sdk: typeof CloudWatch }> | undefined;
  /** Every HTTP attempt sent so far, retries included. */
  attempts = 0;
  /** Attempts that were retries (throttling, a 5xx, a lost connection). */
  retries = 0;
  readonly calls: CallRecord[] = [];

  private readonly budget: CallBudget;

  constructor(private readonly tuning: ApiTuning) {
    this.budget = new CallBudget(tuning.signal);
  }

  /** What the driver's own waits end on: the run's cancel, then the short time left after it. */
  get signal(): AbortSignal | undefined {
    return this.budget.signal();
  }

  private config() {
    // The SDK's standard AWS_MAX_ATTEMPTS may lower the attempts per call (never raise them: a dry run reads once).
    const fromEnv = Number(process.env.AWS_MAX_ATTEMPTS);
    const maxAttempts =
      Number.isInteger(fromEnv) && fromEnv >= 1 ? Math.min(fromEnv, this.tuning.maxAttempts) : undefined;
    return {
      ...(this.tuning.region ? { region: this.tuning.region } : {}),
      maxAttempts: maxAttempts ?? this.tuning.maxAttempts,
      requestHandler: { requestTimeout: this.tuning.timeoutMs, connectionTimeout: this.tuning.timeoutMs },
    };
  }

  /** ELBv2 SDK module and client (loaded on first use). */
  elb(): Promise<{ client: Elbv2.ElasticLoadBalancingV2Client; sdk: typeof Elbv2 }> {
    this.elbv2 ??= import('@aws-sdk/client-elastic-load-balancing-v2').then((sdk) => ({
      sdk,
      client: new sdk.ElasticLoadBalancingV2Client(this.config()),
    }));
    return this.elbv2;
  }

  /**
   * CloudWatch SDK module and client (loaded on first use), with the ELBv2 client's credentials: one resolution of
   * the chain (an OIDC web identity is one AssumeRoleWithWebIdentity call, not one per client), cached and refreshed
   * by the SDK for both.
   */
  cw(): Promise<{ client: CloudWatch.CloudWatchClient; sdk: typeof CloudWatch }> {
    this.cloudwatch ??= Promise.all([import('@aws-sdk/client-cloudwatch'), this.elb()]).then(([sdk, elb]) => ({
      sdk,
      client: new sdk.CloudWatchClient({ ...this.config(), credentials: elb.client.config.credentials }),
    }));
    return this.cloudwatch;
  }

  /** Sends one command, counting its attempts; errors name the operation and AWS's error code. */
  async send<Output>(
    client: { send(command: never, options?: never): Promise<unknown> },
    command: Sendable<Output>,
    abortSignal?: AbortSignal,
  ): Promise<Output> {
    const operation = operationName(command);
    // The caller's signal (a check's timeout) and the run's cancel budget: whichever ends first.
    const signals = [abortSignal, this.budget.signal()].filter((x): x is AbortSignal => x !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    try {
      const output = (await client.send(
        command as never,
        (signal ? { abortSignal: signal } : undefined) as never,
      )) as Output & { $metadata?: { attempts?: number } };
      this.count(operation, output.$metadata?.attempts);
      return output;
    } catch (error) {
      const e = error as AwsErrorLike;
      const attempts = e.$metadata?.attempts ?? 1;
      this.count(operation, attempts);
      const kind = classifyAwsError(e);
      const tries = attempts > 1 ? ` (${attempts} attempts)` : '';
      throw new AwsCallError(
        `AWS ${operation} failed${tries}: ${e.name ?? 'Error'}: ${e.message ?? String(error)}; ${awsAdvice(kind)}`,
        kind,
        operation,
        attempts,
        { cause: error },
      );
    }
  }

  private count(operation: string, attempts = 1): void {
    this.attempts += attempts;
    this.retries += attempts - 1;
    this.calls.push({ operation, attempts });
  }

  close(): void {
    void this.elbv2?.then(({ client }) => client.destroy()).catch(() => undefined);
    void this.cloudwatch?.then(({ client }) => client.destroy()).catch(() => undefined);
  }
}
