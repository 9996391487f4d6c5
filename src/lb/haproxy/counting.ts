/**
 * What HAProxy's `show stat` says a server's users felt, as cumulative counters: every request answered with a
 * status (hrsp_1xx..5xx, other), the 5xx among them, and the requests that got no status at all.
 *
 * When a reused server connection dies before the response, HAProxy closes the client's connection and counts almost
 * nothing (no hrsp_5xx, rarely eresp): of 583 client-seen failures, eresp was 29 (../shared/LB-NOTES.md). Per server,
 * the requests that got no status are the sessions it took (stot) minus those still running (scur), those answered
 * with a status: they are failures, whatever HAProxy logged. HAProxy's own 502/503/504 for the server (eresp, econ,
 * timeouts) are among them, since they are not in the server's hrsp_* columns.
 *
 * Failures HAProxy retried (`retry-on`, `retries`, `option redispatch`) are among them too, and must be: the user got
 * an answer from another attempt, but this server failed. A retried attempt is a session of the server (stot) with no
 * status counted. Measured on 2.6.12, a canary failing 30% at a 20% share behind `retry-on all-retryable-errors`,
 * `retries 3`: with `option redispatch`, stot 154, hrsp_2xx 97, wretr 57, wredis 57 (57 failed attempts, each
 * counted in both); without it, stot 293, hrsp_2xx 181, wretr 224, wredis 0 (112 failed attempts). Clients saw 0
 * failures either time. wretr and wredis count retries, not failed attempts (one failure moves both, or wretr twice),
 * so they are read for the plan's "users are shielded" line only, never subtracted: subtracting them hid every
 * retried failure, and a 30% failing canary was promoted behind retry lines.
 */
import type { Counters } from '../../model/server.js';
import type { RetryShield } from '../driver.js';
import { num, type Row } from './stat.js';

const STATUS_COLUMNS = ['hrsp_1xx', 'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx', 'hrsp_other'] as const;

export interface StatCounts {
  readonly answered: number;
  readonly answered5xx: number;
  /** stot - scur - answered, at least 0: attempts that ended without a status (retried ones included). */
  readonly unanswered: number;
  readonly stot: number;
}

export function statCounts(row: Row): StatCounts {
  const answered = STATUS_COLUMNS.reduce((sum, c) => sum + num(row, c), 0);
  const stot = num(row, 'stot');
  const unanswered = stot - num(row, 'scur') - answered;
  return { answered, answered5xx: num(row, 'hrsp_5xx'), unanswered: Math.max(0, unanswered), stot };
}

/**
 * Turns each read into cumulative counters that never go backwards while the process lives. A response being sent
 * is already in hrsp_* while its session is still in scur, which hides as many unanswered requests for one read: the
 * count reported is the highest seen so far (it is never above the true count, and reaches it once those sessions
 * end). A lower stot means new counters (a reload or restart): they count from there.
 */
export class UnansweredCounter {
  private readonly highest = new Map<string, { stot: number; unanswered: number }>();

  counters(id: string, row: Row): Counters {
    const counts = statCounts(row);
    const last = this.highest.get(id);
    const unanswered =
      last && counts.stot >= last.stot ? Math.max(last.unanswered, counts.unanswered) : counts.unanswered;
    this.highest.set(id, { stot: counts.stot, unanswered });
    return { requests: counts.answered + unanswered, failures: counts.answered5xx + unanswered };
  }
}

const LINES = 'docs/strategies.md#shielded-canaries';

/**
 * What HAProxy's counters say of its retries, per backend (its `show stat` BACKEND row). The Runtime API shows no
 * configuration, and HAProxy retries failed connections by default (`retries 3`, `retry-on conn-failure`), so
 * counts above 0 prove retries at work, not that failed answers are retried: that takes `retry-on` (the lines of
 * the docs). Whether users are shielded stays `unknown`; the text says what was read.
 */
export function retryShield(rows: readonly { backend: string; row: Row | undefined }[]): RetryShield {
  const said = rows.map(({ backend, row }) => {
    if (!row) return `backend ${backend} could not be read (no BACKEND row in show stat)`;
    const retried = num(row, 'wretr');
    const redispatched = num(row, 'wredis');
    return retried + redispatched > 0
      ? `backend ${backend} retried ${retried} times and redispatched ${redispatched} since HAProxy started`
      : `backend ${backend} retried nothing since HAProxy started`;
  });
  return {
    shielded: 'unknown',
    text: `${said.join('; ')}. HAProxy retries a failed answer or a reset on another server only with retry-on and option redispatch (${LINES}); without them users get a bad version's failures until its rollback. The judge counts every failed attempt, retried or not, against the server that failed it`,
  };
}
