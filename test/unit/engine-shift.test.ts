/**
 * Blue-green and canary on the fake driver, from the source: steps and their checkpoints, rollback on a failed
 * window, cancel mid-step, a load balancer that refuses the way back, and native pool splits.
 */
import { describe, expect, it, vi } from 'vitest';
import { withEngine } from '../../src/engine/context.js';
import { runShift } from '../../src/engine/shift.js';
import { exactSelectors } from '../../src/model/selectors.js';
import type { Change } from '../../src/model/server.js';
import { FakeDriver, type Call, type TrafficScript } from '../helpers/fake-driver.js';
import { BLUE_GREEN, fakeSettings, planOn, POOLS, recordingHooks, weightsOf } from '../helpers/engine-kit.js';

// Counters are read every 10ms instead of every second: a window of 30ms is judged in a few reads.
vi.mock('../../src/plan/build.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/plan/build.js')>()),
  COUNTER_POLL_MS: 10,
}));

const IDS = BLUE_GREEN.map((s) => s.id);
const GREEN = ['app/green1', 'app/green2'];
const BLUE = ['app/blue1', 'app/blue2'];

const HEALTHY: TrafficScript = { perCall: 100 };
const GREEN_FAILS: TrafficScript = { perCall: 100, failureShare: (id) => (id.startsWith('app/green') ? 0.5 : 0) };

function canary(steps = '10% 50ms, 50% 50ms, 100%', extra: Record<string, string> = {}) {
  return fakeSettings({ strategy: 'canary', pools: POOLS, steps, ...extra });
}

function fake(traffic: TrafficScript, nativeSplit = false): FakeDriver {
  return new FakeDriver({ servers: BLUE_GREEN, traffic, nativeSplit });
}

/** An apply that moves traffic (weights only) and gives green some. */
function isStepApply(call: Call): boolean {
  const changes = call.args as Change[];
  return (
    call.method === 'apply' &&
    changes.every((c) => c.admin === undefined) &&
    changes.some((c) => GREEN.includes(c.server) && (c.weight ?? 0) > 0)
  );
}

/** An apply that puts all traffic back on blue (weights only, green at 0). */
function isRestoreApply(call: Call): boolean {
  const changes = call.args as Change[];
  return (
    call.method === 'apply' &&
    changes.every((c) => c.admin === undefined) &&
    changes.filter((c) => GREEN.includes(c.server)).every((c) => c.weight === 0)
  );
}

const STABLE: Change[] = [
  { server: 'app/blue1', weight: 100 },
  { server: 'app/blue2', weight: 100 },
  { server: 'app/green1', weight: 0 },
  { server: 'app/green2', weight: 0 },
];

