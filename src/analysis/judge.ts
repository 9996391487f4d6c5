/**
 * The canary judge: one evidence process per rollout, fed every counter poll, as a pure reducer
 * `observe(state, poll) -> { state, verdict }`. No I/O; the engine reads counters and probes and acts on verdicts.
 *
 * - fail `worse-than-stable` / `over-limit`: the anytime-valid evidence of sequential.ts reached 1/false-rollback-rate.
 *   It multiplies a new-vs-stable failure-ratio test (polls with stable traffic) by a test of the new pool's share
 *   against max-error-rate (polls without: blue-green after the switch, a 100% step, a rolling batch). While the new
 *   version is no worse than stable (and within max-error-rate where it serves alone) it is a nonnegative
 *   supermartingale from 1, so P(false rollback) <= false-rollback-rate however often the engine polls, across steps
 *   and weight changes.
 * - fail `ceiling`: the obvious case, at once and outside that budget: over the last polls holding at least 20 of the
 *   new pool's requests more than half failed (more than max-error-rate, if that is higher) while the stable pool did
 *   not fail as much, or a new server failed unhealthy-threshold probes in a row. A version failing 5% of requests
 *   shows 11 of 20 failing with probability below 1e-9.
 * - pass: the caller says the step's duration is over, the step served at least min-requests, and the new pool's share
 *   of failures in this step (probes included) is at most max-error-rate. A point estimate over the limit that the
 *   test has not (yet) proven never passes: the step keeps waiting (`above-limit`) until it falls back within the
 *   limit, the evidence fails it, or the run's timeout ends the rollout (the engine then moves traffic back).
 * - wait `downstream`: both pools over max-error-rate in this step with at least min-requests each: the service
 *   fails whatever the version. Not a rollback for being worse (only the evidence can say that); not a pass either.
 * Probes of the new servers count as its requests (a failed probe as a failure); only counted requests meet
 * min-requests.
 */
import { formatFraction } from '../model/format.js';
import type { Settings } from '../settings.js';
import { addLimitPoll, addRatioPoll, emptyLimit, emptyRatio, logMeanExp } from './sequential.js';
import type { LatencySettings } from '../model/latency.js';
import { describeLimit, describeTolerance, formatSummary } from '../model/latency.js';
import { formatDuration } from '../model/durations.js';
import {
  createLatency,
  describeSlower,
  latencyEvidence,
  observeLatency,
  type LatencyEvidence,
  type LatencyPoll,
  type LatencyState,
} from './latency.js';

export interface Tally {
  readonly requests: number;
  readonly failures: number;
}

/** One counter poll: deltas since the previous poll. */
export interface Poll {
  /** The step (or rolling batch) this poll belongs to; a new value starts that step's own counts. */
  readonly step: number;
  /** The step's duration (pause) is over: it may pass as soon as the evidence allows. */
  readonly stepEnded: boolean;
  /** The new pool's requests and failures counted by the load balancer. */
  readonly canary: Tally;
  /** The stable pool's, over the same poll; absent when it takes no traffic (then the new pool is judged alone). */
  readonly stable?: Tally | undefined;
  /** Probes of the new servers in this poll; failStreak: the longest current run of failed probes on one server. */
  readonly probes?: { readonly passed: number; readonly failed: number; readonly failStreak: number } | undefined;
  /** The answers' latencies in ms as the load balancer logged them, per pool (absent: it gives none this poll). */
  readonly latency?: LatencyPoll | undefined;
}

export interface JudgeSettings {
  /** Largest accepted failure share, 0..1. */
  readonly maxErrorRate: number;
  /** Requests a step must serve before it may pass. */
  readonly minRequests: number;
  /** alpha: bound on the chance of rolling back a version no worse than stable (or within max-error-rate alone). */
  readonly falseRollbackRate: number;
  /** Failed probes in a row on one server that fail the rollout at once. */
  readonly unhealthyThreshold: number;
  /**
   * Latency judged too (the load balancer gives per-request latency and a tolerance or limit is set): the error and
   * the latency evidence are averaged, so false-rollback-rate bounds both together. Absent: errors only.
   */
  readonly latency?: LatencySettings | undefined;
  /** The new version's label, for verdicts. */
  readonly version?: string;
}

