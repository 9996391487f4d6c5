/**
 * Never strand traffic (issue 14), on real HAProxy under load: the unhappy paths every team meets in its first month.
 * Each test ends by reading the load balancer back: weight only on servers that are ready and healthy, and the
 * message says what was read.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { errors, FAST_ROLLOUT, runAction } from '../helpers/action.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { startHaproxy, type HaproxyInstance } from '../helpers/haproxy.js';
import { startLoad } from '../helpers/load.js';
import { freePort } from '../helpers/ports.js';
import { poolInputs, startPools, weights, type PoolsLab } from '../helpers/pools.js';

let lab: PoolsLab | undefined;
let haproxy: HaproxyInstance | undefined;
let fleet: Fleet | undefined;

afterEach(async () => {
  await lab?.stop();
  await haproxy?.stop();
  fleet?.stopAll();
  lab = haproxy = fleet = undefined;
});

/**
 * What a change would touch, per server: backend, name, address, admin state and weight (not the columns that tick
 * on their own: time since the last change, the check in progress).
 */
async function serverState(h: HaproxyInstance): Promise<string[]> {
  const text = await h.cli('show servers state');
  return text
    .split('\n')
    .filter((l) => /^\d+ /.test(l))
    .map((l) => l.split(' '))
    .map((c) => [c[1], c[3], c[4], `admin ${c[6]}`, `weight ${c[7]}`].join(' '));
}

/** Servers with weight that are not up and ready: the invariant every test ends on. */
async function weightOnUnready(h: HaproxyInstance): Promise<string[]> {
  return [...(await h.servers())]
    .filter(([, s]) => s.weight > 0 && !/^UP/.test(s.status))
    .map(([id, s]) => `${id} ${s.weight} ${s.status}`);
}

