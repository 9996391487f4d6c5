/**
 * Fleets on real load balancers: two or three HAProxy instances (and one HAProxy with one nginx) in front of the same
 * app processes, half of the users through each, moved as one by one `load-balancer` list. Each test reads every
 * member back at the end; load goes through every active member and must see 0 failed requests. Each test starts
 * its own lab on ports chosen at run time and stops it when it ends.
 */
import { describe, expect, it } from 'vitest';
import { errors, runAction, summaryTimeline } from '../helpers/action.js';
import { LATENCY_RING, statRows, type HaproxyInstance } from '../helpers/haproxy.js';
import { startLoad } from '../helpers/load.js';
import { weights } from '../helpers/pools.js';
import { startRelay } from '../helpers/relay.js';
import {
  STABLE,
  ALL_GREEN,
  POOLS,
  startLab,
  trafficOnUnready,
  loadThrough,
  servedWeights,
  expectNoFailures,
  extraBackend,
  watchAgreement,
  fleetRows,
  escape,
} from '../helpers/fleet-lab.js';

describe('moved as one: canary with a standby, rolling', () => {
  it('canary through two active HAProxy and a standby: 0 failed through either, the standby in step all along', async (context) => {
    const lab = await startLab(context, 3, 'pools');
    const [a, b] = lab.members as [HaproxyInstance, HaproxyInstance, HaproxyInstance];
    const load = loadThrough([a.frontendPort, b.frontendPort]);
    const watch = watchAgreement(lab.members);
    const run = await runAction(lab.inputs(lab.list(), { strategy: 'canary', pools: POOLS, steps: '25% 3s, 100%' }), {
      env: lab.apps.env,
    });
    const agreement = await watch.stop();
    const stats = await load.stop();
    expect(errors(run)).toEqual([]);
    expect(run.outputs.result).toBe('succeeded');
    expectNoFailures(stats);
    for (const m of lab.members) expect(weights(await m.servers())).toEqual(ALL_GREEN);
    // The standby (no traffic) held the same weights as the active members whenever no change was landing.
    expect(agreement.disagreements).toEqual([]);
    expect(agreement.stableRounds).toBeGreaterThan(20);
    // Both active members carried the new version's share: the analysis counted requests through both.
    for (const s of stats) expect(s.versions.v2 ?? 0).toBeGreaterThan(20);
    expect(run.summary).toContain('### Load balancers (3, moved as one)');
    const rows = fleetRows(run);
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const row of rows) expect(row).toMatch(/(\| \+\d+ms ){3}\| \d+ms \|$/);
  }, 90_000);

  it('latency merged over the members: a canary 400 ms slower, its users all through the second HAProxy, rolled back before its second step with 0 failed', async (context) => {
    const lab = await startLab(context, 2, 'pools', LATENCY_RING);
    const [, b] = lab.members as [HaproxyInstance, HaproxyInstance];
    // Only the second member's ring holds the slow answers: judged from the first member alone, nothing is slower.
    const load = startLoad(`http://127.0.0.1:${b.frontendPort}/`, { rps: 150, connections: 64, maxMs: 40_000 });
    const run = await runAction(
      lab.inputs(lab.list(), { strategy: 'canary', pools: POOLS, steps: '20% 5s, 50% 5s, 100%' }),
      {
        env: { ...lab.apps.env, APP_NEXT_EXTRA_MS: '400' },
      },
    );
    const stats = await load.stop();
    const message = errors(run).join('\n');
    const note = summaryTimeline(run).find(([, t]) => t.startsWith('latency: '))?.[1];
    console.log(
      `fleet, 400 ms slower canary through member 2: ${run.outputs.result}; ${stats.failed} of ${stats.sent} failed; ${message}`,
    );
    expect(note).toMatch(
      /^latency: judged from %Ta per request, from HAProxy's ring 'zdd' .*, merged over the 2 load balancers: max-latency-increase/,
    );
    expect(run.outputs.result).toBe('rolled-back');
    expect(message).toMatch(
      /^Rolled back at 20% on green: .*Slower than stable: v2 answered \d+ ms slower at p(50|95) than stable/,
    );
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    for (const m of lab.members) expect(servedWeights(await m.servers())).toEqual(STABLE);
  }, 90_000);

  it('rolling through two HAProxy: each server drained on both before its restart, 0 failed through either', async (context) => {
    const lab = await startLab(context, 2, 'rolling');
    const [a, b] = lab.members as [HaproxyInstance, HaproxyInstance];
    const load = loadThrough([a.frontendPort, b.frontendPort]);
    const run = await runAction(lab.inputs(lab.list(), { strategy: 'rolling', targets: 'app/*', 'batch-size': '2' }), {
      env: lab.apps.env,
    });
    const stats = await load.stop();
    expect(errors(run)).toEqual([]);
    expect(run.outputs.result).toBe('succeeded');
    expectNoFailures(stats);
    for (const s of stats) expect(Object.keys(s.versions).sort()).toEqual(['v1', 'v2']);
    for (const m of lab.members)
      expect(weights(await m.servers())).toEqual({
        'app/web1': 100,
        'app/web2': 100,
        'app/web3': 100,
        'app/web4': 100,
      });
  }, 90_000);

  it('rolling through two HAProxy with different extra backends at the same processes: each shared entry drained with its server, 0 failed on every backend', async (context) => {
    // Member A also serves `api` at all four processes, member B `admin` at web3 and web4: they disagree nowhere a
    // member has the backend, and each extra entry must leave traffic with the process it shares.
    const ports: number[] = [];
    const lab = await startLab(context, 2, 'rolling', async (i, servers) => {
      const extra = await extraBackend(i === 0 ? 'api' : 'admin', i === 0 ? servers : servers.slice(2));
      ports.push(extra.port);
      return { sections: extra.sections };
    });
    const [a, b] = lab.members as [HaproxyInstance, HaproxyInstance];
    const load = loadThrough([a.frontendPort, b.frontendPort, ...ports]);
    const run = await runAction(lab.inputs(lab.list(), { strategy: 'rolling', targets: 'app/*' }), {
      env: lab.apps.env,
    });
    const stats = await load.stop();
    expect(errors(run)).toEqual([]);
    expect(run.outputs.result).toBe('succeeded');
    expectNoFailures(stats);
    for (const s of stats) expect(s.versions.v2 ?? 0).toBeGreaterThan(0);
    // The shared entries were taken out with their process on the member that has them, and put back.
    expect(run.stdout).toMatch(/api\/web1.*maint/);
    expect(run.stdout).toMatch(/admin\/web3.*maint/);
    const every = { 'app/web1': 100, 'app/web2': 100, 'app/web3': 100, 'app/web4': 100 };
    for (const m of lab.members) expect(servedWeights(await m.servers())).toEqual(every);
    const extra = async (m: HaproxyInstance, backend: string) =>
      statRows(await m.cli(`show stat ${backend} 4 -1`)).map((r) => `${r.pxname}/${r.svname} ${r.weight} ${r.status}`);
    expect(await extra(a, 'api')).toEqual([1, 2, 3, 4].map((n) => `api/web${n} 100 UP`));
    expect(await extra(b, 'admin')).toEqual([3, 4].map((n) => `admin/web${n} 100 UP`));
    expect(await trafficOnUnready(a)).toEqual([]);
    expect(await trafficOnUnready(b)).toEqual([]);
  }, 90_000);
});

