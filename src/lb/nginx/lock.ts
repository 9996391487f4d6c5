/**
 * One rollout per nginx at a time: a lock file beside the upstreams file the driver owns (`PATH.zdd-lock`), created
 * exclusively (O_EXCL), holding its owner on the first line and when it was taken on the second. Released by removing
 * it, only while it is still ours.
 */
import type { LockAttempt, LockHolder, RolloutLock } from '../driver.js';
import type { Host } from './host.js';

export function lockPath(upstreams: string): string {
  return `${upstreams}.zdd-lock`;
}

function parseHolder(text: string): LockHolder {
  const [owner = '', since = ''] = text.split('\n');
  const date = new Date(since.trim());
  return { owner: owner.trim() || 'unknown', since: Number.isNaN(date.getTime()) ? undefined : date };
}

export class NginxLock implements RolloutLock {
  private readonly path: string;

  constructor(
    private readonly host: Host,
    upstreams: string,
  ) {
    this.path = lockPath(upstreams);
  }

  async acquire(owner: string, takeOver?: string): Promise<LockAttempt> {
    const where = `lock file ${this.path} on ${this.host.where}`;
    const existing = await this.host.createExclusive(this.path, `${owner}\n${new Date().toISOString()}\n`);
    if (existing === undefined) return { held: where };
    const holder = parseHolder(existing);
    if (holder.owner === owner) return { held: where };
    if (takeOver === undefined || takeOver !== holder.owner) return { holder };
    // Only one of several runs taking over the same stale lock removes it; the others then find the new holder.
    await this.host.removeIfFirstLine(this.path, holder.owner);
    const taken = await this.acquire(owner);
    return 'held' in taken ? { ...taken, replaced: holder } : taken;
  }

  async release(owner: string): Promise<void> {
    await this.host.removeIfFirstLine(this.path, owner);
  }

  async holder(): Promise<LockHolder | undefined> {
    const { text, size } = await this.host.readFrom(this.path, 0);
    return size === undefined ? undefined : parseHolder(text);
  }
}
