/**
 * Open-source nginx behind the Driver interface. There is no runtime API: a change rewrites the upstreams file the
 * driver owns, runs the test command (a refusal restores the old file and reports nginx's own message), reloads,
 * and checks that the reload really happened (new worker processes appeared), since `nginx -s reload` can exit 0
 * while failing. Old workers finish their in-flight requests and then exit: while any is alive, the servers it may
 * still be talking to count as having requests in flight, which is what drain waits for. Errors come from a JSON
 * access log of `$upstream_addr` and `$upstream_status`, read from where the driver last stopped.
 */
import { hostname } from 'node:os';
import type { Change, Counters, Server } from '../../model/server.js';
import type { Advice, Capabilities, Driver, LatencyLog, RetryShield } from '../driver.js';
import { dumpCommand, nginxRetryShield } from './retries.js';
import { CallBudget, pollUntil } from '../../model/poll.js';
import { matchesSelector, type Selector } from '../../model/selectors.js';
import {
  effectiveConfig,
  parseUpstreams,
  affinityProblem,
  renderUpstreams,
  type UpstreamLine,
  type UpstreamServer,
} from './upstreams.js';
import { LocalHost, type Host } from './host.js';
import { NginxLock } from './lock.js';

export interface NginxOptions {
  readonly host: Host;
  readonly path: string;
  readonly testCommand: string;
  readonly reloadCommand: string;
  readonly pidFile: string;
  /** JSON access log with "upstream" ($upstream_addr) and "status" ($upstream_status); empty: no counters. */
  readonly accessLog: string;
  /** How long a reload may take to bring up new workers. */
  readonly reloadTimeoutMs?: number;
  /** The run's cancel (Tuning.signal): a test or reload command is stopped, the wait for new workers ends. */
  readonly signal?: AbortSignal;
}

export const nginxCapabilities: Capabilities = {
  // nginx has no weight 0: the driver writes such a server `down` and keeps the weight in a comment.
  weights: { min: 0, max: 256 },
  healthChecks: false,
  previews: false,
  nativeSplit: false,
  inFlight: true,
  lock: true,
};

export const NGINX_ADVICE: Advice = {
  outOfRotation: (pool) => `nginx: 'down' on the server lines of ${pool}`,
  healthCheck: '',
  outOfTraffic: 'down on nginx',
  zeroWeight: 'down on nginx',
};

export class NginxDriver implements Driver {
  private shield: Promise<RetryShield> | undefined;
  readonly capabilities = nginxCapabilities;
  readonly advice = NGINX_ADVICE;
  roundTrips = 0;
  /** Workers of the configuration before the last reload, finishing their in-flight requests. */
  private draining = new Set<number>();
  /** Where the access log was read up to; undefined until the first read (which starts at its end). */
  private logOffset: number | undefined;
  private readonly totals = new Map<string, { requests: number; failures: number }>();
  /** Latencies (ms) per address logged since the latency log was last read. */
  private readonly pendingLatencies = new Map<string, number[]>();
  readonly latency: LatencyLog | undefined;

  readonly lock: NginxLock;
  private readonly budget: CallBudget;

  constructor(private readonly options: NginxOptions) {
    this.budget = new CallBudget(options.signal);
    this.lock = new NginxLock(options.host, options.path);
    this.latency = options.accessLog
      ? {
          source: `$upstream_response_time per attempt, from the JSON access log ${options.accessLog}`,
          missing: () => this.latencyMissing(),
          read: (ids) => this.readLatencies(ids),
        }
      : undefined;
  }

