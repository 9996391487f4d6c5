/**
 * One rollout per listener or rule: a tag on it, `zero-downtime-deploy:lock` = `OWNER@EPOCH-SECONDS`. AddTags is not
 * conditional, so a taker writes, waits, and reads the tag back: of runs writing at once, only the last writer reads
 * itself back. Its limit: a run that read the tag free, then wrote it after another run's read-back pause ended, would
 * also win; the pause (longer than one API call) makes that unlikely, not impossible.
 */
import type { LockAttempt, LockHolder, RolloutLock } from '../driver.js';
import { sleep } from '../../model/time.js';
import type { AwsApi } from './api.js';

export const LOCK_TAG = 'zero-downtime-deploy:lock';
const SETTLE_MS = 2000;

function parseHolder(value: string | undefined): LockHolder | undefined {
  if (value === undefined) return undefined;
  const at = value.lastIndexOf('@');
  const seconds = Number(value.slice(at + 1));
  if (at < 0 || !Number.isFinite(seconds)) return { owner: value || 'unknown', since: undefined };
  return { owner: value.slice(0, at) || 'unknown', since: new Date(seconds * 1000) };
}

export class AlbLock implements RolloutLock {
  constructor(
    private readonly api: AwsApi,
    private readonly arn: string,
    private readonly settleMs = SETTLE_MS,
  ) {}

  async holder(): Promise<LockHolder | undefined> {
    const { client, sdk } = await this.api.elb();
    const out = await this.api.send(client, new sdk.DescribeTagsCommand({ ResourceArns: [this.arn] }));
    const tag = out.TagDescriptions?.[0]?.Tags?.find((t) => t.Key === LOCK_TAG);
    return parseHolder(tag?.Value);
  }

  async acquire(owner: string, takeOver?: string): Promise<LockAttempt> {
    const current = await this.holder();
    if (current && current.owner !== owner && current.owner !== takeOver) return { holder: current };
    const { client, sdk } = await this.api.elb();
    const value = `${owner}@${Math.floor(Date.now() / 1000)}`;
    await this.api.send(
      client,
      new sdk.AddTagsCommand({ ResourceArns: [this.arn], Tags: [{ Key: LOCK_TAG, Value: value }] }),
    );
    await sleep(this.settleMs);
    const after = await this.holder();
    if (after?.owner !== owner) return { holder: after ?? { owner: 'unknown', since: undefined } };
    const held = `tag ${LOCK_TAG} on ${this.arn}`;
    return current && current.owner !== owner ? { held, replaced: current } : { held };
  }

  async release(owner: string): Promise<void> {
    const current = await this.holder();
    if (current?.owner !== owner) return;
    const { client, sdk } = await this.api.elb();
    await this.api.send(client, new sdk.RemoveTagsCommand({ ResourceArns: [this.arn], TagKeys: [LOCK_TAG] }));
  }
}
