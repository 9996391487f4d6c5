/**
 * While a deploy-command runs, the load balancer is watched about once a second with the driver's cheap read: a
 * reload puts servers back to the configuration's states (a server being restarted back in traffic), so the engine
 * must hear of it at once, not when the command ends.
 */
import type { Driver } from '../lb/driver.js';
import { errorMessage, LoadBalancerRestarted } from '../model/errors.js';
import { sleep } from '../model/time.js';

/** How often the load balancer is watched while a command runs. */
export const WATCH_MS = 1000;

/**
 * Runs `work`, watching the load balancer meanwhile; each reload noticed runs `onReload(why)` at once (one at a
 * time). An error of onReload (a lost lock: another run owns the servers now) stops work through the signal it is
 * given (its commands get SIGTERM) and is thrown once work ended, before work's own. Returns work's result once it
 * ended and any onReload in progress ended. A watch read that fails otherwise is left to the rollout's own reads.
 */
export async function whileWatching<T>(
  driver: Driver,
  signal: AbortSignal,
  work: (signal: AbortSignal) => Promise<T>,
  onReload: (why: string) => Promise<void>,
): Promise<T> {
  if (!driver.watch) return work(signal);
  const watch = driver.watch.bind(driver);
  const done = new AbortController();
  const stop = AbortSignal.any([done.signal, signal]);
  const lost = new AbortController();
  let failure: { error: unknown } | undefined;
  const watching = (async () => {
    while (!stop.aborted && !failure) {
      await sleep(WATCH_MS, stop).catch(() => undefined);
      if (stop.aborted) return;
      try {
        await watch();
      } catch (error) {
        if (!(error instanceof LoadBalancerRestarted)) continue;
        await onReload(errorMessage(error)).catch((e: unknown) => {
          failure = { error: e };
          lost.abort(e);
        });
      }
    }
  })();
  try {
    const result = await work(AbortSignal.any([signal, lost.signal])).finally(() => done.abort());
    await watching;
    if (failure) throw failure.error;
    return result;
  } catch (error) {
    await watching;
    throw failure ? failure.error : error;
  }
}
