/**
 * Fleets on real load balancers: two or three HAProxy instances (and one HAProxy with one nginx) in front of the same
 * app processes, half of the users through each, moved as one by one `load-balancer` list. Each test reads every
 * member back at the end; load goes through every active member and must see 0 failed requests. Each test starts
 * its own lab on ports chosen at run time and stops it when it ends.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it, type TestContext } from 'vitest';
import { errors, FAST_ROLLOUT, runAction, type ActionRun } from '../helpers/action.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { githubEnv, startGithubApi } from '../helpers/github-api.js';
import { startHaproxy, type HaproxyInstance } from '../helpers/haproxy.js';
import { startLoad, type Load, type LoadStats } from '../helpers/load.js';
import { startNginx } from '../helpers/nginx.js';
import { weights } from '../helpers/pools.js';
import { startRelay } from '../helpers/relay.js';

const STABLE = { 'app/blue1': 100, 'app/blue2': 100, 'app/green1': 0, 'app/green2': 0 };
const ALL_GREEN = { 'app/blue1': 0, 'app/blue2': 0, 'app/green1': 256, 'app/green2': 256 };
const POOLS = 'blue=app/blue*, green=app/green*';

interface Lab {
  readonly apps: Fleet;
  readonly members: HaproxyInstance[];
  /** `load-balancer`: every member, one per line (`ports` replaces a member's admin port, e.g. by a relay's). */
  list(ports?: readonly (number | undefined)[]): string;
  inputs(lb: string, extra: Record<string, string>): Record<string, string>;
}

/**
 * `count` HAProxy instances in front of the same four app processes: pools (blue live, green idle) or four webs;
 * stopped when the test ends.
 */
async function startLab(context: TestContext, count: number, layout: 'pools' | 'rolling'): Promise<Lab> {
  const apps = await startFleet(4, 'v1');
  const members: HaproxyInstance[] = [];
  context.onTestFinished(async () => {
    await Promise.all(members.map((m) => m.stop()));
    apps.stopAll();
  });
  const [p1, p2, p3, p4] = apps.ports as [number, number, number, number];
  const servers =
    layout === 'pools'
      ? [
          { name: 'blue1', port: p1 },
          { name: 'blue2', port: p2 },
          { name: 'green1', port: p3, options: 'check weight 0' },
          { name: 'green2', port: p4, options: 'check weight 0' },
        ]
      : [p1, p2, p3, p4].map((port, i) => ({ name: `web${i + 1}`, port }));
  members.push(...(await Promise.all(Array.from({ length: count }, () => startHaproxy({ servers })))));
  await allUp(members);
  return {
    apps,
    members,
    list: (ports = []) => members.map((m, i) => `haproxy://127.0.0.1:${ports[i] ?? m.adminPort}`).join('\n'),
    inputs: (lb, extra) => ({
      'load-balancer': lb,
      'deploy-command': apps.restartCommand,
      'health-url': 'http://{address}/health',
      ...FAST_ROLLOUT,
      'min-requests': '20',
      ...extra,
    }),
  };
}

/** Until every member's own checks see every server UP (they start DOWN until `rise` checks passed). */
async function allUp(instances: readonly HaproxyInstance[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const states = await Promise.all(instances.map((m) => m.servers()));
    if (states.every((s) => [...s].every(([id, v]) => id.includes('/zdd-') || v.status.startsWith('UP')))) return;
    if (Date.now() > deadline) throw new Error(`servers not UP: ${JSON.stringify(states.map((s) => [...s]))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Servers a member sends traffic to (weight > 0) whose own check is not UP: must be none. */
async function trafficOnUnready(instance: HaproxyInstance): Promise<string[]> {
  return [...(await instance.servers())]
    .filter(([id, s]) => !id.includes('/zdd-') && s.weight > 0 && !/^UP/.test(s.status))
    .map(([id, s]) => `${id} weight ${s.weight} ${s.status}`);
}

async function until(what: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Load through each of these members (the users of one), stopped together. */
function loadThrough(ports: readonly number[], retryResets = false): { stop(): Promise<LoadStats[]> } {
  // HAProxy members: every reset counts as a failure. nginx closes idle keep-alive connections on reload, which
  // clients retry (retryResets), as the nginx tests do.
  const started = Date.now();
  const loads: Load[] = ports.map((port) =>
    startLoad(`http://127.0.0.1:${port}/`, { rps: 60, maxMs: 60_000, retryResets }),
  );
  // A run that stops early (a reload noticed in a second) has still seen enough requests through each member to
  // judge: stop once each load went through 110 of them (expectNoFailures wants over 100 answered).
  const enough = () => Promise.all(loads.map((l) => l.through(110, started)));
  return { stop: async () => (await enough(), Promise.all(loads.map((l) => l.stop()))) };
}

/** A member's weights without the lock's servers (maint, no traffic). */
function servedWeights(state: Parameters<typeof weights>[0]): Record<string, number> {
  return Object.fromEntries(Object.entries(weights(state)).filter(([id]) => !id.includes('/zdd-')));
}

function expectNoFailures(stats: readonly LoadStats[]): void {
  for (const s of stats) {
    expect(s.failed, JSON.stringify(s.failures)).toBe(0);
    expect(s.ok).toBeGreaterThan(100);
  }
}

/**
 * Samples every member's weights (the lock's servers left out: the lock is taken member after member) until stopped.
 * A round reads all members twice, 100 ms apart; when no member changed between its two reads (no change was
 * landing), they must all hold the same weights: a member left behind shows here. Only a change whose members took
 * it more than 100 ms apart could pass unseen between the two reads, twice the 50 ms the fleet is held to.
 */
function watchAgreement(instances: readonly HaproxyInstance[]) {
  let running = true;
  const disagreements: string[] = [];
  let stableRounds = 0;
  const read = () =>
    Promise.all(
      instances.map(async (m) =>
        JSON.stringify(Object.entries(weights(await m.servers())).filter(([id]) => !id.includes('/zdd-'))),
      ),
    );
  const loop = (async () => {
    while (running) {
      const first = await read();
      await new Promise((r) => setTimeout(r, 100));
      const second = await read();
      if (first.every((w, i) => w === second[i])) {
        stableRounds++;
        if (new Set(first).size > 1) disagreements.push(first.join(' | '));
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { disagreements, stableRounds };
    },
  };
}

/** The rows of the summary's fleet table: one per change. */
function fleetRows(run: ActionRun): string[] {
  const section = run.summary.split('### Load balancers')[1]?.split('<details>')[0] ?? '';
  return section.split('\n').filter((l) => /^\| \d+ \|/.test(l));
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

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
