/**
 * One rollout per HAProxy at a time. The Runtime API has no compare-and-set on variables, but `add server` is atomic
 * and refuses a name a backend already has: the lock is a dynamic server `zdd-lock`, and an owner server
 * `zdd-owner.<owner>` says who took it. Both are added in one batch, in maint at weight 0 (no traffic, no checks),
 * to the first backend with a dynamic algorithm, so every run on this HAProxy picks the same one. The lock's
 * address (an IPv6 documentation address, never connected to) is a hash of its owner: it ties the lock to its owner
 * server even while a losing run's owner server exists for a moment.
 */
import { createHash } from 'node:crypto';
import type { LockAttempt, LockCheck, LockHolder, RolloutLock } from '../driver.js';
import { NAME_PATTERN } from '../../model/selectors.js';
import { pollUntil } from '../../model/poll.js';
import { sleep } from '../../model/time.js';
import { FOLD_MS, refusal, type Reply, type RuntimeApi } from './runtime-api.js';
import { num, parseServersState, parseStatCsv, type Row } from './stat.js';

export const LOCK_SERVER = 'zdd-lock';
export const OWNER_PREFIX = 'zdd-owner.';

/** Servers of the lock: never a target, never counted, never selected by `app/*`. */
export function isLockServer(name: string): boolean {
  return name === LOCK_SERVER || name.startsWith(OWNER_PREFIX);
}

/** `add server` works only in backends whose algorithm is dynamic; hashing ones may be static. */
const DYNAMIC_ALGORITHMS = new Set(['roundrobin', 'leastconn', 'random']);

/** The lock's address for an owner: 2001:db8::/32 (documentation only) followed by 96 bits of the owner's hash. */
export function lockAddress(owner: string): string {
  const hex = createHash('sha256').update(owner).digest('hex');
  const groups = Array.from({ length: 6 }, (_, i) => hex.slice(i * 4, i * 4 + 4).replace(/^0+(?=.)/, ''));
  return `2001:db8:${groups.join(':')}`;
}

/** HAProxy prints addresses in canonical form; compare them the same way. */
function sameAddress(a: string, b: string): boolean {
  const canonical = (address: string) => new URL(`http://[${address}]/`).hostname;
  try {
    return canonical(a) === canonical(b);
  } catch {
    return false;
  }
}

/**
 * A reload drops the lock (its servers are not in the configuration). The run that held it takes it back when it
 * notices within RECLAIM_S seconds of the new worker's start (it watches about once a second); a run that takes a
 * lock on a worker younger than FRESH_S seconds waits until it is that old and checks it still holds it before it
 * moves anything, so the two never both act.
 */
export const RECLAIM_S = 1;
export const FRESH_S = 3;

/**
 * FRESH_S, or `ZERO_DOWNTIME_DEPLOY_FRESH_WORKER_S` where the tests set it: their labs start a new HAProxy for each
 * test and run at once, so each run would wait those 3 s (about 4 minutes of the suite); the reload tests keep 3.
 */
function freshWorkerS(): number {
  const text = process.env.ZERO_DOWNTIME_DEPLOY_FRESH_WORKER_S ?? '';
  const value = Number(text);
  return text !== '' && Number.isFinite(value) && value >= 0 ? value : FRESH_S;
}

/** The worker that answered (`PID@START`) and its uptime in seconds, from `show info`. */
function workerOf(info: string): { worker: string; uptimeS: number } {
  const pid = /^Pid: (\d+)$/m.exec(info)?.[1] ?? '?';
  const started = /^Start_time_sec: (\d+)$/m.exec(info)?.[1] ?? '?';
  const uptime = Number(/^Uptime_sec: (\d+)$/m.exec(info)?.[1]);
  return { worker: `${pid}@${started}`, uptimeS: Number.isFinite(uptime) ? uptime : FRESH_S };
}

function failed(reply: Reply | undefined): string | undefined {
  return reply ? refusal(reply) : 'no reply';
}

