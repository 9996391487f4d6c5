/**
 * The built CLI across processes, on a real HAProxy in front of real app processes under keep-alive load: a canary
 * paused for approval, then status and promote from other processes; SIGKILL mid-canary, then restore or the next
 * run on the load balancer puts traffic back as the action's post step does; SIGTERM as a cancelled job.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_GREEN, cleanEnv, flags, runCli, tempDir, usePools, workflowCommandLines } from '../helpers/cli.js';
import { startLoad } from '../helpers/load.js';
import { poolInputs, weights } from '../helpers/pools.js';

const startLab = usePools();

describe('the CLI: approval, crash and cancel', () => {
  it('a canary paused for approval (exit 4), status from a second process, promote from a third: 0 failed', async () => {
    const lab = await startLab();
    const env = cleanEnv(lab.fleet.env);
    const control = flags({
      'load-balancer': `haproxy://127.0.0.1:${lab.haproxy.adminPort}`,
      pools: 'blue=app/blue*, green=app/green*',
      environment: 'production',
    });
    const load = startLoad(lab.url, { rps: 200, maxMs: 50_000 });
    const paused = await runCli(
      [
        'deploy',
        ...flags(
          poolInputs(lab, { strategy: 'canary', steps: '20% 1s, 50% approval, 100%', environment: 'production' }),
        ),
      ],
      { env },
    );
    expect(paused.code, paused.stdout + paused.stderr).toBe(4);
    expect(paused.stdout).toMatch(/result paused, live pool blue, new version at 50%/);
    expect(paused.stdout).toMatch(/^next: zero-downtime-deploy promote \(or abort\)/m);
    const split = weights(await lab.haproxy.servers());
    expect(split['app/green1']).toBeGreaterThan(0);
    expect(split['app/blue1']).toBeGreaterThan(0);

    const status = await runCli(['status', ...control], { env });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/50% of traffic on green \(step 2\/3, waiting for approval: promote or abort\)/);
    expect(status.stdout).toMatch(/^ {2}app\/green1 +\d+ +ready/m);
    expect(status.stdout).toMatch(/^ {2}lock: free$/m);

    const promoted = await runCli(['promote', ...control], { env });
    const stats = await load.stop();
    expect(promoted.code, promoted.stdout + promoted.stderr).toBe(0);
    expect(promoted.stdout).toMatch(/result succeeded, live pool green, new version at 100%/);
    expect(weights(await lab.haproxy.servers())).toEqual(ALL_GREEN);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(workflowCommandLines(paused.stdout + status.stdout + promoted.stdout + promoted.stderr)).toEqual([]);
  }, 55_000);

  it('SIGKILL mid-canary, then restore: all traffic on blue, the lock released, the state file emptied', async () => {
    const lab = await startLab();
    const env = cleanEnv(lab.fleet.env);
    const state = join(tempDir(), 'state.json');
    const load = startLoad(lab.url, { rps: 200, maxMs: 50_000 });
    let child: import('node:child_process').ChildProcess | undefined;
    const killed = await runCli(
      ['deploy', `--state=${state}`, ...flags(poolInputs(lab, { strategy: 'canary', steps: '20% 30s, 100%' }))],
      {
        env,
        onSpawn: (c) => (child = c),
        onLine: (line) => {
          if (/weights .*\(20% on green\)/.test(line)) child?.kill('SIGKILL');
        },
      },
    );
    expect(killed.signal).toBe('SIGKILL');
    expect(weights(await lab.haproxy.servers())['app/green1']).toBeGreaterThan(0);
    const left = JSON.parse(readFileSync(state, 'utf8')) as { runs: Record<string, { state: Record<string, string> }> };
    expect(Object.values(left.runs).map((r) => Object.keys(r.state).sort())).toEqual([['lock', 'rollout']]);

    // Bad input on the next run: refused before anything changes, the killed run's restore included.
    const midway = weights(await lab.haproxy.servers());
    const bad = await runCli(
      ['deploy', `--state=${state}`, ...flags(poolInputs(lab, { strategy: 'canary', steps: '50%, 20%, 100%' }))],
      { env },
    );
    expect(bad.code, bad.stderr).toBe(2);
    expect(weights(await lab.haproxy.servers())).toEqual(midway);
    expect(Object.keys(JSON.parse(readFileSync(state, 'utf8')).runs)).toHaveLength(1);

    const restored = await runCli(['restore', `--state=${state}`], { env });
    const stats = await load.stop();
    expect(restored.code, restored.stdout + restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/restored, read back/);
    const after = weights(await lab.haproxy.servers());
    expect(after['app/green1']).toBe(0);
    expect(after['app/green2']).toBe(0);
    expect(after['app/blue1']).toBeGreaterThan(0);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(JSON.parse(readFileSync(state, 'utf8')).runs).toEqual({});
    // The lock is free again: a status run says so.
    const status = await runCli(
      [
        'status',
        `--state=${state}`,
        '--environment=production',
        ...flags({
          pools: 'blue=app/blue*, green=app/green*',
          'load-balancer': `haproxy://127.0.0.1:${lab.haproxy.adminPort}`,
        }),
      ],
      { env },
    );
    expect(status.stdout).toMatch(/^ {2}lock: free$/m);
    expect(workflowCommandLines(restored.stdout + restored.stderr)).toEqual([]);
  }, 55_000);

  it('SIGTERM mid-canary behaves as a cancelled job: traffic back on blue, exit 143, nothing left', async () => {
    const lab = await startLab();
    const state = join(tempDir(), 'state.json');
    const load = startLoad(lab.url, { rps: 200, maxMs: 50_000 });
    let child: import('node:child_process').ChildProcess | undefined;
    const run = await runCli(
      ['deploy', `--state=${state}`, ...flags(poolInputs(lab, { strategy: 'canary', steps: '20% 30s, 100%' }))],
      {
        env: cleanEnv(lab.fleet.env),
        onSpawn: (c) => (child = c),
        onLine: (line) => {
          if (/weights .*\(20% on green\)/.test(line)) child?.kill('SIGTERM');
        },
      },
    );
    const stats = await load.stop();
    expect(run.code, run.stdout + run.stderr).toBe(143);
    const after = weights(await lab.haproxy.servers());
    expect([after['app/green1'], after['app/green2']]).toEqual([0, 0]);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(existsSync(state) ? JSON.parse(readFileSync(state, 'utf8')).runs : {}).toEqual({});
    expect(run.stderr).toMatch(/cancelled \(SIGTERM\)/);
  }, 55_000);

  it('SIGKILL mid-canary, then the next deploy on the load balancer restores first and goes on: 0 failed', async () => {
    const lab = await startLab();
    const env = cleanEnv(lab.fleet.env);
    const load = startLoad(lab.url, { rps: 200, maxMs: 50_000 });
    let child: import('node:child_process').ChildProcess | undefined;
    // The default state file: the same for both runs, as they name the same load balancer.
    const canary = flags(poolInputs(lab, { strategy: 'canary', steps: '20% 30s, 100%' }));
    const killed = await runCli(['deploy', ...canary], {
      env,
      onSpawn: (c) => (child = c),
      onLine: (line) => {
        if (/weights .*\(20% on green\)/.test(line)) child?.kill('SIGKILL');
      },
    });
    expect(killed.signal).toBe('SIGKILL');
    const next = await runCli(['deploy', ...flags(poolInputs(lab, { strategy: 'blue-green', version: 'v3' }))], {
      env,
    });
    const stats = await load.stop();
    expect(next.code, next.stdout + next.stderr).toBe(0);
    const restoredAt = next.stdout.indexOf('== Restore safe traffic after an interrupted rollout');
    expect(restoredAt).toBeGreaterThanOrEqual(0);
    expect(next.stdout.indexOf('Holding the lock')).toBeGreaterThan(restoredAt);
    expect(next.stdout).toMatch(/result succeeded, live pool green, new version at 100%/);
    expect(weights(await lab.haproxy.servers())).toEqual(ALL_GREEN);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(stats.versions.v3).toBeGreaterThan(0);
  }, 55_000);
});
