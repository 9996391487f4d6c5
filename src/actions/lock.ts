/**
 * One rollout per load balancer at a time: deploy, promote and abort run holding the load balancer's own lock, taken
 * before anything changes and released however they end. A lock the main step could not release (it was killed) is
 * released by the post step; one left by a run that died altogether is taken over only by naming its holder.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import * as core from '@actions/core';
import type { Driver, LockCheck, LockHolder } from '../lb/driver.js';
import type { LockGuard } from '../engine/context.js';
import { createDriver, parseLoadBalancer } from '../lb/registry.js';
import { formatDuration } from '../model/durations.js';
import { errorMessage, InputError, LockLost } from '../model/errors.js';
import type { Outcome } from '../model/outcome.js';
import { sleep } from '../model/time.js';
import type { ActionName, Settings } from '../settings.js';
import { readCheckpoint, readHeldLock, saveHeldLock } from '../state.js';

/** The use cases that change traffic; status and dry runs only read. */
export const LOCKED_ACTIONS: readonly ActionName[] = ['deploy', 'promote', 'abort'];

/** Whether this run moves real traffic: the locked use cases, and a preview whose canary shares a real backend. */
function movesTraffic(settings: Settings): boolean {
  if (settings.dryRun) return false;
  return LOCKED_ACTIONS.includes(settings.action) || (settings.action === 'preview' && !!settings.previewCanary);
}

/**
 * Who takes the lock: the repository, run and attempt (`acme:shop.run123.1`), and a few random characters, since
 * the jobs of one matrix share all three. Off a runner: this machine and process.
 */
export function lockOwner(env: NodeJS.ProcessEnv = process.env): string {
  const { GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run, GITHUB_RUN_ATTEMPT: attempt } = env;
  const id =
    repo && run
      ? `${repo.replace('/', ':')}.run${run}.${attempt || '1'}.${randomBytes(2).toString('hex')}`
      : `local.${hostname()}.${process.pid}`;
  return id.replace(/[^A-Za-z0-9_.:-]/g, '-');
}

