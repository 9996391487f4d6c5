/**
 * The post step runs after the job's steps, even when the main step failed, crashed or was cancelled. When the
 * main step stopped mid-rollout, its checkpoint says what restores safe traffic: apply it and mark the deployment
 * failed. A finished or paused rollout leaves no checkpoint and is not touched.
 */
import * as core from '@actions/core';
import { readActionInputs } from './inputs.js';
import { createDriver, parseLoadBalancer } from './lb/registry.js';
import { errorMessage } from './model/errors.js';
import { describeChanges } from './model/server.js';
import { existingDeployment } from './report/deployment.js';
import { readCheckpoint, type Checkpoint } from './state.js';

async function restore(checkpoint: Checkpoint): Promise<string> {
  const url = parseLoadBalancer(checkpoint.lb);
  if ('error' in url) throw new Error(`post: saved load balancer ${checkpoint.lb}: ${url.error}`);
  const driver = createDriver(url, checkpoint.options);
  try {
    return await core.group('Restore safe traffic after an interrupted rollout', async () => {
      if (checkpoint.restore.length === 0) {
        const text =
          'The main step stopped while servers were out of traffic with an unverified version; they stay out, the rest was untouched.';
        core.info(text);
        return text;
      }
      await driver.apply(checkpoint.restore);
      const text = `The main step stopped mid-rollout; the post step restored ${describeChanges(checkpoint.restore)}.`;
      core.info(text);
      return text;
    });
  } catch (error) {
    const text = `The main step stopped mid-rollout and restoring traffic failed: ${errorMessage(error)}. Apply by hand: ${describeChanges(checkpoint.restore)}`;
    core.setFailed(text);
    return text;
  } finally {
    await driver.close();
  }
}

export async function post(): Promise<void> {
  const checkpoint = readCheckpoint();
  if (!checkpoint) {
    core.info('Post step: no rollout was left in flight; nothing to restore.');
    return;
  }
  const summary = await restore(checkpoint);
  await core.summary
    .addRaw(`## zero-downtime-deploy: post step\n\n${summary}\n`, true)
    .write()
    .catch(() => undefined);
  if (!checkpoint.deploymentId) return;
  let settings;
  try {
    settings = readActionInputs();
  } catch (error) {
    core.warning(
      `post: cannot read the inputs to update deployment ${checkpoint.deploymentId}: ${errorMessage(error)}`,
    );
    return;
  }
  await existingDeployment(settings, Number(checkpoint.deploymentId)).status('failure', summary);
}
