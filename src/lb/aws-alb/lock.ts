/**
 * One rollout per listener or rule, as safe as ALB's tags allow: AddTags is not conditional, so each run writes a tag
 * of its own, `zero-downtime-deploy:lock:TOKEN` = `OWNER@EPOCH-SECONDS` (TOKEN random), waits, and reads the tags
 * back. A run that finds another's tag before writing (a later writer) stops there; runs that wrote within the wait
 * of each other see each other's tags, and all but the one with the smallest token remove theirs and yield; a tag
 * older than one's own by more than the wait always wins. The residual race (docs/aws-alb.md): a run that stalls
 * longer than the wait between its first read and its write, on a runner whose clock is behind by more than the
 * stall, can still win beside another. Pure parts (tags -> contenders, who wins) are in lock-tags.ts.
 */
import { randomBytes } from 'node:crypto';
import type { LockAttempt, LockHolder, RolloutLock } from '../driver.js';
import { sleep } from '../../model/time.js';
import type { AwsApi } from './api.js';
import { contenders, decide, lockTag, winner, type Contender } from './lock-tags.js';

export { LOCK_TAG } from './lock-tags.js';

const SETTLE_MS = 2000;

export class AlbLock implements RolloutLock {
  constructor(
    private readonly api: AwsApi,
    private readonly arn: string,
    private readonly settleMs = SETTLE_MS,
  ) {}

  private async read(): Promise<Contender[]> {
    const { client, sdk } = await this.api.elb();
    const out = await this.api.send(client, new sdk.DescribeTagsCommand({ ResourceArns: [this.arn] }));
    return contenders(out.TagDescriptions?.[0]?.Tags ?? []);
  }

  private async remove(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const { client, sdk } = await this.api.elb();
    await this.api.send(client, new sdk.RemoveTagsCommand({ ResourceArns: [this.arn], TagKeys: [...keys] }));
  }

  async holder(): Promise<LockHolder | undefined> {
    return winner(await this.read())?.holder;
  }

  async acquire(owner: string, takeOver?: string): Promise<LockAttempt> {
    const before = await this.read();
    const others = before.filter((c) => c.holder.owner !== owner);
    const first = winner(others);
    if (first && (!takeOver || others.some((c) => c.holder.owner !== takeOver))) return { holder: first.holder };
    // A stale holder named exactly by take-over-lock: its tags go, then this run contends as any other.
    await this.remove(others.map((c) => c.key));
    const mine = lockTag(randomBytes(6).toString('hex'), owner, Date.now());
    const { client, sdk } = await this.api.elb();
    await this.api.send(client, new sdk.AddTagsCommand({ ResourceArns: [this.arn], Tags: [mine] }));
    const settled = await sleep(this.settleMs, this.api.signal).then(
      () => true,
      () => false,
    );
    if (!settled) {
      await this.remove([mine.Key]);
      throw new Error(
        `the run was cancelled while it waited for its lock tag to settle on ${this.arn}; the tag was removed`,
      );
    }
    const after = await this.read();
    const own = after.find((c) => c.key === mine.Key);
    // This owner's older tags (an attempt whose answer was lost) are no rivals.
    const rivals = after.filter((c) => c.holder.owner !== owner);
    const won = own ? decide(own, rivals, this.settleMs) : winner(rivals);
    if (won?.key !== mine.Key) {
      // A run that wrote at about the same time has the smaller token (or took the lock over): this one yields.
      await this.remove([mine.Key]);
      return { holder: won?.holder ?? { owner: 'unknown', since: undefined } };
    }
    // Tags of this owner from an earlier attempt (a lost answer) go too.
    await this.remove(after.filter((c) => c.holder.owner === owner && c.key !== mine.Key).map((c) => c.key));
    const held = `tag ${mine.Key} on ${this.arn}`;
    return first ? { held, replaced: first.holder } : { held };
  }

  async release(owner: string): Promise<void> {
    await this.remove((await this.read()).filter((c) => c.holder.owner === owner).map((c) => c.key));
  }
}
