import { describe, expect, it } from 'vitest';
import {
  createJudge,
  describeVerdict,
  observe,
  type JudgeSettings,
  type JudgeState,
  type JudgeVerdict,
  type Poll,
} from '../../src/analysis/judge.js';
import { addLimitPoll, addRatioPoll, limitAlternatives, RATIOS } from '../../src/analysis/sequential.js';
import { describeGuarantees, guarantees, judgedSteps } from '../../src/analysis/guarantees.js';
import { mulberry32 } from '../helpers/prng.js';
import { DEFAULT_STEPS, quantile, simulateJudge, type Scenario, type SimStep } from '../helpers/judge-sim.js';

const SETTINGS: JudgeSettings = { maxErrorRate: 0.01, minRequests: 20, falseRollbackRate: 0.01, unhealthyThreshold: 2 };
const SEED = 20261125;
/** Weights change every 30 s: `5% 30s, 20% 30s, 50% 30s, 100%`. */
const FOUR_STEPS: readonly SimStep[] = [
  { weight: 0.05, durationMs: 30_000 },
  { weight: 0.2, durationMs: 30_000 },
  { weight: 0.5, durationMs: 30_000 },
  { weight: 1, durationMs: 30_000 },
];

function run(polls: readonly Partial<Poll>[], settings: JudgeSettings = SETTINGS): JudgeVerdict[] {
  let state: JudgeState = createJudge(settings);
  return polls.map((p) => {
    const result = observe(state, { step: 0, stepEnded: false, canary: { requests: 0, failures: 0 }, ...p });
    state = result.state;
    return result.verdict;
  });
}

function last(verdicts: JudgeVerdict[]): JudgeVerdict {
  const v = verdicts.at(-1);
  if (!v) throw new Error('no verdict');
  return v;
}

describe('the evidence is a supermartingale while the new version is no worse', () => {
  // Exact expectation of one poll's ratio LR given m failures, over c ~ Binomial(m, q'), for q' <= q(1) (with at
  // least m requests on each side, as failures are counted among requests).
  it('two-sample: E[LR] <= 1 for every ratio in the grid and any true ratio <= 1', () => {
    for (const [nc, nb] of [
      [10, 90],
      [50, 50],
      [80, 20],
      [25, 1000],
    ] as const) {
      for (const m of [1, 2, 5, 20]) {
        for (const trueTheta of [0.1, 0.5, 0.9, 1]) {
          const qTrue = (trueTheta * nc) / (trueTheta * nc + nb);
          const means = RATIOS.map(() => 0);
          for (let c = 0; c <= m; c++) {
            const pmf = binom(m, c) * qTrue ** c * (1 - qTrue) ** (m - c);
            const logs = addRatioPoll(
              RATIOS.map(() => 0),
              { requests: nc, failures: c },
              { requests: nb, failures: m - c },
            );
            logs.forEach((l, i) => (means[i] = (means[i] ?? 0) + pmf * Math.exp(l)));
          }
          for (const mean of means) expect(mean).toBeLessThanOrEqual(1 + 1e-9);
        }
      }
    }
  });

  it('one-sample: E[LR] <= 1 for every alternative when the true share is at most the limit', () => {
    for (const limit of [0.001, 0.01, 0.2]) {
      const k = limitAlternatives(limit).length;
      for (const p of [0, limit / 2, limit]) {
        const n = 10;
        const means = Array.from({ length: k }, () => 0);
        for (let x = 0; x <= n; x++) {
          const pmf = binom(n, x) * p ** x * (1 - p) ** (n - x);
          const logs = addLimitPoll(
            Array.from({ length: k }, () => 0),
            { requests: n, failures: x },
            limit,
          );
          logs.forEach((l, i) => (means[i] = (means[i] ?? 0) + pmf * Math.exp(l)));
        }
        for (const mean of means) expect(mean).toBeLessThanOrEqual(1 + 1e-9);
      }
    }
  });
});

