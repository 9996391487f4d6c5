/** abort: send all traffic of a paused or running canary or blue-green rollout back to its stable pool. */
import * as core from '@actions/core';
import type { Driver } from '../lb/driver.js';
import { stableChanges } from '../plan/record.js';
import { deploymentIdText } from '../report/deployment.js';
import type { Outcome } from '../report/outputs.js';
import { headline, writeSummary } from '../report/summary.js';
import type { Settings } from '../settings.js';
import { describeRollout, findActive, mismatch, nothingTo } from './rollout.js';

export async function abort(settings: Settings, driver: Driver): Promise<Outcome> {
  const found = await findActive(settings, driver, 'abort');
  if ('none' in found) return nothingTo(found.none);
  const { record, rollout, position } = found;
  if (position.kind === 'mismatch') mismatch(found, 'abort');
  const live = record.pools?.live ?? '';
  if (position.kind === 'step') {
    await core.group(`Abort: all traffic back on ${live}`, async () => {
      const changes = stableChanges(record);
      await driver.apply(changes);
      core.info(
        `weights ${changes.map((c) => `${c.server}=${c.weight}`).join(' ')} (abort: all traffic back on ${live})`,
      );
    });
  }
  const message = `Aborted the ${describeRollout(rollout)}: all traffic is on ${live}${position.kind === 'stable' ? ' (it already was)' : ''}.`;
  await rollout.deployment.status('inactive', `Aborted: all traffic back on ${live}`);
  await writeSummary(headline('aborted', message));
  core.info(message);
  return { result: 'aborted', livePool: live, weight: 0, deploymentId: deploymentIdText(rollout.deployment) };
}
