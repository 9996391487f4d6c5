/** One engine run's context: the settings, the driver, the timeline, the prober, and the caller's hooks. */
import type { Driver } from '../lb/driver.js';
import type { Change, PendingRestore } from '../model/server.js';
import { Prober } from '../probes/http.js';
import type { Settings } from '../settings.js';
import { Timeline } from './timeline.js';

/** A canary step or a rolling batch that passed its checks, as the engine judged it. */
export interface StepPassed {
  /** 1-based, of `of`. */
  readonly index: number;
  readonly of: number;
  /** The new version's share of traffic now, in percent. */
  readonly share: number;
  /** The last window's verdict, as the summary's step table writes it. */
  readonly verdict: string;
  /** The new version's requests and failures (with failed probes) over the step's windows. */
  readonly requests: number;
  readonly failed: number;
}

/** What restores safe traffic if the run stops now, as the engine tells it at each step. */
export type SafePoint =
  /** No rollout in flight: nothing to restore. */
  | { readonly kind: 'none' }
  /**
   * Leave the load balancer as it is. `pending`: servers out of traffic with a version nobody verified, put back
   * (ready, their weight) once each passes its check; `failed`: servers that stay out on purpose.
   */
  | { readonly kind: 'leave'; readonly pending?: readonly PendingRestore[]; readonly failed?: readonly string[] }
  /** Apply these changes (read back); `failed`: servers that stay out on purpose. */
  | { readonly kind: 'restore'; readonly changes: readonly Change[]; readonly failed?: readonly string[] };

/** How the engine tells the outside world where it is; the engine itself knows no GitHub and no step state. */
export interface Hooks {
  /** A step or batch passed (e.g. a notification). Never awaited: whatever it does must not delay traffic. */
  passed?(step: StepPassed): void;
  /** A stage begins (e.g. a deployment status). */
  stage(text: string): Promise<void>;
  /** Where safe traffic is if the run stops now (a later step, the post step, gets there). */
  checkpoint(at: SafePoint): void;
  /** The lock this run holds, re-read by the engine around every command and traffic change (absent: none). */
  readonly guard?: LockGuard;
}

/**
 * The load balancer's lock, re-read before and after every deploy-command and every traffic change: a run that lost
 * it stops before touching anything more, since another run may be moving the same servers.
 */
export interface LockGuard {
  /**
   * Throws LockLost when this run no longer holds the lock; `moment` names the step (for the message). Returns how
   * the lock was taken back when a reload had dropped it moments ago, else undefined.
   */
  check(moment: string): Promise<string | undefined>;
}

/** No lock to guard (a load balancer without one, tests). */
export const NO_GUARD: LockGuard = { check: async () => undefined };

/** Hooks that go nowhere (tests, and runs that report nothing). */
export const NO_HOOKS: Hooks = { stage: async () => undefined, checkpoint: () => undefined };

/** No rollout in flight. */
export const NOTHING_IN_FLIGHT: SafePoint = { kind: 'none' };

export interface EngineContext {
  readonly hooks: Hooks;
  readonly settings: Settings;
  readonly driver: Driver;
  readonly prober: Prober;
  readonly timeline: Timeline;
  readonly signal: AbortSignal;
  readonly guard: LockGuard;
}

export async function withEngine<T>(
  settings: Settings,
  driver: Driver,
  signal: AbortSignal,
  hooks: Hooks,
  run: (ctx: EngineContext) => Promise<T>,
): Promise<T> {
  const prober = new Prober(settings.probe);
  const guard = hooks.guard ?? NO_GUARD;
  const ctx: EngineContext = { settings, driver, prober, timeline: new Timeline(), signal, hooks, guard };
  try {
    return await run(ctx);
  } finally {
    await prober.close();
  }
}
