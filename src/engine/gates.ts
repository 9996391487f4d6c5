/** Waiting for conditions: drained, healthy by direct probes, healthy by the load balancer, and analysis windows. */
import type { Counters, Server } from '../model/server.js';
import type { Driver, LatencyLog } from '../lb/driver.js';
import type { LatencyPoll } from '../analysis/latency.js';
import { describeLimit, describeTolerance } from '../model/latency.js';
import type { Verdict, WindowData } from '../analysis/window.js';
import {
  createJudge,
  describeVerdict,
  judgeSettings,
  observe,
  type JudgeState,
  type JudgeVerdict,
} from '../analysis/judge.js';
import { probeUrl, type Prober } from '../probes/http.js';
import { exactSelectors } from '../model/selectors.js';
import { COUNTER_POLL_MS } from '../plan/build.js';
import type { Settings } from '../settings.js';
import { sleep } from '../model/time.js';
import { pollUntil, type Polled } from '../model/poll.js';
import type { DuringChecks } from '../checks/runner.js';

const POLL_MS = 200;

/** Throws the signal's reason when the wait ended by it (the engine's waits end a cancelled run with its reason). */
function unlessAborted<T>(polled: Polled<T>, signal: AbortSignal): Polled<T> {
  if (!polled.done && polled.ended === 'aborted') throw signal.reason;
  return polled;
}

/** Waits until no request is in flight on the servers, or the timeout; returns what is still in flight. */
export async function waitDrained(
  driver: Driver,
  ids: readonly string[],
  timeoutMs: number,
  signal: AbortSignal,
): Promise<number> {
  const read = async () => (await driver.servers(exactSelectors(ids))).reduce((sum, s) => sum + s.inFlight, 0);
  // The last pause is cut to end at the deadline, so the drain gets all of drain-timeout and is read once at its end.
  const deadline = Date.now() + timeoutMs;
  const pacing = { pause: () => Math.max(1, Math.min(POLL_MS, deadline - Date.now())), deadline, signal };
  return unlessAborted(await pollUntil(read, (inFlight) => inFlight === 0, pacing), signal).value;
}

/** Probes one server directly until healthy-threshold passes in a row; throws with the last reason at the deadline. */
export async function waitProbesPass(
  prober: Prober,
  url: string,
  settings: Settings,
  deadline: number,
  signal: AbortSignal,
): Promise<void> {
  let streak = 0;
  const probe = async () => {
    const result = await prober.probe(url);
    streak = result.ok ? streak + 1 : 0;
    return result.reason;
  };
  const pacing = { pause: () => settings.probe.intervalMs, deadline, signal };
  const polled = unlessAborted(await pollUntil(probe, () => streak >= settings.probe.healthyThreshold, pacing), signal);
  if (!polled.done)
    throw new Error(
      `${url} did not pass ${settings.probe.healthyThreshold} probes in a row within startup-timeout (last: ${polled.value})`,
    );
}

/** Waits until the load balancer's own check passed since the server changed state. Servers without checks pass. */
export async function waitLbHealthy(
  driver: Driver,
  ids: readonly string[],
  deadline: number,
  signal: AbortSignal,
): Promise<Map<string, string>> {
  const read = async () => (await driver.servers(exactSelectors(ids))).filter((s) => s.check && !s.check.settled);
  const pacing = { pause: () => POLL_MS, deadline, signal };
  const { value: pending } = unlessAborted(await pollUntil(read, (p) => p.length === 0, pacing), signal);
  return new Map(pending.map((s) => [s.id, s.check?.status ?? 'unknown']));
}

/** What each server served since the last read; a counter that went backwards (a reload) counts from zero. */
function deltas(now: Map<string, Counters>, last: Map<string, Counters>, ids: readonly string[]): Counters {
  let requests = 0;
  let failures = 0;
  for (const id of ids) {
    const n = now.get(id) ?? { requests: 0, failures: 0 };
    const l = last.get(id) ?? { requests: 0, failures: 0 };
    const reset = n.requests < l.requests || n.failures < l.failures;
    requests += reset ? n.requests : n.requests - l.requests;
    failures += reset ? n.failures : n.failures - l.failures;
  }
  return { requests, failures };
}

/**
 * The one evidence process of a rollout: every window of every step feeds it (anytime-valid, see analysis/judge).
 * It starts at the first window, once it is known whether the load balancer gives per-request latency.
 */
export interface JudgeRun {
  state: JudgeState | undefined;
  /** Where latency comes from (undefined: not judged), and why not, as the load balancer said. */
  latency: LatencyLog | undefined;
  latencyMissing: string | undefined;
  readonly settings: Settings;
  /** Where the judge says, once, what latency it judges (the timeline). */
  readonly note: (text: string) => void;
}

export function startJudge(settings: Settings, note: (text: string) => void = () => undefined): JudgeRun {
  return { state: undefined, latency: undefined, latencyMissing: undefined, settings, note };
}

