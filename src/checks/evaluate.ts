/**
 * One check evaluated once, within its timeout: an answer with no data is asked again until the timeout, then it
 * fails (unless the check says on-no-data: pass); whatever runs over the timeout is stopped and fails.
 */
import { redactSecrets, type CheckSpec } from '../model/checks.js';
import { formatDuration } from '../model/durations.js';
import { sleep } from '../model/time.js';
import type { CheckContext, CheckTarget, Reading } from './kind.js';
import { evaluateOnce } from './registry.js';

const NO_DATA_RETRY_MS = 250;

export interface Evaluated extends Reading {
  readonly verdict: 'pass' | 'fail';
  readonly ms: number;
}

/** One evaluation, with every check secret cut out of what it read (a server may echo a header back). */
export async function evaluate(
  check: CheckSpec,
  context: CheckContext,
  target: CheckTarget | undefined,
  signal: AbortSignal,
): Promise<Evaluated> {
  const result = await evaluateBounded(check, context, target, signal);
  if (!context.secrets?.size) return result;
  return {
    ...result,
    value: redactSecrets(result.value, context.secrets),
    detail: redactSecrets(result.detail, context.secrets),
  };
}

async function evaluateBounded(
  check: CheckSpec,
  context: CheckContext,
  target: CheckTarget | undefined,
  signal: AbortSignal,
): Promise<Evaluated> {
  const started = Date.now();
  const limit = formatDuration(check.timeoutMs);
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(new Error(`timeout ${limit} of check ${check.name}`)), check.timeoutMs);
  const bounded = AbortSignal.any([signal, timer.signal]);
  const ms = () => Date.now() - started;
  try {
    for (;;) {
      const reading = await evaluateOnce(check, context, target, bounded);
      if (timer.signal.aborted && reading.verdict !== 'pass')
        return { ...reading, verdict: 'fail', detail: `ended at its timeout ${limit}: ${reading.detail}`, ms: ms() };
      if (reading.verdict !== 'no-data') return { ...reading, verdict: reading.verdict, ms: ms() };
      if (check.noDataPasses)
        return { ...reading, verdict: 'pass', detail: `${reading.detail} (on-no-data: pass)`, ms: ms() };
      if (bounded.aborted || ms() + NO_DATA_RETRY_MS >= check.timeoutMs)
        return {
          ...reading,
          verdict: 'fail',
          detail: `no data within its timeout ${limit}: ${reading.detail}`,
          ms: ms(),
        };
      await sleep(NO_DATA_RETRY_MS, bounded).catch(() => undefined);
    }
  } finally {
    clearTimeout(timeout);
  }
}
