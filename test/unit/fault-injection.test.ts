/**
 * Fault injection (issue 14): full rolling, blue-green and canary rollouts (and a promote) on the fake driver, with
 * each load balancer call in turn refused, applied in part (every split of a batched write), or lost after it was
 * applied, and the process killed before and after each call (from there on nothing answers; the real post step
 * then runs on the checkpoint in force at the kill). Idle servers' checks fail or flap, a deployed version fails its
 * check, an operator puts a server in maint during an approval pause. The invariants, after every run:
 * - no write ever puts weight on a server that is not ready or fails its check (checked on every write as sent);
 * - no server in traffic fails its check, and every backend keeps a server in traffic;
 * - a message that claims where traffic is matches the fake's state;
 * - after the post step, traffic is stable: all of it on one pool, or (rolling) every server the run left pending
 *   back in traffic if it passes its check and out if not, and what the post step says it restored is what it holds.
 */
import { describe, expect, it, vi } from 'vitest';
import { checkpointOf } from '../../src/actions/github.js';
import { withEngine } from '../../src/engine/context.js';
import { runRolling } from '../../src/engine/rolling.js';
import { runShift, type ShiftOptions } from '../../src/engine/shift.js';
import { matchesSelector, type Selector } from '../../src/model/selectors.js';
import type { Server } from '../../src/model/server.js';
import { assignPools, type PoolRoles } from '../../src/plan/pools.js';
import { restoreCheckpoint } from '../../src/post.js';
import type { Settings } from '../../src/settings.js';
import type { Checkpoint } from '../../src/state.js';
import { FakeDriver, type Fault, type FakeServerSpec } from '../helpers/fake-driver.js';
import { BLUE_GREEN, fakeSettings, planOn, POOLS, recordingHooks, type Recorded } from '../helpers/engine-kit.js';

vi.mock('../../src/plan/build.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/plan/build.js')>()),
  COUNTER_POLL_MS: 5,
}));

// Thousands of runs: their log groups would only slow the suite down.
vi.mock('@actions/core', async (importOriginal) => ({
  ...(await importOriginal<typeof import('@actions/core')>()),
  group: async <T>(_name: string, fn: () => Promise<T>): Promise<T> => fn(),
  info: () => undefined,
  warning: () => undefined,
  notice: () => undefined,
  debug: () => undefined,
  setFailed: () => undefined,
}));

const ROLLING: readonly FakeServerSpec[] = [
  { id: 'app/web1', weight: 100 },
  { id: 'app/web2', weight: 100 },
  { id: 'app/web3', weight: 100 },
];

/**
 * How servers' checks behave, decided on each read that includes the server (so the engine sees every change it
 * could act on; a read whose answer is lost changes nothing).
 */
interface Script {
  /** Once a read shows it in maint (deployed), its check fails from then on: a bad version. */
  readonly badOnceDeployed?: readonly string[];
  /** Once `when` holds at a read, the check fails for `reads` reads of the server, then passes again. */
  readonly flaps?: readonly {
    readonly server: string;
    /** `deployed`: a read has shown it in maint (the new version went on it). */
    readonly when: (s: { weight: number; admin: string; deployed: boolean }) => boolean;
    readonly reads: number;
  }[];
}

class ScriptedFake extends FakeDriver {
  private readonly deployed = new Set<string>();
  private readonly flapLeft = new Map<number, number>();

  private readonly ids: readonly string[];

  constructor(
    servers: readonly FakeServerSpec[],
    private readonly script: Script,
  ) {
    super({ servers, traffic: { perCall: 50 } });
    this.ids = servers.map((s) => s.id);
  }

