/**
 * User commands, cancels and crashes through the bundle, on a real HAProxy in front of real app processes: a hung
 * command is stopped by the deadline, a slow one gets its full startup-timeout, a cancel or a crash mid-batch leaves
 * a record the post step (or an abort) acts on, and every message names what was left out of traffic.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { errors, FAST_ROLLOUT, runAction, type ActionRun } from '../helpers/action.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { githubEnv, startGithubApi, type GithubApi } from '../helpers/github-api.js';
import { startHaproxy, type HaproxyInstance } from '../helpers/haproxy.js';

let haproxy: HaproxyInstance | undefined;
let fleet: Fleet | undefined;
let api: GithubApi | undefined;

afterEach(async () => {
  await haproxy?.stop();
  fleet?.stopAll();
  await api?.close();
  haproxy = undefined;
  fleet = undefined;
  api = undefined;
});

async function setup(count = 2) {
  fleet = await startFleet(count, 'v1');
  haproxy = await startHaproxy({ servers: fleet.ports.map((port, i) => ({ name: `web${i + 1}`, port })) });
  await haproxy.settled(); // HAProxy's first checks, before load starts
  return { fleet, haproxy };
}

/** Weight and admin state per server, as HAProxy reports them (never the ticking time-since-change column). */
async function states(instance: HaproxyInstance): Promise<Record<string, string>> {
  const servers = await instance.servers();
  return Object.fromEntries([...servers].map(([id, s]) => [id, `${s.weight} ${s.status.split(' ')[0]}`]));
}

async function waitFor(what: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ROLLING = { ...FAST_ROLLOUT, strategy: 'rolling', 'health-url': 'http://{address}/health' };

function postOf(inputs: Record<string, string>, main: ActionRun, env: Record<string, string>) {
  return runAction(inputs, { env, state: { ...main.state, isPost: 'true' } });
}

describe('user commands under the deadline', () => {
  it('a deploy-command that hangs and ignores SIGTERM is killed at timeout; the message names it and the server left out', async () => {
    const { fleet, haproxy } = await setup();
    const inputs = {
      ...ROLLING,
      targets: 'app/*',
      timeout: '5s',
      'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
      'deploy-command': "trap '' TERM; sleep 45",
    };
    const main = await runAction(inputs, { env: fleet.env });
    const message = errors(main).join('\n');
    console.log(`hung deploy-command: exit ${main.code} after ${main.durationMs}ms: ${message}`);
    expect(main.code).toBe(1);
    expect(main.outputs.result).toBe('failed');
    // 5s deadline + 3s between SIGTERM and SIGKILL, not the command's 45s.
    expect(main.durationMs).toBeLessThan(15_000);
    expect(message).toContain(
      'deploy-command on app/web1 was stopped (timeout 5s reached: sent SIGTERM to its process group, then SIGKILL after 3s)',
    );
    expect(message).not.toMatch(/probes in a row/);
    expect(message).toContain(
      'Left out of traffic: app/web1 in maint (version unknown); once each answers its health check, restore it on the HAProxy Runtime API: set server app/web1 weight 100; set server app/web1 state ready.',
    );
    expect(message).toContain('Untouched, still on the old version: app/web2.');
    expect(await states(haproxy)).toMatchObject({ 'app/web1': '100 MAINT', 'app/web2': '100 UP' });
    // The post step verifies web1 by HAProxy's own check (it still runs v1) and puts it back.
    const post = await postOf(inputs, main, fleet.env);
    expect(post.code).toBe(0);
    expect(post.stdout).toContain(
      "app/web1 passed the load balancer's check and went back to app/web1 weight 100 ready",
    );
    expect(await states(haproxy)).toMatchObject({ 'app/web1': '100 UP', 'app/web2': '100 UP' });
  });

  it('startup-timeout counts from the end of the command: a 3s deploy with startup-timeout 2s succeeds', async () => {
    // Two servers: a rolling deploy never takes the last server of a backend out of traffic.
    const { fleet, haproxy } = await setup(2);
    const run = await runAction(
      {
        ...ROLLING,
        targets: 'app/web1',
        'startup-timeout': '2s',
        'min-requests': '0',
        'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
        'deploy-command': `sleep 3; ${fleet.restartCommand}`,
      },
      { env: fleet.env },
    );
    expect(errors(run)).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.outputs.result).toBe('succeeded');
    expect(await states(haproxy)).toEqual({ 'app/web1': '100 UP', 'app/web2': '100 UP' });
  });
});

