/**
 * Fault injection (issue 14): a full rolling, blue-green and canary rollout on the fake driver, with each load
 * balancer call in turn refused, applied in part, or lost after it was applied, and the process "killed" at each call
 * (every call from there on fails, then the post step applies the last checkpoint). After each run the invariants:
 * - no weight on a server that is not ready or not healthy, and every backend keeps a server in traffic;
 * - a message that claims where traffic is matches the fake's state;
 * - after the post step, traffic is in a stable state (all of it on one pool's ready servers, for pools).
 */
import { describe, expect, it, vi } from 'vitest';
import { withEngine } from '../../src/engine/context.js';
import { runRolling } from '../../src/engine/rolling.js';
import { runShift } from '../../src/engine/shift.js';
import type { Change } from '../../src/model/server.js';
import { FakeDriver, type Fault, type FakeServerSpec } from '../helpers/fake-driver.js';
import { BLUE_GREEN, fakeSettings, planOn, POOLS, recordingHooks } from '../helpers/engine-kit.js';

vi.mock('../../src/plan/build.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/plan/build.js')>()),
  COUNTER_POLL_MS: 5,
}));

const ROLLING: readonly FakeServerSpec[] = [
  { id: 'app/web1', weight: 100 },
  { id: 'app/web2', weight: 100 },
  { id: 'app/web3', weight: 100 },
];

interface Scenario {
  readonly name: string;
  readonly servers: readonly FakeServerSpec[];
  readonly inputs: Record<string, string>;
  readonly pools: boolean;
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'rolling', servers: ROLLING, inputs: { strategy: 'rolling', targets: 'app/*' }, pools: false },
  { name: 'blue-green', servers: BLUE_GREEN, inputs: { strategy: 'blue-green', pools: POOLS }, pools: true },
  {
    name: 'canary',
    servers: BLUE_GREEN,
    inputs: { strategy: 'canary', pools: POOLS, steps: '10% 30ms, 50% 30ms, 100%' },
    pools: true,
  },
];

interface Run {
  readonly lb: FakeDriver;
  readonly message: string;
  readonly checkpoint: readonly Change[] | undefined;
}

async function rollout(scenario: Scenario, inject?: (lb: FakeDriver, firstEngineCall: number) => void): Promise<Run> {
  const settings = fakeSettings({ ...scenario.inputs, 'analysis-interval': '1s' }, {});
  const short = { ...settings, analysis: { ...settings.analysis, intervalMs: 30, minRequests: 5 } };
  const lb = new FakeDriver({ servers: scenario.servers, traffic: { perCall: 50 } });
  const { servers, plan, roles } = await planOn(short, lb);
  inject?.(lb, lb.calls.length + 1);
  const rec = recordingHooks();
  let message: string;
  try {
    const outcome = await withEngine(
      short,
      lb,
      new AbortController().signal,
      rec.hooks,
      (ctx): Promise<{ message: string }> => (roles ? runShift(ctx, plan, roles) : runRolling(ctx, plan, servers)),
    );
    message = outcome.message;
  } catch (error) {
    message = (error as Error).message;
  }
  return { lb, message, checkpoint: rec.last() };
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
  const serving = ids.filter((id) => lb.state(id).weight > 0 && lb.state(id).admin === 'ready');
  if (serving.length === 0) problems.push('no server in traffic');
  return problems;
}