  override async servers(selectors: readonly Selector[]): Promise<Server[]> {
    const undo: (() => void)[] = [];
    const read = (id: string) => {
      const [backend = '', name = ''] = id.split('/');
      return selectors.some((sel) => matchesSelector(sel, backend, name));
    };
    const setCheck = (id: string, check: 'pass' | 'fail') => {
      const before = this.state(id).check;
      this.set(id, { check });
      undo.push(() => this.set(id, { check: before }));
    };
    for (const id of this.ids.filter(read)) {
      if (this.state(id).admin === 'maint' && !this.deployed.has(id)) {
        this.deployed.add(id);
        undo.push(() => this.deployed.delete(id));
      }
    }
    for (const id of this.script.badOnceDeployed ?? []) {
      if (read(id) && this.deployed.has(id) && this.state(id).admin !== 'maint') setCheck(id, 'fail');
    }
    for (const [i, flap] of (this.script.flaps ?? []).entries()) {
      if (!read(flap.server)) continue;
      const was = this.flapLeft.get(i);
      let left = was;
      const state = { ...this.state(flap.server), deployed: this.deployed.has(flap.server) };
      if (left === undefined && flap.when(state)) left = flap.reads;
      if (left === undefined || left < 0) continue;
      if (left > 0) setCheck(flap.server, 'fail');
      else setCheck(flap.server, 'pass');
      this.flapLeft.set(i, left - 1);
      undo.push(() => (was === undefined ? this.flapLeft.delete(i) : this.flapLeft.set(i, was)));
    }
    try {
      return await super.servers(selectors);
    } catch (error) {
      undo.reverse().forEach((u) => u());
      throw error;
    }
  }
}

interface Scenario {
  readonly name: string;
  readonly servers: readonly FakeServerSpec[];
  readonly inputs: Record<string, string>;
  readonly pools: boolean;
  /** What the run without faults ends with. */
  readonly clean: RegExp;
  readonly script?: Script;
  /**
   * Run first without faults (a canary paused for approval, then an operator's change); returns the options of the
   * injected run (a promote from the paused step).
   */
  readonly before?: (lb: ScriptedFake, run: (options?: ShiftOptions) => Promise<string>) => Promise<ShiftOptions>;
}

const CANARY_STEPS = '10% 30ms, 50% 30ms, 100%';

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'rolling',
    servers: ROLLING,
    inputs: { strategy: 'rolling', targets: 'app/*' },
    pools: false,
    clean: /^All 3 servers run version v2 and are back in traffic/,
  },
  {
    name: 'rolling, web2 flaps while verified, web3 gets a version that fails its check',
    servers: ROLLING,
    inputs: { strategy: 'rolling', targets: 'app/*' },
    pools: false,
    clean: /^Rolling deploy stopped: app\/web3: the load balancer's own check did not pass/,
    script: {
      flaps: [{ server: 'app/web2', when: (s) => s.deployed && s.admin === 'drain', reads: 2 }],
      badOnceDeployed: ['app/web3'],
    },
  },
  {
    name: 'blue-green',
    servers: BLUE_GREEN,
    inputs: { strategy: 'blue-green', pools: POOLS },
    pools: true,
    clean: /^All traffic is on green/,
  },
  {
    name: 'blue-green, idle green2 fails its check',
    servers: BLUE_GREEN.map((s) => (s.id === 'app/green2' ? { ...s, check: 'fail' as const } : s)),
    inputs: { strategy: 'blue-green', pools: POOLS },
    pools: true,
    clean: /^The new version failed its checks on pool green before taking any traffic: app\/green2/,
  },
  {
    name: 'canary',
    servers: BLUE_GREEN,
    inputs: { strategy: 'canary', pools: POOLS, steps: CANARY_STEPS },
    pools: true,
    clean: /^All traffic is on green/,
  },
  {
    name: 'canary, idle green1 flaps while verified and again once it has traffic',
    servers: BLUE_GREEN,
    inputs: { strategy: 'canary', pools: POOLS, steps: CANARY_STEPS },
    pools: true,
    clean:
      /^Rolled back at 9\.9% on green: refusing to move traffic onto green: app\/green1 fails the load balancer's check/,
    script: {
      flaps: [
        { server: 'app/green1', when: (s) => s.deployed && s.admin === 'drain', reads: 1 },
        { server: 'app/green1', when: (s) => s.weight > 0, reads: 2 },
      ],
    },
  },
  {
    name: 'promote after green1 went into maint during the approval pause',
    servers: BLUE_GREEN,
    inputs: { strategy: 'canary', pools: POOLS, steps: '10% approval, 50% 30ms, 100%', environment: 'production' },
    pools: true,
    clean:
      /^Rolled back at 9\.9% on green: refusing to move traffic onto green: app\/green1 is maint\. All traffic is back on blue/,
    before: async (lb, run) => {
      const paused = await run();
      if (!paused.startsWith('Paused at 9.9%')) throw new Error(`setup: not paused: ${paused}`);
      lb.set('app/green1', { admin: 'maint' });
      return {
        fromStep: 1,
        stable: BLUE_GREEN.map((s) => ({ server: s.id, weight: s.id.includes('blue') ? s.weight : 0 })),
      };
    },
  },
];