/** `latencyData`: the load balancer gives per-request latency (otherwise latency is not judged). */
export function judgeSettings(settings: Settings, latencyData = false): JudgeSettings {
  const latency = settings.analysis.latency;
  return {
    maxErrorRate: settings.analysis.maxErrorRate,
    minRequests: settings.analysis.minRequests,
    falseRollbackRate: settings.analysis.falseRollbackRate,
    unhealthyThreshold: settings.probe.unhealthyThreshold,
    latency: latencyData && latency && (latency.tolerance || latency.limit) ? latency : undefined,
    version: settings.version,
  };
}

/** The hard ceiling: more than this share failing... */
export const CEILING_SHARE = 0.5;
/** ...over the most recent polls that hold at least this many of the new pool's requests... */
export const CEILING_MIN_REQUESTS = 20;
/** ...looking back at most this many polls. */
export const CEILING_MAX_POLLS = 60;

export type FailReason = 'ceiling' | 'worse-than-stable' | 'over-limit' | 'slower-than-stable' | 'over-latency-limit';
/** running: the step's duration is not over; min-requests: too few requests yet; above-limit: the step's share is over
 * max-error-rate, not proven; downstream: both pools are over max-error-rate. */
export type WaitReason = 'running' | 'min-requests' | 'above-limit' | 'downstream';

/** This step: new pool with probes, the requests the load balancer counted (for min-requests), stable pool. */
export interface StepTally {
  readonly index: number;
  readonly canary: Tally;
  readonly requests: number;
  readonly stable: Tally | undefined;
}

export interface Evidence {
  readonly settings: JudgeSettings;
  readonly polls: number;
  /** Polls with stable traffic: the new pool (probes included) and the stable pool. */
  readonly paired: { readonly canary: Tally; readonly stable: Tally };
  /** Polls without stable traffic: the new pool alone (probes included). */
  readonly alone: Tally;
  readonly step: StepTally;
  /** The evidence against the new version (a likelihood-ratio mixture): a good version reaches x with chance <= 1/x. */
  readonly strength: number;
  /** Of that, the part from comparing with stable, and the part from the new pool alone against max-error-rate. */
  readonly worseStrength: number;
  readonly limitStrength: number;
  /** 1 / false-rollback-rate: the strength that rolls back. */
  readonly threshold: number;
  /** The latency evidence, when latency is judged (its strength is averaged into `strength`). */
  readonly latency?: (LatencyEvidence & { readonly strength: number }) | undefined;
  /** What the ceiling looked at when it acted. */
  readonly ceiling?:
    | { readonly kind: 'requests'; readonly canary: Tally; readonly stable: Tally | undefined }
    | { readonly kind: 'probes'; readonly streak: number };
}

export type JudgeVerdict =
  | { readonly kind: 'fail'; readonly reason: FailReason; readonly evidence: Evidence }
  | { readonly kind: 'pass'; readonly evidence: Evidence }
  | { readonly kind: 'wait'; readonly reason: WaitReason; readonly evidence: Evidence };

interface Recent {
  readonly canary: Tally;
  readonly stable: Tally | undefined;
}

export interface JudgeState {
  readonly settings: JudgeSettings;
  readonly polls: number;
  readonly ratioLogs: readonly number[];
  readonly limitLogs: readonly number[];
  readonly paired: { readonly canary: Tally; readonly stable: Tally };
  readonly alone: Tally;
  readonly step: StepTally;
  /** The newest polls, newest first, as many as the ceiling needs. */
  readonly recent: readonly Recent[];
  readonly latency: LatencyState | undefined;
  /** Once failed, every later poll gets the same verdict. */
  readonly failed: Extract<JudgeVerdict, { kind: 'fail' }> | undefined;
}

const ZERO: Tally = { requests: 0, failures: 0 };

function add(a: Tally, b: Tally): Tally {
  return { requests: a.requests + b.requests, failures: a.failures + b.failures };
}

