/**
 * Simulated rollouts for the canary judge (and for the old fixed-threshold window judge, side by side): Poisson
 * request arrivals split by the step's weight, each request failing independently, counters polled every pollMs.
 */
import { createJudge, observe, type JudgeSettings } from '../../src/analysis/judge.js';
import { judgeWindow } from './old-judge.js';
import type { AnalysisSettings } from '../../src/settings.js';
import { binomial, normal, poisson, type Rng } from './prng.js';

export interface SimStep {
  /** The new version's share of traffic, 0..1. */
  readonly weight: number;
  /** The step's pause (for the last 100% step: one analysis window). */
  readonly durationMs: number;
}

export interface Scenario {
  /** Requests per second through the load balancer. */
  readonly rps: number;
  /** Failure share of the stable version. */
  readonly stableFailure: number;
  /** Failure share of the new version. */
  readonly canaryFailure: number;
  readonly steps: readonly SimStep[];
  readonly pollMs: number;
  /** The run's timeout: a step still waiting then ends the rollout (traffic back, result failed). */
  readonly timeoutMs: number;
}

export interface SimResult {
  readonly outcome: 'rolled-back' | 'promoted' | 'timed-out';
  readonly reason: string | undefined;
  /** Time from the first request on the new version to the verdict (or the end). */
  readonly atMs: number;
  /** Failed requests on the new version up to and including the poll that decided. */
  readonly canaryFailures: number;
  readonly canaryRequests: number;
  readonly step: number;
}

/** The default plan: `10% 1m, 50% 1m, 100%` with analysis-interval 30s. */
export const DEFAULT_STEPS: readonly SimStep[] = [
  { weight: 0.1, durationMs: 60_000 },
  { weight: 0.5, durationMs: 60_000 },
  { weight: 1, durationMs: 30_000 },
];

interface Traffic {
  readonly canary: { requests: number; failures: number };
  readonly stable: { requests: number; failures: number } | undefined;
}

function traffic(rng: Rng, s: Scenario, weight: number): Traffic {
  const seconds = s.pollMs / 1000;
  const nc = poisson(rng, s.rps * weight * seconds);
  const canary = { requests: nc, failures: binomial(rng, nc, s.canaryFailure) };
  if (weight >= 1) return { canary, stable: undefined };
  const nb = poisson(rng, s.rps * (1 - weight) * seconds);
  return { canary, stable: { requests: nb, failures: binomial(rng, nb, s.stableFailure) } };
}

/** One rollout judged by the sequential judge. */
export function simulateJudge(rng: Rng, s: Scenario, settings: JudgeSettings): SimResult {
  let state = createJudge(settings);
  let now = 0;
  let failures = 0;
  let requests = 0;
  for (const [index, step] of s.steps.entries()) {
    let elapsed = 0;
    for (;;) {
      now += s.pollMs;
      elapsed += s.pollMs;
      const t = traffic(rng, s, step.weight);
      failures += t.canary.failures;
      requests += t.canary.requests;
      const result = observe(state, {
        step: index,
        stepEnded: elapsed >= step.durationMs,
        canary: t.canary,
        stable: t.stable,
      });
      state = result.state;
      const v = result.verdict;
      if (v.kind === 'fail') {
        return {
          outcome: 'rolled-back',
          reason: v.reason,
          atMs: now,
          canaryFailures: failures,
          canaryRequests: requests,
          step: index,
        };
      }
      if (v.kind === 'pass') break;
      if (now >= s.timeoutMs) {
        return {
          outcome: 'timed-out',
          reason: v.reason,
          atMs: now,
          canaryFailures: failures,
          canaryRequests: requests,
          step: index,
        };
      }
    }
  }
  return {
    outcome: 'promoted',
    reason: undefined,
    atMs: now,
    canaryFailures: failures,
    canaryRequests: requests,
    step: s.steps.length - 1,
  };
}

/**
 * One rollout judged as the engine does today: per step, analysis windows of intervalMs back to back (at least
 * ceil(pause / interval)), each judged by judgeWindow on its own counts (failing as soon as min-requests are over
 * max-error-rate).
 */