function binom(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

describe('simulated rollouts (seeded)', () => {
  it('rolls back at most false-rollback-rate of 10,800 healthy canaries, polled every second', () => {
    const rng = mulberry32(SEED);
    let runs = 0;
    let rolledBack = 0;
    let timedOut = 0;
    for (const rps of [20, 300, 3000]) {
      for (const baseline of [0.001, 0.005, 0.008]) {
        for (const better of [1, 0.5]) {
          for (const steps of [DEFAULT_STEPS, FOUR_STEPS]) {
            const scenario: Scenario = {
              rps,
              stableFailure: baseline,
              canaryFailure: baseline * better,
              steps,
              pollMs: 1000,
              timeoutMs: 30 * 60_000,
            };
            for (let i = 0; i < 300; i++) {
              const r = simulateJudge(rng, scenario, SETTINGS);
              runs++;
              if (r.outcome === 'rolled-back') rolledBack++;
              if (r.outcome === 'timed-out') timedOut++;
            }
          }
        }
      }
    }
    const alpha = SETTINGS.falseRollbackRate;
    console.log(
      `healthy canaries: ${rolledBack} of ${runs} rolled back (${((100 * rolledBack) / runs).toFixed(2)}%), ${timedOut} held to the timeout`,
    );
    expect(runs).toBeGreaterThanOrEqual(10_000);
    expect(rolledBack / runs).toBeLessThanOrEqual(alpha + 3 * Math.sqrt(alpha / runs));
  });

  it('catches versions failing 5x and 30x as often as stable, quickly; 2x and 3x mostly within the plan', () => {
    const rng = mulberry32(SEED + 1);
    const found: Record<number, { caught: number; medianS: number; p90S: number }> = {};
    for (const multiple of [2, 3, 5, 30]) {
      const scenario: Scenario = {
        rps: 300,
        stableFailure: 0.005,
        canaryFailure: 0.005 * multiple,
        steps: DEFAULT_STEPS,
        pollMs: 1000,
        timeoutMs: 30 * 60_000,
      };
      const times: number[] = [];
      for (let i = 0; i < 300; i++) {
        const r = simulateJudge(rng, scenario, SETTINGS);
        if (r.outcome === 'rolled-back') times.push(r.atMs / 1000);
      }
      found[multiple] = { caught: times.length / 300, medianS: quantile(times, 0.5), p90S: quantile(times, 0.9) };
    }
    console.log('bad canaries at 300 req/s, 0.5% stable errors, default steps:', JSON.stringify(found));
    expect(found[30]?.caught).toBe(1);
    expect(found[30]?.p90S).toBeLessThanOrEqual(3);
    expect(found[5]?.caught).toBeGreaterThanOrEqual(0.98);
    expect(found[5]?.medianS).toBeLessThanOrEqual(30);
    expect(found[5]?.p90S).toBeLessThanOrEqual(60);
    expect(found[3]?.caught).toBeGreaterThanOrEqual(0.9);
    expect(found[2]?.caught).toBeGreaterThanOrEqual(0.6);
  });

  it('rolls back a version failing 15% or 30% at 20% of 300 req/s after about 5 failed requests (polls every 100 ms)', () => {
    const rng = mulberry32(SEED + 2);
    for (const canaryFailure of [0.15, 0.3]) {
      const failures: number[] = [];
      for (let i = 0; i < 500; i++) {
        const r = simulateJudge(
          rng,
          {
            rps: 300,
            stableFailure: 0.005,
            canaryFailure,
            steps: [
              { weight: 0.2, durationMs: 30_000 },
              { weight: 1, durationMs: 5000 },
            ],
            pollMs: 100,
            timeoutMs: 60_000,
          },
          SETTINGS,
        );
        expect(r.outcome).toBe('rolled-back');
        failures.push(r.canaryFailures);
      }
      console.log(
        `${canaryFailure * 100}% failing: failed requests before the rollback median ${quantile(failures, 0.5)}, p90 ${quantile(failures, 0.9)}`,
      );
      expect(quantile(failures, 0.5)).toBeLessThanOrEqual(6);
    }
  });

  it('alone (no stable traffic) rolls back at most alpha of versions at the limit, and catches one well over it', () => {
    const rng = mulberry32(SEED + 3);
    const steps = [{ weight: 1, durationMs: 120_000 }];
    let rolledBack = 0;
    const N = 2000;
    for (let i = 0; i < N; i++) {
      const scenario = { rps: 50, stableFailure: 0, canaryFailure: 0.01, steps, pollMs: 1000, timeoutMs: 600_000 };
      if (simulateJudge(rng, scenario, SETTINGS).outcome === 'rolled-back') rolledBack++;
    }
    expect(rolledBack / N).toBeLessThanOrEqual(0.01 + 3 * Math.sqrt(0.01 / N));
    const bad = simulateJudge(
      rng,
      { rps: 50, stableFailure: 0, canaryFailure: 0.05, steps, pollMs: 1000, timeoutMs: 600_000 },
      SETTINGS,
    );
    expect(bad).toMatchObject({ outcome: 'rolled-back', reason: 'over-limit' });
    expect(bad.atMs).toBeLessThanOrEqual(30_000);
  });
});

describe('judge rules', () => {
  it('one-sample: with max-error-rate 0% one failure is proof; with 100% nothing is over', () => {
    const zero = { ...SETTINGS, maxErrorRate: 0 };
    expect(last(run([{ canary: { requests: 50, failures: 0 } }], zero)).kind).toBe('wait');
    expect(last(run([{ canary: { requests: 50, failures: 1 } }], zero))).toMatchObject({
      kind: 'fail',
      reason: 'over-limit',
    });
    const all = { ...SETTINGS, maxErrorRate: 1 };
    expect(last(run([{ canary: { requests: 100, failures: 40 }, stepEnded: true }], all)).kind).toBe('pass');
  });

  it('passes only when the step ended with min-requests served and its share within the limit', () => {
    expect(last(run([{ canary: { requests: 500, failures: 0 } }])).kind).toBe('wait');
    const few = last(run([{ canary: { requests: 10, failures: 0 }, stepEnded: true }]));
    expect(few).toMatchObject({ kind: 'wait', reason: 'min-requests' });
    expect(describeVerdict(few)).toContain('10 of min-requests 20');
    const enough = run([
      { canary: { requests: 10, failures: 0 }, stepEnded: true },
      { canary: { requests: 10, failures: 0 }, stepEnded: true },
    ]);
    expect(last(enough).kind).toBe('pass');
    // A new step counts its own requests.
    expect(last(run([{ canary: { requests: 30, failures: 0 } }, { step: 1, stepEnded: true }])).kind).toBe('wait');
  });

  it('does not pass over the limit before the evidence decides: waits above-limit', () => {
    const v = last(
      run([{ canary: { requests: 100, failures: 2 }, stable: { requests: 900, failures: 0 }, stepEnded: true }]),
    );
    expect(v).toMatchObject({ kind: 'wait', reason: 'above-limit' });
    expect(describeVerdict(v)).toMatch(/Over max-error-rate 1% so far, not proven.*new version 2% failed \(2 of 100\)/);
  });

  it('does not roll back a version no worse than stable when both fail (downstream), and does not promote it', () => {
    const polls = Array.from({ length: 60 }, () => ({
      canary: { requests: 60, failures: 3 },
      stable: { requests: 240, failures: 13 },
      stepEnded: true,
    }));
    const verdicts = run(polls);
    expect(verdicts.every((v) => v.kind === 'wait' && v.reason === 'downstream')).toBe(true);
    const text = describeVerdict(last(verdicts));
    expect(text).toContain('Both versions failing');
    expect(text).toContain('new version 5% (180 of 3600)');
    expect(text).toContain('stable 5.4% (780 of 14400)');
    expect(text).toContain('0.92x as often as stable');
    expect(describeVerdict(last(verdicts), { short: true })).toBe(
      'Holding: both failing (new 5% vs stable 5.4% failed), over 1%; downstream?',
    );
  });

  it('the ceiling acts at once: more than half of 20 requests, or unhealthy-threshold failed probes in a row', () => {
    const half = run([{ canary: { requests: 20, failures: 11 }, stable: { requests: 80, failures: 0 } }]);
    expect(half).toMatchObject([{ kind: 'fail', reason: 'ceiling' }]);
    expect(describeVerdict(last(half))).toContain('11 of the last 20 requests to the new version failed');
    // Fewer than 20 requests: the evidence decides, not the ceiling.
    expect(
      run([{ canary: { requests: 10, failures: 6 }, stable: { requests: 40, failures: 0 } }])[0],
    ).not.toMatchObject({ reason: 'ceiling' });
    // Summed over the last polls.
    expect(
      last(run(Array.from({ length: 4 }, () => ({ canary: { requests: 5, failures: 3 }, stable: undefined })))),
    ).toMatchObject({ kind: 'fail' });
    const probes = run([{ probes: { passed: 3, failed: 2, failStreak: 2 } }]);
    expect(probes).toMatchObject([{ kind: 'fail', reason: 'ceiling' }]);
    expect(describeVerdict(last(probes))).toContain('2 probes in a row failed');
    // Stable failing as much: a shared outage, not the ceiling.
    const shared = run([{ canary: { requests: 20, failures: 12 }, stable: { requests: 80, failures: 50 } }]);
    expect(last(shared)).not.toMatchObject({ reason: 'ceiling' });
  });

  it('a failure verdict sticks', () => {
    const v = run([
      { canary: { requests: 20, failures: 15 } },
      { canary: { requests: 1000, failures: 0 }, stepEnded: true },
    ]);
    expect(v.map((x) => x.kind)).toEqual(['fail', 'fail']);
  });

  it('says how much worse and how strong the evidence is, in words; short texts fit a deployment status', () => {
    const verdicts = run(
      Array.from({ length: 30 }, () => ({
        canary: { requests: 30, failures: 1 },
        stable: { requests: 270, failures: 1 },
      })),
    );
    const fail = verdicts.find((v) => v.kind === 'fail');
    expect(fail).toMatchObject({ reason: 'worse-than-stable' });
    if (!fail) return;
    const text = describeVerdict(fail);
    expect(text).toMatch(/^Worse than stable: new version 3.3% failed \(\d+ of \d+\), stable 0.37% \(\d+ of \d+\)/);
    expect(text).toMatch(
      /as often over the same polls\. A version as good as stable shows a difference this large less than 1 time in [\d,]+ \(rollback at 1 time in 100\)\./,
    );
    const short = describeVerdict(fail, { short: true });
    expect(short).toMatch(/^Worse: new 3.3% vs stable 0.37% failed \(\d+x\); if as good, <1 time in [\d,]+$/);
    const samples: JudgeVerdict[] = [
      ...verdicts,
      ...run([{ canary: { requests: 100, failures: 60 } }]),
      ...run([{ probes: { passed: 0, failed: 2, failStreak: 2 } }]),
      ...run([{ canary: { requests: 1000, failures: 50 }, stepEnded: true }]),
      ...run([{ canary: { requests: 1000, failures: 1 }, stable: { requests: 1000, failures: 2 }, stepEnded: true }]),
    ];
    for (const v of samples) expect(describeVerdict(v, { short: true }).length).toBeLessThanOrEqual(140);
    const pass = samples.at(-1);
    expect(pass?.kind).toBe('pass');
    if (pass) {
      expect(describeVerdict(pass)).toBe(
        'Passed: this step new version 0.1% failed (1 of 1000), stable 0.2% (2 of 1000): 0.5x as often; within max-error-rate 1%; no sign it is worse than stable (rollback at 1 time in 100).',
      );
    }
  });
});

describe('guarantees for dry-run', () => {
  const input = {
    falseRollbackRate: 0.01,
    maxErrorRate: 0.01,
    steps: DEFAULT_STEPS.map((s) => ({ share: s.weight, durationMs: s.durationMs })),
    requestsPerSecond: 300,
    baselineFailure: 0.005,
  };

  it('bounds false rollbacks by alpha and times 2x, 5x, 30x near the simulated medians, in under 50 ms', () => {
    const started = performance.now();
    const g = guarantees(input);
    expect(performance.now() - started).toBeLessThan(50);
    expect(g.falseRollbackBound).toBe(0.01);
    const [x2, x5, x30] = g.detections;
    expect(x30?.medianMs).toBeLessThanOrEqual(2000);
    expect(x5?.medianMs).toBeGreaterThan(x30?.medianMs ?? 0);
    expect(x2?.medianMs).toBeGreaterThan(x5?.medianMs ?? 0);
    const rng = mulberry32(SEED + 4);
    const scenario: Scenario = {
      rps: 300,
      stableFailure: 0.005,
      canaryFailure: 0.025,
      steps: DEFAULT_STEPS,
      pollMs: 1000,
      timeoutMs: 1_800_000,
    };
    const sim = quantile(
      Array.from({ length: 200 }, () => simulateJudge(rng, scenario, SETTINGS).atMs),
      0.5,
    );
    expect(x5?.medianMs).toBeGreaterThan(sim / 2);
    expect(x5?.medianMs).toBeLessThan(sim * 2);
  });

  it('reads the plan from canary steps and says it in words', () => {
    expect(
      judgedSteps(
        [
          { weight: 10, pause: { kind: 'duration', ms: 60_000 } },
          { weight: 50, pause: { kind: 'approval' } },
          { weight: 100, pause: { kind: 'none' } },
        ],
        30_000,
      ),
    ).toEqual([
      { share: 0.1, durationMs: 60_000 },
      { share: 0.5, durationMs: 30_000 },
      { share: 1, durationMs: 30_000 },
    ]);
    const lines = describeGuarantees(input);
    expect(lines[0]).toContain('rolled back with probability at most 1%');
    expect(lines.join('\n')).toMatch(
      /failing 30x as often \(15%\): rolled back after about 1s \(step 1, ~\d+ failed requests\)/,
    );
  });

  it('says when the plan ends before a regression is caught', () => {
    const g = guarantees({ ...input, steps: [{ share: 0.05, durationMs: 10_000 }], multiples: [1.5] });
    expect(g.detections[0]?.medianMs).toBeUndefined();
  });
});
