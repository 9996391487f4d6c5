/**
 * Every step-state key, in one place: the main step writes them, the post step (same bundle, a later process)
 * reads them. Nothing else touches the runner's step state.
 */
import * as core from '@actions/core';
import type { Change, PendingRestore } from './model/server.js';

/** What the post step needs to put traffic back after the main step stopped mid-rollout. */
export interface Checkpoint {
  /** The `load-balancer` URL as given. */
  readonly lb: string;
  /** The driver's own options, as its module parsed them from the inputs. */
  readonly options: unknown;
  /** What restores safe traffic; empty: leave everything as it is. */
  readonly restore: readonly Change[];
  /**
   * Servers out of traffic with a version not yet verified (a rolling batch mid-deploy): each goes back to its
   * original state and weight once it passes its check (the load balancer's own, else its health-url); the others
   * stay out and are named. Absent in checkpoints of earlier releases.
   */
  readonly pending?: readonly PendingRestore[];
  /** How long the post step may wait for pending servers to pass their check, in ms. */
  readonly verifyMs?: number;
  /** Servers that failed their checks and stay out of traffic on purpose (to name them). */
  readonly failed?: readonly string[];
}

/** The load balancer's lock the main step holds, for the post step to release if the main step could not. */
export interface HeldLock {
  /** The `load-balancer` URL as given. */
  readonly lb: string;
  /** The driver's own options, as its module parsed them from the inputs. */
  readonly options: unknown;
  /** The owner id the lock was taken under. */
  readonly owner: string;
}

const KEYS = { post: 'isPost', checkpoint: 'rollout', deployment: 'deployment', lock: 'lock' } as const;

/** True in the post step; the main step marks it for the post step to see. */
export function isPost(): boolean {
  return core.getState(KEYS.post) === 'true';
}

export function markPost(): void {
  core.saveState(KEYS.post, 'true');
}

/**
 * The checkpoint this process saved last. `core.getState` reads what an earlier step saved (the runner passes it to
 * the post step as STATE_* variables), never what this step saved, so without this the main step could not tell
 * that it ends with traffic still to restore (and would release its lock before the post step restored it).
 */
let savedHere: string | undefined;

/** Saves what the post step must restore, or clears it (undefined: no rollout in flight). */
export function saveCheckpoint(checkpoint: Checkpoint | undefined): void {
  savedHere = checkpoint ? JSON.stringify(checkpoint) : '';
  core.saveState(KEYS.checkpoint, savedHere);
}

/** The checkpoint this step saved last, else the one an earlier step saved (the post step's view). */
export function readCheckpoint(): Checkpoint | undefined {
  const saved = savedHere ?? core.getState(KEYS.checkpoint);
  if (!saved) return undefined;
  const parsed = JSON.parse(saved) as Partial<Checkpoint>;
  if (typeof parsed.lb !== 'string' || !Array.isArray(parsed.restore))
    throw new Error(`post: the saved checkpoint is not one this release wrote: ${saved.slice(0, 200)}`);
  return parsed as Checkpoint;
}

/**
 * The GitHub deployment this run is moving, from the moment it starts moving it until the run gave it its final
 * status (paused included); undefined clears it. A post step that finds one set ends it: the main step died first.
 */
export function saveDeploymentInFlight(id: string | undefined): void {
  core.saveState(KEYS.deployment, id ?? '');
}

export function readDeploymentInFlight(): string | undefined {
  return core.getState(KEYS.deployment) || undefined;
}

/** Saves the lock the main step holds, or clears it (undefined: released). */
export function saveHeldLock(lock: HeldLock | undefined): void {
  core.saveState(KEYS.lock, lock ? JSON.stringify(lock) : '');
}

export function readHeldLock(): HeldLock | undefined {
  const saved = core.getState(KEYS.lock);
  if (!saved) return undefined;
  const parsed = JSON.parse(saved) as Partial<HeldLock>;
  if (typeof parsed.lb !== 'string' || typeof parsed.owner !== 'string')
    throw new Error(`post: the saved lock is not one this release wrote: ${saved.slice(0, 200)}`);
  return parsed as HeldLock;
}