export function simulateWindows(rng: Rng, s: Scenario, analysis: AnalysisSettings, unhealthyThreshold = 2): SimResult {
  let now = 0;
  let failures = 0;
  let requests = 0;
  for (const [index, step] of s.steps.entries()) {
    const windows = Math.max(1, Math.ceil(step.durationMs / analysis.intervalMs));
    const started = now;
    for (let w = 0; w < windows || now - started < step.durationMs; w++) {
      let wr = 0;
      let wf = 0;
      let elapsed = 0;
      for (;;) {
        now += s.pollMs;
        elapsed += s.pollMs;
        const t = traffic(rng, s, step.weight);
        failures += t.canary.failures;
        requests += t.canary.requests;
        wr += t.canary.requests;
        wf += t.canary.failures;
        const v = judgeWindow(
          { requests: wr, failures: wf, probesPassed: 0, probesFailed: 0, probeFailStreak: 0, elapsedMs: elapsed },
          analysis,
          analysis.intervalMs,
          unhealthyThreshold,
        );
        if (v.kind === 'fail') {
          return {
            outcome: 'rolled-back',
            reason: 'window',
            atMs: now,
            canaryFailures: failures,
            canaryRequests: requests,
            step: index,
          };
        }
        if (v.kind === 'pass') break;
        if (now >= s.timeoutMs) {
          return {
            outcome: 'timed-out',
            reason: 'window',
            atMs: now,
            canaryFailures: failures,
            canaryRequests: requests,
            step: index,
          };
        }
      }
    }
  }
  return {
    outcome: 'promoted',
    reason: undefined,
    atMs: now,
    canaryFailures: failures,
    canaryRequests: requests,
    step: s.steps.length - 1,
  };
}

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

/** A latency distribution: one answer's time in ms. */
export type Latency = (rng: Rng) => number;

/** Log-normal with this median (ms) and log-sd. */
export function logNormal(medianMs: number, sigma: number): Latency {
  return (rng) => medianMs * Math.exp(sigma * normal(rng));
}

/**
 * Heavy-tailed, like the integration tests' app with a tail: about `medianMs`, a fifth of the answers 50-250 ms
 * more, and 1% a Pareto tail (alpha 1.5) from 250 ms.
 */
export function heavyTail(medianMs: number): Latency {
  return (rng) => {
    const base = medianMs * Math.exp(0.2 * normal(rng));
    const u = rng();
    if (u < 0.01) return base + 250 / Math.pow(1 - rng(), 1 / 1.5);
    return u < 0.2 ? base + 50 + 200 * rng() : base;
  };
}

export interface LatencyScenario {
  readonly rps: number;
  readonly stable: Latency;
  readonly canary: Latency;
  /** Failure share of both versions (background errors). */
  readonly failure: number;
  readonly steps: readonly SimStep[];
  readonly pollMs: number;
  readonly timeoutMs: number;
}

function answers(rng: Rng, n: number, latency: Latency): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(latency(rng));
  return out;
}

/** One rollout judged by the sequential judge on errors and latency together. */
export function simulateLatencyJudge(rng: Rng, s: LatencyScenario, settings: JudgeSettings): SimResult {
  let state = createJudge(settings);
  let now = 0;
  let requests = 0;
  for (const [index, step] of s.steps.entries()) {
    let elapsed = 0;
    for (;;) {
      now += s.pollMs;
      elapsed += s.pollMs;
      const seconds = s.pollMs / 1000;
      const nc = poisson(rng, s.rps * step.weight * seconds);
      const nb = step.weight >= 1 ? 0 : poisson(rng, s.rps * (1 - step.weight) * seconds);
      requests += nc;
      const result = observe(state, {
        step: index,
        stepEnded: elapsed >= step.durationMs,
        canary: { requests: nc, failures: binomial(rng, nc, s.failure) },
        stable: step.weight >= 1 ? undefined : { requests: nb, failures: binomial(rng, nb, s.failure) },
        latency: {
          canary: answers(rng, nc, s.canary),
          stable: step.weight >= 1 ? undefined : answers(rng, nb, s.stable),
        },
      });
      state = result.state;
      const v = result.verdict;
      const end = (outcome: SimResult['outcome'], reason: string | undefined): SimResult => ({
        outcome,
        reason,
        atMs: now,
        canaryFailures: 0,
        canaryRequests: requests,
        step: index,
      });
      if (v.kind === 'fail') return end('rolled-back', v.reason);
      if (v.kind === 'pass') break;
      if (now >= s.timeoutMs) return end('timed-out', v.reason);
    }
  }
  return {
    outcome: 'promoted',
    reason: undefined,
    atMs: now,
    canaryFailures: 0,
    canaryRequests: requests,
    step: s.steps.length - 1,
  };
}

/** The judge with the default inputs and latency judged (max-latency-increase 50% and 50ms): the simulations' base. */
export const LATENCY_DEFAULTS: JudgeSettings = {
  maxErrorRate: 0.01,
  minRequests: 20,
  falseRollbackRate: 0.01,
  unhealthyThreshold: 2,
  latency: { tolerance: { fraction: 0.5, ms: 50 }, limit: undefined },
  version: 'v2',
};