  /** The access log's newest line has no "upstream_time" field: its log_format lacks $upstream_response_time. */
  private async latencyMissing(): Promise<string | undefined> {
    const path = this.options.accessLog;
    this.roundTrips += 2;
    const { size } = await this.options.host.readFrom(path, undefined);
    if (!size) return undefined;
    const { text } = await this.options.host.readFrom(path, Math.max(0, size - 4096));
    const last = text.trimEnd().split('\n').at(-1) ?? '';
    try {
      if ('upstream_time' in (JSON.parse(last) as object)) return undefined;
    } catch {
      return undefined;
    }
    return `the access log ${path} has no "upstream_time" field: add "upstream_time":"$upstream_response_time" to its log_format (docs/nginx.md)`;
  }

  private async readLatencies(ids: readonly string[]): Promise<Map<string, number[]>> {
    await this.readLog();
    const servers = (await this.read()).flatMap((line) => ('server' in line ? [line.server] : []));
    const result = new Map<string, number[]>();
    for (const id of ids) {
      const server = servers.find((s) => `${s.backend}/${s.name}` === id);
      const samples = server ? this.pendingLatencies.get(server.address) : undefined;
      if (server) this.pendingLatencies.delete(server.address);
      result.set(id, samples ?? []);
    }
    return result;
  }

  /**
   * The nginx master in the pid file, on this machine: two members naming one nginx (a symlinked upstreams file,
   * two spellings of a path) have the same master. Over ssh the host's name is not read: undefined.
   */
  async identity(): Promise<string | undefined> {
    if (!(this.options.host instanceof LocalHost)) return undefined;
    this.roundTrips++;
    // No live master: the rollout's own reads say so in their terms; nothing to compare here.
    const master = await this.options.host.workers(this.options.pidFile).then(
      (w) => w.master,
      () => undefined,
    );
    return master === undefined ? undefined : `nginx on ${hostname()}, master process ${master}`;
  }

  private async readText(): Promise<string> {
    this.roundTrips++;
    try {
      return await this.options.host.read(this.options.path);
    } catch (error) {
      throw new Error(
        `load-balancer: cannot read the upstreams file ${this.options.path} on ${this.options.host.where}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  private async read(): Promise<UpstreamLine[]> {
    const lines = parseUpstreams(await this.readText());
    if ('error' in lines) throw new Error(`load-balancer: ${this.options.path}: ${lines.error}`);
    return lines;
  }

  async servers(selectors: readonly Selector[]): Promise<Server[]> {
    if (this.draining.size) {
      this.roundTrips++;
      this.draining = await this.options.host.alive([...this.draining]);
    }
    const inFlight = this.draining.size;
    return (await this.read())
      .flatMap((line) => ('server' in line ? [line.server] : []))
      .filter((s) => selectors.some((sel) => matchesSelector(sel, s.backend, s.name)))
      .map((s) => toServer(s, inFlight));
  }

  async apply(changes: readonly Change[]): Promise<void> {
    if (changes.length === 0) return;
    const { min, max } = nginxCapabilities.weights;
    const bad = changes.filter(
      (c) => c.weight !== undefined && !(Number.isInteger(c.weight) && c.weight >= min && c.weight <= max),
    );
    if (bad.length)
      throw new Error(
        `weight ${bad.map((c) => `${c.weight} for ${c.server}`).join(', ')} is outside ${min}-${max}; nothing was changed`,
      );
    const before = await this.readText();
    const lines = parseUpstreams(before);
    if ('error' in lines) throw new Error(`load-balancer: ${this.options.path}: ${lines.error}`);
    const byId = new Map(changes.map((c) => [c.server, c]));
    const found = new Set<string>();
    const next: UpstreamLine[] = lines.map((line) => {
      if (!('server' in line)) return line;
      const change = byId.get(`${line.server.backend}/${line.server.name}`);
      if (!change) return line;
      found.add(change.server);
      return {
        server: {
          ...line.server,
          weight: change.weight ?? line.server.weight,
          admin: change.admin ?? line.server.admin,
        },
      };
    });
    const missing = changes.filter((c) => !found.has(c.server)).map((c) => c.server);
    if (missing.length) throw new Error(`nginx has no server ${missing.join(', ')} in ${this.options.path}`);
    await this.write(renderUpstreams(next));
    if (effectiveConfig(next) === effectiveConfig(lines)) return; // only the recorded states changed
    this.roundTrips++;
    const test = await this.options.host.run(this.options.testCommand, this.budget.signal());
    if (test.code !== 0) {
      await this.write(before);
      throw new Error(
        `nginx refused the new upstreams (${this.options.testCommand} exited ${test.code}); the old file is restored and nginx keeps its configuration: ${test.output}`,
      );
    }
    await this.reload(before);
  }

  private async write(text: string): Promise<void> {
    this.roundTrips++;
    await this.options.host.write(this.options.path, text);
  }

  private async reload(previous: string): Promise<void> {
    this.roundTrips++;
    const { master, workers: old } = await this.options.host.workers(this.options.pidFile);
    this.roundTrips++;
    const signal = this.budget.signal();
    const result = await this.options.host.run(this.options.reloadCommand, signal);
    if (result.stopped) {
      await this.write(previous);
      throw new Error(
        `nginx's reload was stopped (${this.options.reloadCommand}: ${result.stopped}); the old upstreams file is restored, and nginx may or may not have read the new one`,
      );
    }
    const reloaded = await pollUntil(
      async () => {
        this.roundTrips++;
        return this.options.host.workers(this.options.pidFile);
      },
      (now) => now.master === master && [...now.workers].some((pid) => !old.has(pid)),
      { pause: () => 50, deadline: Date.now() + (this.options.reloadTimeoutMs ?? 5000), signal },
    );
    if (reloaded.done) {
      for (const pid of old) this.draining.add(pid);
      return;
    }
    await this.write(previous);
    const within =
      reloaded.ended === 'aborted'
        ? 'before the run was cancelled'
        : `within ${this.options.reloadTimeoutMs ?? 5000}ms`;
    throw new Error(
      `nginx did not reload: ${this.options.reloadCommand} exited ${result.code}${result.output ? ` (${result.output})` : ''} but no new worker process appeared ${within}; ` +
        `the old upstreams file is restored. Look for [emerg] in nginx's error log.`,
    );
  }