describe('canary on the fake driver', () => {
  it('passes every step: all traffic ends on green, stages reported, checkpoints set then cleared', async () => {
    const settings = canary();
    const lb = fake(HEALTHY);
    const { plan, roles } = await planOn(settings, lb);
    const rec = recordingHooks();
    const started = lb.calls.length;
    const outcome = await withEngine(settings, lb, new AbortController().signal, rec.hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    );
    expect(outcome.result, outcome.message).toBe('succeeded');
    expect(outcome.message).toMatch(/^All traffic is on green, version v2; blue stays warm at weight 0/);
    expect(outcome.weight).toBe(100);
    expect(outcome.livePool).toBe('green');
    expect(weightsOf(lb, IDS)).toBe('app/blue1=0 app/blue2=0 app/green1=256 app/green2=256');
    expect(GREEN.map((id) => lb.state(id).admin)).toEqual(['ready', 'ready']);
    expect(rec.stages).toEqual([
      'Deploying v2 to idle pool green',
      'Step 1/3: 10% of traffic on green',
      'Step 2/3: 50% of traffic on green',
      'Step 3/3: 100% of traffic on green',
    ]);
    // [] while green is out of traffic, the stable weights while traffic moves, none once it is done.
    expect(rec.checkpoints).toEqual([[], STABLE, undefined]);
    expect(outcome.steps.map((s) => s.passed)).toEqual([true, true, true]);
    expect(outcome.steps.every((s) => s.windows.length >= 1)).toBe(true);
    expect(outcome.shares.map((s) => Math.round(s.share))).toEqual([0, 10, 50, 100, 100]);
    // One call per traffic change: three weight-only applies after the deploy's state changes.
    const applies = lb.callsOf('apply').filter((c) => c.n > started);
    expect(applies.filter(isStepApply)).toHaveLength(3);
    expect(applies.filter((c) => (c.args as Change[]).some((ch) => ch.admin))).toHaveLength(3);
    expect(outcome.newShare?.requests).toBeGreaterThan(0);
    expect(outcome.newShare?.total).toBeGreaterThan(outcome.newShare?.requests ?? 0);
  });

  it('blue-green is the one-step case: one apply moves all traffic', async () => {
    const settings = fakeSettings({ strategy: 'blue-green', pools: POOLS });
    const lb = fake(HEALTHY);
    const { plan, roles } = await planOn(settings, lb);
    const rec = recordingHooks();
    const outcome = await withEngine(settings, lb, new AbortController().signal, rec.hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    );
    expect(outcome.result, outcome.message).toBe('succeeded');
    expect(lb.callsOf('apply').filter(isStepApply)).toHaveLength(1);
    expect(weightsOf(lb, IDS)).toBe('app/blue1=0 app/blue2=0 app/green1=256 app/green2=256');
    expect(rec.stages).toEqual(['Deploying v2 to idle pool green', 'Step 1/1: 100% of traffic on green']);
  });

  it('rolls back on a failed window: stable weights re-applied in one call and read back', async () => {
    const settings = canary();
    const lb = fake(GREEN_FAILS);
    const { plan, roles } = await planOn(settings, lb);
    const rec = recordingHooks();
    const outcome = await withEngine(settings, lb, new AbortController().signal, rec.hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    );
    expect(outcome.result).toBe('rolled-back');
    expect(outcome.message).toMatch(
      /^Rolled back at 9\.\d% on green: green \(new\) against blue \(stable\): (Worse than stable|Hard ceiling): .*All traffic is back on blue\.$/,
    );
    // The verdict is a sentence of its own; inside the message it ends with one full stop, not two.
    expect(outcome.message).not.toMatch(/\.\./);
    expect(outcome.livePool).toBe('blue');
    expect(outcome.weight).toBe(0);
    expect(outcome.steps).toHaveLength(1);
    expect(outcome.steps[0]?.passed).toBe(false);
    const read = await lb.servers(
      IDS.map((id) => ({ text: id, backend: 'app', server: id.split('/')[1] ?? '' })).slice(0, 4),
    );
    expect(read.map((s) => `${s.id}=${s.weight}`)).toEqual([
      'app/blue1=100',
      'app/blue2=100',
      'app/green1=0',
      'app/green2=0',
    ]);
    expect(lb.callsOf('apply').filter(isRestoreApply)).toHaveLength(1);
    expect(rec.checkpoints).toEqual([[], STABLE, undefined]);
    expect(rec.stages).toHaveLength(2);
  });

  it('stops when cancelled mid-step: result failed, traffic back on blue, the message says so', async () => {
    const settings = canary('10% 5s, 100%');
    const lb = fake(HEALTHY);
    const { plan, roles } = await planOn(settings, lb);
    const rec = recordingHooks();
    const controller = new AbortController();
    let stepped = false;
    lb.tap((call) => {
      if (isStepApply(call)) stepped = true;
      // Cancel on the first counters read after the step's weights were applied: inside the step's window.
      else if (stepped && call.method === 'counters') controller.abort(new Error('the run was cancelled'));
    });
    const outcome = await withEngine(settings, lb, controller.signal, rec.hooks, (ctx) => runShift(ctx, plan, roles!));
    expect(outcome.result).toBe('failed');
    expect(outcome.message).toBe('Stopped at step 1: the run was cancelled. All traffic was moved back to blue.');
    expect(weightsOf(lb, IDS)).toBe('app/blue1=100 app/blue2=100 app/green1=0 app/green2=0');
    expect(rec.last()).toBeUndefined();
    expect(outcome.weight).toBe(0);
  });

  it('a step held for want of min-requests, then stopped: its row says held and why', async () => {
    const settings = canary('10% 50ms, 100%', { 'min-requests': '100000' });
    const lb = fake(HEALTHY);
    const { plan, roles } = await planOn(settings, lb);
    const controller = new AbortController();
    let stepped = 0;
    lb.tap((call) => {
      if (isStepApply(call)) stepped = Date.now();
      // Well past the step's 50 ms, held for traffic: the timeout comes.
      else if (stepped && call.method === 'counters' && Date.now() - stepped > 200)
        controller.abort(new Error('timeout 1s reached'));
    });
    const outcome = await withEngine(settings, lb, controller.signal, recordingHooks().hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    );
    expect(outcome.message).toMatch(
      /^Stopped at step 1: timeout 1s reached; the step was held: Too little traffic: \d+ of min-requests 100000 served this step/,
    );
    expect(outcome.steps.map((s) => [s.index, s.passed, s.cut])).toEqual([[1, false, true]]);
    expect(outcome.steps[0]?.held).toMatch(/^too little traffic: \d+ requests seen of min-requests 100000$/);
  });

  it('the timeout cutting a load balancer call short: the run says the timeout, not the call it cut', async () => {
    const settings = canary('10% 50ms, 100%', { 'min-requests': '100000' });
    const lb = fake(HEALTHY);
    const { plan, roles } = await planOn(settings, lb);
    const controller = new AbortController();
    let stepped = 0;
    // The counters call in flight when the timeout comes fails with the transport's own words, echoing the reason.
    let cut = false;
    lb.tap((call) => {
      if (isStepApply(call)) stepped = Date.now();
      else if (stepped && call.method === 'counters' && Date.now() - stepped > 200 && !cut) {
        cut = true;
        controller.abort(new Error('timeout 1s reached'));
        throw new Error('fake API failed after 1 attempt: gave up waiting for fake: timeout 1s reached');
      }
    });
    const outcome = await withEngine(settings, lb, controller.signal, recordingHooks().hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    );
    expect(cut).toBe(true);
    expect(outcome.message).toMatch(/^Stopped at step 1: timeout 1s reached; the step was held: Too little traffic/);
    expect(outcome.message).toMatch(/All traffic was moved back to blue\.$/);
  });

  it('cancelled while the idle pool is verified: the cancel propagates, nothing to restore, blue still serves', async () => {
    const settings = canary();
    const lb = fake(HEALTHY);
    const { plan, roles } = await planOn(settings, lb);
    const rec = recordingHooks();
    const controller = new AbortController();
    // Cancel while green's check is awaited (green in drain, its check not passed yet).
    lb.tap((call) => {
      const changes = call.args as Change[];
      if (call.method === 'apply' && changes.some((c) => c.admin === 'drain')) {
        GREEN.forEach((id) => lb.set(id, { check: 'fail' }));
        controller.abort(new Error('the run was cancelled'));
      }
    });
    const run = withEngine(settings, lb, controller.signal, rec.hooks, (ctx) => runShift(ctx, plan, roles!));
    await expect(run).rejects.toThrow('the run was cancelled');
    // The checkpoint says leave everything as it is: blue never lost its traffic.
    expect(rec.last()).toEqual([]);
    expect(weightsOf(lb, IDS)).toBe('app/blue1=100 app/blue2=100 app/green1=0 app/green2=0');
    expect(lb.callsOf('apply').some(isStepApply)).toBe(false);
  });

  // A cancel that lands while the idle pool is verified (no sleep follows a passed check) moves no traffic.
  it('a cancel while the idle pool is verified moves no traffic onto it', async () => {
    const settings = canary();
    const lb = fake(HEALTHY);
    const { plan, roles } = await planOn(settings, lb);
    const controller = new AbortController();
    lb.tap((call) => {
      const changes = call.args as Change[];
      if (call.method === 'apply' && changes.some((c) => c.admin === 'drain'))
        controller.abort(new Error('the run was cancelled'));
    });
    await withEngine(settings, lb, controller.signal, recordingHooks().hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    ).catch(() => undefined);
    expect(lb.callsOf('apply').filter(isStepApply)).toEqual([]);
  });

  it('when moving traffic back is refused: traffic left split, manual steps given, checkpoint keeps the stable weights', async () => {
    const settings = canary('10% 5s, 100%');
    const lb = fake(HEALTHY);
    const { plan, roles } = await planOn(settings, lb);
    const rec = recordingHooks();
    const controller = new AbortController();
    let stepped = false;
    lb.tap((call) => {
      if (isStepApply(call)) stepped = true;
      else if (stepped && call.method === 'counters') controller.abort(new Error('the run was cancelled'));
    });
    // Refused every time it is tried (the engine tries three times).
    lb.faults.when(isRestoreApply, 'refuse', Infinity);
    const outcome = await withEngine(settings, lb, controller.signal, rec.hooks, (ctx) => runShift(ctx, plan, roles!));
    expect(outcome.result).toBe('failed');
    expect(outcome.message).toMatch(
      /^Stopped at 9\.\d% on green: the run was cancelled\. Moving traffic back failed 3 times \(fake: call \d+ \(apply\) refused: connection refused\), so traffic is left split: app\/blue1=256 app\/blue2=256 app\/green1=28 app\/green2=28\. Restore it on the fake load balancer: set app\/blue1 weight 100; app\/blue2 weight 100; app\/green1 weight 0; app\/green2 weight 0$/,
    );
    // Nothing moved back: the fake still holds the step's weights.
    expect(weightsOf(lb, IDS)).toBe('app/blue1=256 app/blue2=256 app/green1=28 app/green2=28');
    // The post step restores from the checkpoint, which still holds the stable weights.
    expect(rec.last()).toEqual(STABLE);
    expect(
      lb
        .callsOf('apply')
        .filter(isRestoreApply)
        .map((c) => c.outcome),
    ).toEqual(['refused', 'refused', 'refused']);
  });

  it('a partial write on the way back counts as a failure: the checkpoint keeps the stable weights', async () => {
    const settings = canary('10% 5s, 100%');
    const lb = fake(HEALTHY);
    const { plan, roles } = await planOn(settings, lb);
    const rec = recordingHooks();
    const controller = new AbortController();
    let stepped = false;
    lb.tap((call) => {
      if (isStepApply(call)) stepped = true;
      else if (stepped && call.method === 'counters') controller.abort(new Error('the run was cancelled'));
    });
    lb.faults.when(isRestoreApply, 'partial', Infinity);
    const outcome = await withEngine(settings, lb, controller.signal, rec.hooks, (ctx) => runShift(ctx, plan, roles!));
    expect(outcome.result).toBe('failed');
    expect(outcome.message).toMatch(
      /the new pool has no weight, but the weights are not the stable ones: app\/blue1=256 app\/blue2=256 app\/green1=0 app\/green2=0/,
    );
    // Half of the changes took effect: weight comes off the new pool first (green at 0), blue keeps its weight.
    expect(weightsOf(lb, IDS)).toBe('app/blue1=256 app/blue2=256 app/green1=0 app/green2=0');
    expect(rec.last()).toEqual(STABLE);
  });

  // A refused rollback is tried again: the outcome still reports the rollback at the step whose window failed.
  it('a failed window whose first rollback apply is refused still reports the rollback at that step', async () => {
    const settings = canary('10% 50ms, 50% 50ms, 100%');
    const lb = fake(GREEN_FAILS);
    const { plan, roles } = await planOn(settings, lb);
    lb.faults.when(isRestoreApply, 'refuse');
    const rec = recordingHooks();
    const outcome = await withEngine(settings, lb, new AbortController().signal, rec.hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    );
    // Traffic did end on blue (the second try worked)...
    expect(weightsOf(lb, IDS)).toBe('app/blue1=100 app/blue2=100 app/green1=0 app/green2=0');
    // ...and the outcome says where and why.
    expect(outcome.message).not.toMatch(/step 2/);
    expect(outcome.message).toMatch(/^Rolled back at 9\.\d% on green: .*(Worse than stable|Hard ceiling)/);
    expect(outcome.result).toBe('rolled-back');
  });
});

