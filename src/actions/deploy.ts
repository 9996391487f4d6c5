/** deploy: one rollout by the chosen strategy, reported as a GitHub deployment when `environment` is set. */
import * as core from '@actions/core';
import { withEngine } from '../engine/context.js';
import { runRolling } from '../engine/rolling.js';
import { runShift } from '../engine/shift.js';
import type { Driver } from '../lb/driver.js';
import { InputError } from '../model/errors.js';
import { assignPools, poolRoles, type PoolRoles } from '../plan/pools.js';
import { buildRecord } from '../plan/record.js';
import { deploymentIdText, isActive, latestRollout, startDeployment, type Deployment } from '../report/deployment.js';
import { earlierActiveRollout } from '../report/rollout-race.js';
import type { Outcome } from '../model/outcome.js';
import { renderFleet } from '../report/fleet.js';
import { renderRolling, renderShift, writeSummary } from '../report/summary.js';
import type { Settings } from '../settings.js';
import { engineHooks, finish, reportingFailure } from './github.js';
import { readAndPlan } from './read.js';

/** One rollout at a time per environment: a paused or running one must be promoted or aborted first. */
async function checkNoActiveRollout(settings: Settings): Promise<void> {
  if (!settings.environment) return;
  let rollout;
  try {
    rollout = await latestRollout(settings);
  } catch (error) {
    core.warning(`${(error as Error).message}; cannot check that no other rollout is in progress`);
    return;
  }
  if (rollout && isActive(rollout)) {
    throw new Error(
      `environment: ${settings.environment} already has a rollout in progress: ${rollout.record.version} (deployment ${rollout.deployment.id}: ${rollout.description || rollout.state}). ` +
        'Continue it with action: promote or undo it with action: abort, then deploy again. Nothing was changed.',
    );
  }
}

/**
 * Two deploys started together both pass checkNoActiveRollout: the one whose deployment was created first goes on,
 * the other stops here, before changing anything (its deployment is then marked failed).
 */
async function checkNoEarlierRollout(settings: Settings, deployment: Deployment): Promise<void> {
  if (deployment.id === undefined) return;
  const earlier = await earlierActiveRollout(settings, deployment.id);
  if (!earlier) return;
  throw new Error(
    `environment: ${settings.environment} already has a rollout in progress, started just before this one: ${earlier.version} (deployment ${earlier.id}: ${earlier.description || earlier.state}). ` +
      'Deploy again once it has finished. Nothing was changed.',
  );
}

export async function deploy(settings: Settings, driver: Driver, signal: AbortSignal): Promise<Outcome> {
  const strategy = settings.strategy;
  if (!strategy) throw new Error('internal: deploy without a strategy');
  await checkNoActiveRollout(settings);
  const { servers, all, plan } = await readAndPlan(settings, driver);
  let roles: PoolRoles | undefined;
  if (strategy.name !== 'rolling') {
    const states = assignPools(strategy.pools, servers, driver.capabilities.nativeSplit);
    const found = 'error' in states ? states : poolRoles(states, driver.advice);
    if ('error' in found) throw new InputError([found.error]);
    roles = found;
  }
  const what = `${strategy.name} of ${settings.version}`;
  const deployment = await startDeployment(
    settings,
    what,
    buildRecord(settings, plan, roles, strategy.name === 'rolling' ? servers : []),
  );
  const deploymentId = deploymentIdText(deployment);
  return reportingFailure(deployment, async () => {
    await checkNoEarlierRollout(settings, deployment);
    await deployment.status('in_progress', `${what} started`);
    return withEngine(settings, driver, signal, engineHooks(settings, deployment), async (ctx) => {
      if (!roles) {
        const outcome = await runRolling(ctx, plan, servers, all);
        await writeSummary(renderRolling(outcome, settings, ctx.timeline.events, driver.advice, renderFleet(driver)));
        return finish(deployment, { result: outcome.result, weight: outcome.weight, deploymentId }, outcome.message);
      }
      const outcome = await runShift(ctx, plan, roles);
      await writeSummary(renderShift(outcome, settings, ctx.timeline.events, driver.advice, renderFleet(driver)));
      const result = { result: outcome.result, livePool: outcome.livePool, weight: outcome.weight, deploymentId };
      return finish(deployment, result, outcome.message, outcome.status);
    });
  });
}