/** Counter deltas as the judge counts them: never negative (a reset counter), failures within requests. */
function clean(t: Tally): Tally {
  const failures = Math.max(0, Math.floor(t.failures) || 0);
  return { requests: Math.max(failures, Math.floor(t.requests) || 0), failures };
}

export function share(t: Tally): number {
  return t.requests > 0 ? t.failures / t.requests : 0;
}

export function createJudge(settings: JudgeSettings): JudgeState {
  return {
    settings,
    polls: 0,
    ratioLogs: emptyRatio(),
    limitLogs: emptyLimit(settings.maxErrorRate),
    paired: { canary: ZERO, stable: ZERO },
    alone: ZERO,
    step: { index: Number.NaN, canary: ZERO, requests: 0, stable: undefined },
    recent: [],
    latency: settings.latency ? createLatency(settings.latency) : undefined,
    failed: undefined,
  };
}

/** The newest polls that hold CEILING_MIN_REQUESTS of the new pool's requests, summed; undefined if there are fewer. */
function recentWindow(recent: readonly Recent[]): Recent | undefined {
  let canary = ZERO;
  let stable: Tally | undefined;
  for (const poll of recent) {
    canary = add(canary, poll.canary);
    if (poll.stable) stable = add(stable ?? ZERO, poll.stable);
    if (canary.requests >= CEILING_MIN_REQUESTS) return { canary, stable };
  }
  return undefined;
}

/** Keeps the newest polls up to the first that completes CEILING_MIN_REQUESTS, at most CEILING_MAX_POLLS. */
function trimRecent(recent: readonly Recent[]): readonly Recent[] {
  let requests = 0;
  for (let i = 0; i < recent.length && i < CEILING_MAX_POLLS; i++) {
    requests += recent[i]?.canary.requests ?? 0;
    if (requests >= CEILING_MIN_REQUESTS) return recent.slice(0, i + 1);
  }
  return recent.slice(0, CEILING_MAX_POLLS);
}