function latencyNote(judge: JudgeRun): string | undefined {
  const l = judge.settings.analysis.latency;
  if (!l || (!l.tolerance && !l.limit)) return undefined;
  if (!judge.latency) return `latency: not judged (${judge.latencyMissing ?? 'no per-request latency'}); errors only`;
  const what = [
    ...(l.tolerance ? [`max-latency-increase ${describeTolerance(l.tolerance)} against stable`] : []),
    ...(l.limit ? [`max-latency ${describeLimit(l.limit)} serving alone`] : []),
  ];
  return `latency: judged from ${judge.latency.source}: ${what.join(', ')}`;
}

const latencyWanted = (s: Settings) => Boolean(s.analysis.latency?.tolerance || s.analysis.latency?.limit);

async function judgeState(driver: Driver, judge: JudgeRun, ids: readonly string[]): Promise<JudgeState> {
  if (judge.state) return judge.state;
  // Whether users are shielded from the failures the judge counts, said once (the summary's timeline), read beside
  // the first window rather than before it: a step's traffic is already moving.
  const backends = [...new Set(ids.map((id) => id.split('/')[0] ?? id))];
  void driver
    .retries?.(backends)
    .then(
      (r) => r.text,
      (e: Error) => `could not be read: ${e.message}`,
    )
    .then((text) => judge.note(`retries: ${text}`));
  if (driver.latency && latencyWanted(judge.settings)) {
    judge.latencyMissing = await driver.latency.missing().catch((e: Error) => `could not be read: ${e.message}`);
    judge.latency = judge.latencyMissing ? undefined : driver.latency;
  } else if (latencyWanted(judge.settings)) {
    judge.latencyMissing = 'this load balancer gives no per-request latency';
  }
  judge.state = createJudge(judgeSettings(judge.settings, judge.latency !== undefined));
  const note = latencyNote(judge);
  if (note) judge.note(note);
  return judge.state;
}

/** This poll's latencies per pool; undefined when they could not be read (that poll judges errors only). */
async function readLatency(
  log: LatencyLog | undefined,
  ids: readonly string[],
  stableIds: readonly string[],
): Promise<LatencyPoll | undefined> {
  if (!log) return undefined;
  const read = await log.read([...ids, ...stableIds]).catch(() => undefined);
  if (!read) return undefined;
  const pick = (which: readonly string[]) => which.flatMap((id) => read.get(id) ?? []);
  return { canary: pick(ids), stable: stableIds.length ? pick(stableIds) : undefined };
}

export interface WindowResult {
  readonly verdict: Verdict;
  /** The judge's verdict behind it, for reports. */
  readonly judged: JudgeVerdict;
  readonly data: WindowData;
  /** The stable servers' numbers over the same window, when asked for. */
  readonly stable: { readonly requests: number; readonly failures: number } | undefined;
  /** Latency of every probe in the window, in ms. */
  readonly latencies: readonly number[];
  /** A check of the team's own failed the version (named in the verdict's summary). */
  readonly checkFailed?: boolean;
  /** The answers' latencies the load balancer logged in this window, per pool (ms); absent where it gives none. */
  readonly served?: { readonly canary: readonly number[]; readonly stable: readonly number[] } | undefined;
}

export interface WindowSubjects {
  /** The servers on the new version, judged. */
  readonly watched: readonly Server[];
  /** The servers on the stable version, measured over the same polls for comparison. */
  readonly stable?: readonly Server[];
  /** The pool name for {pool} in health-url. */
  readonly pool?: string;
}

/** Which step of the rollout a window belongs to, and when that step's duration is over. */
export interface WindowStep {
  readonly index: number;
  readonly endsAt: number;
}

function toVerdict(judged: JudgeVerdict): Verdict {
  const summary = describeVerdict(judged);
  return judged.kind === 'wait' ? { kind: 'wait', summary } : { kind: judged.kind, summary };
}

function addCounters(a: Counters, b: Counters): Counters {
  return { requests: a.requests + b.requests, failures: a.failures + b.failures };
}

/** The judge's verdict with what the team's checks add: a check that failed, or one not passed yet. */
function checkVerdict(verdict: Verdict, failure?: string, held?: string, checks?: DuringChecks): Verdict {
  if (failure) return { kind: 'fail', summary: `${failure[0]?.toUpperCase()}${failure.slice(1)}.` };
  if (held) return { kind: 'wait', summary: `${verdict.summary} Held: ${held}.` };
  const named = verdict.kind === 'fail' ? checks?.lastFailure() : undefined;
  return named ? { ...verdict, summary: `${verdict.summary} Last failure: ${named}.` } : verdict;
}