describe('a member cut off, blue-green, disagreement at the start', () => {
  it('one member’s API cut mid-canary: the rollout stops, the reachable one is back on stable, the message names both', async (context) => {
    const lab = await startLab(context, 2, 'pools');
    const [a, b] = lab.members as [HaproxyInstance, HaproxyInstance];
    const relay = await startRelay(b.adminPort);
    context.onTestFinished(() => relay.close());
    // The first weight given to green passes through, then member 2's API refuses every connection.
    relay.cutAfter(/set server app\/green\d weight [1-9]/);
    const load = loadThrough([a.frontendPort, b.frontendPort]);
    const cut = escape(`haproxy://127.0.0.1:${relay.port}`);
    const run = await runAction(
      lab.inputs(lab.list([a.adminPort, relay.port]), { strategy: 'canary', pools: POOLS, steps: '25% 5s, 100%' }),
      { env: lab.apps.env },
    );
    const stats = await load.stop();
    expect(run.code).toBe(1);
    expect(run.outputs.result).toBe('failed');
    const message = errors(run).join('\n');
    // What failed, on which member; the reachable member's state as read back; how to restore the cut one first.
    expect(message).toMatch(new RegExp(`${cut}: (reading|the change|reading counters) failed`));
    expect(message).toContain(
      `haproxy://127.0.0.1:${a.adminPort}: app/blue1 weight 100 ready, app/blue2 weight 100 ready, app/green1 weight 0 ready, app/green2 weight 0 ready`,
    );
    expect(message).toMatch(
      new RegExp(
        `Restore it on ${cut} \\(it did not answer: .*\\): on the HAProxy Runtime API: set server app/blue1 weight 100`,
      ),
    );
    // Member 1 is back on stable; its lock stays for the post step, which restores member 2 first (the log says so).
    expect(servedWeights(await a.servers())).toEqual(STABLE);
    expect(Object.keys(weights(await a.servers())).filter((id) => id.includes('/zdd-')).length).toBeGreaterThan(0);
    expect(run.stdout).toMatch(/::warning::load-balancer: keeping the lock on .* for the post step/);
    // Member 2 is cut off with the step it last took (green healthy, v2): traffic only on servers that are UP.
    expect(weights(await b.servers())).toMatchObject({ 'app/green1': 85, 'app/green2': 85 });
    expect(await trafficOnUnready(a)).toEqual([]);
    expect(await trafficOnUnready(b)).toEqual([]);
    // Requests through the reachable member never failed; through the cut one only its API is gone, not its traffic.
    expectNoFailures(stats);
  }, 90_000);

  it('blue-green through two HAProxy: 0 failed, all traffic on green through both', async (context) => {
    const lab = await startLab(context, 2, 'pools');
    const [a, b] = lab.members as [HaproxyInstance, HaproxyInstance];
    const load = loadThrough([a.frontendPort, b.frontendPort]);
    const run = await runAction(lab.inputs(lab.list(), { strategy: 'blue-green', pools: POOLS }), {
      env: lab.apps.env,
    });
    const stats = await load.stop();
    expect(errors(run)).toEqual([]);
    expect(run.outputs.result).toBe('succeeded');
    expect(run.outputs['live-pool']).toBe('green');
    expectNoFailures(stats);
    for (const m of lab.members) expect(weights(await m.servers())).toEqual(ALL_GREEN);
  }, 90_000);

  it('a dry run shows the fleet; members that disagree at the start: refused with each one’s weights, nothing changed', async (context) => {
    const lab = await startLab(context, 2, 'pools');
    const [a, b] = lab.members as [HaproxyInstance, HaproxyInstance];
    const canary = { strategy: 'canary', pools: POOLS, steps: '25% 3s, 100%' };
    const dry = await runAction(lab.inputs(lab.list(), { ...canary, 'dry-run': 'true' }), { env: lab.apps.env });
    expect(dry.code).toBe(0);
    expect(dry.outputs.result).toBe('unchanged');
    expect(dry.summary).toContain(
      `**2 load balancers moved as one** (\`haproxy://127.0.0.1:${a.adminPort}\`, \`haproxy://127.0.0.1:${b.adminPort}\`)`,
    );
    expect(dry.summary).toMatch(
      /\| 2 \| shift traffic, wait 3s \| app\/blue1=256 app\/blue2=256 app\/green1=85 app\/green2=85 \|/,
    );
    for (const m of lab.members) expect(weights(await m.servers())).toEqual(STABLE);

    await b.cli('set server app/green1 weight 50');
    const before = await Promise.all(lab.members.map(async (m) => weights(await m.servers())));
    const run = await runAction(lab.inputs(lab.list(), canary), { env: lab.apps.env });
    expect(run.code).toBe(1);
    expect(run.outputs.result).toBe('failed');
    expect(errors(run).join('\n')).toMatch(
      new RegExp(
        `the load balancers disagree .*app/green1: 127\\.0\\.0\\.1:\\d+ weight 0 ready on haproxy://127\\.0\\.0\\.1:${a.adminPort}, 127\\.0\\.0\\.1:\\d+ weight 50 ready on haproxy://127\\.0\\.0\\.1:${b.adminPort}`,
      ),
    );
    expect(await Promise.all(lab.members.map(async (m) => weights(await m.servers())))).toEqual(before);
    expect(run.stdout).not.toMatch(/Deploy v2 to idle pool/);
  }, 90_000);
});
