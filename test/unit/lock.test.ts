/**
 * One rollout per load balancer at a time, on the fake driver: deploy, promote and abort hold the load balancer's
 * lock; a held lock stops a run before it reads or changes anything; take-over-lock replaces only the holder it
 * names; the lock is released however the run ends, and the post step releases one the main step still held.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { deploy } from '../../src/actions/deploy.js';
import { describeHolder, lockOwner, releaseLeftLock, withLock } from '../../src/actions/lock.js';
import { InputError } from '../../src/model/errors.js';
import { ReportedFailure } from '../../src/model/errors.js';
import { parseCommandFile } from '../helpers/action.js';
import { BLUE_GREEN, fakeSettings, POOLS } from '../helpers/engine-kit.js';
import { defineFake, fakeLock, FakeDriver, FakeLock } from '../helpers/fake-driver.js';

vi.mock('../../src/plan/build.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/plan/build.js')>()),
  COUNTER_POLL_MS: 10,
}));

let stateFile = '';

beforeEach(() => {
  stateFile = join(mkdtempSync(join(tmpdir(), 'zdd-lock-')), 'state');
  writeFileSync(stateFile, '');
  vi.stubEnv('GITHUB_STEP_SUMMARY', '');
  vi.stubEnv('GITHUB_OUTPUT', '');
  vi.stubEnv('GITHUB_STATE', stateFile);
  vi.stubEnv('GITHUB_REPOSITORY', 'acme/shop');
  vi.stubEnv('GITHUB_RUN_ID', '123');
  vi.stubEnv('GITHUB_RUN_ATTEMPT', '2');
});

/** The step state as the runner would hand it to the post step (the last value of each key). */
const savedState = () => parseCommandFile(readFileSync(stateFile, 'utf8'));

const signal = () => new AbortController().signal;
const canary = (extra: Record<string, string> = {}) =>
  fakeSettings({ strategy: 'canary', pools: POOLS, steps: '25% 50ms, 100%', ...extra });

function lab(lock = new FakeLock()) {
  return new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 }, lock });
}