export function observe(state: JudgeState, poll: Poll): { state: JudgeState; verdict: JudgeVerdict } {
  if (state.failed) return { state, verdict: state.failed };
  const { settings } = state;
  const limit = settings.maxErrorRate;
  const probes = poll.probes ?? { passed: 0, failed: 0, failStreak: 0 };
  const counted = clean(poll.canary);
  const canary = add(counted, clean({ requests: probes.passed + probes.failed, failures: probes.failed }));
  const stable = poll.stable ? clean(poll.stable) : undefined;

  const newStep = poll.step !== state.step.index;
  const step0 = newStep ? { index: poll.step, canary: ZERO, requests: 0, stable: undefined } : state.step;
  const step = {
    index: poll.step,
    canary: add(step0.canary, canary),
    requests: step0.requests + counted.requests,
    stable: stable ? add(step0.stable ?? ZERO, stable) : step0.stable,
  };
  const next: JudgeState = {
    settings,
    polls: state.polls + 1,
    ratioLogs: stable ? addRatioPoll(state.ratioLogs, canary, stable) : state.ratioLogs,
    limitLogs: stable ? state.limitLogs : addLimitPoll(state.limitLogs, canary, limit),
    paired: stable
      ? { canary: add(state.paired.canary, canary), stable: add(state.paired.stable, stable) }
      : state.paired,
    alone: stable ? state.alone : add(state.alone, canary),
    step,
    recent: trimRecent([{ canary, stable }, ...state.recent]),
    latency: state.latency
      ? observeLatency(state.latency, poll.latency ?? { canary: [], stable: stable ? [] : undefined }, poll.step)
      : undefined,
    failed: undefined,
  };

  const logWorse = logMeanExp(next.ratioLogs);
  const logLimit = logMeanExp(next.limitLogs);
  const latency = next.latency ? latencyEvidence(next.latency) : undefined;
  const logLatency = latency ? latency.logPaired + latency.logAlone : -Infinity;
  // Errors alone, or the mean of the error and the latency evidence (a mean of supermartingales is one).
  const logTotal = latency ? logMeanExp([logWorse + logLimit, logLatency]) : logWorse + logLimit;
  const evidence: Evidence = {
    settings,
    polls: next.polls,
    paired: next.paired,
    alone: next.alone,
    step,
    strength: Math.exp(logTotal),
    worseStrength: Math.exp(logWorse),
    limitStrength: Math.exp(logLimit),
    threshold: 1 / settings.falseRollbackRate,
    latency: latency ? { ...latency, strength: Math.exp(logLatency) } : undefined,
  };
  const fail = (reason: FailReason, ev: Evidence = evidence) => {
    const verdict = { kind: 'fail', reason, evidence: ev } as const;
    return { state: { ...next, failed: verdict }, verdict };
  };
  const wait = (reason: WaitReason) => ({ state: next, verdict: { kind: 'wait', reason, evidence } as const });

  // 1. The ceiling: obvious failure acts at once.
  if (probes.failStreak >= settings.unhealthyThreshold && probes.failStreak > 0) {
    return fail('ceiling', { ...evidence, ceiling: { kind: 'probes', streak: probes.failStreak } });
  }
  const window = recentWindow(next.recent);
  const ceilingShare = Math.max(CEILING_SHARE, limit);
  if (window && share(window.canary) > ceilingShare) {
    const stableToo =
      window.stable !== undefined &&
      window.stable.requests >= CEILING_MIN_REQUESTS &&
      share(window.stable) > CEILING_SHARE;
    if (!stableToo) {
      return fail('ceiling', { ...evidence, ceiling: { kind: 'requests', ...window } });
    }
  }
  // 2. The evidence: one threshold for all tests together.
  if (logTotal >= Math.log(evidence.threshold)) {
    if (latency && logLatency > logWorse + logLimit)
      return fail(latency.logPaired >= latency.logAlone ? 'slower-than-stable' : 'over-latency-limit');
    return fail(stable ? 'worse-than-stable' : 'over-limit');
  }
  // 3. May the step pass?
  const enough = Math.max(settings.minRequests, 1);
  const over = share(step.canary) > limit;
  if (
    over &&
    step.stable &&
    step.canary.requests >= enough &&
    step.stable.requests >= enough &&
    share(step.stable) > limit
  ) {
    return wait('downstream');
  }
  if (!poll.stepEnded) return wait('running');
  if (step.requests < settings.minRequests) return wait('min-requests');
  if (over) return wait('above-limit');
  return { state: next, verdict: { kind: 'pass', evidence } };
}

// ---- Verdict text -------------------------------------------------------------------------------------------------

function tally(t: Tally): string {
  return `${t.failures} of ${t.requests}`;
}

/** "1 time in 340", "1 time in a million or more". */
export function oneIn(strength: number): string {
  if (!(strength < 1e6)) return '1 time in a million';
  if (strength < 10) return `1 time in ${Math.max(1, Number(strength.toPrecision(2)))}`;
  return `1 time in ${Math.round(strength).toLocaleString('en-US')}`;
}

/** How many times as often the new pool failed: "3.2x", or undefined when stable had no failures. */
export function ratio(canary: Tally, stable: Tally): string | undefined {
  const s = share(stable);
  if (s === 0) return undefined;
  const r = share(canary) / s;
  return `${r >= 10 ? Math.round(r) : Number(r.toPrecision(2))}x`;
}

function versus(canary: Tally, stable: Tally | undefined): string {
  if (!stable)
    return `new version ${formatFraction(share(canary), 'significant')} failed (${tally(canary)}), no stable traffic`;
  const r = ratio(canary, stable);
  return (
    `new version ${formatFraction(share(canary), 'significant')} failed (${tally(canary)}), stable ${formatFraction(share(stable), 'significant')} (${tally(stable)})` +
    (r ? `: ${r} as often` : stable.requests ? ': stable had no failures' : '')
  );
}

function chance(e: Evidence, who: string): string {
  const rollback = `rollback at 1 time in ${Math.round(e.threshold)}`;
  if (e.strength < 1.5) {
    const what = e.paired.stable.requests > 0 ? 'worse than stable' : 'over the limit';
    return `no sign it is ${what} (${rollback})`;
  }
  return `${who} would show evidence this strong ${oneIn(e.strength)} (${rollback})`;
}

