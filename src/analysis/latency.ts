/**
 * The latency half of the judge: anytime-valid evidence that the new version answers slower than the stable pool by
 * more than a tolerance (max-latency-increase), or, serving alone, slower than max-latency. Pure, no I/O.
 *
 * Per poll, a threshold T is taken from the stable pool's own answers of EARLIER polls (its median and its p95):
 * a stable answer is slow when over T, a new one when over tolerated(T) = max(T (1 + percent), T + ms). While the new
 * version is within tolerance (its latency stochastically at most tolerated(stable's)), a new answer is slow with
 * probability at most P(stable > T), so the counts of slow answers per pool are failures whose rate ratio is at most
 * 1: the same two-sample ratio test as the error judge's (sequential.ts) is a supermartingale, whatever T is, since
 * T is fixed before the poll's answers are seen. A mixture over the two thresholds (median, p95) and the ratios is one
 * too. Serving alone, answers over max-latency's duration are failures tested against the share its percentile
 * allows (p99: 1%) by the one-sample test. The judge averages this evidence with the error evidence, so one
 * threshold 1/false-rollback-rate bounds a false rollback for errors and latency together.
 */
import { formatSummary, summarize, tolerated, type LatencySettings, type LatencySummary } from '../model/latency.js';
import { addLimitPoll, addRatioPoll, emptyLimit, emptyRatio, logMeanExp } from './sequential.js';

/** The stable pool's quantiles that set the thresholds: its median and its tail. */
export const LEVELS: readonly number[] = [0.5, 0.95];
/** Stable answers kept for the thresholds (the newest). */
export const HISTORY = 1000;
/** Fewer stable answers than this set no threshold yet. */
export const MIN_HISTORY = 20;
/** Answers per pool kept for a step's report. */
const STEP_SAMPLES = 20_000;

/** One poll's answers, in ms: the new pool's, and the stable pool's when it takes traffic. */
export interface LatencyPoll {
  readonly canary: readonly number[];
  readonly stable?: readonly number[] | undefined;
}

export interface LatencyState {
  readonly settings: LatencySettings;
  /** Per level of LEVELS, the ratio test's log likelihood ratios. */
  readonly ratioLogs: readonly (readonly number[])[];
  readonly limitLogs: readonly number[];
  /** The newest stable answers, oldest first. */
  readonly history: readonly number[];
  readonly step: number;
  /** This step's answers, for reports and verdicts. */
  readonly stepCanary: readonly number[];
  readonly stepStable: readonly number[];
  /** Slow answers counted by the median test over the polls with stable traffic (for verdicts). */
  readonly slow: {
    readonly canary: number;
    readonly canaryAll: number;
    readonly stable: number;
    readonly stableAll: number;
  };
  /** Answers over max-latency while serving alone. */
  readonly alone: { readonly over: number; readonly all: number };
}

export interface LatencyEvidence {
  /** log of the evidence: paired (against stable) and alone (against max-latency). */
  readonly logPaired: number;
  readonly logAlone: number;
  readonly canary: LatencySummary;
  readonly stable: LatencySummary;
  readonly slow: LatencyState['slow'];
  readonly alone: LatencyState['alone'];
}

export function createLatency(settings: LatencySettings): LatencyState {
  return {
    settings,
    ratioLogs: LEVELS.map(() => emptyRatio()),
    limitLogs: emptyLimit(settings.limit ? 1 - settings.limit.quantile : 0),
    history: [],
    step: Number.NaN,
    stepCanary: [],
    stepStable: [],
    slow: { canary: 0, canaryAll: 0, stable: 0, stableAll: 0 },
    alone: { over: 0, all: 0 },
  };
}

function thresholds(history: readonly number[]): number[] | undefined {
  if (history.length < MIN_HISTORY) return undefined;
  const sorted = [...history].sort((a, b) => a - b);
  return LEVELS.map((q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0);
}

const over = (samples: readonly number[], limit: number) => samples.reduce((n, v) => n + (v > limit ? 1 : 0), 0);
const keep = (a: readonly number[], b: readonly number[], max: number) => {
  const all = a.concat(b);
  return all.length > max ? all.slice(all.length - max) : all;
};

/** Adds one poll. `step` starts a new step's report samples when it changes. */
export function observeLatency(state: LatencyState, poll: LatencyPoll, step: number): LatencyState {
  const { settings } = state;
  const canary = poll.canary;
  const stable = poll.stable;
  const newStep = step !== state.step;
  let { ratioLogs, limitLogs, slow, alone } = state;
  if (stable) {
    const t = settings.tolerance && canary.length && stable.length ? thresholds(state.history) : undefined;
    const tolerance = settings.tolerance;
    if (t && tolerance) {
      ratioLogs = ratioLogs.map((logs, i) => {
        const level = t[i] ?? 0;
        const c = over(canary, tolerated(tolerance, level));
        const b = over(stable, level);
        return addRatioPoll(logs, { requests: canary.length, failures: c }, { requests: stable.length, failures: b });
      });
      slow = {
        canary: slow.canary + over(canary, tolerated(tolerance, t[0] ?? 0)),
        canaryAll: slow.canaryAll + canary.length,
        stable: slow.stable + over(stable, t[0] ?? 0),
        stableAll: slow.stableAll + stable.length,
      };
    }
  } else if (settings.limit && canary.length) {
    const x = over(canary, settings.limit.ms);
    limitLogs = addLimitPoll(limitLogs, { requests: canary.length, failures: x }, 1 - settings.limit.quantile);
    alone = { over: alone.over + x, all: alone.all + canary.length };
  }
  return {
    settings,
    ratioLogs,
    limitLogs,
    history: stable ? keep(state.history, stable, HISTORY) : state.history,
    step,
    stepCanary: keep(newStep ? [] : state.stepCanary, canary, STEP_SAMPLES),
    stepStable: keep(newStep ? [] : state.stepStable, stable ?? [], STEP_SAMPLES),
    slow,
    alone,
  };
}

export function latencyEvidence(state: LatencyState): LatencyEvidence {
  return {
    logPaired: logMeanExp(state.ratioLogs.flat()),
    logAlone: logMeanExp(state.limitLogs),
    canary: summarize(state.stepCanary),
    stable: summarize(state.stepStable),
    slow: state.slow,
    alone: state.alone,
  };
}

function ms(v: number): string {
  return `${Math.round(v)} ms`;
}

/** "v2 answered 410 ms slower at p50 than stable (431 ms against 21 ms; p95 ...)". */
export function describeSlower(e: LatencyEvidence, version: string): string {
  const c = e.canary;
  const s = e.stable;
  if (!c.count || !s.count) return `${version} answered slower than stable`;
  const at = c.p50 - s.p50 >= c.p95 - s.p95 ? 'p50' : 'p95';
  const diff = at === 'p50' ? c.p50 - s.p50 : c.p95 - s.p95;
  return `${version} answered ${ms(diff)} slower at ${at} than stable this step (${formatSummary(c)} against ${formatSummary(s)})`;
}
