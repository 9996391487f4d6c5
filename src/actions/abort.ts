/**
 * abort: send all traffic of a paused or running canary or blue-green rollout back to its stable pool; for a
 * rolling rollout, put its current batch back safely (servers that pass their check return to their original state
 * and weight, the others stay out and are named).
 */
import * as core from '@actions/core';
import { originalOf, restoreVerified } from '../engine/restore.js';
import type { Driver } from '../lb/driver.js';
import { applyVerified } from '../engine/writes.js';
import { describeChanges } from '../model/server.js';
import { outOfPlace, stableChanges } from '../plan/record.js';
import { deploymentIdText } from '../report/deployment.js';
import type { Outcome } from '../model/outcome.js';
import { headline, writeSummary } from '../report/summary.js';
import type { Settings } from '../settings.js';
import { NO_NOTIFY, type Notify } from '../notify/registry.js';
import { describeRollout, findActive, mismatch, nothingTo, type Located } from './rollout.js';

async function abortRolling(settings: Settings, driver: Driver, found: Located, notify: Notify): Promise<Outcome> {
  const { rollout, servers } = found;
  const out = outOfPlace(found.record, servers);
  const parts: string[] = [];
  if (!out.length) parts.push('every target was in its original state and weight already');
  else {
    const result = await core.group(`Abort: put back ${out.map((p) => p.server).join(', ')}`, () =>
      restoreVerified(driver, out, Math.min(settings.startupTimeoutMs, 60_000), settings.probe),
    );
    if (result.restored.length)
      parts.push(
        `${result.restored.map((p) => p.server).join(', ')} passed ${driver.capabilities.healthChecks ? "the load balancer's check" : 'health-url'} and went back to ${describeChanges(result.restored.map(originalOf))}`,
      );
    if (result.out.size)
      parts.push(
        `still out of traffic: ${[...result.out].map(([id, why]) => `${id} (${why})`).join('; ')}; once each answers its health check, restore it ${result.manual}`,
      );
  }
  const message = `Aborted the ${describeRollout(rollout)}: ${parts.join('; ')}.`;
  notify.send({ event: 'aborted', verdict: message });
  await rollout.deployment.status('inactive', `Aborted: ${parts.join('; ')}`);
  await writeSummary(headline('aborted', message));
  core.info(message);
  return { result: 'aborted', weight: 0, deploymentId: deploymentIdText(rollout.deployment) };
}

export async function abort(
  settings: Settings,
  driver: Driver,
  _signal?: AbortSignal,
  notify: Notify = NO_NOTIFY,
): Promise<Outcome> {
  const found = await findActive(settings, driver, 'abort');
  if ('none' in found) return nothingTo(found.none);
  const { record, rollout, position } = found;
  notify.describe({ version: record.version, strategy: record.strategy });
  if (record.strategy === 'rolling') return abortRolling(settings, driver, found, notify);
  if (position.kind === 'mismatch') mismatch(found, 'abort');
  const live = record.pools?.live ?? '';
  if (position.kind === 'step') {
    await core.group(`Abort: all traffic back on ${live}`, async () => {
      const changes = stableChanges(record);
      await applyVerified(driver, changes);
      core.info(
        `weights ${changes.map((c) => `${c.server}=${c.weight}`).join(' ')} (abort: all traffic back on ${live})`,
      );
    });
  }
  const message = `Aborted the ${describeRollout(rollout)}: all traffic is on ${live}${position.kind === 'stable' ? ' (it already was)' : ''}.`;
  notify.send({ event: 'aborted', verdict: message, share: 0, pools: { stable: live, new: record.pools?.idle ?? '' } });
  await rollout.deployment.status('inactive', `Aborted: all traffic back on ${live}`);
  await writeSummary(headline('aborted', message));
  core.info(message);
  return { result: 'aborted', livePool: live, weight: 0, deploymentId: deploymentIdText(rollout.deployment) };
}
