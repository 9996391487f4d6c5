/**
 * A fleet's latency: every member's log read at once and each server's answers merged, so the judge sees every
 * answer users got from a version, whichever load balancer it went through (answers summed over the members, as
 * the counters are). Judged only where every member logs latency: a member without would hide its users' answers,
 * so `missing` names it.
 */
import type { LatencyLog } from '../driver.js';

export interface MemberLatency {
  readonly member: string;
  /** undefined: this member's load balancer gives no per-request latency. */
  readonly log: LatencyLog | undefined;
}

export class FleetLatency implements LatencyLog {
  readonly source: string;
  readonly periodMs: number | undefined;

  constructor(private readonly members: readonly MemberLatency[]) {
    const sources = [...new Set(members.flatMap((m) => (m.log ? [m.log.source] : [])))];
    this.source = `${sources.join('; ')}, merged over the ${members.length} load balancers`;
    const periods = members.flatMap((m) => (m.log?.periodMs ? [m.log.periodMs] : []));
    this.periodMs = periods.length ? Math.max(...periods) : undefined;
  }

  /** What any member lacks, naming it: latency is judged from all of them or none. */
  async missing(): Promise<string | undefined> {
    const problems = await Promise.all(
      this.members.map(async (m) => {
        if (!m.log) return `${m.member}: this load balancer gives no per-request latency`;
        const missing = await m.log.missing().catch((e: Error) => `could not be read: ${e.message}`);
        return missing ? `${m.member}: ${missing}` : undefined;
      }),
    );
    const found = problems.filter((p): p is string => p !== undefined);
    return found.length ? found.join('; ') : undefined;
  }

  /** Every member's answers per server since its previous read; a member that fails fails the read (that poll). */
  async read(ids: readonly string[]): Promise<Map<string, number[]>> {
    const reads = await Promise.all(
      this.members.map(async (m) => (m.log ? m.log.read(ids) : new Map<string, number[]>())),
    );
    const merged = new Map<string, number[]>(ids.map((id) => [id, []]));
    for (const read of reads) for (const [id, answers] of read) merged.get(id)?.push(...answers);
    return merged;
  }
}
