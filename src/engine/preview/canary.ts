/**
 * A preview's canary: the verified preview build also serves a share of a backend's real traffic for a while,
 * judged window by window like a canary deploy, pulled out at once when a window fails and at the end either way.
 * It is registered as its own server in that backend, so the preview route itself is never touched.
 */
import { formatPercent } from '../../model/format.js';
import type { Server } from '../../model/server.js';
import type { PreviewRouting } from '../../lb/driver.js';
import { startJudge, waitLbHealthy, watchWindow } from '../gates.js';
import { NOTHING_IN_FLIGHT, type EngineContext } from '../context.js';
import { applyVerified } from '../writes.js';
import type { PreviewCanary } from '../../settings.js';
import { canaryName, ownedBy } from './names.js';
import { backendServers, readServer, retire } from './servers.js';

export interface CanaryResult {
  readonly server: string;
  readonly backend: string;
  /** The share of the backend's traffic the weights give the canary, in %. */
  readonly share: number;
  readonly durationMs: number;
  readonly windows: number;
  readonly requests: number;
  readonly failures: number;
  readonly stableRequests: number;
  readonly stableFailures: number;
  readonly passed: boolean;
  /** The last window's verdict, or why the canary never took traffic. */
  readonly verdict: string;
}

/**
 * The weight that gives `percent` of a backend whose servers in traffic weigh `others` together, from 1 (any less
 * is no traffic) to the driver's largest weight `max`.
 */
export function canaryWeight(percent: number, others: number, max: number): { weight: number; share: number } {
  const exact = (percent * others) / (100 - percent);
  const weight = Math.min(max, Math.max(1, Math.round(exact)));
  return { weight, share: (100 * weight) / (others + weight) };
}

/** Out of traffic and off the load balancer. */
async function pullOut(ctx: EngineContext, routing: PreviewRouting, canary: Server): Promise<void> {
  await retire(ctx, routing, [canary]);
  ctx.timeline.note(`${canary.id}: canary pulled out of ${canary.backend}`);
}

export async function runPreviewCanary(
  ctx: EngineContext,
  routing: PreviewRouting,
  preview: Server,
  spec: PreviewCanary,
): Promise<CanaryResult> {
  const { driver, settings, timeline } = ctx;
  const key = settings.previewKey;
  const servers = await backendServers(driver, spec.backend);
  // An earlier run that was cut off may have left a canary of the key's builds behind: take it out first. Only
  // exact canary names of the key's preview servers count, never a pattern over a backend of real traffic.
  const canaries = new Set(ownedBy(key, await routing.servers()).map((s) => canaryName(s.name)));
  const leftovers = servers.filter((s) => canaries.has(s.name));
  await retire(ctx, routing, leftovers);
  const stable = servers.filter((s) => !leftovers.includes(s) && s.admin === 'ready' && s.weight > 0);
  if (stable.length === 0)
    throw new Error(`preview-canary: backend ${spec.backend} has no server in traffic to share with`);
  const { weight, share } = canaryWeight(
    spec.percent,
    stable.reduce((sum, s) => sum + s.weight, 0),
    driver.capabilities.weights.max,
  );
  const id = `${spec.backend}/${canaryName(preview.name)}`;
  const base = { server: id, backend: spec.backend, share, durationMs: spec.durationMs };

  await routing.register(id, preview.address, {
    intervalMs: settings.probe.intervalMs,
    rise: settings.probe.healthyThreshold,
    fall: settings.probe.unhealthyThreshold,
  });
  // Should the runner die from here on, the post step takes the canary out of traffic.
  ctx.hooks.checkpoint({ kind: 'restore', changes: [{ server: id, weight: 0, admin: 'maint' }] });
  timeline.note(`${id} registered at ${preview.address} (maint, weight 0)`);
  let inTraffic = false;
  try {
    await applyVerified(driver, [{ server: id, admin: 'drain' }]);
    const unhealthy = await waitLbHealthy(driver, [id], Date.now() + settings.startupTimeoutMs, ctx.signal);
    const status = unhealthy.get(id);
    if (status) {
      await pullOut(ctx, routing, await readServer(driver, id));
      ctx.hooks.checkpoint(NOTHING_IN_FLIGHT);
      const verdict = `${spec.backend}'s health check did not pass within startup-timeout (${status})`;
      return {
        ...base,
        windows: 0,
        requests: 0,
        failures: 0,
        stableRequests: 0,
        stableFailures: 0,
        passed: false,
        verdict,
      };
    }
    await applyVerified(driver, [{ server: id, weight, admin: 'ready' }]);
    inTraffic = true;
    timeline.note(`${id}: weight ${weight}, ${formatPercent(share, 'fixed')} of ${spec.backend}'s traffic`);
    const canary = await readServer(driver, id);
    const started = Date.now();
    let windows = 0;
    const totals = { requests: 0, failures: 0, stableRequests: 0, stableFailures: 0 };
    let verdict = 'no window ran';
    let passed = true;
    // Judged like a canary step that lasts the canary's duration; it ends on a pass or a fail.
    const judge = startJudge(settings, (text) => timeline.note(text));
    const step = { index: 0, endsAt: started + spec.durationMs };
    for (;;) {
      const window = await watchWindow(
        driver,
        ctx.prober,
        { watched: [canary], stable },
        settings,
        ctx.signal,
        judge,
        step,
      );
      windows++;
      totals.requests += window.data.requests;
      totals.failures += window.data.failures + window.data.probesFailed;
      totals.stableRequests += window.stable?.requests ?? 0;
      totals.stableFailures += window.stable?.failures ?? 0;
      verdict = window.verdict.summary;
      timeline.note(`canary window ${windows}: ${window.verdict.kind}: ${verdict}`);
      if (window.verdict.kind === 'fail') {
        passed = false;
        break;
      }
      if (window.verdict.kind === 'pass') break;
      // Its duration is over without a verdict (too little traffic, or over the limit but not proven): it leaves
      // real traffic now all the same, as promised, and says so.
      if (Date.now() >= step.endsAt) {
        verdict = `${verdict} No verdict within its duration: taken out of real traffic as planned.`;
        break;
      }
    }
    await pullOut(ctx, routing, canary);
    inTraffic = false;
    ctx.hooks.checkpoint(NOTHING_IN_FLIGHT);
    return { ...base, windows, ...totals, passed, verdict };
  } catch (error) {
    // Cancelled or the load balancer failed: out of traffic first, then tell.
    if (inTraffic) await driver.apply([{ server: id, weight: 0, admin: 'maint' }]).catch(() => undefined);
    throw error;
  }
}
