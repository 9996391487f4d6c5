/**
 * One rollout per fleet: the lock of every member, taken in the order the members are listed (so two runs on the same
 * fleet meet at the first member, and the loser holds nothing). A run that cannot take one member's lock releases
 * those it took before; nothing else changes.
 */
import type { LockAttempt, LockCheck, LockHolder, RolloutLock } from '../driver.js';
import { errorMessage } from '../../model/errors.js';

export interface LockMember {
  readonly member: string;
  readonly lock: RolloutLock;
}

export class FleetLock implements RolloutLock {
  constructor(private readonly members: readonly LockMember[]) {}

  async acquire(owner: string, takeOver?: string): Promise<LockAttempt> {
    if (takeOver) {
      // A take-over replaces only the named holder: when any member is held by another run, refuse before replacing
      // the named one anywhere.
      const holders = await Promise.all(this.members.map((m) => m.lock.holder()));
      const other = holders.find((h) => h && h.owner !== owner && h.owner !== takeOver);
      if (other) return { holder: other };
    }
    const taken: { member: LockMember; held: string; replaced?: LockHolder }[] = [];
    for (const member of this.members) {
      let attempt: LockAttempt;
      try {
        attempt = await member.lock.acquire(owner, takeOver);
      } catch (error) {
        // The member that failed may have taken it before its answer was lost: released too (only if ours).
        await this.releaseTaken([...taken, { member }], owner);
        throw new Error(`taking the lock on ${member.member} failed: ${errorMessage(error)}`, { cause: error });
      }
      if ('held' in attempt) {
        taken.push({ member, held: attempt.held, replaced: attempt.replaced });
        continue;
      }
      await this.releaseTaken(taken, owner);
      if ('unavailable' in attempt) return { unavailable: `${member.member}: ${attempt.unavailable}` };
      return attempt;
    }
    const replaced = taken.find((t) => t.replaced)?.replaced;
    const held = taken.map((t) => t.held).join('; ');
    return replaced ? { held, replaced } : { held };
  }

  private async releaseTaken(taken: readonly { member: LockMember }[], owner: string): Promise<void> {
    await Promise.allSettled(taken.map((t) => t.member.lock.release(owner)));
  }

  async release(owner: string): Promise<void> {
    const results = await Promise.allSettled(this.members.map((m) => m.lock.release(owner)));
    const failed = results.flatMap((r, i) =>
      r.status === 'rejected' ? [`${this.members[i]?.member}: ${errorMessage(r.reason)}`] : [],
    );
    if (failed.length) throw new Error(`releasing the lock failed on ${failed.join('; ')}`);
  }

  /**
   * The holder when every member that answers and holds a lock has the same one, even if others are free (a run
   * killed between members, a member reloaded): that run's, which it or a take-over naming it can release. When they
   * differ, a holder naming each member's, which no owner matches: the fleet is not any one run's. Undefined when all
   * are free. A member that does not answer is left out (nothing can be written to it either); none answering throws.
   */
  async holder(): Promise<LockHolder | undefined> {
    const results = await Promise.allSettled(this.members.map((m) => m.lock.holder()));
    const answered = results.flatMap((r, i) =>
      r.status === 'fulfilled' ? [{ member: this.members[i]?.member ?? '', holder: r.value }] : [],
    );
    if (!answered.length)
      throw new Error(
        `no load balancer answered: ${results.map((r, i) => `${this.members[i]?.member}: ${r.status === 'rejected' ? errorMessage(r.reason) : 'answered'}`).join('; ')}`,
      );
    const held = answered.filter((a) => a.holder);
    const owners = new Set(held.map((a) => a.holder?.owner));
    if (owners.size <= 1) return held[0]?.holder;
    return {
      owner: answered.map((a) => `${a.holder?.owner ?? 'nobody'} on ${a.member}`).join(', '),
      since: undefined,
    };
  }

  /** Ours while every member's is ours (a member that took it back after a reload says so); lost on any member. */
  async confirm(owner: string): Promise<LockCheck> {
    const checks = await Promise.all(
      this.members.map(async (m): Promise<LockCheck> => {
        if (m.lock.confirm) return m.lock.confirm(owner);
        const holder = await m.lock.holder();
        return holder?.owner === owner
          ? { held: true }
          : { lost: holder ? `${holder.owner} holds it now` : 'nobody holds it' };
      }),
    );
    const lost = checks.flatMap((c, i) => ('lost' in c ? [`on ${this.members[i]?.member}: ${c.lost}`] : []));
    if (lost.length) return { lost: lost.join('; ') };
    const reclaimed = checks.flatMap((c, i) =>
      'held' in c && c.reclaimed ? [`on ${this.members[i]?.member}: ${c.reclaimed}`] : [],
    );
    return reclaimed.length ? { held: true, reclaimed: reclaimed.join('; ') } : { held: true };
  }
}
