/**
 * The post step runs after the job's steps, even when the main step failed, crashed or was cancelled. When the
 * main step stopped mid-rollout, its checkpoint says what restores safe traffic: apply it, put back the servers
 * out of traffic that pass their check (the others stay out, named), and end the GitHub deployment the main step
 * left in progress. A finished or paused rollout leaves no checkpoint and is not touched.
 */
import * as core from '@actions/core';
import { originalOf, restoreVerified } from './engine/restore.js';
import { applyVerified } from './engine/writes.js';
import { releaseLeftLock, stillOurs } from './actions/lock.js';
import { readActionInputs } from './inputs.js';
import type { Driver } from './lb/driver.js';
import { createDriver, parseLoadBalancer } from './lb/registry.js';
import { errorMessage } from './model/errors.js';
import { describeChanges, describeServers } from './model/server.js';
import { existingDeployment } from './report/deployment.js';
import { md } from './report/markdown.js';
import type { Settings } from './settings.js';
import { readCheckpoint, readDeploymentInFlight, type Checkpoint } from './state.js';

/**
 * The post step's restore on a load balancer's driver: the checkpoint applied and read back, pending servers put
 * back once they pass their check, the rest named. Returns what it did (failures included, with the step failed).
 */
export async function restoreCheckpoint(
  driver: Driver,
  checkpoint: Checkpoint,
  settings: Settings | undefined,
): Promise<string> {
  const pending = checkpoint.pending ?? [];
  const failed = checkpoint.failed ?? [];
  try {
    return await core.group('Restore safe traffic after an interrupted rollout', async () => {
      const parts: string[] = [];
      const notOurs = await stillOurs(driver, checkpoint.lb);
      if (notOurs) {
        core.warning(`post: ${notOurs}`);
        return `The main step stopped mid-rollout, but ${notOurs}. Restore by hand if needed: ${describeChanges(checkpoint.restore)}`;
      }
      if (checkpoint.restore.length) {
        const read = await applyVerified(driver, checkpoint.restore);
        parts.push(`The main step stopped mid-rollout; the post step restored, read back: ${describeServers(read)}.`);
      }
      if (pending.length) {
        const result = await restoreVerified(driver, pending, checkpoint.verifyMs ?? 30_000, settings?.probe);
        if (result.restored.length)
          parts.push(
            `${result.restored.map((p) => p.server).join(', ')} passed ${driver.capabilities.healthChecks ? "the load balancer's check" : 'health-url'} and went back to ${describeChanges(result.restored.map(originalOf))}.`,
          );
        if (result.out.size)
          parts.push(
            `Still out of traffic with an unverified version: ${[...result.out].map(([id, why]) => `${id} (${why})`).join('; ')}. ` +
              `Once each answers its health check, restore it ${result.manual}.`,
          );
      }
      if (failed.length) parts.push(`Out of traffic because they failed their checks: ${failed.join(', ')}.`);
      if (!parts.length)
        parts.push(
          'The main step stopped while servers were out of traffic with an unverified version; they stay out, the rest was untouched.',
        );
      const text = parts.join(' ');
      core.info(text);
      return text;
    });
  } catch (error) {
    const steps = [...checkpoint.restore, ...pending.map(originalOf)];
    const text = `The main step stopped mid-rollout and restoring traffic failed: ${errorMessage(error)}. Apply by hand ${driver.manualSteps(steps)}`;
    core.setFailed(text);
    return text;
  }
}

async function restore(checkpoint: Checkpoint, settings: Settings | undefined): Promise<string> {
  const url = parseLoadBalancer(checkpoint.lb);
  if ('error' in url) throw new Error(`post: saved load balancer ${checkpoint.lb}: ${url.error}`);
  const driver = createDriver(url, checkpoint.options);
  try {
    return await restoreCheckpoint(driver, checkpoint, settings);
  } finally {
    await driver.close();
  }
}

function inputs(read: () => Settings): Settings | undefined {
  try {
    return read();
  } catch (error) {
    core.warning(`post: cannot read the inputs: ${errorMessage(error)}`);
    return undefined;
  }
}

/** The post step; `read`: where the inputs come from (the CLI's restore gives its own). */
export async function post(read: () => Settings = readActionInputs): Promise<void> {
  const checkpoint = readCheckpoint();
  // The main step ends its deployment whenever it can; one still marked in flight was left in progress.
  const inFlight = readDeploymentInFlight();
  if (!checkpoint && !inFlight) {
    core.info('Post step: no rollout was left in flight; nothing to restore.');
    return;
  }
  const settings = inputs(read);
  const summary = checkpoint
    ? await restore(checkpoint, settings)
    : 'The main step stopped before it finished (it crashed or was killed); nothing on the load balancer needed restoring.';
  if (!checkpoint) core.info(summary);
  await core.summary
    .addRaw(`## zero-downtime-deploy: post step\n\n${md(summary)}\n`, true)
    .write()
    .catch(() => undefined);
  if (!inFlight) return;
  if (!settings) {
    core.warning(`post: deployment ${inFlight} stays in progress: the inputs (github-token) could not be read`);
    return;
  }
  await existingDeployment(settings, Number(inFlight)).status('failure', summary);
}

/**
 * The whole post step, as the runner runs it after the job's steps: restore what the main step left in flight, then
 * release a lock it still held. Also the entry of `npx @github/local-action run . src/post.ts .env` (see
 * docs/local.md), which wants a module that exports run().
 */
export async function run(): Promise<void> {
  try {
    await post();
  } finally {
    await releaseLeftLock();
  }
}
