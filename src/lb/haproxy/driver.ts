/** HAProxy behind the Driver interface, over the Runtime API. One round trip per read or change. */
import type { Change, Counters, Driver, Server } from '../driver.js';
import { NAME_PATTERN, matchesSelector, type Selector } from '../../plan/selectors.js';
import type { Transport } from '../url.js';
import { refusal, RuntimeApi } from './runtime-api.js';
import { adminState, num, parseServersState, parseStatCsv, type Row } from './stat.js';

export interface HaproxyOptions {
  readonly transport: Transport;
  readonly timeoutMs?: number;
  readonly retries?: number;
  readonly retryDelayMs?: number;
}

function assertName(id: string): [string, string] {
  const [backend, server, ...rest] = id.split('/');
  if (!backend || !server || rest.length || !NAME_PATTERN.test(backend) || !NAME_PATTERN.test(server)) {
    throw new Error(`'${id}' is not a valid BACKEND/SERVER name (letters, digits, '-', '_', '.', ':')`);
  }
  return [backend, server];
}

function toServer(stat: Row, state: Row | undefined): Server {
  const backend = stat['pxname'] ?? '';
  const name = stat['svname'] ?? '';
  const status = stat['status'] ?? '';
  const hasCheck = (stat['check_rise'] ?? '') !== '';
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
    weight: state ? num(state, 'srv_uweight') : num(stat, 'weight'),
    admin: state ? adminState(num(state, 'srv_admin_state')) : /^MAINT/.test(status) ? 'maint' : /^DRAIN/.test(status) ? 'drain' : 'ready',
    check: hasCheck
      ? {
          passing,
          // Full health and no transition ("UP 1/2") means a check passed since the server last changed state.
          settled: passing && !status.includes('/') && num(stat, 'check_health') >= rise + fall - 1,
          status: `${status} ${stat['check_status'] ?? ''}`.trim(),
        }
      : undefined,
    inFlight: num(stat, 'scur'),
  };
}

function counters(row: Row): Counters {
  const responses = ['hrsp_1xx', 'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx', 'hrsp_other'].reduce((sum, c) => sum + num(row, c), 0);
  const lbErrors = num(row, 'eresp') + num(row, 'econ');
  // HAProxy's own 502s for a server (closed, refused) are in eresp/econ, not in the server's hrsp_5xx.
  return { requests: responses + lbErrors, failures: num(row, 'hrsp_5xx') + lbErrors };
}

export class HaproxyDriver implements Driver {
  private readonly api: RuntimeApi;

  constructor(options: HaproxyOptions) {
    this.api = new RuntimeApi({
      transport: options.transport,
      timeoutMs: options.timeoutMs ?? 10_000,
      retries: options.retries ?? 3,
      retryDelayMs: options.retryDelayMs ?? 250,
    });
  }

  get roundTrips(): number {
    return this.api.roundTrips;
  }

  private async stats(backends: readonly string[] | undefined): Promise<{ stat: Row[]; state: Row[] }> {
    const names = backends ?? ['-1'];
    const commands = [...names.map((b) => `show stat ${b} 4 -1`), ...(backends ?? ['']).map((b) => `show servers state ${b}`.trim())];
    const replies = await this.api.run(commands);
    const stat: Row[] = [];
    const state: Row[] = [];
    replies.forEach((reply, i) => {
      if (/^\[\d\]: /.test(reply.text)) throw new Error(`HAProxy refused '${reply.command}': ${refusal(reply)}`);
      (i < names.length ? stat : state).push(...(i < names.length ? parseStatCsv(reply.text) : parseServersState(reply.text)));
    });
    return { stat: stat.filter((r) => r['svname'] !== 'BACKEND' && r['svname'] !== 'FRONTEND'), state };
  }

  async servers(selectors: readonly Selector[]): Promise<Server[]> {
    // Only the named backends when no selector globs over backends: cheaper on large configurations.
    const backends = selectors.every((sel) => !sel.backend.includes('*')) ? [...new Set(selectors.map((sel) => sel.backend))] : undefined;
    const { stat, state } = await this.stats(backends);
    const byId = new Map(state.map((r) => [`${r['be_name']}/${r['srv_name']}`, r]));
    return stat
      .filter((r) => selectors.some((sel) => matchesSelector(sel, r['pxname'] ?? '', r['svname'] ?? '')))
      .map((r) => toServer(r, byId.get(`${r['pxname']}/${r['svname']}`)));
  }

  async apply(changes: readonly Change[]): Promise<void> {
    const commands: string[] = [];
    for (const change of changes) {
      const [backend, server] = assertName(change.server);
      if (change.weight !== undefined) {
        if (!Number.isInteger(change.weight) || change.weight < 0 || change.weight > 256) {
          throw new Error(`weight ${change.weight} for ${change.server} is outside HAProxy's 0-256`);
        }
        commands.push(`set server ${backend}/${server} weight ${change.weight}`);
      }
      if (change.admin) commands.push(`set server ${backend}/${server} state ${change.admin}`);
    }
    if (commands.length === 0) return;
    const replies = await this.api.run(commands);
    const refused = replies.map((r) => ({ r, why: refusal(r) })).filter((x) => x.why !== undefined);
    if (refused.length) {
      throw new Error(`HAProxy refused ${refused.length} of ${commands.length} commands: ${refused.map((x) => `'${x.r.command}': ${x.why}`).join('; ')}`);
    }
  }

  async counters(ids: readonly string[]): Promise<Map<string, Counters>> {
    const backends = [...new Set(ids.map((id) => assertName(id)[0]))];
    const replies = await this.api.run(backends.map((b) => `show stat ${b} 4 -1`));
    const wanted = new Set(ids);
    const result = new Map<string, Counters>();
    for (const reply of replies) {
      if (/^\[\d\]: /.test(reply.text)) throw new Error(`HAProxy refused '${reply.command}': ${refusal(reply)}`);
      for (const row of parseStatCsv(reply.text)) {
        const id = `${row['pxname']}/${row['svname']}`;
        if (wanted.has(id)) result.set(id, counters(row));
      }
    }
    return result;
  }

  async close(): Promise<void> {}
}
