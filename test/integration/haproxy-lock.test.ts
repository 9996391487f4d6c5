/**
 * One rollout per HAProxy at a time, through the bundle as the runner runs it, against a real HAProxy under
 * keep-alive load: two runs started together (rolling, and canary), a lock left by a run killed with SIGKILL, and
 * its deliberate takeover. The lock lives in the app backend itself (its only backend), as the servers zdd-lock and
 * zdd-owner.*: `targets: app/*` must never select them, and no run may leave them behind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { errors, FAST_ROLLOUT, runAction, type ActionRun } from '../helpers/action.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { startHaproxy, type HaproxyInstance } from '../helpers/haproxy.js';
import { startLoad } from '../helpers/load.js';
import { poolInputs, startPools, weights, type PoolsLab } from '../helpers/pools.js';

let haproxy: HaproxyInstance | undefined;
let fleet: Fleet | undefined;
let pools: PoolsLab | undefined;

afterEach(async () => {
  await haproxy?.stop();
  fleet?.stopAll();
  await pools?.stop();
  haproxy = undefined;
  fleet = undefined;
  pools = undefined;
});

async function rollingLab() {
  fleet = await startFleet(4, 'v1');
  haproxy = await startHaproxy({ servers: fleet.ports.map((port, i) => ({ name: `web${i + 1}`, port })) });
  await haproxy.settled(); // HAProxy's first checks, before load starts
  return { fleet, haproxy };
}

/** The runner's variables of run N of acme/shop: the lock's owner id is made from them. */
const runEnv = (run: number, extra: Record<string, string> = {}) => ({
  GITHUB_REPOSITORY: 'acme/shop',
  GITHUB_RUN_ID: String(run),
  GITHUB_RUN_ATTEMPT: '1',
  ...extra,
});

/** Every server name HAProxy has in the backend, from `show servers state` (the lock's included). */
async function serverNames(instance: HaproxyInstance): Promise<string[]> {
  const text = await instance.cli('show servers state app');
  return text
    .split('\n')
    .filter((l) => /^\d+ /.test(l))
    .map((l) => l.split(' ')[3] ?? '');
}

const REFUSED = (run: number) =>
  new RegExp(
    `^load-balancer: another rollout holds the lock on haproxy://127\\.0\\.0\\.1:\\d+: acme:shop\\.run${run}\\.1\\.[0-9a-f]{4} since \\d{4}-\\d\\d-\\d\\dT[\\d:]+Z \\((just now|[\\dhms]+ ago)\\)\\. Wait for it, or if that run died, take the lock over with take-over-lock: acme:shop\\.run${run}\\.1\\.[0-9a-f]{4}\\. Nothing was changed\\.$`,
  );

/** The run that lost: exit 1 naming the holder, and it never even read the servers. */
function expectRefused(run: ActionRun, holderRun: number) {
  expect(run.code).toBe(1);
  expect(run.outputs.result).toBe('failed');
  expect(errors(run)).toEqual([expect.stringMatching(REFUSED(holderRun))]);
  expect(run.stdout).not.toContain('Read the load balancer');
}