  manualSteps(changes: readonly Change[]): string {
    const lines = changes.map((c) => {
      const out = c.weight === 0 || (c.admin !== undefined && c.admin !== 'ready');
      return `${c.server}: ${out ? 'down' : `weight=${c.weight ?? 'as before'}, without down`}`;
    });
    return `in ${this.options.path} on ${this.options.host.where}, set ${lines.join('; ')}, then ${this.options.testCommand} and ${this.options.reloadCommand}`;
  }

  async counters(ids: readonly string[]): Promise<Map<string, Counters>> {
    await this.readLog();
    const servers = (await this.read()).flatMap((line) => ('server' in line ? [line.server] : []));
    const result = new Map<string, Counters>();
    // The access log knows addresses, not upstream blocks: an address behind two ids is counted once, on the first.
    const counted = new Set<string>();
    for (const id of ids) {
      const server = servers.find((s) => `${s.backend}/${s.name}` === id);
      // A snapshot: the totals go on counting, an earlier reading must not.
      const total = server && !counted.has(server.address) ? this.totals.get(server.address) : undefined;
      if (server) counted.add(server.address);
      result.set(id, total ? { ...total } : { requests: 0, failures: 0 });
    }
    return result;
  }

  /** Adds the access log's new complete lines to the per-address totals. */
  private async readLog(): Promise<void> {
    const path = this.options.accessLog;
    if (!path) return;
    this.roundTrips++;
    const { text, size } = await this.options.host.readFrom(path, this.logOffset);
    if (size === undefined) return;
    if (this.logOffset === undefined || size < this.logOffset) {
      // First read: count from here on. A shorter file was rotated: start again from its beginning.
      this.logOffset = this.logOffset === undefined ? size : 0;
      return;
    }
    const complete = text.lastIndexOf('\n') + 1;
    this.logOffset += Buffer.byteLength(text.slice(0, complete));
    for (const line of text.slice(0, complete).split('\n')) {
      if (!line.trim()) continue;
      let entry: { upstream?: string; status?: string; upstream_time?: string };
      try {
        entry = JSON.parse(line) as { upstream?: string; status?: string; upstream_time?: string };
      } catch {
        continue;
      }
      // nginx separates retries with ", " and internal redirects with " : ".
      const split = (text: string | undefined) => (text ?? '').split(/\s*,\s*|\s+:\s+/);
      const statuses = split(entry.status);
      const addresses = split(entry.upstream);
      const times = split(entry.upstream_time);
      addresses.forEach((address, i) => {
        if (!address || address === '-') return;
        const status = Number(statuses[i] ?? '');
        const seconds = Number(times[i] ?? '-');
        if (status >= 100 && status < 500 && Number.isFinite(seconds) && times[i] !== '')
          this.noteLatency(address, seconds * 1000);
        const total = this.totals.get(address) ?? { requests: 0, failures: 0 };
        total.requests++;
        if (!(status >= 100 && status < 500)) total.failures++;
        this.totals.set(address, total);
      });
    }
  }