describe('the idle pool must be fit before any step gives it weight', () => {
  /** The deploy's last apply: the verified idle servers ready at weight 0. */
  const isReadyAtZero = (call: Call) =>
    call.method === 'apply' &&
    (call.args as Change[]).some((c) => GREEN.includes(c.server) && c.admin === 'ready' && c.weight === 0);

  it('an idle server whose own check fails after the deploy gets no weight: refused, all traffic stays on blue', async () => {
    const settings = canary();
    const lb = fake(HEALTHY);
    const { plan, roles } = await planOn(settings, lb);
    const rec = recordingHooks();
    // green1 passed its check during the deploy and fails it right after (the app died once verified).
    lb.tap((call) => {
      if (isReadyAtZero(call)) lb.set('app/green1', { check: 'fail' });
    });
    const outcome = await withEngine(settings, lb, new AbortController().signal, rec.hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    );
    expect(outcome.result).toBe('rolled-back');
    expect(outcome.message).toBe(
      "Rolled back at 0% on green: refusing to move traffic onto green: app/green1 fails the load balancer's check (DOWN L7STS/503). All traffic is back on blue.",
    );
    // No call ever gave green weight, and the fake holds the stable weights.
    expect(lb.callsOf('apply').filter(isStepApply)).toEqual([]);
    expect(weightsOf(lb, IDS)).toBe('app/blue1=100 app/blue2=100 app/green1=0 app/green2=0');
    expect(outcome.steps.map((s) => s.passed)).toEqual([false]);
    expect(rec.last()).toBeUndefined();
  });

  it('resumed after an approval pause (as promote does): an idle server failing its check by then gets no more weight', async () => {
    const settings = canary('10% approval, 100%', { environment: 'production' });
    const lb = fake(HEALTHY);
    const { plan, roles } = await planOn(settings, lb);
    const paused = await withEngine(settings, lb, new AbortController().signal, recordingHooks().hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    );
    expect(paused.result, paused.message).toBe('paused');
    const atPause = weightsOf(lb, IDS);
    // During the pause green1's app dies; the next job resumes from step 2 with the pools as they are now.
    lb.set('app/green1', { check: 'fail' });
    const now = await lb.servers(exactSelectors(IDS));
    const resumedRoles = {
      live: { name: 'blue', servers: now.filter((s) => BLUE.includes(s.id)) },
      idle: { name: 'green', servers: now.filter((s) => GREEN.includes(s.id)) },
    };
    const before = lb.calls.length;
    const outcome = await withEngine(settings, lb, new AbortController().signal, recordingHooks().hooks, (ctx) =>
      runShift(ctx, plan, resumedRoles, { fromStep: 1, stable: STABLE }),
    );
    expect(atPause).toBe('app/blue1=256 app/blue2=256 app/green1=28 app/green2=28');
    expect(outcome.result).toBe('rolled-back');
    expect(outcome.message).toMatch(
      /^Rolled back at 9\.\d% on green: refusing to move traffic onto green: app\/green1 fails the load balancer's check \(DOWN L7STS\/503\)\. All traffic is back on blue\.$/,
    );
    expect(lb.callsOf('apply').filter((c) => c.n > before && isStepApply(c))).toEqual([]);
    expect(weightsOf(lb, IDS)).toBe('app/blue1=100 app/blue2=100 app/green1=0 app/green2=0');
  });

  it('an idle server put in maint between two steps gets no more weight: the rollout rolls back at the step it held', async () => {
    const settings = canary('10% 50ms, 50% 50ms, 100%');
    const lb = fake(HEALTHY);
    const { plan, roles } = await planOn(settings, lb);
    // An operator takes green2 out of traffic while step 1 is watched.
    let steps = 0;
    lb.tap((call) => {
      if (isStepApply(call) && ++steps === 1) lb.set('app/green2', { admin: 'maint' });
    });
    const outcome = await withEngine(settings, lb, new AbortController().signal, recordingHooks().hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    );
    expect(outcome.result).toBe('rolled-back');
    expect(outcome.message).toMatch(
      /^Rolled back at 9\.\d% on green: refusing to move traffic onto green: app\/green2 is maint\. All traffic is back on blue\.$/,
    );
    // Step 1 moved traffic; step 2 never did.
    expect(lb.callsOf('apply').filter(isStepApply)).toHaveLength(1);
    expect(weightsOf(lb, IDS)).toBe('app/blue1=100 app/blue2=100 app/green1=0 app/green2=0');
  });
});