export class HaproxyLock implements RolloutLock {
  private chosen: string | undefined;
  /** The worker on which the lock was last seen ours. */
  private worker: string | undefined;
  /** The lock server's id on that worker, while ours: a re-check reads its one row (`show stat B 4 ID`). */
  private lockSid: string | undefined;

  /** When the lock was last read as ours, and at which write count (RuntimeApi.writes). */
  private lastHeld: { at: number; writes: number } | undefined;

  /** Notes the lock server's id from `show servers state` rows (undefined when it is not there). */
  private noteSid(rows: readonly Row[]): void {
    this.lockSid = rows.find((r) => r['srv_name'] === LOCK_SERVER)?.['srv_id'];
  }

  constructor(private readonly api: RuntimeApi) {}

  /** The backend that holds the lock: the first, in `show stat` order, with a dynamic algorithm. */
  private async backend(): Promise<string | { unavailable: string }> {
    if (this.chosen) return this.chosen;
    const [reply] = await this.api.run(['show stat -1 2 -1']);
    const rows = parseStatCsv(reply?.text ?? '').filter((r) => r['svname'] === 'BACKEND');
    const found = rows.find((r) => DYNAMIC_ALGORITHMS.has(r['algo'] ?? '') && NAME_PATTERN.test(r['pxname'] ?? ''));
    if (!found) {
      const algorithms = rows.map((r) => `${r['pxname']} (${r['algo'] || '?'})`).join(', ') || 'none';
      return {
        unavailable: `HAProxy has no backend with balance roundrobin, leastconn or random to hold the lock server ${LOCK_SERVER} (backends: ${algorithms})`,
      };
    }
    this.chosen = found['pxname'] ?? '';
    return this.chosen;
  }

  private async state(backend: string): Promise<Row[]> {
    const [reply] = await this.api.run([`show servers state ${backend}`]);
    return parseServersState(reply?.text ?? '');
  }

  /** The holder the rows show; `unknown` when the lock's address matches no owner server. */
  private holderIn(rows: readonly Row[]): LockHolder | undefined {
    const lock = rows.find((r) => r['srv_name'] === LOCK_SERVER);
    if (!lock) return undefined;
    const since = new Date(Date.now() - num(lock, 'srv_time_since_last_change') * 1000);
    const owner = rows
      .map((r) => r['srv_name'] ?? '')
      .filter((name) => name.startsWith(OWNER_PREFIX))
      .map((name) => name.slice(OWNER_PREFIX.length))
      .find((name) => sameAddress(lockAddress(name), lock['srv_addr'] ?? ''));
    return { owner: owner ?? 'unknown', since };
  }

  /** Adds the lock and our owner server in one batch; reads the backend back in the same round trip. */
  private async add(
    backend: string,
    owner: string,
  ): Promise<{ lockAdded: boolean; rows: Row[]; replies: Reply[]; uptimeS: number }> {
    const replies = await this.api.run([
      `add server ${backend}/${LOCK_SERVER} [${lockAddress(owner)}]:1 weight 0`,
      `add server ${backend}/${OWNER_PREFIX}${owner} 127.0.0.1:1 weight 0`,
      `show servers state ${backend}`,
      'show info',
    ]);
    const { worker, uptimeS } = workerOf(replies[3]?.text ?? '');
    this.worker = worker;
    const rows = parseServersState(replies[2]?.text ?? '');
    this.noteSid(rows);
    return { lockAdded: !failed(replies[0]), rows, replies, uptimeS };
  }

  /**
   * A lock taken on a worker younger than FRESH_S seconds: the run that held it before the reload may still take it
   * back. Waits until the worker is that old, then reads who holds it.
   */
  private async settled(backend: string, owner: string, uptimeS: number, where: string): Promise<LockAttempt> {
    const fresh = freshWorkerS();
    if (uptimeS >= fresh) return { held: where };
    const waited = await sleep((fresh - uptimeS) * 1000, this.api.signal).then(
      () => true,
      () => false,
    );
    if (!waited) {
      await this.release(owner);
      throw new Error(
        `the run was cancelled while it waited for HAProxy's worker to be ${fresh} s old before using its lock; the lock was released`,
      );
    }
    const holder = this.holderIn(await this.state(backend));
    if (holder?.owner === owner) return { held: where };
    return holder ? { holder } : this.acquire(owner, undefined, 2);
  }