describe('never strand traffic on HAProxy', () => {
  it('a redeploy after a failed blue-green brings the idle pool back through its checks: 0 failed, green serves', async () => {
    lab = await startPools();
    const failed = await runAction(
      poolInputs(lab, { strategy: 'blue-green', version: 'bad', 'startup-timeout': '3s' }),
      {
        env: { ...lab.fleet.env, APP_NEXT_HEALTHY: '0' },
      },
    );
    expect(failed.outputs.result).toBe('failed');
    // The failed run left green in maint, as documented.
    expect((await lab.haproxy.servers()).get('app/green1')?.status).toMatch(/MAINT/);
    const load = startLoad(lab.url, { rps: 200, maxMs: 60_000 });
    const run = await runAction(poolInputs(lab, { strategy: 'blue-green', version: 'good', 'min-requests': '0' }), {
      env: lab.fleet.env,
    });
    await new Promise((r) => setTimeout(r, 500));
    const stats = await load.stop();
    expect(errors(run)).toEqual([]);
    expect(run.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'green', weight: '100' });
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    const now = await lab.haproxy.servers();
    expect(weights(now)).toEqual({ 'app/blue1': 0, 'app/blue2': 0, 'app/green1': 256, 'app/green2': 256 });
    expect(now.get('app/green1')?.status).toMatch(/^UP/);
    expect(stats.requests.filter((r) => r.start > Date.now() - 400).every((r) => r.version === 'good')).toBe(true);
    expect(await weightOnUnready(lab.haproxy)).toEqual([]);
  }, 120_000);

  it('refuses pools in a backend with a static balance algorithm before anything changes', async () => {
    fleet = await startFleet(2, 'v1');
    haproxy = await startHaproxy({
      extra: '    balance source',
      servers: [
        { name: 'blue1', port: fleet.ports[0] ?? 0 },
        { name: 'green1', port: fleet.ports[1] ?? 0, options: 'check weight 0' },
      ],
    });
    await haproxy.settled();
    const before = await serverState(haproxy);
    const run = await runAction(
      {
        ...FAST_ROLLOUT,
        strategy: 'blue-green',
        pools: 'blue=app/blue*, green=app/green*',
        'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
        'deploy-command': fleet.restartCommand,
        'health-url': 'http://{address}/health',
      },
      { env: fleet.env },
    );
    expect(run.code).toBe(1);
    expect(errors(run).join('\n')).toMatch(
      /pools: backend app uses balance source with hash-type map-based, where HAProxy accepts only weights 0% and 100% at run time; use balance roundrobin/,
    );
    expect(await serverState(haproxy)).toEqual(before);
    await haproxy.stop();
    // A dry run refuses what the deploy would, as far as reading tells (a hash backend is only asked by the deploy).
    haproxy = await startHaproxy({
      extra: '    balance static-rr',
      servers: [
        { name: 'blue1', port: fleet.ports[0] ?? 0 },
        { name: 'green1', port: fleet.ports[1] ?? 0, options: 'check weight 0' },
      ],
    });
    const staticBefore = await serverState(haproxy);
    const dry = await runAction({
      strategy: 'blue-green',
      pools: 'blue=app/blue*, green=app/green*',
      'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
      'dry-run': 'true',
    });
    expect(dry.code).toBe(1);
    expect(errors(dry).join('\n')).toMatch(
      /pools: backend app uses balance static-rr, whose weights HAProxy does not change at run time/,
    );
    expect(await serverState(haproxy)).toEqual(staticBefore);
  }, 60_000);

  it('refuses a blue-green whose idle server is the same process as a server in traffic in another backend, touching nothing', async () => {
    fleet = await startFleet(2, 'v1');
    const [blue, green] = fleet.ports as [number, number];
    haproxy = await startHaproxy({
      servers: [
        { name: 'blue1', port: blue },
        { name: 'green1', port: green, options: 'check weight 0' },
      ],
      sections: `backend api
    balance roundrobin
    server api1 127.0.0.1:${green} check`,
    });
    await haproxy.settled();
    const before = await serverState(haproxy);
    const log = join(mkdtempSync(join(tmpdir(), 'zdd-deploys-')), 'deploys.log');
    const inputs = {
      ...FAST_ROLLOUT,
      strategy: 'blue-green',
      pools: 'blue=app/blue*, green=app/green*',
      'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
      'deploy-command': `echo "$DEPLOY_ADDRESS" >> ${JSON.stringify(log)}`,
    };
    const [run, dry] = [await runAction(inputs), await runAction({ ...inputs, 'dry-run': 'true' })];
    for (const r of [run, dry]) {
      expect(r.code).toBe(1);
      expect(errors(r).join('\n')).toContain(
        `pools: idle pool green cannot be deployed without touching live traffic: app/green1 is the same process as api/api1 (127.0.0.1:${green}), which is in traffic.`,
      );
    }
    expect(() => readFileSync(log, 'utf8')).toThrow();
    expect(await serverState(haproxy)).toEqual(before);
  }, 60_000);

  it('a rolling deploy after a failed one brings the failed server back through its checks, and says so truthfully', async () => {
    fleet = await startFleet(2, 'v1');
    haproxy = await startHaproxy({ servers: fleet.ports.map((port, i) => ({ name: `web${i + 1}`, port })) });
    await haproxy.settled();
    const inputs = {
      ...FAST_ROLLOUT,
      strategy: 'rolling',
      targets: 'app/*',
      'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
      'deploy-command': fleet.restartCommand,
      'health-url': 'http://{address}/health',
      'min-requests': '0',
    };
    const bad = await runAction(
      { ...inputs, version: 'bad', 'startup-timeout': '3s' },
      { env: { ...fleet.env, APP_NEXT_HEALTHY: '0' } },
    );
    expect(bad.outputs.result).toBe('failed');
    expect((await haproxy.servers()).get('app/web1')?.status).toMatch(/MAINT/);
    const load = startLoad(`http://127.0.0.1:${haproxy.frontendPort}/`, { rps: 150, maxMs: 60_000 });
    const good = await runAction({ ...inputs, version: 'good' }, { env: fleet.env });
    const stats = await load.stop();
    expect(errors(good)).toEqual([]);
    expect(good.stdout).toContain('All 2 servers run version good and are back in traffic.');
    const now = await haproxy.servers();
    expect([...now].map(([id, s]) => `${id} ${s.weight} ${s.status}`)).toEqual(['app/web1 100 UP', 'app/web2 100 UP']);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(stats.versions).toHaveProperty('good');
  }, 120_000);

  it('refuses a batch-size that would take a whole backend out of traffic, before anything changes', async () => {
    fleet = await startFleet(2, 'v1');
    haproxy = await startHaproxy({ servers: fleet.ports.map((port, i) => ({ name: `web${i + 1}`, port })) });
    await haproxy.settled();
    const before = await serverState(haproxy);
    const run = await runAction({
      ...FAST_ROLLOUT,
      strategy: 'rolling',
      targets: 'app/*',
      'batch-size': '100%',
      'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
      'health-url': 'http://{address}/health',
    });
    expect(run.code).toBe(1);
    expect(errors(run).join('\n')).toMatch(
      /batch-size: backend app would have no server in traffic while app\/web1, app\/web2 are out \(batch 1\)/,
    );
    expect(await serverState(haproxy)).toEqual(before);
  }, 60_000);

  it('a reload of HAProxy mid-canary is noticed: the rollout stops, says so, and traffic is on the stable pool', async () => {
    lab = await startPools();
    const load = startLoad(lab.url, { rps: 150, maxMs: 60_000, retryResets: true });
    const pending = runAction(poolInputs(lab, { strategy: 'canary', steps: '20% 20s, 100%' }), { env: lab.fleet.env });
    // Reload once the canary's weight is in HAProxy.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && ((await lab.haproxy.servers()).get('app/green1')?.weight ?? 0) === 0)
      await new Promise((r) => setTimeout(r, 100));
    await lab.haproxy.reload();
    const run = await pending;
    const stats = await load.stop();
    expect(run.outputs.result).toBe('failed');
    expect(errors(run).join('\n')).toMatch(
      /HAProxy was reloaded or restarted during the rollout \(worker \d+ -> \d+\): its run-time weights and states went back to its configuration and its counters to zero\. All traffic was moved back to blue\./,
    );
    expect(run.stdout).not.toMatch(/-\d+ of min-requests/);
    expect(weights(await lab.haproxy.servers())).toEqual({
      'app/blue1': 100,
      'app/blue2': 100,
      'app/green1': 0,
      'app/green2': 0,
    });
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
  }, 120_000);

  it('the same app process behind two backends is deployed once and drained in both: 0 failed through either', async () => {
    fleet = await startFleet(2, 'v1');
    const apiPort = await freePort();
    const servers = fleet.ports.map((port, i) => ({ name: `web${i + 1}`, port }));
    haproxy = await startHaproxy({
      servers,
      sections: `frontend fe_api
    bind 127.0.0.1:${apiPort}
    default_backend api
backend api
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health
${servers.map((s) => `    server ${s.name} 127.0.0.1:${s.port} check`).join('\n')}`,
    });
    await haproxy.settled();
    const log = join(mkdtempSync(join(tmpdir(), 'zdd-deploys-')), 'deploys.log');
    const app = startLoad(`http://127.0.0.1:${haproxy.frontendPort}/`, { rps: 100, maxMs: 60_000 });
    const api = startLoad(`http://127.0.0.1:${apiPort}/`, { rps: 100, maxMs: 60_000 });
    const run = await runAction(
      {
        ...FAST_ROLLOUT,
        strategy: 'rolling',
        targets: 'app/*',
        'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
        'deploy-command': `echo "$DEPLOY_ADDRESS" >> ${JSON.stringify(log)} && ${fleet.restartCommand}`,
        'health-url': 'http://{address}/health',
        'min-requests': '0',
      },
      { env: fleet.env },
    );
    const [appStats, apiStats] = [await app.stop(), await api.stop()];
    expect(errors(run)).toEqual([]);
    const deploys = readFileSync(log, 'utf8').trim().split('\n');
    expect(deploys.sort()).toEqual(fleet.ports.map((p) => `127.0.0.1:${p}`).sort());
    expect(run.stdout).toMatch(/api\/web1 shares an address with a target|api\/web1, api\/web2 share an address/);
    expect(appStats.failed, JSON.stringify(appStats.failures)).toBe(0);
    expect(apiStats.failed, JSON.stringify(apiStats.failures)).toBe(0);
    // Both backends read back: every entry running (op state 2), ready (admin 0), weight 100.
    const state = (await haproxy.cli('show servers state'))
      .split('\n')
      .filter((l) => /^\d+ /.test(l))
      .map((l) => l.split(' '))
      .map((c) => `${c[1]}/${c[3]} op ${c[5]} admin ${c[6]} weight ${c[7]}`);
    expect(state.sort()).toEqual([
      'api/web1 op 2 admin 0 weight 100',
      'api/web2 op 2 admin 0 weight 100',
      'app/web1 op 2 admin 0 weight 100',
      'app/web2 op 2 admin 0 weight 100',
    ]);
  }, 120_000);

  it('a live server an operator parked at weight 0 keeps weight 0 through every step', async () => {
    fleet = await startFleet(5, 'v1');
    const [b1, b2, b3, g1, g2] = fleet.ports as [number, number, number, number, number];
    haproxy = await startHaproxy({
      servers: [
        { name: 'blue1', port: b1 },
        { name: 'blue2', port: b2 },
        { name: 'blue3', port: b3, options: 'check weight 0' },
        { name: 'green1', port: g1, options: 'check weight 0' },
        { name: 'green2', port: g2, options: 'check weight 0' },
      ],
    });
    await haproxy.settled();
    const load = startLoad(`http://127.0.0.1:${haproxy.frontendPort}/`, { rps: 150, maxMs: 60_000 });
    const pending = runAction(
      {
        ...FAST_ROLLOUT,
        strategy: 'canary',
        steps: '10% 3s, 100%',
        pools: 'blue=app/blue*, green=app/green*',
        'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
        'deploy-command': fleet.restartCommand,
        'health-url': 'http://{address}/health',
      },
      { env: fleet.env },
    );
    const seen = new Set<number>();
    let done = false;
    void pending.then(() => (done = true));
    while (!done) {
      seen.add((await haproxy.servers()).get('app/blue3')?.weight ?? -1);
      await new Promise((r) => setTimeout(r, 100));
    }
    const run = await pending;
    const stats = await load.stop();
    expect(errors(run)).toEqual([]);
    expect([...seen]).toEqual([0]);
    expect(stats.requests.filter((r) => r.version === 'none')).toEqual([]);
    expect(stats.failed).toBe(0);
  }, 120_000);
});
