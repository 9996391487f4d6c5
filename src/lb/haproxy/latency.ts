/**
 * Per-request latency from HAProxy over the Runtime API: `show stat` has only averages over the last 1024 requests
 * (rtime, ttime), so the action reads a `ring` buffer that a `log` line writes one line per request to, with `show
 * events RING` (HAProxy 2.2 and later). haproxy.cfg needs (docs/haproxy.md):
 *
 *     ring zdd
 *         format raw
 *         size 1048576
 *     defaults                      (or each frontend of the rollout's backends)
 *         log ring@zdd local0 info
 *         log-format "%rt %b/%s %ST %Ta"
 *
 * `%rt` (the process's request counter) tells a line read before from a new one: each read dumps the ring and keeps
 * the lines whose counter the previous dump did not hold. `%Ta` is the request's active time (ms), what the user
 * waited for an answer, attributed to the server `%b/%s` that answered with status `%ST`.
 */
import type { LatencyLog } from '../driver.js';
import type { RuntimeApi } from './runtime-api.js';

export const RING = 'zdd';
export const RING_LOG_FORMAT = '%rt %b/%s %ST %Ta';
const LINE = /^(\d+) (\S+\/\S+) (-?\d+) (-?\d+)$/;

export const RING_CONFIG = `'ring ${RING}' (format raw, size 1048576) and, in defaults, 'log ring@${RING} local0 info' with 'log-format "${RING_LOG_FORMAT}"'`;

export interface RingLine {
  readonly counter: number;
  readonly server: string;
  readonly status: number;
  readonly ms: number;
}

export function parseRing(text: string): { lines: RingLine[]; foreign: number } {
  const lines: RingLine[] = [];
  let foreign = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const m = LINE.exec(line);
    if (!m) {
      foreign++;
      continue;
    }
    lines.push({ counter: Number(m[1]), server: m[2] ?? '', status: Number(m[3]), ms: Number(m[4]) });
  }
  return { lines, foreign };
}

export class HaproxyRing implements LatencyLog {
  readonly source = `%Ta per request, from HAProxy's ring '${RING}' (show events ${RING})`;
  /** Counters of the last dump; undefined before the first read. */
  private seen: Set<number> | undefined;

  constructor(private readonly api: RuntimeApi) {}

  private async dump(): Promise<string | { missing: string }> {
    const [reply] = await this.api.run([`show events ${RING}`]);
    const text = reply?.text ?? '';
    if (/^\[\d\]: /.test(text) || /No such event sink/.test(text))
      return {
        missing: `HAProxy has no ring '${RING}' for per-request latency: add ${RING_CONFIG} to haproxy.cfg (docs/haproxy.md)`,
      };
    return text;
  }

  async missing(): Promise<string | undefined> {
    const text = await this.dump();
    if (typeof text !== 'string') return text.missing;
    const { lines, foreign } = parseRing(text);
    if (foreign > 0 && lines.length === 0)
      return `HAProxy's ring '${RING}' holds lines in another format: its log-format must be "${RING_LOG_FORMAT}" (docs/haproxy.md)`;
    return undefined;
  }

  async read(ids: readonly string[]): Promise<Map<string, number[]>> {
    const text = await this.dump();
    const result = new Map<string, number[]>(ids.map((id) => [id, []]));
    if (typeof text !== 'string') return result;
    const { lines } = parseRing(text);
    const previous = this.seen;
    this.seen = new Set(lines.map((l) => l.counter));
    if (!previous) return result;
    for (const line of lines) {
      if (previous.has(line.counter) || line.status < 100 || line.status >= 500 || line.ms < 0) continue;
      result.get(line.server)?.push(line.ms);
    }
    return result;
  }
}
