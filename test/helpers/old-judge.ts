/**
 * The judge the engine used before the sequential one (analysis/judge.ts): one window at a time against a fixed
 * threshold. Kept only as the baseline the benchmark and the simulations compare with.
 */
import type { AnalysisSettings } from '../../src/settings.js';
import { errorRate, type Verdict, type WindowData } from '../../src/analysis/window.js';
import { formatPercent } from '../../src/model/format.js';

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