describe('native split on the fake driver', () => {
  it('moves traffic with split() at the exact shares, never with per-server weights', async () => {
    const settings = canary();
    const lb = fake(HEALTHY, true);
    const { plan, roles } = await planOn(settings, lb);
    const rec = recordingHooks();
    const started = lb.calls.length;
    const outcome = await withEngine(settings, lb, new AbortController().signal, rec.hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    );
    expect(outcome.result, outcome.message).toBe('succeeded');
    expect(
      lb.callsOf('split').map((c) => (c.args as { pool: string; percent: number }[]).map((s) => s.percent)),
    ).toEqual([
      [90, 10],
      [50, 50],
      [0, 100],
    ]);
    expect(lb.poolShares).toEqual([
      { pool: 'blue', servers: BLUE, percent: 0, role: 'stable' },
      { pool: 'green', servers: GREEN, percent: 100, role: 'new' },
    ]);
    // Only the deploy's state changes went through apply; no apply set a weight above 0.
    const applies = lb.callsOf('apply').filter((c) => c.n > started);
    expect(applies.every((c) => (c.args as Change[]).every((ch) => ch.admin !== undefined))).toBe(true);
    expect(applies.some(isStepApply)).toBe(false);
    expect(rec.stages[1]).toBe('Step 1/3: 10% of traffic on green');
    expect(outcome.shares.map((s) => s.share)).toEqual([0, 10, 50, 100, 100]);
  });

  it('rolls back with one split that gives blue everything', async () => {
    const settings = canary();
    const lb = fake(GREEN_FAILS, true);
    const { plan, roles } = await planOn(settings, lb);
    const outcome = await withEngine(settings, lb, new AbortController().signal, recordingHooks().hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    );
    expect(outcome.result).toBe('rolled-back');
    expect(outcome.message).toMatch(/^Rolled back at 10% on green: /);
    expect(lb.splits.map((s) => s.map((p) => `${p.pool}=${p.percent}`).join(' '))).toEqual([
      'blue=90 green=10',
      'blue=100 green=0',
    ]);
    expect(lb.callsOf('apply').some(isStepApply)).toBe(false);
  });
});
