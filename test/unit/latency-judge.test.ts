/** The latency judge (issue 25): inputs, the pure evidence, and a quick seeded simulation of its false rollbacks. */
import { describe, expect, it } from 'vitest';
import { createJudge, describeVerdict, observe } from '../../src/analysis/judge.js';
import { parseLatencyLimit, parseLatencyTolerance, tolerated } from '../../src/model/latency.js';
import {
  heavyTail,
  LATENCY_DEFAULTS as SETTINGS,
  logNormal,
  simulateLatencyJudge,
  type Latency,
} from '../helpers/judge-sim.js';
import { mulberry32 } from '../helpers/prng.js';
import { latencyDetectionMs } from '../../src/analysis/latency-plan.js';

const STEPS = [
  { weight: 0.2, durationMs: 10_000 },
  { weight: 0.5, durationMs: 10_000 },
  { weight: 1, durationMs: 5_000 },
];

describe('latency inputs', () => {
  it('reads max-latency-increase as a percentage, a duration, both, or off', () => {
    expect(parseLatencyTolerance('50% and 50ms')).toEqual({ fraction: 0.5, ms: 50 });
    expect(parseLatencyTolerance('100ms and 20%')).toEqual({ fraction: 0.2, ms: 100 });
    expect(parseLatencyTolerance('100%')).toEqual({ fraction: 1, ms: 0 });
    expect(parseLatencyTolerance('off')).toBeUndefined();
    expect(tolerated({ fraction: 0.5, ms: 50 }, 20)).toBe(70);
    expect(tolerated({ fraction: 0.5, ms: 50 }, 400)).toBe(600);
  });

  it('reads max-latency as a percentile and a duration', () => {
    expect(parseLatencyLimit('p99 500ms')).toEqual({ quantile: 0.99, ms: 500 });
    expect(parseLatencyLimit('p99.9 2s')).toEqual({ quantile: 0.999, ms: 2000 });
    expect(parseLatencyLimit('')).toBeUndefined();
  });
});

function run(seed: number, stable: Latency, canary: Latency, settings = SETTINGS) {
  return simulateLatencyJudge(
    mulberry32(seed),
    { rps: 100, stable, canary, failure: 0.005, steps: STEPS, pollMs: 1000, timeoutMs: 120_000 },
    settings,
  );
}

describe('the latency judge', () => {
  it('rolls back a version 400 ms slower within seconds, saying how much slower in plain words', () => {
    let state = createJudge(SETTINGS);
    const rng = mulberry32(7);
    const stable = heavyTail(20);
    let verdict;
    for (let i = 0; i < 10 && verdict?.kind !== 'fail'; i++) {
      const latency = {
        canary: Array.from({ length: 20 }, () => stable(rng) + 400),
        stable: Array.from({ length: 80 }, () => stable(rng)),
      };
      ({ state, verdict } = observe(state, {
        step: 0,
        stepEnded: false,
        canary: { requests: 20, failures: 0 },
        stable: { requests: 80, failures: 0 },
        latency,
      }));
    }
    expect(verdict?.kind === 'fail' && verdict.reason).toBe('slower-than-stable');
    expect(state.polls).toBeLessThanOrEqual(2);
    expect(describeVerdict(verdict!)).toMatch(
      /^Slower than stable: v2 answered 4\d\d ms slower at p(50|95) than stable this step/,
    );
  });

  it('catches a version 2x slower at p95 only (the median unchanged) with max-latency-increase 20%', () => {
    const settings = { ...SETTINGS, latency: { tolerance: { fraction: 0.2, ms: 0 }, limit: undefined } };
    const tailOnly: Latency = (rng) => {
      const v = heavyTail(20)(rng);
      return v > 60 ? v * 2 : v;
    };
    const results = Array.from({ length: 20 }, (_, i) => run(100 + i, heavyTail(20), tailOnly, settings));
    expect(
      results.filter((r) => r.outcome === 'rolled-back' && r.reason === 'slower-than-stable').length,
    ).toBeGreaterThanOrEqual(18);
  });

  it('judges the version serving alone against max-latency', () => {
    const settings = { ...SETTINGS, latency: { tolerance: undefined, limit: { quantile: 0.99, ms: 500 } } };
    const r = run(5, logNormal(300, 0.3), logNormal(600, 0.3), settings);
    expect(r).toMatchObject({ outcome: 'rolled-back', reason: 'over-latency-limit', step: 2 });
  });

  // The full claim (>= 10,000 runs per distribution) is in bench/judge-latency.ts and bench/RESULTS.md.
  it('rolls back at most false-rollback-rate of healthy versions (seeded: 2 x 150 runs, 1% bound)', () => {
    for (const [name, dist] of [
      ['log-normal', logNormal(50, 0.6)],
      ['heavy-tailed', heavyTail(20)],
    ] as const) {
      const results = Array.from({ length: 150 }, (_, i) => run(20261207 + i, dist, dist));
      const rolledBack = results.filter((r) => r.outcome === 'rolled-back').length;
      expect(rolledBack, name).toBeLessThanOrEqual(3);
      expect(results.filter((r) => r.outcome === 'promoted').length, name).toBeGreaterThanOrEqual(145);
    }
  });
});

describe('the dry run: time to catch a slower version at the plan traffic', () => {
  it('catches 2x and 10x slower within the first step of the default plan, never a version as fast', () => {
    const input = {
      settings: { ...SETTINGS, minRequests: 0 },
      steps: [
        { share: 0.1, durationMs: 60_000 },
        { share: 0.5, durationMs: 60_000 },
        { share: 1, durationMs: 30_000 },
      ],
      requestsPerSecond: 100,
      pollMs: 250,
      medianMs: 100,
    };
    expect(latencyDetectionMs(input, 2)).toBeLessThan(10_000);
    expect(latencyDetectionMs(input, 10)).toBeLessThan(latencyDetectionMs(input, 2) ?? 0);
    expect(latencyDetectionMs(input, 1)).toBeUndefined();
  });

  it('with latency per 60 s period (ALB), catches 2x and 10x slower at the second period, never a version as fast', () => {
    const input = {
      settings: { ...SETTINGS, minRequests: 0 },
      steps: [
        { share: 0.1, durationMs: 120_000 },
        { share: 1, durationMs: 60_000 },
      ],
      requestsPerSecond: 100,
      pollMs: 60_000,
      medianMs: 100,
    };
    // The first period only gives the stable thresholds (taken before a poll's answers are seen); the dry run adds
    // the period's publication delay (one more period) to these: about 3 minutes on ALB.
    expect(latencyDetectionMs(input, 2)).toBe(120_000);
    expect(latencyDetectionMs(input, 10)).toBe(120_000);
    expect(latencyDetectionMs(input, 1)).toBeUndefined();
  });
});
