/** Judges one analysis window from counter deltas and probe results. Pure. */
import type { AnalysisSettings } from '../settings.js';
import { formatPercent } from '../model/format.js';

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

export function describeWindow(data: WindowData): string {
  const probes = data.probesPassed + data.probesFailed;
  return (
    `${data.failures} of ${data.requests} requests failed` +
    (probes ? `, ${data.probesFailed} of ${probes} probes failed` : '') +
    ` (${formatPercent(100 * errorRate(data))})`
  );
}

/**
 * fail: as soon as at least min-requests were served and the failure share is over max-error-rate, or a server
 * failed unhealthy-threshold probes in a row. pass: at the window's end with at least min-requests served and the
 * share within the limit. Otherwise wait (fewer requests extend the window instead of passing).
 */
export function judgeWindow(
  data: WindowData,
  settings: AnalysisSettings,
  windowMs: number,
  unhealthyThreshold: number,
): Verdict {
  const rate = errorRate(data);
  const limit = `max-error-rate ${formatPercent(100 * settings.maxErrorRate)}`;
  if (data.probeFailStreak >= unhealthyThreshold) {
    return { kind: 'fail', summary: `${data.probeFailStreak} probes in a row failed; ${describeWindow(data)}` };
  }
  if (data.requests >= settings.minRequests && rate > settings.maxErrorRate) {
    return { kind: 'fail', summary: `${describeWindow(data)}, over ${limit}` };
  }
  if (data.elapsedMs < windowMs) return { kind: 'wait', summary: describeWindow(data) };
  if (data.requests < settings.minRequests) {
    return {
      kind: 'wait',
      summary: `only ${data.requests} of min-requests ${settings.minRequests} served: window extended`,
    };
  }
  return { kind: 'pass', summary: `${describeWindow(data)}, within ${limit}` };
}
