/** Notifications from what the engine and use cases already report: outcomes, passed steps, the start of a run. */
import type { StepPassed } from '../engine/context.js';
import type { RollingOutcome } from '../engine/rolling.js';
import type { ShiftOutcome } from '../engine/shift.js';
import type { Notification } from './event.js';

export interface PoolNames {
  readonly stable: string;
  readonly new: string;
}

export function stepNotification(step: StepPassed, pools?: PoolNames): Notification {
  return {
    event: 'step-passed',
    verdict: `Step ${step.index}/${step.of} passed: ${step.verdict}`,
    step: { index: step.index, of: step.of },
    share: step.share,
    counts: { requests: step.requests, failed: step.failed },
    ...(pools ? { pools } : {}),
  };
}

/** The end of a blue-green or canary run of `of` steps, with the summary's own sentence. */
export function shiftNotification(outcome: ShiftOutcome, pools: PoolNames, of: number): Notification {
  const windows = outcome.steps.flatMap((s) => s.windows);
  const last = outcome.steps.at(-1);
  return {
    event: outcome.result,
    verdict: outcome.message,
    share: outcome.weight,
    pools,
    counts: {
      requests: windows.reduce((n, w) => n + w.data.requests, 0),
      failed: windows.reduce((n, w) => n + w.data.failures + w.data.probesFailed, 0),
    },
    ...(last ? { step: { index: last.index, of } } : {}),
  };
}

export function rollingNotification(outcome: RollingOutcome): Notification {
  const windows = outcome.batches.flatMap((b) => (b.window ? [b.window] : []));
  return {
    event: outcome.result,
    verdict: outcome.message,
    share: outcome.weight,
    counts: {
      requests: windows.reduce((n, w) => n + w.requests, 0),
      failed: windows.reduce((n, w) => n + w.failures + w.probesFailed, 0),
    },
  };
}
