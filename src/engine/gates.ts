/** Waiting for conditions: drained, healthy by direct probes, healthy by the load balancer, and analysis windows. */
import type { Counters, Driver, Server } from '../lb/driver.js';
import { judgeWindow, type Verdict, type WindowData } from '../analysis/window.js';
import { probeUrl, type Prober } from '../probes/http.js';
import { parseSelector, type Selector } from '../plan/selectors.js';
import { COUNTER_POLL_MS } from '../plan/build.js';
import type { Settings } from '../settings.js';
import { sleep } from './wait.js';

export function exactSelectors(ids: readonly string[]): Selector[] {
  return ids.map((id) => {
    const selector = parseSelector(id);
    if ('error' in selector) throw new Error(`internal: bad server id ${id}`);
    return selector;
  });
}

const POLL_MS = 200;

/** Waits until no request is in flight on the servers, or the timeout; returns what is still in flight. */
export async function waitDrained(driver: Driver, ids: readonly string[], timeoutMs: number, signal: AbortSignal): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const servers = await driver.servers(exactSelectors(ids));
    const inFlight = servers.reduce((sum, s) => sum + s.inFlight, 0);
    if (inFlight === 0 || Date.now() >= deadline) return inFlight;
    await sleep(POLL_MS, signal);
  }
}

/** Probes one server directly until healthy-threshold passes in a row; throws with the last reason at the deadline. */
export async function waitProbesPass(prober: Prober, url: string, settings: Settings, deadline: number, signal: AbortSignal): Promise<void> {
  let streak = 0;
  let last: string;
  for (;;) {
    const result = await prober.probe(url);
    streak = result.ok ? streak + 1 : 0;
    last = result.reason;
    if (streak >= settings.probe.healthyThreshold) return;
    if (Date.now() + settings.probe.intervalMs > deadline) {
      throw new Error(`${url} did not pass ${settings.probe.healthyThreshold} probes in a row within startup-timeout (last: ${last})`);
    }
    await sleep(settings.probe.intervalMs, signal);
  }
}

/** Waits until the load balancer's own check passed since the server changed state. Servers without checks pass. */
export async function waitLbHealthy(driver: Driver, ids: readonly string[], deadline: number, signal: AbortSignal): Promise<Map<string, string>> {
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
}

/**
 * Watches the servers for one analysis window: counter deltas polled every second, and health-url probes when
 * set. Fails as soon as the numbers say so; extends while fewer than min-requests were served.
 */
export async function watchWindow(
  driver: Driver,
  prober: Prober,
  servers: readonly Server[],
  settings: Settings,
  signal: AbortSignal,
  pool = '',
): Promise<WindowResult> {
  const ids = servers.map((s) => s.id);
  const start = sum(await driver.counters(ids), ids);
  const started = Date.now();
  let probesPassed = 0;
  let probesFailed = 0;
  const streaks = new Map<string, number>();
  let nextProbe = started;
  for (;;) {
    if (settings.probe.healthUrl && Date.now() >= nextProbe) {
      nextProbe = Date.now() + settings.probe.intervalMs;
      const results = await Promise.all(servers.map((s) => prober.probe(probeUrl(settings.probe.healthUrl, s, pool))));
      results.forEach((r, i) => {
        const id = ids[i] ?? '';
        if (r.ok) probesPassed++;
        else probesFailed++;
        streaks.set(id, r.ok ? 0 : (streaks.get(id) ?? 0) + 1);
      });
    }
    const now = sum(await driver.counters(ids), ids);
    const data: WindowData = {
      requests: now.requests - start.requests,
      failures: now.failures - start.failures,
      probesPassed,
      probesFailed,
      probeFailStreak: Math.max(0, ...streaks.values()),
      elapsedMs: Date.now() - started,
    };
    const verdict = judgeWindow(data, settings.analysis, settings.analysis.intervalMs, settings.probe.unhealthyThreshold);
    if (verdict.kind !== 'wait') return { verdict, data };
    await sleep(COUNTER_POLL_MS, signal);
  }
}