interface Run {
  readonly lb: ScriptedFake;
  readonly settings: Settings;
  readonly message: string;
  /** The checkpoint the post step gets: in force at the kill, else the last one the run left. */
  readonly checkpoint: Checkpoint | undefined;
  /** Writes that put weight on a server not ready or failing its check, as sent. */
  readonly unfitWrites: readonly string[];
  /** The fake as the injected run found it (a paused rollout, for a promote). */
  readonly start: string;
}

function checkpointNow(settings: Settings, rec: Recorded): Checkpoint | undefined {
  const last = rec.calls.at(-1);
  return last?.restore && checkpointOf(settings, last.restore, last.pending, last.failed);
}

/** Every write, as sent: weight moved onto (or a server put back in traffic with) an unfit server is a violation. */
function watchWrites(lb: FakeDriver, unfit: string[]): void {
  lb.tap((call) => {
    if (call.method !== 'apply') return;
    for (const c of call.args as { server: string; weight?: number; admin?: string }[]) {
      const s = lb.state(c.server);
      const weight = c.weight ?? s.weight;
      const admin = c.admin ?? s.admin;
      const why = admin !== 'ready' ? admin : s.check === 'fail' ? 'failing its check' : '';
      if (!why || weight === 0) continue;
      const raised = weight > s.weight;
      const intoTraffic = admin === 'ready' && s.admin !== 'ready';
      if (raised || intoTraffic)
        unfit.push(
          `call ${call.n} sets ${c.server} weight ${weight} ${admin} while it is ${s.admin}${s.check === 'fail' ? ', failing its check' : ''}`,
        );
    }
  });
}

/** The pools as the load balancer holds them now, in the roles they had (what a promote reads). */
async function rolesNow(settings: Settings, lb: FakeDriver, roles: PoolRoles): Promise<PoolRoles> {
  const { pools } = settings;
  if (!pools) throw new Error('setup: no pools');
  const states = assignPools(pools, await lb.servers(pools.flatMap((p) => p.selectors)));
  if ('error' in states) throw new Error(states.error);
  const named = (name: string) => states.find((p) => p.name === name) ?? { name, servers: [] };
  return { live: named(roles.live.name), idle: named(roles.idle.name) };
}

async function rollout(
  scenario: Scenario,
  inject?: (lb: FakeDriver, firstEngineCall: number, onKill: () => void) => void,
): Promise<Run> {
  const settings = fakeSettings({ ...scenario.inputs, 'analysis-interval': '1s' }, {});
  const short = { ...settings, analysis: { ...settings.analysis, intervalMs: 30, minRequests: 5 } };
  const lb = new ScriptedFake(scenario.servers, scenario.script ?? {});
  const { servers, plan, roles } = await planOn(short, lb);
  const engine = (rec: Recorded, options?: ShiftOptions): Promise<string> =>
    withEngine(short, lb, new AbortController().signal, rec.hooks, async (ctx) => {
      if (!roles) return (await runRolling(ctx, plan, servers)).message;
      // A promote reads the pools again (as rolesOf does); the plan and stable weights are the paused rollout's.
      const current = options ? await rolesNow(short, lb, roles) : roles;
      return (await runShift(ctx, plan, current, options)).message;
    }).catch((error: unknown) => (error as Error).message);
  const options = scenario.before ? await scenario.before(lb, (o) => engine(recordingHooks(), o)) : undefined;
  const unfitWrites: string[] = [];
  const start = lb.snapshot();
  watchWrites(lb, unfitWrites);
  const rec = recordingHooks();
  let atKill: Checkpoint | undefined;
  let kill: (() => void) | undefined;
  const killed = new Promise<'killed'>((resolve) => {
    kill = () => {
      atKill = checkpointNow(short, rec);
      resolve('killed');
    };
  });
  inject?.(lb, lb.calls.length + 1, () => kill?.());
  const message = await Promise.race([engine(rec, options), killed]);
  return {
    lb,
    settings: short,
    message: message === 'killed' ? '' : message,
    checkpoint: message === 'killed' ? atKill : checkpointNow(short, rec),
    unfitWrites,
    start,
  };
}

