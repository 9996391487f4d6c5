/**
 * `cloudwatch`: a metric's newest datapoint (GetMetricData: a statistic of one metric, or a Metrics Insights or
 * math expression) held to the condition, or an alarm's state (DescribeAlarms: OK passes, ALARM fails,
 * INSUFFICIENT_DATA is no data). The SDK and its credentials chain are the ALB driver's (src/lb/aws-alb/api.ts),
 * loaded only when a cloudwatch check first runs.
 */
import type * as CloudWatch from '@aws-sdk/client-cloudwatch';
import { AwsApi, AwsCallError } from '../lb/aws-alb/api.js';
import { meets, type CloudWatchCheck } from '../model/checks.js';
import { errorMessage } from '../model/errors.js';
import { fill, templateValues, type CheckContext, type CheckKindRunner, type Reading } from './kind.js';

type Result = CloudWatch.MetricDataResult;

/** Each result's newest value against the condition; a result without values (or one CloudWatch failed) has no data. */
export function judgeMetricData(check: CloudWatchCheck, results: readonly Result[], messages: string[]): Reading {
  if (results.length === 0)
    return {
      verdict: 'no-data',
      value: 'no data',
      detail: `no result${messages.length ? `: ${messages.join('; ')}` : ''}`,
    };
  const read: { label: string; value: number }[] = [];
  for (const r of results) {
    const label = r.Label || r.Id || 'result';
    if (r.StatusCode === 'Forbidden' || r.StatusCode === 'InternalError')
      return { verdict: 'no-data', value: 'no data', detail: `${label}: CloudWatch answered ${r.StatusCode}` };
    const newest = (r.Timestamps ?? [])
      .map((t, i) => ({ t: new Date(t).getTime(), v: r.Values?.[i] }))
      .filter((p): p is { t: number; v: number } => typeof p.v === 'number' && Number.isFinite(p.v))
      .sort((a, b) => b.t - a.t)[0];
    if (!newest) return { verdict: 'no-data', value: 'no data', detail: `${label}: no datapoint in the window` };
    read.push({ label, value: newest.v });
  }
  const condition = check.condition;
  const shown = read.map((r) => `${r.label} ${r.value}`).join(', ');
  const bad = condition ? read.find((r) => !meets(condition, r.value)) : undefined;
  if (bad) return { verdict: 'fail', value: String(bad.value), detail: `${shown}; wanted ${condition?.text}` };
  return {
    verdict: 'pass',
    value: read.map((r) => r.value).join(', '),
    detail: `${shown} ${condition?.text ?? ''}`.trim(),
  };
}

/** An alarm's state: OK passes, ALARM fails, INSUFFICIENT_DATA (or no such alarm) has no data. */
export function judgeAlarm(name: string, alarms: readonly { StateValue?: string; StateReason?: string }[]): Reading {
  const alarm = alarms[0];
  if (!alarm) return { verdict: 'no-data', value: 'no alarm', detail: `no alarm named ${name} in this region` };
  const state = alarm.StateValue ?? 'no state';
  const why = alarm.StateReason ? `: ${alarm.StateReason}` : '';
  if (state === 'OK') return { verdict: 'pass', value: state, detail: `alarm ${name} is OK` };
  if (state === 'ALARM') return { verdict: 'fail', value: state, detail: `alarm ${name} is in ALARM${why}` };
  return { verdict: 'no-data', value: state, detail: `alarm ${name} is ${state}${why}` };
}

function metricQuery(check: CloudWatchCheck, context: CheckContext): CloudWatch.MetricDataQuery {
  const values = templateValues(context);
  const filled = (t: string) => fill(t, values, (v) => v);
  const s = check.source;
  if ('expression' in s) return { Id: 'q', Expression: filled(s.expression), Period: check.periodS, ReturnData: true };
  if ('alarm' in s) throw new Error('an alarm has no metric query');
  return {
    Id: 'q',
    MetricStat: {
      Metric: {
        Namespace: s.namespace,
        MetricName: s.metric,
        Dimensions: s.dimensions.map(([Name, Value]) => ({ Name, Value: filled(Value) })),
      },
      Period: check.periodS,
      Stat: s.stat,
    },
    ReturnData: true,
  };
}

async function read(check: CloudWatchCheck, context: CheckContext, api: AwsApi, signal: AbortSignal): Promise<Reading> {
  const { client, sdk } = await api.cw();
  const s = check.source;
  if ('alarm' in s) {
    const name = fill(s.alarm, templateValues(context), (v) => v);
    const out = await api.send(
      client,
      new sdk.DescribeAlarmsCommand({ AlarmNames: [name], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }),
      signal,
    );
    return judgeAlarm(name, [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])]);
  }
  const end = new Date();
  const out = await api.send(
    client,
    new sdk.GetMetricDataCommand({
      MetricDataQueries: [metricQuery(check, context)],
      StartTime: new Date(end.getTime() - check.windowMs),
      EndTime: end,
      ScanBy: 'TimestampDescending',
    }),
    signal,
  );
  return judgeMetricData(
    check,
    out.MetricDataResults ?? [],
    (out.Messages ?? []).map((m) => `${m.Code ?? ''} ${m.Value ?? ''}`.trim()),
  );
}

/** An AWS error in a few words: the operation, AWS's code and message, and what to do about credentials. */
function awsWhy(error: unknown): string {
  if (!(error instanceof AwsCallError)) return errorMessage(error);
  const cause = error.cause as { name?: string; message?: string } | undefined;
  const tries = error.attempts > 1 ? ` (${error.attempts} attempts)` : '';
  const advice =
    error.kind === 'credentials'
      ? ": the step's AWS credentials are missing, expired or lack cloudwatch:GetMetricData / cloudwatch:DescribeAlarms"
      : '';
  return `${error.operation} failed${tries}: ${cause?.name ?? 'Error'}: ${cause?.message ?? error.message}${advice}`;
}

const IDLE_MS = 60_000;
const clients = new Map<string, { api: AwsApi; idle: NodeJS.Timeout | undefined }>();

/**
 * One client per region, timeout and endpoint, kept between polls (credentials from web identity or a role are fetched
 * once, not every poll) and destroyed after a minute unused; its idle timer never holds the process.
 */
function clientFor(check: CloudWatchCheck): AwsApi {
  // The SDK reads its endpoint from the environment when the client is made.
  const endpoint = process.env.AWS_ENDPOINT_URL_CLOUDWATCH ?? process.env.AWS_ENDPOINT_URL ?? '';
  const key = `${check.region} ${check.timeoutMs} ${endpoint}`;
  let entry = clients.get(key);
  if (!entry) {
    entry = {
      api: new AwsApi({ region: check.region || undefined, maxAttempts: 2, timeoutMs: check.timeoutMs }),
      idle: undefined,
    };
    clients.set(key, entry);
  }
  const kept = entry;
  clearTimeout(kept.idle);
  kept.idle = setTimeout(() => {
    clients.delete(key);
    kept.api.close();
  }, IDLE_MS).unref();
  return kept.api;
}

export const cloudwatchKind: CheckKindRunner<CloudWatchCheck> = {
  async evaluate(check, context, _target, signal) {
    try {
      return await read(check, context, clientFor(check), signal);
    } catch (error) {
      const why = signal.aborted ? 'no answer within the timeout' : awsWhy(error);
      return { verdict: 'no-data', value: 'no data', detail: `CloudWatch: ${why}` };
    }
  },
};
