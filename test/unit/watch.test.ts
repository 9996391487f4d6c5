/** whileWatching: a reload noticed while a command runs is handled at once; a lost lock stops the work. */
import { describe, expect, it } from 'vitest';
import type { Driver } from '../../src/lb/driver.js';
import { LoadBalancerRestarted, LockLost } from '../../src/model/errors.js';
import { whileWatching } from '../../src/engine/watch.js';
import { sleep } from '../../src/model/time.js';

/** A driver whose watch says "reloaded" on its `reloadAt`-th read (1-based), and nothing else. */
function watching(reloadAt: number): { driver: Driver; reads: () => number } {
  let reads = 0;
  const driver = {
    watch: async () => {
      reads++;
      if (reads === reloadAt) throw new LoadBalancerRestarted('HAProxy was reloaded (worker 1 -> 2): states reset');
    },
  } as unknown as Driver;
  return { driver, reads: () => reads };
}

describe('whileWatching', () => {
  it('runs onReload once, within about a second of the reload, while the work goes on', async () => {
    const { driver, reads } = watching(1);
    const seen: { why: string; at: number }[] = [];
    const started = Date.now();
    const result = await whileWatching(
      driver,
      new AbortController().signal,
      async () => {
        await sleep(2300);
        return 'done';
      },
      async (why) => {
        seen.push({ why, at: Date.now() - started });
      },
    );
    expect(result).toBe('done');
    expect(seen.map((s) => s.why)).toEqual(['HAProxy was reloaded (worker 1 -> 2): states reset']);
    expect(seen[0]?.at).toBeGreaterThanOrEqual(900);
    expect(seen[0]?.at).toBeLessThan(2000);
    expect(reads()).toBeGreaterThanOrEqual(1);
  });

  it('a lost lock in onReload aborts the work and is thrown once the work ended', async () => {
    const { driver } = watching(1);
    let aborted: unknown;
    const run = whileWatching(
      driver,
      new AbortController().signal,
      async (signal) => {
        await sleep(5000, signal).catch((e: unknown) => (aborted = e));
        return 'done';
      },
      async () => {
        throw new LockLost('the lock is no longer held by this run');
      },
    );
    await expect(run).rejects.toThrow(LockLost);
    expect(aborted).toBeInstanceOf(LockLost);
  });

  it('a driver without watch only runs the work', async () => {
    const driver = {} as unknown as Driver;
    expect(
      await whileWatching(
        driver,
        new AbortController().signal,
        async () => 7,
        async () => undefined,
      ),
    ).toBe(7);
  });
});
