/**
 * The one way to wait on a load balancer: read until done or retry until it works, with pauses between, within a
 * deadline or a number of attempts, and an abort signal (the run's cancel) that ends the wait at once. After the
 * abort a wait still makes one attempt, so a restore begun after a cancel goes out and is read back once.
 */
import { sleep } from './time.js';

export interface Pacing {
  /** The pause before attempt `n` (n >= 1; attempt 0 starts at once). */
  readonly pause: (n: number) => number;
  /** No attempt starts once its pause would end past this time (ms since the epoch). */
  readonly deadline?: number;
  /** At most this many attempts. */
  readonly attempts?: number;
  /** Ends the wait: the attempt under way finishes, none follows; a wait begun after the abort attempts once. */
  readonly signal?: AbortSignal;
}

/** Why a wait ended before it was done. */
export type WaitEnd = 'deadline' | 'attempts' | 'aborted';

export type Polled<T> =
  | { readonly done: true; readonly value: T; readonly reads: number }
  | { readonly done: false; readonly value: T; readonly reads: number; readonly ended: WaitEnd };

/** Pauses that start at `first` and double every `every` attempts, up to `longest`. */
export function backoff(first: number, longest: number, every = 1): (n: number) => number {
  return (n) => Math.min(longest, first * 2 ** Math.floor((n - 1) / every));
}

/** Pauses from a list: `list[n]` before attempt n, the list's length the number of attempts (see `fromList`). */
export function fromList(list: readonly number[]): Pick<Pacing, 'pause' | 'attempts'> {
  return { pause: (n) => list[n] ?? list.at(-1) ?? 0, attempts: list.length };
}

/** Whether attempt n (n >= 1) may start, or why not. */
function stopBefore(n: number, pacing: Pacing): WaitEnd | undefined {
  if (pacing.signal?.aborted) return 'aborted';
  if (pacing.attempts !== undefined && n >= pacing.attempts) return 'attempts';
  if (pacing.deadline !== undefined && Date.now() + pacing.pause(n) > pacing.deadline) return 'deadline';
  return undefined;
}

/** Pauses before attempt n; false when the signal ended the pause. */
async function paused(n: number, pacing: Pacing): Promise<boolean> {
  const ms = pacing.pause(n);
  if (ms <= 0) return true;
  return sleep(ms, pacing.signal).then(
    () => true,
    () => false,
  );
}

/** Reads until `done` holds for what was read, or the pacing ends the wait; returns the last read either way. */
export async function pollUntil<T>(
  read: (n: number) => Promise<T>,
  done: (value: T) => boolean,
  pacing: Pacing,
): Promise<Polled<T>> {
  for (let n = 0; ; n++) {
    const value = await read(n);
    if (done(value)) return { done: true, value, reads: n + 1 };
    const ended = stopBefore(n + 1, pacing) ?? ((await paused(n + 1, pacing)) ? undefined : 'aborted');
    if (ended) return { done: false, value, reads: n + 1, ended };
  }
}

/**
 * Runs `attempt` until it returns; an error `retryable` accepts is tried again while the pacing allows, any other
 * (or the last) is thrown. `attempt` is told its number, and `gaveUp` why the retries stopped.
 */
export async function retry<T>(
  attempt: (n: number) => Promise<T>,
  retryable: (error: unknown) => boolean,
  pacing: Pacing & { readonly gaveUp?: (ended: WaitEnd, attempts: number) => void },
): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (!retryable(error)) throw error;
      const ended = stopBefore(n + 1, pacing) ?? ((await paused(n + 1, pacing)) ? undefined : 'aborted');
      if (ended) {
        pacing.gaveUp?.(ended, n + 1);
        throw error;
      }
    }
  }
}

/** Why a signal fired, in words: the cancel's own (`the run was cancelled (SIGTERM)`), or the grace running out. */
export function abortReason(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') return 'the time left after the cancel ran out';
  return reason instanceof Error ? reason.message : 'cancelled';
}

/** After a cancel, how long a driver's calls have in all: traffic is put back and read once, then the run ends. */
export const CANCEL_GRACE_MS = 1500;

/**
 * The signal one call to a load balancer obeys (a socket, an HTTP request): the run's cancel until it fires, so a
 * call in flight ends with it; after it, one deadline CANCEL_GRACE_MS after the cancel, shared by every call made
 * since, so a restore still goes out and a load balancer that hangs cannot hold the run.
 */
export class CallBudget {
  private grace: AbortSignal | undefined;

  constructor(readonly cancel: AbortSignal | undefined) {
    cancel?.addEventListener('abort', () => (this.grace = AbortSignal.timeout(CANCEL_GRACE_MS)), { once: true });
  }

  signal(): AbortSignal | undefined {
    if (!this.cancel?.aborted) return this.cancel;
    return (this.grace ??= AbortSignal.timeout(CANCEL_GRACE_MS));
  }
}