function goodWho(e: Evidence): string {
  return e.paired.stable.requests > 0
    ? 'a version as good as stable'
    : `a version within max-error-rate ${formatFraction(e.settings.maxErrorRate, 'significant')}`;
}

/**
 * The verdict for people: logs and the job summary (long), or a GitHub deployment status description (short, at most
 * 140 characters).
 */
/**
 * Why a step that did not pass was held, for the step table: `too little traffic: 3 requests seen of min-requests
 * 50`; undefined when the judge was not holding it (still within its duration, passed or failed).
 */
export function heldReason(verdict: JudgeVerdict | undefined): string | undefined {
  if (verdict?.kind !== 'wait' || verdict.reason === 'running') return undefined;
  const e = verdict.evidence;
  if (verdict.reason === 'min-requests')
    return `too little traffic: ${e.step.requests} requests seen of min-requests ${e.settings.minRequests}`;
  return describeVerdict(verdict, { short: true });
}

export function describeVerdict(verdict: JudgeVerdict, options: { short?: boolean } = {}): string {
  const text = options.short ? shortText(verdict) : longText(verdict);
  return options.short && text.length > 140 ? `${text.slice(0, 139)}…` : text;
}

function longText(v: JudgeVerdict): string {
  const e = v.evidence;
  const limit = `max-error-rate ${formatFraction(e.settings.maxErrorRate, 'significant')}`;
  const stepShares = `this step ${versus(e.step.canary, e.step.stable)}`;
  if (v.kind === 'fail') {
    if (v.reason === 'ceiling') {
      const c = e.ceiling;
      if (c?.kind === 'probes')
        return `Hard ceiling: ${c.streak} probes in a row failed on one new server (unhealthy-threshold ${e.settings.unhealthyThreshold}); rolled back at once.`;
      if (c?.kind === 'requests')
        return (
          `Hard ceiling: ${c.canary.failures} of the last ${c.canary.requests} requests to the new version failed (more than half)` +
          (c.stable
            ? `, stable ${formatFraction(share(c.stable), 'significant')} (${tally(c.stable)}) over the same polls`
            : '') +
          '; rolled back at once.'
        );
      return 'Hard ceiling reached; rolled back at once.';
    }
    if (v.reason === 'slower-than-stable' || v.reason === 'over-latency-limit') return slowerText(v.reason, e);
    if (v.reason === 'worse-than-stable') {
      return `Worse than stable: ${versus(e.paired.canary, e.paired.stable)} over the same polls. A version as good as stable shows a difference this large less than ${oneIn(e.strength)} (rollback at 1 time in ${Math.round(e.threshold)}).`;
    }
    return (
      `Over ${limit}: with no stable traffic, the new version failed ${formatFraction(share(e.alone), 'significant')} (${tally(e.alone)}). ` +
      `${goodWho(e).replace(/^a/, 'A')} shows this less than ${oneIn(e.strength)} (rollback at 1 time in ${Math.round(e.threshold)}).`
    );
  }
  if (v.kind === 'pass') return `Passed: ${stepShares}; within ${limit}; ${chance(e, goodWho(e))}.`;
  switch (v.reason) {
    case 'running':
      return `Watching: ${stepShares}; ${chance(e, goodWho(e))}.`;
    case 'min-requests':
      return `Too little traffic: ${e.step.requests} of min-requests ${e.settings.minRequests} served this step; waiting for more (up to timeout).`;
    case 'above-limit':
      return `Over ${limit} so far, not proven: ${stepShares}. Not passing; waiting for more traffic (up to timeout); ${chance(e, goodWho(e))}.`;
    case 'downstream': {
      const r = e.step.stable ? ratio(e.step.canary, e.step.stable) : undefined;
      return (
        `Both versions failing (downstream or shared outage?): this step new version ${formatFraction(share(e.step.canary), 'significant')} (${tally(e.step.canary)}), ` +
        `stable ${formatFraction(share(e.step.stable ?? ZERO), 'significant')} (${tally(e.step.stable ?? ZERO)}), both over ${limit}` +
        (r ? `; the new version fails ${r} as often as stable` : '') +
        '. Not rolling back for being worse, not promoting: holding this step (up to timeout).'
      );
    }
  }
}

