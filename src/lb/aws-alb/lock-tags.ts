/** The lock's tags, pure: which tags are contenders for the lock, and which of them holds it. */
import type { LockHolder } from '../driver.js';

/** The tag key of the lock before each run had a tag of its own (still read, so an older run's lock is honoured). */
export const LOCK_TAG = 'zero-downtime-deploy:lock';

export interface Contender {
  readonly key: string;
  /** Random per attempt; the smallest of runs that wrote within one wait of each other wins. */
  readonly token: string;
  readonly holder: LockHolder;
}

export function parseHolder(value: string | undefined): LockHolder {
  const text = value ?? '';
  const at = text.lastIndexOf('@');
  const seconds = Number(text.slice(at + 1));
  if (at < 0 || !Number.isFinite(seconds)) return { owner: text || 'unknown', since: undefined };
  return { owner: text.slice(0, at) || 'unknown', since: new Date(seconds * 1000) };
}

/** The tag a run writes to contend: `zero-downtime-deploy:lock:TOKEN` = `OWNER@SECONDS`. */
export function lockTag(token: string, owner: string, nowMs: number): { Key: string; Value: string } {
  return { Key: `${LOCK_TAG}:${token}`, Value: `${owner}@${(nowMs / 1000).toFixed(3)}` };
}

/** The lock's tags among a resource's tags (the older single tag counts, with the smallest token). */
export function contenders(tags: readonly { Key?: string; Value?: string }[]): Contender[] {
  return tags.flatMap((t) => {
    if (t.Key === LOCK_TAG) return [{ key: t.Key, token: '', holder: parseHolder(t.Value) }];
    if (!t.Key?.startsWith(`${LOCK_TAG}:`)) return [];
    return [{ key: t.Key, token: t.Key.slice(LOCK_TAG.length + 1), holder: parseHolder(t.Value) }];
  });
}

/** Who holds the lock: the contender with the smallest token (no clock decides: runners' clocks differ). */
export function winner(all: readonly Contender[]): Contender | undefined {
  return [...all].sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0))[0];
}

/**
 * Who holds the lock after `mine` was written and the wait passed. A rival whose tag is older than mine by more than
 * the wait had time to read itself the winner (mine came late, e.g. after a stalled call): it holds. Among tags
 * written within the wait of each other the smallest token holds, whatever the runners' clocks say.
 */
export function decide(mine: Contender, rivals: readonly Contender[], settleMs: number): Contender {
  const mineAt = mine.holder.since?.getTime() ?? Date.now();
  const earlier = rivals.filter((c) => (c.holder.since?.getTime() ?? 0) < mineAt - settleMs);
  return winner(earlier) ?? winner([mine, ...rivals]) ?? mine;
}