  private noteLatency(address: string, ms: number): void {
    const samples = this.pendingLatencies.get(address) ?? [];
    // Nobody read them for a long while (no analysis window): keep the newest.
    if (samples.length >= 100_000) samples.splice(0, samples.length - 50_000);
    samples.push(ms);
    this.pendingLatencies.set(address, samples);
  }

  async preflight(): Promise<string | undefined> {
    let text: string;
    try {
      this.roundTrips++;
      text = await this.options.host.read(this.options.path);
    } catch (error) {
      return `: cannot read the upstreams file on ${this.options.host.where}: ${(error as Error).message}`;
    }
    const lines = parseUpstreams(text);
    if ('error' in lines) return `: ${lines.error}`;
    if (!lines.some((line) => 'server' in line))
      return `: ${this.options.path} has no server line inside an upstream block; see docs/nginx.md`;
    return undefined;
  }

  /**
   * From the whole configuration, which the test command prints with -T (test and dump): read once a run (the plan
   * and the judge both say it).
   */
  retries(backends: readonly string[]): Promise<RetryShield> {
    this.shield ??= this.readRetries(backends);
    return this.shield;
  }

  private async readRetries(backends: readonly string[]): Promise<RetryShield> {
    const command = dumpCommand(this.options.testCommand);
    if (!command)
      return {
        shielded: 'unknown',
        text: `nginx-test-command '${this.options.testCommand}' is not a plain nginx command, so the action does not run it with -T to read nginx's retries (docs/strategies.md#shielded-canaries)`,
      };
    const dump = await this.options.host.run(command);
    if (dump.code !== 0)
      return {
        shielded: 'unknown',
        text: `${command} exited ${dump.code}, so nginx's retries are not known (docs/strategies.md#shielded-canaries)`,
      };
    return nginxRetryShield(dump.output, backends);
  }

  async affinityProblems(backends: readonly string[]): Promise<string[]> {
    const lines = await this.read();
    return backends.flatMap((backend) => affinityProblem(lines, backend) ?? []);
  }

  async close(): Promise<void> {}
}

function toServer(s: UpstreamServer, inFlight: number): Server {
  const colon = s.address.lastIndexOf(':');
  return {
    id: `${s.backend}/${s.name}`,
    backend: s.backend,
    name: s.name,
    address: s.address,
    host: colon > 0 ? s.address.slice(0, colon) : s.address,
    port: colon > 0 ? Number(s.address.slice(colon + 1)) : 80,
    weight: s.weight,
    admin: s.admin,
    // Open-source nginx has no active health checks: health-url does that work.
    check: undefined,
    inFlight,
  };
}