function slowerText(reason: 'slower-than-stable' | 'over-latency-limit', e: Evidence): string {
  const who = e.settings.version ? e.settings.version : 'The new version';
  const rollback = `rollback at 1 time in ${Math.round(e.threshold)}`;
  const lat = e.latency;
  const tolerance = describeTolerance(e.settings.latency?.tolerance);
  if (reason === 'slower-than-stable' && lat) {
    return (
      `Slower than stable: ${describeSlower(lat, who)}; ${lat.slow.canary} of its ${lat.slow.canaryAll} answers were over the stable median plus max-latency-increase ${tolerance}, stable's ${lat.slow.stable} of ${lat.slow.stableAll} over its median, over the same polls. ` +
      `A version within max-latency-increase shows a difference this large less than ${oneIn(e.strength)} (${rollback}).`
    );
  }
  const limit = e.settings.latency?.limit;
  if (lat && limit) {
    return (
      `Over max-latency ${describeLimit(limit)}: with no stable traffic, ${lat.alone.over} of ${who === 'The new version' ? "the new version's" : `${who}'s`} ${lat.alone.all} answers took longer than ${formatDuration(limit.ms)} (this step ${formatSummary(lat.canary)}). ` +
      `A version within it shows this less than ${oneIn(e.strength)} (${rollback}).`
    );
  }
  return `Slower than allowed (${rollback}).`;
}

function shortText(v: JudgeVerdict): string {
  const e = v.evidence;
  const limit = formatFraction(e.settings.maxErrorRate, 'significant');
  const pair = (c: Tally, s: Tally | undefined) =>
    s
      ? `new ${formatFraction(share(c), 'significant')} vs stable ${formatFraction(share(s), 'significant')} failed`
      : `new ${formatFraction(share(c), 'significant')} failed`;
  if (v.kind === 'fail') {
    if (v.reason === 'ceiling') {
      const c = e.ceiling;
      return c?.kind === 'probes'
        ? `Ceiling: ${c.streak} probes in a row failed`
        : `Ceiling: ${c?.canary.failures ?? 0} of last ${c?.canary.requests ?? 0} requests failed`;
    }
    if (v.reason === 'slower-than-stable' && e.latency) {
      const c = e.latency.canary;
      const st = e.latency.stable;
      return `Slower: p50 ${Math.round(c.p50)} vs ${Math.round(st.p50)} ms, p95 ${Math.round(c.p95)} vs ${Math.round(st.p95)} ms; if within, <${oneIn(e.strength)}`;
    }
    if (v.reason === 'over-latency-limit' && e.latency && e.settings.latency?.limit) {
      const l = e.settings.latency.limit;
      return `Over max-latency ${describeLimit(l)}: ${e.latency.alone.over} of ${e.latency.alone.all} slower; if within, <${oneIn(e.strength)}`;
    }
    if (v.reason === 'worse-than-stable') {
      const r = ratio(e.paired.canary, e.paired.stable);
      return `Worse: ${pair(e.paired.canary, e.paired.stable)}${r ? ` (${r})` : ''}; if as good, <${oneIn(e.strength)}`;
    }
    return `Over ${limit}: new ${formatFraction(share(e.alone), 'significant')} failed; if within, <${oneIn(e.strength)}`;
  }
  const step = pair(e.step.canary, e.step.stable);
  if (v.kind === 'pass') return `Passed: ${step}, within ${limit}`;
  switch (v.reason) {
    case 'running':
      return `Watching: ${step}`;
    case 'min-requests':
      return `Waiting: ${e.step.requests}/${e.settings.minRequests} requests`;
    case 'above-limit':
      return `Holding: ${step}, over ${limit}, not proven`;
    case 'downstream':
      return `Holding: both failing (${step}), over ${limit}; downstream?`;
  }
}