/**
 * Watches one analysis window: counters polled every COUNTER_POLL_MS (new and stable servers in one round trip),
 * health-url probes of each new server and check-url probes through the load balancer, when set, every poll fed to
 * the rollout's judge. Returns at once when the judge fails the version or passes the step, else when the window is
 * over (the verdict then says why the step goes on: it is still running, too little traffic, over the limit but
 * not proven, or a downstream outage).
 */
export async function watchWindow(
  driver: Driver,
  prober: Prober,
  subjects: WindowSubjects,
  settings: Settings,
  signal: AbortSignal,
  judge: JudgeRun,
  step: WindowStep,
  checks?: DuringChecks,
): Promise<WindowResult> {
  const ids = subjects.watched.map((s) => s.id);
  const stableIds = (subjects.stable ?? []).map((s) => s.id);
  let state = await judgeState(driver, judge, [...ids, ...stableIds]);
  let last = await driver.counters([...ids, ...stableIds]);
  // The latency log counts from here.
  await readLatency(judge.latency, ids, stableIds);
  const served = judge.latency ? { canary: [] as number[], stable: [] as number[] } : undefined;
  const started = Date.now();
  const total = { requests: 0, failures: 0 };
  const stableTotal = { requests: 0, failures: 0 };
  let probesPassed = 0;
  let probesFailed = 0;
  const latencies: number[] = [];
  const streaks = new Map<string, number>();
  let checkUrlFailed = 0;
  let nextProbe = started;
  const urls: [string, string][] = subjects.watched.map((s) => [
    s.id,
    settings.probe.healthUrl ? probeUrl(settings.probe.healthUrl, s, subjects.pool) : '',
  ]);
  if (settings.probe.checkUrl) urls.push(['check-url', settings.probe.checkUrl]);
  const probed = urls.filter(([, url]) => url !== '');
  for (;;) {
    const probes = { passed: 0, failed: 0, failStreak: 0 };
    if (probed.length && Date.now() >= nextProbe) {
      nextProbe = Date.now() + settings.probe.intervalMs;
      const results = await Promise.all(probed.map(([, url]) => prober.probe(url)));
      results.forEach((r, i) => {
        const id = probed[i]?.[0] ?? '';
        latencies.push(r.latencyMs);
        if (r.ok) probes.passed++;
        else probes.failed++;
        // check-url goes through the load balancer to either version: its failures count against the new version
        // like failed requests (the safe side), but no run of them is one new server's streak.
        if (id === 'check-url') checkUrlFailed += r.ok ? 0 : 1;
        else streaks.set(id, r.ok ? 0 : (streaks.get(id) ?? 0) + 1);
      });
      probesPassed += probes.passed;
      probesFailed += probes.failed;
    }
    const evidence = checks?.poll();
    probes.passed += evidence?.passed ?? 0;
    probes.failed += evidence?.failed ?? 0;
    probesPassed += evidence?.passed ?? 0;
    probesFailed += evidence?.failed ?? 0;
    probes.failStreak = Math.max(0, evidence?.failStreak ?? 0, ...streaks.values());
    const now = await driver.counters([...ids, ...stableIds]);
    const latency = await readLatency(judge.latency, ids, stableIds);
    if (served && latency) {
      served.canary.push(...latency.canary);
      served.stable.push(...(latency.stable ?? []));
    }
    const canary = deltas(now, last, ids);
    const counted = stableIds.length ? deltas(now, last, stableIds) : undefined;
    // A check's failures on the stable servers count like the stable pool's failed requests, for comparison.
    const stable = counted && evidence ? addCounters(counted, evidence.stable) : counted;
    last = now;
    total.requests += canary.requests;
    total.failures += canary.failures;
    if (stable) {
      stableTotal.requests += stable.requests;
      stableTotal.failures += stable.failures;
    }
    const observed = observe(state, {
      step: step.index,
      stepEnded: Date.now() >= step.endsAt,
      canary,
      stable,
      probes,
      latency,
    });
    judge.state = state = observed.state;
    const judged = observed.verdict;
    const elapsedMs = Date.now() - started;
    // No data is not a pass: the step waits until each of its checks passed once.
    const held = judged.kind === 'pass' ? checks?.pending() : undefined;
    if (evidence?.failure || (judged.kind !== 'wait' && !held) || elapsedMs >= settings.analysis.intervalMs) {
      const data: WindowData = {
        ...total,
        probesPassed,
        probesFailed,
        probeFailStreak: probes.failStreak,
        elapsedMs,
      };
      const summary = checkVerdict(toVerdict(judged), evidence?.failure, held, checks);
      return {
        ...(evidence?.failure ? { checkFailed: true } : {}),
        verdict: checkUrlFailed
          ? { ...summary, summary: `${summary.summary} check-url failed ${checkUrlFailed} time(s) in this window.` }
          : summary,
        judged,
        data,
        stable: stableIds.length ? stableTotal : undefined,
        latencies,
        served,
      };
    }
    await sleep(COUNTER_POLL_MS, signal);
  }
}
