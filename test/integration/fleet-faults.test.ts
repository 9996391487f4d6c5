/**
 * Fleets on real load balancers when something goes wrong: a bad canary, a member reloaded, an approval, one load
 * balancer listed twice, a mixed HAProxy + nginx fleet, a crash (fleet.test.ts has the others; two files so the
 * suite runs them at once).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errors, runAction } from '../helpers/action.js';
import { githubEnv, startGithubApi } from '../helpers/github-api.js';
import { type HaproxyInstance } from '../helpers/haproxy.js';
import { startNginx } from '../helpers/nginx.js';
import { weights } from '../helpers/pools.js';
import { startRelay } from '../helpers/relay.js';
import {
  STABLE,
  ALL_GREEN,
  POOLS,
  startLab,
  trafficOnUnready,
  until,
  loadThrough,
  expectNoFailures,
  fleetRows,
  escape,
} from '../helpers/fleet-lab.js';

describe('a bad canary, a reload, an approval', () => {
  it('a bad canary is rolled back on both: errors counted through both members', async (context) => {
    const lab = await startLab(context, 2, 'pools');
    const [a, b] = lab.members as [HaproxyInstance, HaproxyInstance];
    const load = loadThrough([a.frontendPort, b.frontendPort]);
    const run = await runAction(lab.inputs(lab.list(), { strategy: 'canary', pools: POOLS, steps: '25% 10s, 100%' }), {
      env: { ...lab.apps.env, APP_NEXT_FAIL_RATE: '0.3' },
    });
    const stats = await load.stop();
    expect(run.code).toBe(1);
    expect(run.outputs.result).toBe('rolled-back');
    for (const m of lab.members) expect(weights(await m.servers())).toEqual(STABLE);
    // Judged on the requests through both members: the verdict counts the new version's failures.
    expect(errors(run).join('\n')).toMatch(/new version \d+(\.\d+)?% failed \(\d+ of \d+\)/);
    for (const s of stats) expect(s.versions.v2 ?? 0).toBeGreaterThan(0);
  }, 90_000);

  it('one member reloaded mid-canary: noticed, the rollout stops, both members on the stable pool', async (context) => {
    const lab = await startLab(context, 2, 'pools');
    const [a, b] = lab.members as [HaproxyInstance, HaproxyInstance];
    const load = loadThrough([a.frontendPort, b.frontendPort]);
    const pending = runAction(lab.inputs(lab.list(), { strategy: 'canary', pools: POOLS, steps: '20% 20s, 100%' }), {
      env: lab.apps.env,
    });
    await until(async () => ((await b.servers()).get('app/green1')?.weight ?? 0) > 0);
    await b.reload();
    const run = await pending;
    const stats = await load.stop();
    expect(run.code).toBe(1);
    expect(run.outputs.result).toBe('failed');
    const message = errors(run).join('\n');
    expect(message).toMatch(
      new RegExp(`haproxy://127\\.0\\.0\\.1:${b.adminPort}: .*HAProxy was reloaded or restarted during the rollout`),
    );
    expect(message).toMatch(/All traffic was moved back to blue\./);
    for (const m of lab.members) expect(weights(await m.servers())).toEqual(STABLE);
    for (const m of lab.members) expect(await trafficOnUnready(m)).toEqual([]);
    expectNoFailures(stats);
  }, 90_000);

  it('paused at an approval step on both members; status, promote and abort work on the whole fleet', async (context) => {
    const lab = await startLab(context, 2, 'pools');
    const [a, b] = lab.members as [HaproxyInstance, HaproxyInstance];
    const api = await startGithubApi();
    context.onTestFinished(() => api.close());
    const env = { ...lab.apps.env, ...githubEnv(api) };
    const github = { environment: 'production', 'github-token': 'ghs_fleet' };
    const load = loadThrough([a.frontendPort, b.frontendPort]);
    const paused = await runAction(
      lab.inputs(lab.list(), { strategy: 'canary', pools: POOLS, steps: '25% 2s, 50% approval, 100%', ...github }),
      { env },
    );
    expect(errors(paused)).toEqual([]);
    expect(paused.outputs).toMatchObject({ result: 'paused', weight: '50' });
    const half = { 'app/blue1': 256, 'app/blue2': 256, 'app/green1': 256, 'app/green2': 256 };
    for (const m of lab.members) expect(weights(await m.servers())).toEqual(half);
    // Fresh runs that know only the environment, the fleet and the pools.
    const control = (action: string) => ({ action, 'load-balancer': lab.list(), pools: POOLS, ...github });
    const status = await runAction(control('status'), { env });
    expect(errors(status)).toEqual([]);
    expect(status.outputs).toMatchObject({ result: 'unchanged', weight: '50' });
    const promoted = await runAction(control('promote'), { env });
    const stats = await load.stop();
    expect(errors(promoted)).toEqual([]);
    expect(promoted.outputs).toMatchObject({ result: 'succeeded', weight: '100', 'live-pool': 'green' });
    for (const m of lab.members) expect(weights(await m.servers())).toEqual(ALL_GREEN);
    expect(promoted.summary).toContain('### Load balancers (2, moved as one)');
    // The next rollout goes to blue, now idle; paused, then aborted: both members back on green.
    const again = loadThrough([a.frontendPort, b.frontendPort]);
    const second = await runAction(
      lab.inputs(lab.list(), { strategy: 'canary', pools: POOLS, steps: '50% approval, 100%', ...github }),
      { env },
    );
    expect(errors(second)).toEqual([]);
    expect(second.outputs).toMatchObject({ result: 'paused', weight: '50', 'live-pool': 'green' });
    for (const m of lab.members) expect(weights(await m.servers())).toEqual(half);
    const aborted = await runAction(control('abort'), { env });
    const after = await again.stop();
    expect(errors(aborted)).toEqual([]);
    expect(aborted.outputs).toMatchObject({ result: 'aborted' });
    for (const m of lab.members) expect(weights(await m.servers())).toEqual(ALL_GREEN);
    expect(api.violations).toEqual([]);
    expectNoFailures([...stats, ...after]);
  }, 120_000);
});

describe('one load balancer listed twice', () => {
  it('one HAProxy under three spellings (127.0.0.1, 127.1, its unix socket) is refused naming the URLs, nothing moved', async (context) => {
    const lab = await startLab(context, 1, 'pools');
    const [a] = lab.members as [HaproxyInstance];
    const before = weights(await a.servers());
    const run = await runAction(
      lab.inputs(`haproxy://127.0.0.1:${a.adminPort}\nhaproxy://127.1:${a.adminPort}\nhaproxy+unix://${a.socketPath}`, {
        strategy: 'canary',
        pools: POOLS,
        steps: '50% 1s, 100%',
      }),
      { env: lab.apps.env },
    );
    const message = errors(run).join('\n');
    console.log(`listed twice: ${message}`);
    expect(run.code).toBe(1);
    expect(message).toMatch(
      new RegExp(
        `URL 1 \\(haproxy://127\\.0\\.0\\.1:${a.adminPort}\\) and URL 2 \\(haproxy://127\\.1:${a.adminPort}\\) are the same load balancer \\(HAProxy on node [^,]+, worker \\d+ started \\S+\\); URL 1 .* and URL 3 \\(haproxy\\+unix://${escape(a.socketPath)}\\) are the same load balancer .*: list each load balancer once`,
      ),
    );
    expect(message).toContain('load-balancer');
    expect(weights(await a.servers())).toEqual(before);
    expect(await a.cli('show servers state app')).not.toContain('zdd-');
  }, 30_000);
});

describe('a mixed fleet, a crash', () => {
  it('rolling through one HAProxy and one nginx in front of the same servers: 0 failed through either', async (context) => {
    const lab = await startLab(context, 1, 'rolling');
    const [a] = lab.members as [HaproxyInstance];
    const ports = lab.apps.ports;
    // The same weights as HAProxy's (the members must agree before anything moves).
    const nginx = await startNginx(ports.map((port, i) => ({ name: `web${i + 1}`, port, weight: 100 })));
    context.onTestFinished(() => nginx.stop());
    const throughHaproxy = loadThrough([a.frontendPort]);
    const throughNginx = loadThrough([nginx.port], true);
    const run = await runAction(
      {
        ...lab.inputs('', { ...nginx.inputs, strategy: 'rolling', targets: 'app/*', 'batch-size': '2' }),
        'load-balancer': `haproxy://127.0.0.1:${a.adminPort}, nginx+file://${nginx.upstreams}`,
      },
      { env: lab.apps.env },
    );
    const stats = [...(await throughHaproxy.stop()), ...(await throughNginx.stop())];
    expect(errors(run)).toEqual([]);
    expect(run.outputs.result).toBe('succeeded');
    expectNoFailures(stats);
    for (const s of stats) expect(s.versions.v2 ?? 0).toBeGreaterThan(0);
    expect(weights(await a.servers())).toEqual({ 'app/web1': 100, 'app/web2': 100, 'app/web3': 100, 'app/web4': 100 });
    // nginx's upstreams file as the action left it: every server back, none down.
    const upstreams = readFileSync(nginx.upstreams, 'utf8');
    for (const port of ports) expect(upstreams).toMatch(new RegExp(`server 127\\.0\\.0\\.1:${port}[^;]*weight=100;`));
    expect(upstreams).not.toMatch(/ down/);
    expect(run.summary).toContain('### Load balancers (2, moved as one)');
    expect(fleetRows(run).length).toBeGreaterThanOrEqual(4);
  }, 90_000);

  it('main step killed mid-canary, one member then unreachable: the post step restores the other and names it', async (context) => {
    const lab = await startLab(context, 2, 'pools');
    const [a, b] = lab.members as [HaproxyInstance, HaproxyInstance];
    const relay = await startRelay(b.adminPort);
    context.onTestFinished(() => relay.close());
    const inputs = lab.inputs(lab.list([a.adminPort, relay.port]), {
      strategy: 'canary',
      pools: POOLS,
      steps: '25% 30s, 100%',
    });
    let child: { kill: (s: NodeJS.Signals) => boolean } | undefined;
    const running = runAction(inputs, { env: lab.apps.env, onSpawn: (c) => (child = c) });
    await until(async () => ((await b.servers()).get('app/green1')?.weight ?? 0) > 0);
    child?.kill('SIGKILL');
    const main = await running;
    expect(main.code).toBeNull();
    await relay.close();
    const post = await runAction(inputs, { env: lab.apps.env, state: { ...main.state, isPost: 'true' } });
    expect(post.code).toBe(1);
    const message = errors(post).join('\n');
    const cut = escape(`haproxy://127.0.0.1:${relay.port}`);
    expect(message).toMatch(
      new RegExp(
        `restoring traffic failed: 1 of 2 load balancers failed: haproxy://127\\.0\\.0\\.1:${a.adminPort}: took the change; ${cut}: the change failed`,
      ),
    );
    expect(message).toMatch(
      new RegExp(
        `Apply by hand on ${cut} \\(it did not answer: .*\\): on the HAProxy Runtime API: set server app/blue1 weight 100`,
      ),
    );
    expect(weights(await a.servers())).toEqual(STABLE);
    expect(weights(await b.servers())).toMatchObject({ 'app/green1': 85, 'app/green2': 85 });
    expect(await trafficOnUnready(b)).toEqual([]);
  }, 90_000);
});