/** The invariants on the fake's state; returns what is broken, empty when all hold. */
function broken(lb: FakeDriver, scenario: Scenario): string[] {
  const ids = scenario.servers.map((s) => s.id);
  const problems: string[] = [];
  for (const id of ids) {
    const s = lb.state(id);
    if (s.weight > 0 && s.admin === 'ready' && s.check === 'fail')
      problems.push(`${id} has weight but fails its check`);
  }
  const serving = ids.filter(
    (id) => lb.state(id).weight > 0 && lb.state(id).admin === 'ready' && lb.state(id).check !== 'fail',
  );
  if (serving.length === 0) problems.push('no server in traffic');
  return problems;
}

const inTraffic = (lb: FakeDriver, id: string) =>
  lb.state(id).weight > 0 && lb.state(id).admin === 'ready' && lb.state(id).check !== 'fail';

/** What a message claims of traffic, checked against the fake. */
function untrue(run: Run, scenario: Scenario): string[] {
  const { lb, message } = run;
  const problems: string[] = [];
  const ids = (pool: string) => scenario.servers.map((s) => s.id).filter((id) => id.startsWith(`app/${pool}`));
  const split = /traffic (?:is|may be) left split: ([^.]*?)[.,] (?:Restore|as read)/.exec(message)?.[1];
  if (split) {
    for (const [, id, w] of split.matchAll(/(\S+)=(\d+)/g)) {
      if (id && lb.state(id).weight !== Number(w)) problems.push(`says ${id}=${w}, fake has ${lb.state(id).weight}`);
    }
  }
  if (
    /All traffic (is back|was moved back) on blue|All traffic was moved back to blue|Pool blue still serves all traffic/.test(
      message,
    )
  ) {
    const green = ids('green').filter((id) => lb.state(id).weight > 0 && lb.state(id).admin === 'ready');
    if (green.length) problems.push(`says all traffic is on blue, but ${green.join(', ')} has weight`);
  }
  if (/^All traffic is on green/.test(message)) {
    const blue = ids('blue').filter((id) => lb.state(id).weight > 0);
    if (blue.length) problems.push(`says all traffic is on green, but ${blue.join(', ')} has weight`);
  }
  if (/are back in traffic\.$/.test(message)) {
    const out = scenario.servers.map((s) => s.id).filter((id) => !inTraffic(lb, id));
    if (out.length) problems.push(`says every server is back in traffic, but ${out.join(', ')} is not`);
  }
  const out = /Out of traffic now \(read back\): ([^.]*)\./.exec(message)?.[1];
  if (out) {
    for (const [, id, admin] of out.matchAll(/(\S+) \((\w+),/g)) {
      if (id && lb.state(id).admin !== admin) problems.push(`says ${id} is ${admin}, fake has ${lb.state(id).admin}`);
    }
  }
  return problems;
}

/** The real post step (what post.ts runs) on the checkpoint, with the load balancer answering again. */
async function postStep(run: Run): Promise<string[]> {
  run.lb.faults.clear();
  if (!run.checkpoint) return [];
  const text = await restoreCheckpoint(run.lb, run.checkpoint, run.settings);
  const problems: string[] = [];
  if (/restoring traffic failed/.test(text)) problems.push(`the post step failed: ${text}`);
  const pending = new Set((run.checkpoint.pending ?? []).map((p) => p.server));
  const read = /restored, read back: (.*?)\.(?: |$)/.exec(text)?.[1];
  for (const [, id, w, admin] of read?.matchAll(/(\S+) weight (\d+) (\w+)/g) ?? []) {
    const s = id && !pending.has(id) ? run.lb.state(id) : undefined;
    if (s && (s.weight !== Number(w) || s.admin !== admin))
      problems.push(`post step says ${id} weight ${w} ${admin}, fake has ${s.weight} ${s.admin}`);
  }
  // Pending servers that pass their check are back as they were; those failing it stay out of traffic.
  for (const p of run.checkpoint.pending ?? []) {
    const s = run.lb.state(p.server);
    if (s.check !== 'fail' && (s.admin !== p.admin || s.weight !== p.weight))
      problems.push(`${p.server} passes its check but was left ${s.admin} weight ${s.weight}`);
    if (s.check === 'fail' && s.admin !== 'maint') problems.push(`${p.server} fails its check but was left ${s.admin}`);
  }
  return problems;
}

/**
 * After the post step, pools: all traffic on one pool, or (a promote that changed nothing) still paused as it was;
 * rolling: every server in traffic is healthy.
 */
function unstable(run: Run, scenario: Scenario): string[] {
  const { lb } = run;
  if (!scenario.pools) return broken(lb, scenario);
  const on = (pool: string) =>
    scenario.servers.filter((s) => s.id.startsWith(`app/${pool}`) && lb.state(s.id).weight > 0).length;
  const problems = broken(lb, scenario);
  if (on('blue') > 0 && on('green') > 0 && lb.snapshot() !== run.start)
    problems.push(`traffic split between blue and green: ${lb.snapshot()}`);
  return problems;
}

/** One injection point: a fault on the engine's n-th call, or the process killed just before or after it. */
type Point = { readonly n: number } & ({ readonly fault: Fault } | { readonly kill: 'before' | 'after' });

function describePoint(point: Point): string {
  if ('kill' in point) return `killed ${point.kill} call ${point.n}`;
  const { fault } = point;
  return `call ${point.n} ${typeof fault === 'object' ? JSON.stringify(fault) : fault}`;
}

/** Every point for a clean run's calls: each refused, lost after it took, every split of a batched write, a kill. */
function pointsOf(clean: FakeDriver, first: number): Point[] {
  return clean.calls
    .filter((c) => c.n >= first)
    .flatMap((c): Point[] => {
      const n = c.n - first + 1;
      const size = c.method === 'apply' ? (c.args as unknown[]).length : 0;
      const parts = Array.from({ length: Math.max(0, size - 1) }, (_, k) => ({ n, fault: { partial: k + 1 } }));
      return [
        { n, fault: 'refuse' },
        { n, fault: 'drop-after' },
        ...parts,
        { n, kill: 'before' },
        { n, kill: 'after' },
      ];
    });
}

async function tryPoint(scenario: Scenario, point: Point): Promise<string | undefined> {
  const run = await rollout(scenario, (lb, first, onKill) => {
    const at = first + point.n - 1;
    if ('fault' in point) {
      lb.faults.at(at, point.fault);
      return;
    }
    // Killed: the checkpoint in force is what the post step gets; nothing from there on answers.
    lb.tap((call) => {
      if (call.n === at) onKill();
    });
    lb.faults.when((c) => c.n === at, point.kill === 'before' ? 'hang' : 'hang-after');
    lb.faults.when((c) => c.n > at, 'hang', Infinity);
  });
  const why = 'fault' in point ? [...broken(run.lb, scenario), ...untrue(run, scenario)] : [];
  why.push(...(await postStep(run)).map((p) => `post step: ${p}`));
  why.push(...unstable(run, scenario).map((p) => `after the post step: ${p}`));
  why.push(...run.unfitWrites);
  return why.length ? `${describePoint(point)}: ${why.join('; ')} (message: ${run.message})` : undefined;
}

describe('fault injection on every load balancer call', () => {
  const tried: Record<string, number> = {};

  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: each call refused, applied in part, lost after applying, killed before and after`, async () => {
      let first = 1;
      const clean = await rollout(scenario, (_lb, start) => {
        first = start;
      });
      const points = pointsOf(clean.lb, first);
      const failures: string[] = [];
      const cleanWhy = [...broken(clean.lb, scenario), ...clean.unfitWrites, ...untrue(clean, scenario)];
      if (cleanWhy.length) failures.push(`without a fault: ${cleanWhy.join('; ')} (message: ${clean.message})`);
      // Each run has its own fake and clock: several run at once, the waits overlapping.
      for (let i = 0; i < points.length; i += 24) {
        const found = await Promise.all(points.slice(i, i + 24).map((p) => tryPoint(scenario, p)));
        failures.push(...found.filter((f): f is string => f !== undefined));
      }
      console.log(
        `${scenario.name}: ${points.length} injection points over ${clean.lb.calls.length - first + 1} calls, ${failures.length} broke an invariant${failures.length ? '' : ' (all held)'}`,
      );
      expect(failures.join('\n')).toBe('');
      expect(clean.message).toMatch(scenario.clean);
      tried[scenario.name] = points.length;
    }, 120_000);
  }

  it('reports how many injection points were tried, and that all held', () => {
    const total = Object.values(tried).reduce((a, b) => a + b, 0);
    // A scenario counts here only once every one of its points held.
    expect(Object.keys(tried)).toHaveLength(SCENARIOS.length);
    console.log(`fault injection: ${total} injection points tried over ${SCENARIOS.length} scenarios, all held`);
  });
});