  async acquire(owner: string, takeOver?: string, attempt = 1, reclaiming = false): Promise<LockAttempt> {
    if (attempt > 3) throw new Error(`HAProxy's lock server ${LOCK_SERVER} kept changing hands; try again`);
    if (!NAME_PATTERN.test(owner)) throw new Error(`internal: lock owner '${owner}' is not a server name`);
    const backend = await this.backend();
    if (typeof backend !== 'string') return backend;
    const where = `server ${LOCK_SERVER} in backend ${backend}`;
    const { lockAdded, rows, replies, uptimeS } = await this.add(backend, owner);
    let holder = this.holderIn(rows);
    // A retried batch whose first answer was lost finds the lock it took itself.
    if (lockAdded || holder?.owner === owner) {
      const ownerProblem = failed(replies[1]);
      if (ownerProblem && !/Already exists/.test(ownerProblem)) {
        await this.api.run([`del server ${backend}/${LOCK_SERVER}`]);
        throw new Error(`HAProxy refused the lock's owner server ${OWNER_PREFIX}${owner}: ${ownerProblem}`);
      }
      await this.removeStrays(backend, rows, owner);
      return reclaiming ? { held: where } : this.settled(backend, owner, uptimeS, where);
    }
    const lockProblem = failed(replies[0]) ?? '';
    if (!/Already exists/.test(lockProblem)) {
      throw new Error(`HAProxy refused the lock server ${backend}/${LOCK_SERVER}: ${lockProblem}`);
    }
    // We lost: our owner server names nobody's lock.
    if (!failed(replies[1])) await this.api.run([`del server ${backend}/${OWNER_PREFIX}${owner}`]);
    // The winner's owner server comes with its lock in one batch; another connection may see the lock an instant first.
    if (holder?.owner === 'unknown') {
      const read = async () => this.holderIn(await this.state(backend));
      holder = (
        await pollUntil(read, (h) => h?.owner !== 'unknown', { pause: () => 100, attempts: 5, signal: this.api.signal })
      ).value;
    }
    if (!holder) return this.acquire(owner, takeOver, attempt + 1, reclaiming); // released meanwhile
    if (takeOver === undefined || takeOver !== holder.owner) return { holder };
    const taken = await this.takeOver(backend, owner, holder, attempt, reclaiming);
    return 'held' in taken ? { ...taken, replaced: holder } : taken;
  }

  /**
   * Whether `owner` still holds the lock, with the worker in the same round trip. Gone, and the worker changed since
   * it was last seen ours, less than RECLAIM_S seconds ago: a reload dropped it, and it is taken back (from a run
   * that took it since, which is still waiting for it to settle and has moved nothing).
   */
  /**
   * What `confirm` reads first while the lock is ours: the lock server's one row and `show info`, the same size on a
   * backend of 10 servers or 1,000. A round trip made just before may carry it (RuntimeApi.run's `then`).
   */
  confirmRead(): string[] | undefined {
    return this.chosen && this.lockSid ? [`show stat ${this.chosen} 4 ${this.lockSid}`, 'show info'] : undefined;
  }

  /** Whether the lock server's row, read on the same worker as before, still has `owner`'s address. */
  private async stillOurs(owner: string): Promise<boolean> {
    const read = this.confirmRead();
    if (!read) return false;
    const [row, info] = await this.api.run(read);
    const lock = parseStatCsv(row?.text ?? '').find((r) => r['svname'] === LOCK_SERVER);
    const address = (lock?.['addr'] ?? '').replace(/^\[(.*)\]:\d+$/, '$1');
    return !!lock && workerOf(info?.text ?? '').worker === this.worker && sameAddress(lockAddress(owner), address);
  }