export function describeHolder(holder: LockHolder, now = Date.now()): string {
  if (!holder.since) return holder.owner;
  const since = new Date(Math.floor(holder.since.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  // Load balancers tell the time in whole seconds.
  const age = Math.floor(Math.max(0, now - holder.since.getTime()) / 1000) * 1000;
  return `${holder.owner} since ${since} (${age < 1000 ? 'just now' : `${formatDuration(age)} ago`})`;
}

/** Whether the main step leaves something for the post step to restore. */
function checkpointPending(): boolean {
  try {
    const checkpoint = readCheckpoint();
    return !!checkpoint && (checkpoint.restore.length > 0 || (checkpoint.pending?.length ?? 0) > 0);
  } catch {
    return false;
  }
}

/**
 * Post step: whether the post step may restore traffic on this load balancer: when the main step held its lock, only
 * while the lock is still held under that owner (else another rollout may have moved traffic since).
 */
export async function stillOurs(driver: Driver, lb: string): Promise<string | undefined> {
  const held = readHeldLock();
  if (!held || held.lb !== lb || !driver.lock) return undefined;
  const holder = await driver.lock.holder();
  if (holder?.owner === held.owner) return undefined;
  return `the lock on ${lb} is no longer held by this run (${holder ? `now ${describeHolder(holder)}` : 'nobody holds it'}), so another rollout may have moved traffic since: nothing was restored`;
}

/**
 * Runs the use case holding the load balancer's lock (deploy, promote, abort, and a preview with preview-canary;
 * others run as they are).
 */
export interface LockWait {
  /** How long to wait for another run's lock to be released before refusing, in ms (0 or absent: refuse at once). */
  readonly waitMs?: number | undefined;
  /** Stops the wait (the run's deadline and cancel). */
  readonly signal?: AbortSignal;
}

/** Asks for the lock until it is free or `wait.waitMs` has passed (polling every 1-5 s), or the signal fires. */
async function acquireWaiting(
  lock: NonNullable<Driver['lock']>,
  owner: string,
  takeOver: string | undefined,
  wait: LockWait,
  lb: string,
): Promise<Awaited<ReturnType<NonNullable<Driver['lock']>['acquire']>>> {
  const until = Date.now() + (wait.waitMs ?? 0);
  let pause = 1000;
  let told = false;
  for (;;) {
    const attempt = await lock.acquire(owner, takeOver);
    if (!('holder' in attempt) || takeOver || Date.now() + pause > until || wait.signal?.aborted) return attempt;
    if (!told)
      core.info(
        `Waiting up to ${formatDuration(until - Date.now())} for the lock on ${lb}: ${describeHolder(attempt.holder)} holds it`,
      );
    told = true;
    await sleep(pause, wait.signal).catch(() => undefined);
    pause = Math.min(pause * 2, 5000);
  }
}

/** The engine's lock guard for `owner` on this load balancer (see LockGuard). */
export function lockGuard(lock: NonNullable<Driver['lock']>, owner: string, lb: string): LockGuard {
  return {
    async check(moment) {
      const found: LockCheck = lock.confirm
        ? await lock.confirm(owner)
        : await lock
            .holder()
            .then((h) =>
              h?.owner === owner ? { held: true } : { lost: h ? `${h.owner} holds it now` : 'nobody holds it' },
            );
      if ('lost' in found)
        throw new LockLost(
          `the lock on ${lb} is no longer held by this run (found ${moment}: ${found.lost}), so another run may be moving these servers: this run changed nothing more`,
        );
      if (!found.reclaimed) return undefined;
      core.warning(`load-balancer: ${found.reclaimed} (found ${moment}); this run holds the lock on ${lb} again`);
      return found.reclaimed;
    },
  };
}

export async function withLock(
  settings: Settings,
  driver: Driver,
  run: (guard?: LockGuard) => Promise<Outcome>,
  wait: LockWait = {},
): Promise<Outcome> {
  if (!movesTraffic(settings)) return run();
  const lb = settings.loadBalancer.display;
  const unguarded = `so nothing stops another rollout on ${lb} at the same time: run one at a time (e.g. a workflow concurrency group)`;
  if (!driver.lock) {
    core.warning(`load-balancer: ${lb} offers no lock, ${unguarded}`);
    return run();
  }
  const owner = lockOwner();
  const takeOver = settings.takeOverLock || undefined;
  // Saved before the attempt: a lock taken whose answer was lost (or a kill right after) is still released by the
  // post step, which releases only a lock held under this very owner id.
  saveHeldLock({ lb, options: settings.driverOptions, owner });
  let attempt;
  try {
    attempt = await acquireWaiting(driver.lock, owner, takeOver, wait, lb);
  } catch (error) {
    throw new Error(`load-balancer: could not take the lock on ${lb}: ${errorMessage(error)}. Nothing was changed.`, {
      cause: error,
    });
  }
  if (!('held' in attempt)) saveHeldLock(undefined);
  if ('unavailable' in attempt) {
    core.warning(`load-balancer: ${attempt.unavailable}; going on without a lock, ${unguarded}`);
    return run();
  }
  if ('holder' in attempt) {
    if (takeOver)
      throw new InputError([
        `take-over-lock: '${takeOver}' does not hold the lock on ${lb}: ${describeHolder(attempt.holder)} holds it. Give exactly that id to take it over, or wait for it. Nothing was changed.`,
      ]);
    throw new Error(
      `load-balancer: another rollout holds the lock on ${lb}: ${describeHolder(attempt.holder)}. Wait for it, or if that run died, take the lock over with take-over-lock: ${attempt.holder.owner}. Nothing was changed.`,
    );
  }
  if (attempt.replaced)
    core.warning(
      `load-balancer: took over the lock on ${lb} from ${describeHolder(attempt.replaced)} (take-over-lock)`,
    );
  core.info(`Holding the lock on ${lb} as ${owner} (${attempt.held})`);
  try {
    return await run(lockGuard(driver.lock, owner, lb));
  } finally {
    // Traffic the post step must still restore: the lock stays ours until it has, so no other rollout starts in
    // between and the post step never writes over another run's changes.
    if (checkpointPending()) {
      core.warning(`load-balancer: keeping the lock on ${lb} for the post step, which restores safe traffic first`);
    } else {
      await release(driver, lb, owner);
    }
  }
}

async function release(driver: Driver, lb: string, owner: string): Promise<void> {
  try {
    await driver.lock?.release(owner);
    saveHeldLock(undefined);
    core.info(`Released the lock on ${lb}`);
  } catch (error) {
    core.warning(
      `load-balancer: could not release the lock on ${lb} (${errorMessage(error)}); the post step tries again`,
    );
  }
}

/** Post step: releases the lock a main step took and could not release (killed, or its release failed). */
export async function releaseLeftLock(): Promise<void> {
  let held;
  try {
    held = readHeldLock();
  } catch (error) {
    core.warning(errorMessage(error));
    return;
  }
  if (!held) return;
  const url = parseLoadBalancer(held.lb);
  if ('error' in url) {
    core.warning(`post: saved load balancer ${held.lb}: ${url.error}`);
    return;
  }
  const driver = createDriver(url, held.options);
  try {
    const holder = await driver.lock?.holder();
    if (holder?.owner !== held.owner) {
      core.info(`Post step: the lock on ${held.lb} is no longer held as ${held.owner}; left as it is.`);
      return;
    }
    await driver.lock?.release(held.owner);
    core.info(`Post step: released the lock on ${held.lb} that the main step held as ${held.owner}.`);
  } catch (error) {
    core.warning(
      `post: could not release the lock on ${held.lb} held as ${held.owner}: ${errorMessage(error)}. The next run names it; take it over with take-over-lock: ${held.owner}`,
    );
  } finally {
    await driver.close();
  }
}
