/** The labs of the fleet tests (fleet*.test.ts): two or three real load balancers in front of the same apps. */
import { expect, type TestContext } from 'vitest';
import { FAST_ROLLOUT, type ActionRun } from '../helpers/action.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { startHaproxy, type HaproxyInstance, type HaproxyServerLine, type HaproxySetup } from '../helpers/haproxy.js';
import { freePort } from '../helpers/ports.js';
import { startLoad, type Load, type LoadStats } from '../helpers/load.js';
import { weights } from '../helpers/pools.js';

export const STABLE = { 'app/blue1': 100, 'app/blue2': 100, 'app/green1': 0, 'app/green2': 0 };
export const ALL_GREEN = { 'app/blue1': 0, 'app/blue2': 0, 'app/green1': 256, 'app/green2': 256 };
export const POOLS = 'blue=app/blue*, green=app/green*';

export interface Lab {
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
export async function startLab(
  context: TestContext,
  count: number,
  layout: 'pools' | 'rolling',
  /**
   * Lines every member adds (e.g. LATENCY_RING), or further config per member (e.g. an extra backend), given the app
   * servers.
   */
  haproxy:
    | Pick<HaproxySetup, 'defaults' | 'sections'>
    | ((index: number, servers: readonly HaproxyServerLine[]) => Promise<Partial<HaproxySetup>>) = {},
): Promise<Lab> {
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
  const setups = await Promise.all(
    Array.from({ length: count }, async (_, i) =>
      typeof haproxy === 'function' ? await haproxy(i, servers) : haproxy,
    ),
  );
  members.push(...(await Promise.all(setups.map((setup) => startHaproxy({ servers, ...setup })))));
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

/**
 * A frontend and a backend of another name at some of the same app processes (one process behind two backends), on
 * a port of its own: HaproxySetup.sections.
 */
export async function extraBackend(
  name: string,
  servers: readonly HaproxyServerLine[],
): Promise<{ port: number; sections: string }> {
  const port = await freePort();
  const sections = [
    `frontend fe_${name}`,
    `    bind 127.0.0.1:${port}`,
    `    default_backend ${name}`,
    `backend ${name}`,
    '    balance roundrobin',
    '    option httpchk',
    '    http-check send meth GET uri /health',
    '    http-check expect status 200',
    ...servers.map((s) => `    server ${s.name} 127.0.0.1:${s.port} check`),
  ].join('\n');
  return { port, sections };
}

/** Until every member's own checks see every server UP (they start DOWN until `rise` checks passed). */
export async function allUp(instances: readonly HaproxyInstance[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const states = await Promise.all(instances.map((m) => m.servers()));
    if (states.every((s) => [...s].every(([id, v]) => id.includes('/zdd-') || v.status.startsWith('UP')))) return;
    if (Date.now() > deadline) throw new Error(`servers not UP: ${JSON.stringify(states.map((s) => [...s]))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Servers a member sends traffic to (weight > 0) whose own check is not UP: must be none. */
export async function trafficOnUnready(instance: HaproxyInstance): Promise<string[]> {
  return [...(await instance.servers())]
    .filter(([id, s]) => !id.includes('/zdd-') && s.weight > 0 && !/^UP/.test(s.status))
    .map(([id, s]) => `${id} weight ${s.weight} ${s.status}`);
}

export async function until(what: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Load through each of these members (the users of one), stopped together. */
export function loadThrough(ports: readonly number[], retryResets = false): { stop(): Promise<LoadStats[]> } {
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
export function servedWeights(state: Parameters<typeof weights>[0]): Record<string, number> {
  return Object.fromEntries(Object.entries(weights(state)).filter(([id]) => !id.includes('/zdd-')));
}

export function expectNoFailures(stats: readonly LoadStats[]): void {
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
export function watchAgreement(instances: readonly HaproxyInstance[]) {
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
export function fleetRows(run: ActionRun): string[] {
  const section = run.summary.split('### Load balancers')[1]?.split('<details>')[0] ?? '';
  return section.split('\n').filter((l) => /^\| \d+ \|/.test(l));
}

export const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
