/** HAProxy behind the Driver interface, over the Runtime API. One round trip per read or change. */
import type { Change, Counters, Server } from '../../model/server.js';
import { LoadBalancerRestarted } from '../../model/errors.js';
import type { Advice, Capabilities, Driver, RetryShield, Transport } from '../driver.js';
import { NAME_PATTERN, matchesSelector, type Selector } from '../../model/selectors.js';
import { statSync } from 'node:fs';
import { refusal, RuntimeApi } from './runtime-api.js';
import { exchange } from './transport.js';
import { adminState, num, parseServersState, parseStatCsv, type Row } from './stat.js';
import { HaproxyPreviews, type HaproxyPreviewOptions } from './previews.js';
import { HaproxyLock, isLockServer } from './lock.js';
import { retryShield, UnansweredCounter } from './counting.js';
import { HaproxyRing } from './latency.js';
import { HaproxyConnections } from './sessions.js';

export interface HaproxyOptions {
  readonly transport: Transport;
  readonly timeoutMs?: number;
  readonly retries?: number;
  readonly retryDelayMs?: number;
  /** The run's cancel (Tuning.signal). */
  readonly signal?: AbortSignal;
  /** Where previews are routed (map and backend); the driver offers preview routing when given. */
  readonly previews?: HaproxyPreviewOptions;
}

function assertName(id: string): [string, string] {
  const [backend, server, ...rest] = id.split('/');
  if (!backend || !server || rest.length || !NAME_PATTERN.test(backend) || !NAME_PATTERN.test(server)) {
    throw new Error(`'${id}' is not a valid BACKEND/SERVER name (letters, digits, '-', '_', '.', ':')`);
  }
  return [backend, server];
}

/** Balance algorithms (show stat's algo) that pick a server from a hash of the request: a user key keeps its server. */
const HASHING = ['hash', 'hdr', 'source', 'uri', 'url_param', 'rdp-cookie'];

function toServer(stat: Row, state: Row | undefined): Server {
  const backend = stat['pxname'] ?? '';
  const name = stat['svname'] ?? '';
  const status = stat['status'] ?? '';
  // A server in maint has its checks paused, and show stat leaves check_rise empty: chkfail still says it has one.
  const hasCheck = (stat['check_rise'] ?? '') !== '' || (stat['chkfail'] ?? '') !== '';
  const address = stat['addr'] ?? '';
  const colon = address.lastIndexOf(':');
  const rise = num(stat, 'check_rise');
  const fall = num(stat, 'check_fall');
  const passing = /^(UP|DRAIN)/.test(status) && !/^(DOWN|MAINT|NOLB)/.test(status);
  return {
    id: `${backend}/${name}`,
    backend,
    name,
    address,
    host: colon > 0 ? address.slice(0, colon) : address,
    port: colon > 0 ? Number(address.slice(colon + 1)) : 0,
    weight: state ? num(state, 'srv_uweight') : num(stat, stat['uweight'] !== undefined ? 'uweight' : 'weight'),
    admin: state
      ? adminState(num(state, 'srv_admin_state'))
      : /^MAINT/.test(status)
        ? 'maint'
        : /^DRAIN/.test(status)
          ? 'drain'
          : 'ready',
    check: hasCheck
      ? {
          passing,
          // Full health and no transition ("UP 1/2") means a check passed since the server last changed state.
          settled: passing && !status.includes('/') && num(stat, 'check_health') >= rise + fall - 1,
          // A leading '* ' in check_status only says a check is running right now.
          status: `${status} ${(stat['check_status'] ?? '').replace(/^\* /, '')}`.trim(),
        }
      : undefined,
    inFlight: num(stat, 'scur'),
  };
}

export const haproxyCapabilities: Capabilities = {
  weights: { min: 0, max: 256 },
  healthChecks: true,
  previews: true,
  nativeSplit: false,
  inFlight: true,
  lock: true,
  closesConnections: true,
};

export const HAPROXY_ADVICE: Advice = {
  outOfRotation: (pool) => `HAProxy: 'weight 0' on the server lines of ${pool}`,
  healthCheck: "on HAProxy add 'check' to the server lines",
  outOfTraffic: 'maint on HAProxy',
  zeroWeight: '',
};

