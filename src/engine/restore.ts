/**
 * Putting back servers a stopped rollout left out of traffic with a version nobody verified: each returns to its
 * original state and weight once it passes its check (the load balancer's own, resumed in drain where new requests
 * still go elsewhere; else its health-url), the others go back to maint and stay out. Used by the post step and by
 * a rolling abort.
 */
import type { Driver } from '../lb/driver.js';
import type { Change, PendingRestore } from '../model/server.js';
import { pollUntil } from '../model/poll.js';
import { Prober } from '../probes/http.js';
import type { ProbeSettings } from '../settings.js';
import { waitLbHealthy } from './gates.js';
import { applyVerified } from './writes.js';

export interface RestoreResult {
  /** Back in their original state and weight. */
  readonly restored: readonly PendingRestore[];
  /** Still out of traffic (maint), with why. */
  readonly out: ReadonlyMap<string, string>;
  /** What a person applies to put the ones still out back, once they pass their check. */
  readonly manual: string;
}

export function originalOf(pending: PendingRestore): Change {
  return { server: pending.server, weight: pending.weight, admin: pending.admin };
}

async function probePasses(prober: Prober, url: string, probe: ProbeSettings, deadline: number): Promise<string> {
  let streak = 0;
  const read = async () => {
    const result = await prober.probe(url);
    streak = result.ok ? streak + 1 : 0;
    return result.reason;
  };
  const polled = await pollUntil(read, () => streak >= probe.healthyThreshold, {
    pause: () => probe.intervalMs,
    deadline,
  });
  return polled.done ? '' : `${url} did not pass ${probe.healthyThreshold} probes in a row (last: ${polled.value})`;
}

export async function restoreVerified(
  driver: Driver,
  pending: readonly PendingRestore[],
  verifyMs: number,
  probe: ProbeSettings | undefined,
): Promise<RestoreResult> {
  const out = new Map<string, string>();
  const deadline = Date.now() + verifyMs;
  if (driver.capabilities.healthChecks) {
    await driver.apply(pending.map((p) => ({ server: p.server, admin: 'drain' })));
    const unhealthy = await waitLbHealthy(
      driver,
      pending.map((p) => p.server),
      deadline,
      AbortSignal.timeout(verifyMs + 5000),
    );
    unhealthy.forEach((status, id) => out.set(id, `the load balancer's check did not pass: ${status}`));
  }
  const probed = pending.filter((p) => !out.has(p.server) && p.probe);
  if (probed.length && probe) {
    const prober = new Prober(probe);
    try {
      await Promise.all(
        probed.map(async (p) => {
          const why = await probePasses(prober, p.probe ?? '', probe, deadline);
          if (why) out.set(p.server, why);
        }),
      );
    } finally {
      await prober.close();
    }
  }
  if (!driver.capabilities.healthChecks) {
    for (const p of pending)
      if (!out.has(p.server) && !(p.probe && probe))
        out.set(p.server, 'nothing can verify it here: the load balancer has no check of its own and no health-url');
  }
  const restored = pending.filter((p) => !out.has(p.server));
  const stillOut = pending.filter((p) => out.has(p.server));
  if (restored.length) await applyVerified(driver, restored.map(originalOf));
  if (stillOut.length) await driver.apply(stillOut.map((p) => ({ server: p.server, admin: 'maint' })));
  return { restored, out, manual: stillOut.length ? driver.manualSteps(stillOut.map(originalOf)) : '' };
}
