/**
 * The post step runs after the job's steps, even when the main step failed, crashed or was cancelled. When the
 * main step stopped mid-rollout, its checkpoint says what restores safe traffic: apply it and mark the deployment
 * failed. A finished or paused rollout leaves no checkpoint and is not touched.
 */
import * as core from '@actions/core';
import type { Change } from './lb/driver.js';
import { createDriver } from './lb/registry.js';
import { parseLoadBalancerUrl } from './lb/url.js';
import { readActionInputs } from './main.js';
import { existingDeployment } from './report/deployment.js';
import type { Settings } from './settings.js';

interface Checkpoint {
  readonly lb: string;
  readonly nginx: Settings['nginx'];
  readonly restore: readonly Change[];
  readonly deploymentId?: string;
}

function describe(changes: readonly Change[]): string {
  return changes
    .map((c) => `${c.server}${c.weight !== undefined ? ` weight ${c.weight}` : ''}${c.admin ? ` ${c.admin}` : ''}`)
    .join(', ');
}

export async function runPost(): Promise<void> {
  const saved = core.getState('rollout');
  if (!saved) {
    core.info('Post step: no rollout was left in flight; nothing to restore.');
    return;
  }
  const checkpoint = JSON.parse(saved) as Checkpoint;
  const url = parseLoadBalancerUrl(checkpoint.lb);
  if ('error' in url) throw new Error(`post: saved load balancer ${checkpoint.lb}: ${url.error}`);
  const driver = createDriver(url, checkpoint.nginx);
  if ('error' in driver) throw new Error(driver.error);
  let summary: string;
  try {
    summary = await core.group('Restore safe traffic after an interrupted rollout', async () => {
      if (checkpoint.restore.length === 0) {
        const text =
          'The main step stopped while servers were out of traffic with an unverified version; they stay out, the rest was untouched.';
        core.info(text);
        return text;
      }
      await driver.apply(checkpoint.restore);
      const text = `The main step stopped mid-rollout; the post step restored ${describe(checkpoint.restore)}.`;
      core.info(text);
      return text;
    });
  } catch (error) {
    summary = `The main step stopped mid-rollout and restoring traffic failed: ${(error as Error).message}. Apply by hand: ${describe(checkpoint.restore)}`;
    core.setFailed(summary);
  } finally {
    await driver.close();
  }
  await core.summary
    .addRaw(`## zero-downtime-deploy: post step\n\n${summary}\n`, true)
    .write()
    .catch(() => undefined);
  if (checkpoint.deploymentId) {
    let settings;
    try {
      settings = readActionInputs();
    } catch (error) {
      core.warning(
        `post: cannot read the inputs to update deployment ${checkpoint.deploymentId}: ${(error as Error).message}`,
      );
      return;
    }
    await existingDeployment(settings, Number(checkpoint.deploymentId)).status('failure', summary);
  }
}
