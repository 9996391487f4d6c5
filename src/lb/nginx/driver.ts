/**
 * Open-source nginx behind the Driver interface. There is no runtime API: a change rewrites the upstreams file the
 * driver owns, runs the test command (a refusal restores the old file and reports nginx's own message), reloads,
 * and checks that the reload really happened (new worker processes appeared), since `nginx -s reload` can exit 0
 * while failing. Old workers finish their in-flight requests and then exit: while any is alive, the servers it may
 * still be talking to count as having requests in flight, which is what drain waits for. Errors come from a JSON
 * access log of `$upstream_addr` and `$upstream_status`, read from where the driver last stopped.
 */
import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync, renameSync } from 'node:fs';
import type { Change, Counters, Driver, Server } from '../driver.js';
import { matchesSelector, type Selector } from '../../plan/selectors.js';
import { effectiveConfig, parseUpstreams, renderUpstreams, type UpstreamLine, type UpstreamServer } from './upstreams.js';

export interface NginxOptions {
  readonly path: string;
  readonly testCommand: string;
  readonly reloadCommand: string;
  readonly pidFile: string;
  /** JSON access log with "upstream" ($upstream_addr) and "status" ($upstream_status); empty: no counters. */
  readonly accessLog: string;
  /** How long a reload may take to bring up new workers. */
  readonly reloadTimeoutMs?: number;
}

function run(command: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', command], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}`.trim() });
    });
  });
}

/** Child processes of a pid, read from /proc (the master's workers). */
function childrenOf(pid: number): Set<number> {
  const children = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') children.add(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class NginxDriver implements Driver {
  roundTrips = 0;
  /** Workers of the configuration before the last reload, finishing their in-flight requests. */
  private draining = new Set<number>();
  private logOffset: number;
  private readonly totals = new Map<string, { requests: number; failures: number }>();

  constructor(private readonly options: NginxOptions) {
    this.logOffset = options.accessLog && existsSync(options.accessLog) ? statSync(options.accessLog).size : 0;
  }

  private read(): UpstreamLine[] {
    let text: string;
    try {
      text = readFileSync(this.options.path, 'utf8');
    } catch (error) {
      throw new Error(`load-balancer: cannot read the upstreams file ${this.options.path}: ${(error as Error).message}`, { cause: error });
    }
    const lines = parseUpstreams(text);
    if ('error' in lines) throw new Error(`load-balancer: ${this.options.path}: ${lines.error}`);
    return lines;
  }

  private masterPid(): number {
    const pid = Number(readFileSync(this.options.pidFile, 'utf8').trim());
    if (!pid || !alive(pid)) throw new Error(`nginx is not running: no live master process in ${this.options.pidFile} (input nginx-pid-file)`);
    return pid;
  }

  async servers(selectors: readonly Selector[]): Promise<Server[]> {
    this.roundTrips++;
    const inFlight = [...this.draining].filter(alive).length;
    return this.read()
      .flatMap((line) => ('server' in line ? [line.server] : []))
      .filter((s) => selectors.some((sel) => matchesSelector(sel, s.backend, s.name)))
      .map((s) => toServer(s, inFlight));
  }

  async apply(changes: readonly Change[]): Promise<void> {
    if (changes.length === 0) return;
    this.roundTrips++;
    const before = readFileSync(this.options.path, 'utf8');
    const lines = this.read();
    const byId = new Map(changes.map((c) => [c.server, c]));
    const found = new Set<string>();
    const next: UpstreamLine[] = lines.map((line) => {
      if (!('server' in line)) return line;
      const change = byId.get(`${line.server.backend}/${line.server.name}`);
      if (!change) return line;
      found.add(change.server);
      return { server: { ...line.server, weight: change.weight ?? line.server.weight, admin: change.admin ?? line.server.admin } };
    });
    const missing = changes.filter((c) => !found.has(c.server)).map((c) => c.server);
    if (missing.length) throw new Error(`nginx has no server ${missing.join(', ')} in ${this.options.path}`);
    this.write(renderUpstreams(next));
    if (effectiveConfig(next) === effectiveConfig(lines)) return; // only the recorded states changed
    const test = await run(this.options.testCommand);
    if (test.code !== 0) {
      this.write(before);
      throw new Error(`nginx refused the new upstreams (${this.options.testCommand} exited ${test.code}); the old file is restored and nginx keeps its configuration: ${test.output}`);
    }
    await this.reload(before);
  }

  private write(text: string): void {
    // Written beside and renamed over, so nginx never reads half a file.
    const temp = `${this.options.path}.zdd-tmp`;
    writeFileSync(temp, text);
    renameSync(temp, this.options.path);
  }

  private async reload(previous: string): Promise<void> {
    const master = this.masterPid();
    const old = childrenOf(master);
    const result = await run(this.options.reloadCommand);
    const deadline = Date.now() + (this.options.reloadTimeoutMs ?? 5000);
    while (Date.now() < deadline) {
      const now = childrenOf(master);
      if ([...now].some((pid) => !old.has(pid))) {
        for (const pid of old) this.draining.add(pid);
        return;
      }
      await sleep(50);
    }
    this.write(previous);
    throw new Error(
      `nginx did not reload: ${this.options.reloadCommand} exited ${result.code}${result.output ? ` (${result.output})` : ''} but no new worker process appeared within ` +
        `${this.options.reloadTimeoutMs ?? 5000}ms; the old upstreams file is restored. Look for [emerg] in nginx's error log.`,
    );
  }

  async counters(ids: readonly string[]): Promise<Map<string, Counters>> {
    this.roundTrips++;
    this.readLog();
    const servers = this.read().flatMap((line) => ('server' in line ? [line.server] : []));
    const result = new Map<string, Counters>();
    for (const id of ids) {
      const server = servers.find((s) => `${s.backend}/${s.name}` === id);
      result.set(id, (server && this.totals.get(server.address)) ?? { requests: 0, failures: 0 });
    }
    return result;
  }

  /** Adds the access log's new complete lines to the per-address totals. */
  private readLog(): void {
    const path = this.options.accessLog;
    if (!path || !existsSync(path)) return;
    const size = statSync(path).size;
    if (size < this.logOffset) this.logOffset = 0; // rotated
    if (size === this.logOffset) return;
    const buffer = Buffer.alloc(size - this.logOffset);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, this.logOffset);
    } finally {
      closeSync(fd);
    }
    const text = buffer.toString('utf8');
    const complete = text.lastIndexOf('\n') + 1;
    this.logOffset += Buffer.byteLength(text.slice(0, complete));
    for (const line of text.slice(0, complete).split('\n')) {
      if (!line.trim()) continue;
      let entry: { upstream?: string; status?: string };
      try {
        entry = JSON.parse(line) as { upstream?: string; status?: string };
      } catch {
        continue;
      }
      // Retries list every attempt: "10.0.0.1:80, 10.0.0.2:80" with "502, 200".
      // nginx separates retries with ", " and internal redirects with " : ".
      const split = (text: string | undefined) => (text ?? '').split(/\s*,\s*|\s+:\s+/);
      const statuses = split(entry.status);
      const addresses = split(entry.upstream);
      addresses.forEach((address, i) => {
        if (!address || address === '-') return;
        const status = Number(statuses[i] ?? '');
        const total = this.totals.get(address) ?? { requests: 0, failures: 0 };
        total.requests++;
        if (!(status >= 100 && status < 500)) total.failures++;
        this.totals.set(address, total);
      });
    }
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