describe('the lock around deploy, promote and abort', () => {
  it('owner ids name the repository, run and attempt, with random characters for the jobs of one matrix', () => {
    const owner = lockOwner();
    expect(owner).toMatch(/^acme:shop\.run123\.2\.[0-9a-f]{4}$/);
    expect(lockOwner()).not.toBe(owner);
    expect(lockOwner({})).toMatch(/^local\.[A-Za-z0-9_.:-]+\.\d+$/);
  });

  it('a deploy that succeeds takes the lock before reading the load balancer and releases it at the end', async () => {
    const lb = lab();
    const order: string[] = [];
    lb.tap((call) => order.push(`${call.method} (lock ${lb.lock?.current ? 'held' : 'free'})`));
    const outcome = await withLock(canary(), lb, () => deploy(canary(), lb, signal()));
    expect(outcome.result).toBe('succeeded');
    expect(order[0]).toBe('servers (lock held)');
    expect(lb.lock?.log.map((l) => l.replace(/\.[0-9a-f]{4}$/, ''))).toEqual([
      'acquire acme:shop.run123.2',
      'release acme:shop.run123.2',
    ]);
    expect(lb.lock?.current).toBeUndefined();
    // Saved while held, cleared once released: the post step has nothing to release.
    expect(savedState().lock).toBe('');
  });

  it('a canary that rolls back, and a run whose load balancer refuses a change, still release the lock', async () => {
    const bad = new FakeDriver({
      servers: BLUE_GREEN,
      traffic: { perCall: 100, failureShare: (id) => (id.startsWith('app/green') ? 0.3 : 0) },
    });
    const rolledBack = await withLock(canary(), bad, () => deploy(canary(), bad, signal())).catch((e: unknown) => e);
    expect(rolledBack).toBeInstanceOf(ReportedFailure);
    expect((rolledBack as ReportedFailure).outcome.result).toBe('rolled-back');
    expect(bad.lock?.current).toBeUndefined();

    const refusing = lab();
    refusing.faults.when((c) => c.method === 'apply', 'refuse', 100);
    await expect(withLock(canary(), refusing, () => deploy(canary(), refusing, signal()))).rejects.toThrow();
    expect(refusing.lock?.log.at(-1)).toMatch(/^release /);
    expect(refusing.lock?.current).toBeUndefined();
  });

  it('a cancelled run releases the lock', async () => {
    const lb = lab();
    const controller = new AbortController();
    controller.abort(new Error('the run was cancelled (SIGTERM)'));
    await expect(withLock(canary(), lb, () => deploy(canary(), lb, controller.signal))).rejects.toThrow();
    expect(lb.lock?.current).toBeUndefined();
  });

  it('a held lock stops the run before it reads anything, naming the holder, since when and the input to take it over', async () => {
    const lock = new FakeLock();
    lock.current = { owner: 'acme:shop.run99.1.beef', since: new Date(Date.now() - 185_000) };
    const lb = lab(lock);
    const error = await withLock(canary(), lb, () => deploy(canary(), lb, signal())).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /^load-balancer: another rollout holds the lock on fake:\/\/lb: acme:shop\.run99\.1\.beef since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(3m5s ago\)\. Wait for it, or if that run died, take the lock over with take-over-lock: acme:shop\.run99\.1\.beef\. Nothing was changed\.$/,
    );
    expect(lb.calls).toEqual([]);
    expect(lock.current?.owner).toBe('acme:shop.run99.1.beef');
    expect(savedState().lock || undefined).toBeUndefined();
  });

  it('a preview with preview-canary moves real traffic, so it is refused while another rollout holds the lock; a plain preview is not', async () => {
    const lock = new FakeLock();
    lock.current = { owner: 'acme:shop.run99.1.beef', since: new Date() };
    const lb = lab(lock);
    // The fake routes no previews, so the settings are a canary's with the preview's action and canary.
    const preview = (previewCanary?: { backend: string; percent: number; durationMs: number }) =>
      fakeSettings({ strategy: 'canary', pools: POOLS }, { action: 'preview', previewCanary });
    let ran = 0;
    const run = async () => {
      ran++;
      return { result: 'succeeded' as const, livePool: undefined, weight: 0 };
    };
    const error = await withLock(preview({ backend: 'app', percent: 5, durationMs: 60_000 }), lb, run).catch(
      (e: unknown) => e,
    );
    expect((error as Error).message).toMatch(
      /^load-balancer: another rollout holds the lock on fake:\/\/lb: acme:shop\.run99/,
    );
    expect(ran).toBe(0);
    await withLock(preview(), lb, run);
    expect(ran).toBe(1);
    // Only the canary tried the lock.
    expect(lock.log).toHaveLength(1);
    expect(lock.log[0]).toMatch(/^acquire acme:shop\.run123\.2\./);
  });

  it('take-over-lock with another id is refused naming the input; with the holder it replaces the lock, loudly', async () => {
    const lock = new FakeLock();
    const stale = { owner: 'acme:shop.run99.1.beef', since: new Date(Date.now() - 3_600_000) };
    lock.current = stale;
    const wrong = canary({ 'take-over-lock': 'acme:shop.run98.1.beef' });
    const lb = lab(lock);
    const error = await withLock(wrong, lb, () => deploy(wrong, lb, signal())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).problems).toEqual([
      expect.stringMatching(
        /^take-over-lock: 'acme:shop\.run98\.1\.beef' does not hold the lock on fake:\/\/lb: acme:shop\.run99\.1\.beef since .* \(1h ago\) holds it\. Give exactly that id/,
      ),
    ]);
    expect(lb.calls).toEqual([]);
    expect(lock.current).toBe(stale);

    const right = canary({ 'take-over-lock': 'acme:shop.run99.1.beef' });
    const warnings: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((text) => {
      if (String(text).startsWith('::warning')) warnings.push(String(text));
      return true;
    });
    try {
      const outcome = await withLock(right, lb, () => deploy(right, lb, signal()));
      expect(outcome.result).toBe('succeeded');
    } finally {
      write.mockRestore();
    }
    expect(warnings.join('')).toMatch(/took over the lock on fake:\/\/lb from acme:shop\.run99\.1\.beef since/);
    expect(lock.current).toBeUndefined();
  });

  it('status, dry runs and previews take no lock', async () => {
    const lock = new FakeLock();
    lock.current = { owner: 'someone', since: undefined };
    const lb = lab(lock);
    const ran = await withLock(canary({ 'dry-run': 'true' }), lb, async () => ({ result: 'unchanged' as const }));
    expect(ran.result).toBe('unchanged');
    expect(lock.log).toEqual([]);
  });

  it('a release that fails leaves the lock in the step state; the post step releases it', async () => {
    defineFake('post-lock', { servers: BLUE_GREEN, traffic: { perCall: 100 } });
    const lock = fakeLock('post-lock');
    const settings = fakeSettings({
      strategy: 'canary',
      pools: POOLS,
      steps: '25% 50ms, 100%',
      'load-balancer': 'fake://post-lock',
    });
    const lb = new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 }, lock });
    lock.failRelease = true;
    await withLock(settings, lb, () => deploy(settings, lb, signal()));
    const held = lock.current?.owner;
    expect(held).toMatch(/^acme:shop\.run123\.2\./);
    const state = savedState();
    expect(JSON.parse(state.lock ?? '')).toEqual({ lb: 'fake://post-lock', options: { maxWeight: 256 }, owner: held });

    // The post step: a later process, reading the state the main step saved.
    lock.failRelease = false;
    vi.stubEnv('STATE_lock', state.lock ?? '');
    await releaseLeftLock();
    expect(lock.current).toBeUndefined();
    expect(lock.log.at(-1)).toBe(`release ${held}`);
  });

  it('the post step leaves alone a lock another run holds now', async () => {
    defineFake('post-other', { servers: BLUE_GREEN });
    const lock = fakeLock('post-other');
    lock.current = { owner: 'acme:shop.run7.1.aaaa', since: new Date() };
    vi.stubEnv('STATE_lock', JSON.stringify({ lb: 'fake://post-other', options: { maxWeight: 256 }, owner: 'x' }));
    await releaseLeftLock();
    expect(lock.current?.owner).toBe('acme:shop.run7.1.aaaa');
  });

  it('describes a holder without a time by its id alone', () => {
    expect(describeHolder({ owner: 'unknown', since: undefined })).toBe('unknown');
  });
});