/** What a message claims of traffic, checked against the fake. */
function untrue(run: Run): string[] {
  const { lb, message } = run;
  const problems: string[] = [];
  const split = /traffic (?:is|may be) left split: ([^.]*?)[.,] (?:Restore|as read)/.exec(message)?.[1];
  if (split) {
    for (const [, id, w] of split.matchAll(/(\S+)=(\d+)/g)) {
      if (id && lb.state(id).weight !== Number(w)) problems.push(`says ${id}=${w}, fake has ${lb.state(id).weight}`);
    }
  }
  if (/All traffic (is back|was moved back) on blue|All traffic was moved back to blue/.test(message)) {
    const green = ['app/green1', 'app/green2'].filter((id) => lb.state(id).weight > 0);
    if (green.length) problems.push(`says all traffic is on blue, but ${green.join(', ')} has weight`);
  }
  if (/^All traffic is on green/.test(message)) {
    const blue = ['app/blue1', 'app/blue2'].filter((id) => lb.state(id).weight > 0);
    if (blue.length) problems.push(`says all traffic is on green, but ${blue.join(', ')} has weight`);
  }
  const out = /Out of traffic now \(read back\): ([^.]*)\./.exec(message)?.[1];
  if (out) {
    for (const [, id, admin] of out.matchAll(/(\S+) \((\w+),/g)) {
      if (id && lb.state(id).admin !== admin) problems.push(`says ${id} is ${admin}, fake has ${lb.state(id).admin}`);
    }
  }
  return problems;
}

/** The post step: applies the last checkpoint with the load balancer answering again. */
async function postStep(run: Run): Promise<void> {
  run.lb.faults.clear();
  if (run.checkpoint?.length) await run.lb.apply(run.checkpoint);
}

/** After the post step, pools: all traffic on one pool; rolling: every server in traffic is healthy. */
function unstable(lb: FakeDriver, scenario: Scenario): string[] {
  if (!scenario.pools) return broken(lb, scenario);
  const on = (pool: string) =>
    scenario.servers.filter((s) => s.id.startsWith(`app/${pool}`) && lb.state(s.id).weight > 0).length;
  const problems = broken(lb, scenario);
  if (on('blue') > 0 && on('green') > 0) problems.push(`traffic split between blue and green: ${lb.snapshot()}`);
  return problems;
}

describe('fault injection on every load balancer call', () => {
  const tried: Record<string, number> = {};

  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: each call refused, applied in part, or lost after applying, and a kill at each call`, async () => {
      const clean = await rollout(scenario);
      const calls = clean.lb.calls.length;
      expect(broken(clean.lb, scenario)).toEqual([]);
      const faults: Fault[] = ['refuse', 'partial', 'drop-after'];
      const failures: string[] = [];
      let points = 0;
      /** One injection point: a fault at call n, or (fault undefined) a kill at call n. */
      const inject = async (n: number, fault: Fault | undefined): Promise<void> => {
        points++;
        if (!fault) {
          // Killed at call n: nothing from there on reaches the load balancer; the post step then restores.
          const killed = await rollout(scenario, (lb, first) =>
            lb.faults.when((c) => c.n >= first + n - 1, 'refuse', Infinity),
          );
          await postStep(killed);
          const after = unstable(killed.lb, scenario);
          if (after.length) failures.push(`killed at call ${n}: after the post step: ${after.join('; ')}`);
          return;
        }
        const run = await rollout(scenario, (lb, first) => lb.faults.at(first + n - 1, fault));
        const why = [...broken(run.lb, scenario), ...untrue(run)];
        await postStep(run);
        why.push(...unstable(run.lb, scenario).map((p) => `after the post step: ${p}`));
        if (why.length) failures.push(`call ${n} ${fault}: ${why.join('; ')} (message: ${run.message})`);
      };
      // Each run has its own fake and clock: several run at once, the waits overlapping.
      const all = Array.from({ length: calls }, (_, i) => i + 1).flatMap((n) =>
        [...faults, undefined].map((fault) => () => inject(n, fault)),
      );
      for (let i = 0; i < all.length; i += 16) await Promise.all(all.slice(i, i + 16).map((f) => f()));
      tried[scenario.name] = points;
      console.log(
        `${scenario.name}: ${points} injection points over ${calls} calls, ${failures.length} broke an invariant`,
      );
      expect(failures.join('\n')).toBe('');
    }, 120_000);
  }
});
