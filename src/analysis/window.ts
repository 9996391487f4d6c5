/** An analysis window's numbers, as the engine reports them; the judge itself is judge.ts. Pure. */

export interface WindowData {
  /** Requests the new version served in the window (counter delta). */
  readonly requests: number;
  /** Of those, failures counted by the load balancer. */
  readonly failures: number;
  readonly probesPassed: number;
  readonly probesFailed: number;
  /** Longest run of consecutive failed probes on any one server. */
  readonly probeFailStreak: number;
  readonly elapsedMs: number;
}

export type Verdict =
  | { readonly kind: 'pass'; readonly summary: string }
  | { readonly kind: 'fail'; readonly summary: string }
  /** Keep watching: the window is not over, or it had too few requests to judge. */
  | { readonly kind: 'wait'; readonly summary: string };

export function errorRate(data: WindowData): number {
  const total = data.requests + data.probesPassed + data.probesFailed;
  return total === 0 ? 0 : (data.failures + data.probesFailed) / total;
}