describe('one rollout per HAProxy at a time', () => {
  it('two rolling deploys started together under load: one succeeds, the other changes nothing', async () => {
    const { fleet, haproxy } = await rollingLab();
    const load = startLoad(`http://127.0.0.1:${haproxy.frontendPort}/`, { rps: 200, maxMs: 120_000 });
    const inputs = {
      ...FAST_ROLLOUT,
      strategy: 'rolling',
      targets: 'app/*',
      'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
      'deploy-command': fleet.restartCommand,
      'health-url': 'http://{address}/health',
    };
    const runs = await Promise.all(
      [101, 102].map((n) => runAction(inputs, { env: { ...fleet.env, ...runEnv(n) }, timeoutMs: 120_000 })),
    );
    const stats = await load.stop();
    const won = runs.findIndex((r) => r.code === 0);
    const [winner, loser] = [runs[won], runs[1 - won]] as [ActionRun, ActionRun];
    console.log(
      `two rolling runs: winner ${winner.durationMs}ms, loser exited after ${loser.durationMs}ms; ${stats.failed} of ${stats.sent} requests failed ${JSON.stringify(stats.versions)}`,
    );
    expect(runs.map((r) => r.code).sort()).toEqual([0, 1]);
    expect(winner.outputs.result).toBe('succeeded');
    expectRefused(loser, won === 0 ? 101 : 102);
    expect(stats.failed).toBe(0);
    // As the winner left it: every server ready at its weight, on the new version; the lock gone.
    const end = await haproxy.servers();
    expect([...end.values()].map((s) => `${s.weight} ${s.status}`)).toEqual(Array(4).fill('100 UP'));
    expect(await serverNames(haproxy)).toEqual(['web1', 'web2', 'web3', 'web4']);
    expect(winner.stdout).not.toMatch(/app\/zdd-/);
  });

  it('two canaries started together under load: one reaches 100% on green, the other changes nothing', async () => {
    pools = await startPools();
    const lab = pools;
    const load = startLoad(lab.url, { rps: 200, maxMs: 120_000 });
    const inputs = poolInputs(lab, { strategy: 'canary', steps: '20% 3s, 100%' });
    const runs = await Promise.all(
      [201, 202].map((n) => runAction(inputs, { env: { ...lab.fleet.env, ...runEnv(n) }, timeoutMs: 120_000 })),
    );
    const stats = await load.stop();
    const won = runs.findIndex((r) => r.code === 0);
    const [winner, loser] = [runs[won], runs[1 - won]] as [ActionRun, ActionRun];
    console.log(
      `two canaries: winner ${winner.durationMs}ms, loser exited after ${loser.durationMs}ms; ${stats.failed} of ${stats.sent} requests failed ${JSON.stringify(stats.versions)}`,
    );
    expect(winner.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'green', weight: '100' });
    expectRefused(loser, won === 0 ? 201 : 202);
    expect(stats.failed).toBe(0);
    expect(weights(await lab.haproxy.servers())).toEqual({
      'app/blue1': 0,
      'app/blue2': 0,
      'app/green1': 256,
      'app/green2': 256,
    });
    expect(await serverNames(lab.haproxy)).toEqual(['blue1', 'blue2', 'green1', 'green2']);
  });

  it('a lock left by a killed run: refused naming it, a wrong take-over-lock refused naming the input, the right one proceeds', async () => {
    const { fleet, haproxy } = await rollingLab();
    const inputs = {
      ...FAST_ROLLOUT,
      strategy: 'rolling',
      targets: 'app/*',
      'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
      'deploy-command': fleet.restartCommand,
      'health-url': 'http://{address}/health',
    };
    // Killed the moment it holds the lock: no finally, no post step.
    const killed = await runAction(inputs, {
      env: { ...fleet.env, ...runEnv(301) },
      onSpawn: (child) =>
        child.stdout?.on('data', (c: Buffer) => /Holding the lock/.test(String(c)) && child.kill('SIGKILL')),
    });
    expect(killed.code).toBe(null);
    const owner = (JSON.parse(killed.state.lock ?? '{}') as { owner?: string }).owner ?? '';
    expect(owner).toMatch(/^acme:shop\.run301\.1\.[0-9a-f]{4}$/);
    expect(await serverNames(haproxy)).toEqual(['web1', 'web2', 'web3', 'web4', 'zdd-lock', `zdd-owner.${owner}`]);
    const before = await haproxy.servers();

    const refused = await runAction(inputs, { env: { ...fleet.env, ...runEnv(302) } });
    expectRefused(refused, 301);
    expect(errors(refused)[0]).toContain(`take-over-lock: ${owner}.`);

    const wrong = await runAction(
      { ...inputs, 'take-over-lock': 'acme:shop.run300.1.dead' },
      { env: { ...fleet.env, ...runEnv(303) } },
    );
    expect(wrong.code).toBe(1);
    expect(errors(wrong).join('\n')).toMatch(
      new RegExp(
        `take-over-lock: 'acme:shop\\.run300\\.1\\.dead' does not hold the lock on haproxy://127\\.0\\.0\\.1:\\d+: ${owner.replace(/\./g, '\\.')} since .* holds it\\. Give exactly that id to take it over`,
      ),
    );
    expect(wrong.stdout).not.toContain('Read the load balancer');
    expect(await haproxy.servers()).toEqual(before);

    const load = startLoad(`http://127.0.0.1:${haproxy.frontendPort}/`, { rps: 200, maxMs: 90_000 });
    const taken = await runAction({ ...inputs, 'take-over-lock': owner }, { env: { ...fleet.env, ...runEnv(304) } });
    const stats = await load.stop();
    expect(errors(taken)).toEqual([]);
    expect(taken.outputs.result).toBe('succeeded');
    expect(taken.stdout).toMatch(new RegExp(`::warning::load-balancer: took over the lock on .* from ${owner}`));
    // What `app/*` selected: the four servers, never the lock's.
    expect(taken.stdout).toMatch(/app\/web4 127\.0\.0\.1/);
    expect(taken.stdout).not.toMatch(/app\/zdd-/);
    expect(stats.failed).toBe(0);
    expect(await serverNames(haproxy)).toEqual(['web1', 'web2', 'web3', 'web4']);
  });

  it('the post step of a killed run releases its lock, and the next run needs no takeover', async () => {
    const { fleet, haproxy } = await rollingLab();
    const inputs = {
      ...FAST_ROLLOUT,
      strategy: 'rolling',
      targets: 'app/web1',
      'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
      'deploy-command': fleet.restartCommand,
      'health-url': 'http://{address}/health',
    };
    const killed = await runAction(inputs, {
      env: { ...fleet.env, ...runEnv(401) },
      onSpawn: (child) =>
        child.stdout?.on('data', (c: Buffer) => /Holding the lock/.test(String(c)) && child.kill('SIGKILL')),
    });
    expect((await serverNames(haproxy)).filter((n) => n.startsWith('zdd-'))).toHaveLength(2);
    const post = await runAction(inputs, { env: { ...fleet.env, ...runEnv(401) }, state: killed.state });
    expect(post.code).toBe(0);
    expect(post.stdout).toMatch(
      /Post step: released the lock on haproxy:\/\/127\.0\.0\.1:\d+ that the main step held as acme:shop\.run401\.1\./,
    );
    expect(await serverNames(haproxy)).toEqual(['web1', 'web2', 'web3', 'web4']);
    const load = startLoad(`http://127.0.0.1:${haproxy.frontendPort}/`, { rps: 200, maxMs: 90_000 });
    const next = await runAction(inputs, { env: { ...fleet.env, ...runEnv(402) } });
    const stats = await load.stop();
    expect(errors(next)).toEqual([]);
    expect(stats.failed).toBe(0);
    expect(next.outputs.result).toBe('succeeded');
    expect(await serverNames(haproxy)).toEqual(['web1', 'web2', 'web3', 'web4']);
  });
});
