/** Waiting for conditions: drained, healthy by direct probes, healthy by the load balancer, and analysis windows. */
import * as core from '@actions/core';
import type { Counters, Server } from '../model/server.js';
import type { Driver } from '../lb/driver.js';
import { judgeWindow, type Verdict, type WindowData } from '../analysis/window.js';
import { probeUrl, type Prober } from '../probes/http.js';
import { parseSelector, type Selector } from '../model/selectors.js';
import { COUNTER_POLL_MS } from '../plan/build.js';
import type { Settings } from '../settings.js';
import { sleep } from '../model/time.js';

export function exactSelectors(ids: readonly string[]): Selector[] {
  return ids.map((id) => {
    const selector = parseSelector(id);
    if ('error' in selector) throw new Error(`internal: bad server id ${id}`);
    return selector;
  });
}

const POLL_MS = 200;

/** Waits until no request is in flight on the servers, or the timeout; returns what is still in flight. */
export async function waitDrained(
  driver: Driver,
  ids: readonly string[],
  timeoutMs: number,
  signal: AbortSignal,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const servers = await driver.servers(exactSelectors(ids));
    const inFlight = servers.reduce((sum, s) => sum + s.inFlight, 0);
    if (inFlight === 0 || Date.now() >= deadline) return inFlight;
    await sleep(POLL_MS, signal);
  }
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
  let last: string;
  for (;;) {
    const result = await prober.probe(url);
    streak = result.ok ? streak + 1 : 0;
    last = result.reason;
    if (streak >= settings.probe.healthyThreshold) return;
    if (Date.now() + settings.probe.intervalMs > deadline) {
      throw new Error(
        `${url} did not pass ${settings.probe.healthyThreshold} probes in a row within startup-timeout (last: ${last})`,
      );
    }
    await sleep(settings.probe.intervalMs, signal);
  }
}

/** Waits until the load balancer's own check passed since the server changed state. Servers without checks pass. */
export async function waitLbHealthy(
  driver: Driver,
  ids: readonly string[],
  deadline: number,
  signal: AbortSignal,
): Promise<Map<string, string>> {
  for (;;) {
    const servers = await driver.servers(exactSelectors(ids));
    const pending = servers.filter((s) => s.check && !s.check.settled);
    if (pending.length === 0) return new Map();
    if (Date.now() + POLL_MS > deadline) return new Map(pending.map((s) => [s.id, s.check?.status ?? 'unknown']));
    await sleep(POLL_MS, signal);
  }
}

function sum(counters: Map<string, Counters>, ids: readonly string[]): Counters {
  let requests = 0;
  let failures = 0;
  for (const id of ids) {
    requests += counters.get(id)?.requests ?? 0;
    failures += counters.get(id)?.failures ?? 0;
  }
  return { requests, failures };
}

export interface WindowResult {
  readonly verdict: Verdict;
  readonly data: WindowData;
  /** The stable servers' numbers over the same window, when asked for. */
  readonly stable: { readonly requests: number; readonly failures: number } | undefined;
  /** Latency of every probe in the window, in ms. */
  readonly latencies: readonly number[];
}

export interface WindowSubjects {
  /** The servers on the new version, judged. */
  readonly watched: readonly Server[];
  /** The servers on the stable version, measured over the same window for comparison. */
  readonly stable?: readonly Server[];
  /** The pool name for {pool} in health-url. */
  readonly pool?: string;
}

/**
 * Watches one analysis window: counter deltas polled every second (new and stable servers in one round trip),
 * health-url probes of each new server and check-url probes through the load balancer, when set. Fails as soon
 * as the numbers say so; extends while fewer than min-requests were served.
 */
export async function watchWindow(
  driver: Driver,
  prober: Prober,
  subjects: WindowSubjects,
  settings: Settings,
  signal: AbortSignal,
): Promise<WindowResult> {
  const ids = subjects.watched.map((s) => s.id);
  const stableIds = (subjects.stable ?? []).map((s) => s.id);
  const first = await driver.counters([...ids, ...stableIds]);
  const start = sum(first, ids);
  const stableStart = sum(first, stableIds);
  const started = Date.now();
  let probesPassed = 0;
  let probesFailed = 0;
  const latencies: number[] = [];
  let extendedNoted = false;
  const streaks = new Map<string, number>();
  let nextProbe = started;
  const urls: [string, string][] = subjects.watched.map((s) => [
    s.id,
    settings.probe.healthUrl ? probeUrl(settings.probe.healthUrl, s, subjects.pool) : '',
  ]);
  if (settings.probe.checkUrl) urls.push(['check-url', settings.probe.checkUrl]);
  const probed = urls.filter(([, url]) => url !== '');
  for (;;) {
    if (probed.length && Date.now() >= nextProbe) {
      nextProbe = Date.now() + settings.probe.intervalMs;
      const results = await Promise.all(probed.map(([, url]) => prober.probe(url)));
      results.forEach((r, i) => {
        const id = probed[i]?.[0] ?? '';
        latencies.push(r.latencyMs);
        if (r.ok) probesPassed++;
        else probesFailed++;
        streaks.set(id, r.ok ? 0 : (streaks.get(id) ?? 0) + 1);
      });
    }
    const counters = await driver.counters([...ids, ...stableIds]);
    const now = sum(counters, ids);
    const stableNow = sum(counters, stableIds);
    const data: WindowData = {
      requests: now.requests - start.requests,
      failures: now.failures - start.failures,
      probesPassed,
      probesFailed,
      probeFailStreak: Math.max(0, ...streaks.values()),
      elapsedMs: Date.now() - started,
    };
    const verdict = judgeWindow(
      data,
      settings.analysis,
      settings.analysis.intervalMs,
      settings.probe.unhealthyThreshold,
    );
    if (verdict.kind === 'wait' && data.elapsedMs >= settings.analysis.intervalMs && !extendedNoted) {
      // Say once per window why it goes on: too little traffic to judge is not a pass.
      extendedNoted = true;
      core.info(
        `${verdict.summary} (min-requests ${settings.analysis.minRequests}); waiting for more traffic, up to timeout`,
      );
    }
    if (verdict.kind !== 'wait') {
      const stable = stableIds.length
        ? { requests: stableNow.requests - stableStart.requests, failures: stableNow.failures - stableStart.failures }
        : undefined;
      return { verdict, data, stable, latencies };
    }
    await sleep(COUNTER_POLL_MS, signal);
  }
}
