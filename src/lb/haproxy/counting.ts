/**
 * What HAProxy's `show stat` says a server's users felt, as cumulative counters: every request answered with a
 * status (hrsp_1xx..5xx, other), the 5xx among them, and the requests that got no status at all.
 *
 * When a reused server connection dies before the response, HAProxy closes the client's connection and counts almost
 * nothing (no hrsp_5xx, rarely eresp): of 583 client-seen failures, eresp was 29 (../shared/LB-NOTES.md). Per server,
 * the requests that got no status are the sessions it took (stot) minus those still running (scur), those answered
 * with a status, and those retried or redispatched elsewhere (wretr, wredis): they are failures, whatever HAProxy
 * logged. HAProxy's own 502/503/504 for the server (eresp, econ, timeouts) are among them, since they are not in the
 * server's hrsp_* columns.
 */
import type { Counters } from '../../model/server.js';
import { num, type Row } from './stat.js';

const STATUS_COLUMNS = ['hrsp_1xx', 'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx', 'hrsp_other'] as const;

export interface StatCounts {
  readonly answered: number;
  readonly answered5xx: number;
  /** stot - scur - answered - wretr - wredis, at least 0: requests that ended without a status. */
  readonly unanswered: number;
  readonly stot: number;
}

export function statCounts(row: Row): StatCounts {
  const answered = STATUS_COLUMNS.reduce((sum, c) => sum + num(row, c), 0);
  const stot = num(row, 'stot');
  const unanswered = stot - num(row, 'scur') - answered - num(row, 'wretr') - num(row, 'wredis');
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
