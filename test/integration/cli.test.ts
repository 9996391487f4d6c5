/**
 * The built CLI (dist/cli/index.js) run as a user runs it, a child process with flags, against a real HAProxy in
 * front of real app processes under keep-alive load: a canary, a blue-green with --json, and bad input that touches
 * nothing (cli-crash.test.ts: approval, kill, cancel). Each test has its own HAProxy, apps, HOME and state file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_GREEN, cleanEnv, flags, runCli, tempDir, usePools, workflowCommandLines } from '../helpers/cli.js';
import { startLoad } from '../helpers/load.js';
import { poolInputs, weights } from '../helpers/pools.js';
import { connectionCounter } from '../helpers/ports.js';

const STABLE = { 'app/blue1': 100, 'app/blue2': 100, 'app/green1': 0, 'app/green2': 0 };
const startLab = usePools();

describe('the CLI on HAProxy', () => {
  it('canary: progress per stage, 0 failed requests, all traffic on green, summary file, no workflow command', async () => {
    const lab = await startLab();
    const work = tempDir();
    const summary = join(work, 'summary.md');
    const load = startLoad(lab.url, { rps: 200, maxMs: 40_000 });
    const run = await runCli(
      [
        'deploy',
        ...flags(
          poolInputs(lab, {
            strategy: 'canary',
            steps: '20% 2s, 100%',
            // A command that prints the token: the CLI masks it as the runner would.
            'deploy-command': `echo "token is tok-secret-123"; ${lab.fleet.restartCommand}`,
          }),
        ),
        `--summary=${summary}`,
        `--state=${join(work, 'state.json')}`,
      ],
      { env: cleanEnv({ ...lab.fleet.env, ZDD_LOAD_BALANCER_TOKEN: 'tok-secret-123' }) },
    );
    const stats = await load.stop();
    expect(run.stderr).not.toMatch(/error/);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(weights(await lab.haproxy.servers())).toEqual(ALL_GREEN);
    expect(workflowCommandLines(run.stdout + run.stderr)).toEqual([]);
    expect(run.stdout).toMatch(/^ {2}\[app\/green1\] token is \*\*\*$/m);
    expect(run.stdout + run.stderr).not.toContain('tok-secret-123');
    expect(run.stdout).toMatch(/^== Read the load balancer$/m);
    expect(run.stdout).toMatch(/weights .*20% on green/);
    // The judge's verdict with the requests it counted, per window.
    expect(run.stdout).toMatch(/^ {2}window \d at 20%: pass: green \(new\) against blue \(stable\): .*\(0 of \d+\)/m);
    expect(run.stdout).toMatch(/result succeeded, live pool green, new version at 100% \(exit 0\)$/m);
    expect(readFileSync(summary, 'utf8')).toContain('### Steps (canary of version `v2`');
    // Nothing left to restore: the state file holds no run.
    expect(JSON.parse(readFileSync(join(work, 'state.json'), 'utf8')).runs).toEqual({});
  }, 55_000);
});

describe('the CLI: --json', () => {
  it('blue-green with --json: every line is an event, the last the result; 0 failed requests', async () => {
    const lab = await startLab();
    const load = startLoad(lab.url, { rps: 200, maxMs: 40_000 });
    const run = await runCli(['deploy', '--json', ...flags(poolInputs(lab, { strategy: 'blue-green' }))], {
      env: cleanEnv(lab.fleet.env),
    });
    const stats = await load.stop();
    expect(run.code, run.stderr).toBe(0);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(weights(await lab.haproxy.servers())).toEqual(ALL_GREEN);
    const events = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events.length).toBeGreaterThan(10);
    expect(events.every((e) => typeof e.time === 'string' && typeof e.type === 'string')).toBe(true);
    expect(events.filter((e) => e.type === 'stage').map((e) => e.name)).toContain('Read the load balancer');
    expect(events.some((e) => e.type === 'log' && /weights .*100% on green/.test(String(e.message)))).toBe(true);
    expect(events.at(-1)).toMatchObject({
      type: 'result',
      result: 'succeeded',
      exitCode: 0,
      outputs: { result: 'succeeded', 'live-pool': 'green', weight: '100' },
    });
    expect(run.stderr).toBe('');
  }, 55_000);
});

describe('the CLI: bad input changes nothing', () => {
  it('an unknown flag: one error naming it, exit 2, no connection to the load balancer', async () => {
    const counter = await connectionCounter();
    try {
      const run = await runCli([
        'deploy',
        `--load-balancer=haproxy://127.0.0.1:${counter.port}`,
        '--strategy=canary',
        '--pools=blue=a/b*, green=a/g*',
        '--stepz=10%, 100%',
      ]);
      expect(run.code).toBe(2);
      expect(run.stderr.trim().split('\n')[0]).toBe(
        'zero-downtime-deploy: unknown flag --stepz (did you mean --steps?)',
      );
      expect(run.stdout).toBe('');
      expect(counter.count()).toBe(0);
    } finally {
      await counter.close();
    }
  });

  it('a bad value from a flag or a ZDD_ variable: the zod message naming where it came from, exit 2, weights unchanged', async () => {
    const lab = await startLab();
    const before = weights(await lab.haproxy.servers());
    expect(before).toEqual(STABLE);
    const env = cleanEnv({ ...lab.fleet.env, ZDD_MAX_ERROR_RATE: 'lots' });
    const run = await runCli(['deploy', ...flags(poolInputs(lab, { strategy: 'canary', steps: '50%, 20%, 100%' }))], {
      env,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('error: 2 invalid inputs:\n');
    expect(run.stderr).toContain('- --steps: weights must increase: 20% comes after 50%');
    expect(run.stderr).toContain(
      "- ZDD_MAX_ERROR_RATE (--max-error-rate): 'lots' is not a percentage (e.g. 1% or 0.5%)",
    );
    expect(run.stderr.match(/error:/g)).toHaveLength(1);
    expect(weights(await lab.haproxy.servers())).toEqual(before);
    expect(run.stdout).toMatch(/result failed \(exit 2\)/);
  }, 30_000);
});