describe('cancel and crash mid-batch', () => {
  it('SIGTERM while the deploy-command runs: the message names the server left in maint and how to restore it; the post step puts it back', async () => {
    const { fleet, haproxy } = await setup();
    const inputs = {
      ...ROLLING,
      targets: 'app/*',
      'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
      'deploy-command': 'sleep 30',
    };
    let child: { kill: (s: NodeJS.Signals) => boolean } | undefined;
    const running = runAction(inputs, { env: fleet.env, onSpawn: (c) => (child = c) });
    await waitFor(async () => (await states(haproxy))['app/web1'] === '100 MAINT');
    await new Promise((r) => setTimeout(r, 300));
    child?.kill('SIGTERM');
    const main = await running;
    const message = errors(main).join('\n');
    expect(main.code).toBe(1);
    expect(message).toContain(
      'batch 1 (app/web1) was stopped: deploy-command on app/web1 was stopped (the run was cancelled (SIGTERM): sent SIGTERM to its process group)',
    );
    expect(message).toContain(
      'Left out of traffic: app/web1 in maint (version unknown); once each answers its health check, restore it on the HAProxy Runtime API: set server app/web1 weight 100; set server app/web1 state ready.',
    );
    expect(main.summary).toMatch(/\| app\/web1 \| unknown \| \*\*no\*\* \|/);
    // web1 is still to be restored: the main step keeps its lock, so no other rollout moves these servers before
    // the post step has put web1 back (it used to release it, reading its own checkpoint as empty).
    expect(main.stdout).toMatch(/::warning::load-balancer: keeping the lock on .* for the post step/);
    expect(await haproxy.cli('show servers state app')).toContain('zdd-lock');
    const post = await postOf(inputs, main, fleet.env);
    expect(post.stdout).toContain("app/web1 passed the load balancer's check and went back to");
    expect(post.summary).toContain('app/web1 passed');
    expect(await states(haproxy)).toEqual({ 'app/web1': '100 UP', 'app/web2': '100 UP' });
    expect(await haproxy.cli('show servers state app')).not.toContain('zdd-lock');
  });

  it('SIGKILL in the analysis window with environment: the post step ends the deployment, and the next deploy is not refused', async () => {
    const { fleet, haproxy } = await setup();
    api = await startGithubApi();
    const env = { ...fleet.env, ...githubEnv(api) };
    const inputs = {
      ...ROLLING,
      targets: 'app/web1',
      environment: 'production',
      'github-token': 'ghs_test_token_123',
      'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
      'deploy-command': fleet.restartCommand,
    };
    let child: { kill: (s: NodeJS.Signals) => boolean } | undefined;
    let inWindow = false;
    const running = runAction(inputs, {
      env,
      onSpawn: (c) => (child = c),
      // No load: the window waits for min-requests, so the kill lands inside it.
      onLine: (line) => (inWindow ||= /-> ready weight \d+ \(verified\)/.test(line)),
    });
    await waitFor(async () => inWindow);
    await new Promise((r) => setTimeout(r, 500));
    child?.kill('SIGKILL');
    const main = await running;
    expect(main.code).toBeNull();
    expect(api.deployments()[0]?.states[0]).toBe('in_progress');
    const post = await postOf(inputs, main, env);
    expect(post.code).toBe(0);
    expect(api.deployments()[0]?.states[0]).toBe('failure');
    expect(api.violations).toEqual([]);
    // The environment is free again: the next deploy runs (and passes).
    const next = await runAction({ ...inputs, targets: 'app/web2', 'min-requests': '0' }, { env });
    expect(errors(next)).toEqual([]);
    expect(next.outputs.result).toBe('succeeded');
  });

  it('SIGKILL while the batch is out of traffic, then action: abort puts it back once it passes its check', async () => {
    const { fleet, haproxy } = await setup();
    api = await startGithubApi();
    const env = { ...fleet.env, ...githubEnv(api) };
    const common = {
      environment: 'production',
      'github-token': 'ghs_test_token_123',
      'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
    };
    let child: { kill: (s: NodeJS.Signals) => boolean } | undefined;
    const running = runAction(
      { ...ROLLING, ...common, targets: 'app/*', 'deploy-command': 'sleep 30' },
      { env, onSpawn: (c) => (child = c) },
    );
    await waitFor(async () => (await states(haproxy))['app/web1'] === '100 MAINT');
    child?.kill('SIGKILL');
    await running;
    // The dead run still holds the load balancer's lock (no post step ran): abort names it, and takes it over when
    // told to, deliberately.
    const refused = await runAction({ ...common, action: 'abort' }, { env });
    expect(refused.code).toBe(1);
    const holder = /take the lock over with take-over-lock: (\S+?)\. Nothing was changed/.exec(
      errors(refused).join('\n'),
    )?.[1];
    expect(holder).toBeDefined();
    const abort = await runAction({ ...common, action: 'abort', 'take-over-lock': holder ?? '' }, { env });
    const text = abort.stdout;
    expect(errors(abort)).toEqual([]);
    expect(abort.outputs.result).toBe('aborted');
    expect(text).toMatch(
      /Aborted the rollout of v2 \(deployment 1000, in_progress.*\): app\/web1 passed the load balancer's check and went back to app\/web1 weight 100 ready\./,
    );
    expect(text).not.toMatch(/abortd/);
    expect(await states(haproxy)).toEqual({ 'app/web1': '100 UP', 'app/web2': '100 UP' });
    expect(api.deployments()[0]?.states[0]).toBe('inactive');
    expect(api.violations).toEqual([]);
  });
});