  async confirm(owner: string): Promise<LockCheck> {
    const backend = await this.backend();
    if (typeof backend !== 'string') return { held: true };
    // Read as ours a moment ago with nothing written since (two re-checks back to back): that read answers.
    const last = this.lastHeld;
    if (last && last.writes === this.api.writes && Date.now() - last.at <= FOLD_MS) return { held: true };
    this.lastHeld = undefined;
    if (await this.stillOurs(owner)) {
      this.lastHeld = { at: Date.now(), writes: this.api.writes };
      return { held: true };
    }
    // Anything else (a reload, another holder, a changed id): the whole backend says who holds it.
    const replies = await this.api.run([`show servers state ${backend}`, 'show info']);
    const rows = parseServersState(replies[0]?.text ?? '');
    const holder = this.holderIn(rows);
    const { worker, uptimeS } = workerOf(replies[1]?.text ?? '');
    const before = this.worker;
    if (holder?.owner === owner) {
      this.worker = worker;
      this.noteSid(rows);
      return { held: true };
    }
    this.lockSid = undefined;
    const reloaded = before !== undefined && before !== worker;
    const how = `HAProxy was reloaded ${uptimeS}s ago (worker ${before?.split('@')[0]} -> ${worker.split('@')[0]}), which drops the lock`;
    if (reloaded && uptimeS <= RECLAIM_S) {
      const again = await this.acquire(owner, holder?.owner, 1, true);
      if ('held' in again)
        return {
          held: true,
          reclaimed: `${how}; taken back${holder ? ` from ${holder.owner}, which took it since` : ''}`,
        };
      if ('holder' in again) return { lost: `${how}; ${again.holder.owner} took it since` };
    }
    const now = holder ? `${holder.owner} holds it now` : 'nobody holds it';
    return { lost: reloaded ? `${how}; ${now}` : now };
  }

  /**
   * Replaces a stale lock. Deleting the stale owner server is the one step only one run can do, so of two runs
   * taking over the same lock, one goes on and the other finds the new holder.
   */
  private async takeOver(
    backend: string,
    owner: string,
    stale: LockHolder,
    attempt: number,
    reclaiming: boolean,
  ): Promise<LockAttempt> {
    if (stale.owner !== 'unknown') {
      const [reply] = await this.api.run([`del server ${backend}/${OWNER_PREFIX}${stale.owner}`]);
      if (failed(reply)) return this.acquire(owner, undefined, attempt + 1, reclaiming);
    }
    await this.api.run([`del server ${backend}/${LOCK_SERVER}`]);
    return this.acquire(owner, undefined, attempt + 1, reclaiming);
  }

  /** Owner servers left by runs that lost a race and died before removing theirs. */
  private async removeStrays(backend: string, rows: readonly Row[], owner: string): Promise<void> {
    const strays = rows
      .map((r) => r['srv_name'] ?? '')
      .filter((name) => name.startsWith(OWNER_PREFIX) && name !== `${OWNER_PREFIX}${owner}`);
    if (strays.length) await this.api.run(strays.map((name) => `del server ${backend}/${name}`));
  }

  async release(owner: string): Promise<void> {
    this.lockSid = undefined;
    this.lastHeld = undefined;
    const backend = await this.backend();
    if (typeof backend !== 'string') return;
    const rows = await this.state(backend);
    const ours = this.holderIn(rows)?.owner === owner;
    const commands = [
      ...(ours ? [`del server ${backend}/${LOCK_SERVER}`] : []),
      ...(rows.some((r) => r['srv_name'] === `${OWNER_PREFIX}${owner}`)
        ? [`del server ${backend}/${OWNER_PREFIX}${owner}`]
        : []),
    ];
    if (commands.length === 0) return;
    const refused = (await this.api.run(commands)).filter((r) => failed(r));
    if (refused.length)
      throw new Error(
        `HAProxy refused to release the lock: ${refused.map((r) => `'${r.command}': ${failed(r)}`).join('; ')}`,
      );
  }

  async holder(): Promise<LockHolder | undefined> {
    const backend = await this.backend();
    if (typeof backend !== 'string') return undefined;
    return this.holderIn(await this.state(backend));
  }
}
