/** Whether the traffic read can feed the judge, pure: a step that cannot reach min-requests is held until timeout. */
import { formatDuration } from '../model/durations.js';
import type { AnalysisSettings } from '../settings.js';
import type { Plan } from './plan.js';

/**
 * The warning for the canary steps whose share of `requestsPerSecond` gives the new version fewer than min-requests
 * in one analysis window, or undefined when every step can reach it.
 */
export function quietSteps(
  plan: Plan,
  analysis: AnalysisSettings,
  requestsPerSecond: number,
  timeoutMs: number,
): string | undefined {
  if (analysis.minRequests <= 0) return undefined;
  const windowS = analysis.intervalMs / 1000;
  const short = plan.stages.flatMap((stage) => {
    if (stage.kind !== 'shift' || stage.weight <= 0 || stage.weight >= 100) return [];
    const share = (stage.achieved ?? stage.weight) / 100;
    const expected = requestsPerSecond * share * windowS;
    return expected < analysis.minRequests ? [`about ${Math.floor(expected)} at ${stage.weight}%`] : [];
  });
  if (short.length === 0) return undefined;
  return `min-requests: at the traffic read (${requestsPerSecond} requests/s) the new version would get ${short.join(', ')} per ${formatDuration(analysis.intervalMs)} analysis window, fewer than min-requests ${analysis.minRequests}, so those steps would be held until timeout (${formatDuration(timeoutMs)}) and rolled back; lower min-requests, lengthen analysis-interval, or deploy when there is more traffic`;
}
