/**
 * What the canary judge promises for a plan, for dry-run: the bound on false rollbacks (false-rollback-rate, by
 * Ville's inequality, whatever the plan) and, for versions failing k times as often as stable, about how long until
 * the judge rolls them back. Pure and fast (well under a millisecond per plan): the time is where the judge's evidence
 * along the expected path (every poll seeing exactly its expected requests and failures) reaches the threshold. That
 * tracks the median of simulated rollouts (bench/judge.ts prints both side by side).
 */
import { formatFraction } from '../model/format.js';
import type { CanaryStep } from '../settings.js';
import { CEILING_MIN_REQUESTS, CEILING_SHARE } from './judge.js';
import { addLimitPoll, addRatioPoll, emptyLimit, emptyRatio, logMeanExp } from './sequential.js';

export interface GuaranteeInput {
  readonly falseRollbackRate: number;
  readonly maxErrorRate: number;
  /** The plan's steps: the new version's share of traffic (0..1) and how long the step lasts. */
  readonly steps: readonly { readonly share: number; readonly durationMs: number }[];
  /** Assumed requests per second through the load balancer. */
  readonly requestsPerSecond: number;
  /** Assumed failure share of the stable version (background errors). */
  readonly baselineFailure: number;
  /** Regressions to time: the new version fails this many times as often as stable. Default 2, 5 and 30. */
  readonly multiples?: readonly number[];
  /** How often the engine reads counters. Default 1 s. */
  readonly pollMs?: number;
}

export interface Detection {
  readonly multiple: number;
  /** The new version's failure share at that multiple. */
  readonly failure: number;
  /** About the median time from the first step to the rollback; undefined when the plan ends first. */
  readonly medianMs: number | undefined;
  /** The step (0-based) it happens in. */
  readonly step: number | undefined;
  /** Requests the new version fails for users before that (expected). */
  readonly failedRequests: number | undefined;
  /** What acts: the comparison with stable, the limit (no stable traffic), or the ceiling. */
  readonly by: 'worse-than-stable' | 'over-limit' | 'ceiling' | undefined;
}

export interface Guarantees {
  /** The chance of rolling back a version no worse than stable (or within max-error-rate alone) is at most this. */
  readonly falseRollbackBound: number;
  readonly detections: readonly Detection[];
}

function detect(input: GuaranteeInput, multiple: number): Detection {
  const pollMs = input.pollMs ?? 1000;
  const seconds = pollMs / 1000;
  const failure = Math.min(1, input.baselineFailure * multiple);
  const threshold = Math.log(1 / input.falseRollbackRate);
  let ratioLogs = emptyRatio();
  let limitLogs = emptyLimit(input.maxErrorRate);
  let now = 0;
  let failed = 0;
  let recent = 0;
  for (const [index, step] of input.steps.entries()) {
    const polls = Math.max(1, Math.ceil(step.durationMs / pollMs));
    const canaryRequests = input.requestsPerSecond * step.share * seconds;
    const stableRequests = input.requestsPerSecond * (1 - step.share) * seconds;
    const canary = { requests: canaryRequests, failures: canaryRequests * failure };
    for (let i = 0; i < polls; i++) {
      now += pollMs;
      failed += canary.failures;
      recent += canary.requests;
      const stable =
        step.share < 1 ? { requests: stableRequests, failures: stableRequests * input.baselineFailure } : undefined;
      const found = (by: Detection['by']): Detection => ({
        multiple,
        failure,
        medianMs: now,
        step: index,
        failedRequests: failed,
        by,
      });
      if (failure > Math.max(CEILING_SHARE, input.maxErrorRate) && recent >= CEILING_MIN_REQUESTS) {
        if (!(stable && input.baselineFailure > CEILING_SHARE)) return found('ceiling');
      }
      if (stable) ratioLogs = addRatioPoll(ratioLogs, canary, stable);
      else limitLogs = addLimitPoll(limitLogs, canary, input.maxErrorRate);
      if (logMeanExp(ratioLogs) + logMeanExp(limitLogs) >= threshold) {
        return found(stable ? 'worse-than-stable' : 'over-limit');
      }
    }
  }
  return { multiple, failure, medianMs: undefined, step: undefined, failedRequests: undefined, by: undefined };
}

/**
 * The plan's steps as the judge sees them: a canary step lasts its pause (at least one analysis window; an approval
 * step is counted as one window, the time before someone approves is unknown). Blue-green is one step at 100%.
 */
export function judgedSteps(
  steps: readonly CanaryStep[],
  analysisIntervalMs: number,
): { readonly share: number; readonly durationMs: number }[] {
  return steps.map((step) => ({
    share: step.weight / 100,
    durationMs: step.pause.kind === 'duration' ? Math.max(step.pause.ms, analysisIntervalMs) : analysisIntervalMs,
  }));
}

export function guarantees(input: GuaranteeInput): Guarantees {
  return {
    falseRollbackBound: input.falseRollbackRate,
    detections: (input.multiples ?? [2, 5, 30]).map((m) => detect(input, m)),
  };
}

function seconds(ms: number): string {
  return ms < 60_000 ? `${Math.round(ms / 1000)}s` : `${Math.round(ms / 6000) / 10}m`;
}

/** Lines for the dry-run plan. */
export function describeGuarantees(input: GuaranteeInput, g: Guarantees = guarantees(input)): string[] {
  return [
    `A version no worse than stable (or within max-error-rate ${formatFraction(input.maxErrorRate, 'significant')} where it serves alone) is rolled back with probability at most ${formatFraction(g.falseRollbackBound, 'significant')}, however often the judge looks.`,
    `Assuming ${input.requestsPerSecond} requests/s and ${formatFraction(input.baselineFailure, 'significant')} of them failing on stable:`,
    ...g.detections.map((d) =>
      d.medianMs === undefined
        ? `- a version failing ${d.multiple}x as often (${formatFraction(d.failure, 'significant')}): likely not caught before the plan ends`
        : `- a version failing ${d.multiple}x as often (${formatFraction(d.failure, 'significant')}): rolled back after about ${seconds(d.medianMs)} (step ${(d.step ?? 0) + 1}, ~${Math.round(d.failedRequests ?? 0)} failed requests)`,
    ),
  ];
}