/** `HAProxy on node vm, worker 1234 started 2026-12-07T11:31:45.000Z` from `show info`; undefined without a pid. */
export function processIdentity(info: string): string | undefined {
  const pid = /^Pid: (\d+)$/m.exec(info)?.[1];
  const started = Number(/^Start_time_sec: (\d+)$/m.exec(info)?.[1]);
  const node = /^node: (.*)$/m.exec(info)?.[1]?.trim();
  if (!pid) return undefined;
  const since = Number.isFinite(started) && started > 0 ? ` started ${new Date(started * 1000).toISOString()}` : '';
  return `HAProxy on node ${node || '?'}, worker ${pid}${since}`;
}

export class HaproxyDriver implements Driver {
  /** `show info`'s node, pid and start time, once read (see identity). */
  private knownIdentity: string | undefined;
  readonly capabilities: Capabilities = haproxyCapabilities;
  readonly advice = HAPROXY_ADVICE;
  private readonly api: RuntimeApi;
  /** Server ids (`sid`) seen so far: later reads of known servers fetch just those rows, not the whole backend. */
  private readonly sids = new Map<string, string>();
  /** `PID@START` of the worker that answered last (undefined until the first read). */
  private process: string | undefined;
  readonly previews: HaproxyPreviews | undefined;
  readonly lock: HaproxyLock;
  readonly latency: HaproxyRing;
  readonly connections: HaproxyConnections;

  private readonly transport: Transport;
  /** Requests that ended without a status, per server (see counting.ts). */
  private readonly unanswered = new UnansweredCounter();

  constructor(options: HaproxyOptions) {
    this.transport = options.transport;
    this.api = new RuntimeApi({
      transport: options.transport,
      timeoutMs: options.timeoutMs ?? 10_000,
      retries: options.retries ?? 3,
      retryDelayMs: options.retryDelayMs ?? 250,
      signal: options.signal,
    });
    this.previews = options.previews
      ? new HaproxyPreviews(this.api, options.previews, {
          servers: (selectors) => this.servers(selectors),
          // A deleted server's id may come back with another sid.
          forget: (id) => this.sids.delete(id),
        })
      : undefined;
    this.lock = new HaproxyLock(this.api);
    this.latency = new HaproxyRing(this.api);
    this.connections = new HaproxyConnections(this.api, assertName);
  }

  get roundTrips(): number {
    return this.api.roundTrips;
  }

  /** The lock's re-check, to carry on a round trip the engine makes just before it (none while no lock is held). */
  private lockRead(): string[][] {
    const read = this.lock.confirmRead();
    return read ? [read] : [];
  }

  private async stats(backends: readonly string[] | undefined): Promise<{ stat: Row[]; state: Row[] }> {
    const names = backends ?? ['-1'];
    const commands = [
      ...names.map((b) => `show stat ${b} 4 -1`),
      ...(backends ?? ['']).map((b) => `show servers state ${b}`.trim()),
    ];
    const replies = await this.api.run(commands, this.lockRead());
    const stat: Row[] = [];
    const state: Row[] = [];
    replies.forEach((reply, i) => {
      // A backend that does not exist has no servers: the caller names the selector that found none.
      if (/^\[\d\]: (No such proxy|Can't find backend)/.test(reply.text)) return;
      if (/^\[\d\]: /.test(reply.text)) throw new Error(`HAProxy refused '${reply.command}': ${refusal(reply)}`);
      (i < names.length ? stat : state).push(
        ...(i < names.length ? parseStatCsv(reply.text) : parseServersState(reply.text)),
      );
    });
    const servers = stat.filter((r) => r['svname'] !== 'BACKEND' && r['svname'] !== 'FRONTEND');
    this.remember(servers);
    return { stat: servers, state };
  }

  private remember(rows: readonly Row[]): void {
    for (const row of rows) if (row['sid']) this.sids.set(`${row['pxname']}/${row['svname']}`, row['sid']);
  }

  /** One `show stat BACKEND 4 SID` per server when every id is known; undefined otherwise. */
  private perServer(ids: readonly string[]): string[] | undefined {
    if (!ids.every((id) => this.sids.has(id))) return undefined;
    return ids.map((id) => `show stat ${assertName(id)[0]} 4 ${this.sids.get(id)}`);
  }

  /** `show stat` rows, read with `show info` in the same round trip so a reload or restart is noticed at once. */
  private async statRows(commands: readonly string[], then: readonly string[][] = []): Promise<Row[]> {
    const rows: Row[] = [];
    const replies = await this.api.run([...commands, 'show info'], then);
    this.checkProcess(replies.at(-1)?.text ?? '');
    for (const reply of replies.slice(0, -1)) {
      if (/^\[\d\]: /.test(reply.text)) throw new Error(`HAProxy refused '${reply.command}': ${refusal(reply)}`);
      rows.push(...parseStatCsv(reply.text));
    }
    this.remember(rows);
    return rows;
  }

  /**
   * The worker process that answers: a reload (a new worker) or a restart resets run-time weights and states to the
   * configuration's and counters to zero, so the engine must not go on as if its changes still held.
   */
  private checkProcess(info: string): void {
    const pid = /^Pid: (\d+)$/m.exec(info)?.[1];
    const started = /^Start_time_sec: (\d+)$/m.exec(info)?.[1];
    if (!pid) return;
    const process = `${pid}@${started ?? '?'}`;
    const previous = this.process;
    this.process = process;
    if (previous && previous !== process) {
      // A changed configuration may number its servers differently: read them afresh.
      this.sids.clear();
      throw new LoadBalancerRestarted(
        `HAProxy was reloaded or restarted during the rollout (worker ${previous.split('@')[0]} -> ${pid}): its run-time weights and states went back to its configuration and its counters to zero`,
      );
    }
  }

  /**
   * Backends that do not hash requests (roundrobin, leastconn, random, first): each request of a user may go to any
   * server. A hash backend's hash-type is consistent if weightProblems passed it (map-based takes no weights).
   */
  async affinityProblems(backends: readonly string[]): Promise<string[]> {
    // One round trip for every backend.
    const replies = await this.api.run(backends.map((b) => `show stat ${assertName(`${b}/x`)[0]} 2 -1`));
    const problems: string[] = [];
    for (const [i, backend] of backends.entries()) {
      const algo = parseStatCsv(replies[i]?.text ?? '').find((r) => r['svname'] === 'BACKEND')?.['algo'] ?? '';
      if (!HASHING.includes(algo))
        problems.push(
          `backend ${backend} uses balance ${algo || 'unknown'}, which sends each request of a user to any server; hash on a user cookie: balance hash var(txn.zdd_user) with hash-type consistent (docs/strategies.md#one-version-per-user)`,
        );
    }
    return problems;
  }

  async retries(backends: readonly string[]): Promise<RetryShield> {
    // One round trip for every backend; HAProxy's Runtime API shows no configuration, only what the retries did.
    const replies = await this.api.run(backends.map((b) => `show stat ${assertName(`${b}/x`)[0]} 2 -1`));
    return retryShield(
      backends.map((backend, i) => ({
        backend,
        row: parseStatCsv(replies[i]?.text ?? '').find((r) => r['svname'] === 'BACKEND'),
      })),
    );
  }

  /**
   * Backends whose balance algorithm takes no run-time weights other than 0% and 100% of the configured one
   * (static-rr, first, and hash algorithms with the default hash-type map-based). A hash backend is asked by
   * HAProxy itself: adding a server (in maint, no traffic) is refused on a static one; it is removed at once. Read
   * only (a dry run), a hash backend is not asked: the deploy asks before anything moves.
   */
  async weightProblems(backends: readonly string[], readOnly = false): Promise<string[]> {
    const problems: string[] = [];
    for (const backend of backends) {
      const [reply] = await this.api.run([`show stat ${assertName(`${backend}/x`)[0]} 2 -1`]);
      const algo = parseStatCsv(reply?.text ?? '').find((r) => r['svname'] === 'BACKEND')?.['algo'] ?? '';
      const fix = `use balance roundrobin or leastconn (or, for a hash, hash-type consistent) in backend ${backend}`;
      if (algo === 'static-rr' || algo === 'first') {
        problems.push(
          `backend ${backend} uses balance ${algo}, whose weights HAProxy does not change at run time; ${fix}`,
        );
        continue;
      }
      if (['roundrobin', 'leastconn', 'random', ''].includes(algo) || readOnly) continue;
      const probe = `${backend}/zdd-weight-probe`;
      const [added] = await this.api.run([`add server ${probe} 127.0.0.1:9 weight 0 disabled`]);
      if (/dynamic load balancing/.test(added?.text ?? '')) {
        problems.push(
          `backend ${backend} uses balance ${algo} with hash-type map-based, where HAProxy accepts only weights 0% and 100% at run time; ${fix}`,
        );
      } else if (!/already exists/i.test(added?.text ?? '')) {
        await this.api.run([`del server ${probe}`]);
      }
    }
    return problems;
  }

  async servers(selectors: readonly Selector[]): Promise<Server[]> {
    // Exact names already seen: only their rows (a poll during a batch stays small on a 1000-server backend).
    // The admin state then comes from the status column, which is exact except for a server that is down: DOWN
    // whether drained or not (a drain sent to it would read back as not taken), so those take the full read.
    const exact = selectors.every((sel) => !sel.backend.includes('*') && !sel.server.includes('*'));
    const fast = exact ? this.perServer(selectors.map((sel) => `${sel.backend}/${sel.server}`)) : undefined;
    if (fast) {
      // A read-back or a wait's poll: the lock's re-check that follows it rides along (one row).
      const rows = (await this.statRows(fast, this.lockRead())).filter((row) => !isLockServer(row['svname'] ?? ''));
      if (!rows.some((row) => /^DOWN/.test(row['status'] ?? ''))) return rows.map((row) => toServer(row, undefined));
    }
    // Only the named backends when no selector globs over backends: cheaper on large configurations.
    const backends = selectors.every((sel) => !sel.backend.includes('*'))
      ? [...new Set(selectors.map((sel) => sel.backend))]
      : undefined;
    const { stat, state } = await this.stats(backends);
    const byId = new Map(state.map((r) => [`${r['be_name']}/${r['srv_name']}`, r]));
    return (
      stat
        // The action's own servers (the lock, a weight probe) are never a target.
        .filter((r) => !isLockServer(r['svname'] ?? '') && !(r['svname'] ?? '').startsWith('zdd-'))
        .filter((r) => selectors.some((sel) => matchesSelector(sel, r['pxname'] ?? '', r['svname'] ?? '')))
        .map((r) => toServer(r, byId.get(`${r['pxname']}/${r['svname']}`)))
    );
  }

  /**
   * HAProxy runs each command of a batch on its own, so a batch naming a server it does not have would apply the
   * others: refuse it before sending anything (one read, only when a name was not seen yet).
   */
  private async assertKnown(ids: readonly string[]): Promise<void> {
    const unseen = ids.filter((id) => !this.sids.has(id));
    if (unseen.length === 0) return;
    const backends = [...new Set(unseen.map((id) => assertName(id)[0]))];
    // A backend HAProxy does not have answers with an error: it has none of the servers named.
    const replies = await this.api.run(backends.map((b) => `show stat ${b} 4 -1`));
    this.remember(replies.filter((r) => !/^\[\d\]: /.test(r.text)).flatMap((r) => parseStatCsv(r.text)));
    const missing = unseen.filter((id) => !this.sids.has(id));
    if (missing.length) throw new Error(`HAProxy has no server ${missing.join(', ')}; nothing was changed`);
  }

  async apply(changes: readonly Change[]): Promise<void> {
    await this.assertKnown(changes.map((c) => c.server));
    const commands: string[] = [];
    for (const change of changes) {
      const [backend, server] = assertName(change.server);
      if (change.weight !== undefined) {
        if (!Number.isInteger(change.weight) || change.weight < 0 || change.weight > haproxyCapabilities.weights.max) {
          throw new Error(`weight ${change.weight} for ${change.server} is outside HAProxy's 0-256`);
        }
        commands.push(`set server ${backend}/${server} weight ${change.weight}`);
      }
      if (change.admin) commands.push(`set server ${backend}/${server} state ${change.admin}`);
    }
    if (commands.length === 0) return;
    // The read-back of the changed servers and the lock's re-check ride on the write's own round trip.
    const readBack = this.perServer([...new Set(changes.map((c) => c.server))]);
    const then = [...(readBack ? [[...readBack, 'show info']] : []), ...this.lockRead()];
    const replies = await this.api.run(commands, then);
    const refused = replies.map((r) => ({ r, why: refusal(r) })).filter((x) => x.why !== undefined);
    if (refused.length) {
      throw new Error(
        `HAProxy refused ${refused.length} of ${commands.length} commands: ${refused.map((x) => `'${x.r.command}': ${x.why}`).join('; ')}`,
      );
    }
  }

  manualSteps(changes: readonly Change[]): string {
    const commands = changes.flatMap((c) => [
      ...(c.weight !== undefined ? [`set server ${c.server} weight ${c.weight}`] : []),
      ...(c.admin ? [`set server ${c.server} state ${c.admin}`] : []),
    ]);
    return `on the HAProxy Runtime API: ${commands.join('; ')}`;
  }

  async counters(ids: readonly string[]): Promise<Map<string, Counters>> {
    const commands =
      this.perServer(ids) ?? [...new Set(ids.map((id) => assertName(id)[0]))].map((b) => `show stat ${b} 4 -1`);
    const wanted = new Set(ids);
    const result = new Map<string, Counters>();
    for (const row of await this.statRows(commands)) {
      const id = `${row['pxname']}/${row['svname']}`;
      if (wanted.has(id)) result.set(id, this.unanswered.counters(id, row));
    }
    return result;
  }

  /** `show info` alone: throws LoadBalancerRestarted when another worker answers than at the last read. */
  async watch(): Promise<void> {
    const [info] = await this.api.run(['show info']);
    this.checkProcess(info?.text ?? '');
  }

  /** The HAProxy process, from `show info`: its node name, worker pid and start time (read by the preflight). */
  async identity(): Promise<string | undefined> {
    if (this.knownIdentity === undefined) {
      const [info] = await this.api.run(['show info']);
      this.knownIdentity = processIdentity(info?.text ?? '');
    }
    return this.knownIdentity;
  }

  async preflight(writes: boolean): Promise<string | undefined> {
    const transport = this.transport;
    const stats = "a 'stats socket ... level admin' line of haproxy.cfg";
    if (transport.type === 'unix') {
      let kind: string | undefined;
      try {
        const file = statSync(transport.path);
        if (!file.isSocket())
          kind = file.isDirectory() ? 'a directory' : file.isFile() ? 'a regular file' : 'not a socket';
      } catch {
        return `names no file: give the path of ${stats}, and check that HAProxy runs`;
      }
      if (kind) return `is ${kind}, not a socket; give the path of ${stats}`;
    }
    // ssh needs its own handshake first.
    const timeoutMs = transport.type === 'ssh' ? 15_000 : 3000;
    let text: string;
    try {
      this.api.roundTrips++;
      text = await exchange(
        transport,
        'prompt\nset severity-output number\nshow info\nshow cli level\nquit\n',
        timeoutMs,
        this.api.signal,
      );
    } catch (error) {
      const message = (error as Error).message;
      if (/within \d+ms/.test(message))
        return `did not answer within ${timeoutMs / 1000}s; is it the Runtime API (${stats})?`;
      if (/ECONNREFUSED/.test(message))
        return `refused the connection: nothing listens there; give the address of ${stats}`;
      if (/EACCES/.test(message))
        return `refused access to the socket (permission denied): the runner's user needs the socket's mode or group`;
      return `cannot be reached: ${message}`;
    }
    const answer = text.replace(/^[\s>]+/, '');
    const first = (answer.split('\n')[0] ?? '').trim().slice(0, 60);
    if (/^HTTP\/\d/.test(answer))
      return `answered like an HTTP server ('${first}'): it looks like an HTTP port (a frontend), not the Runtime API; give the port of ${stats}`;
    if (!/^Name: HAProxy/m.test(answer))
      return `answered, but not as HAProxy's Runtime API${first ? ` ('${first}')` : ' (nothing)'}; give the address of ${stats}`;
    this.knownIdentity = processIdentity(answer);
    const level = /\[\d\]: (admin|operator|user)\b/.exec(answer)?.[1];
    if (writes && level && level !== 'admin')
      return `is a Runtime API socket at level ${level}: weight and state changes need 'level admin' on its stats socket line (HAProxy would answer Permission denied)`;
    return undefined;
  }

  async close(): Promise<void> {}
}
