/** deploy: one rollout by the chosen strategy, reported as a GitHub deployment when `environment` is set. */
import * as core from '@actions/core';
import { withEngine, type LockGuard, type StepPassed } from '../engine/context.js';
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
import { NO_NOTIFY, type Notify } from '../notify/registry.js';
import { rollingNotification, shiftNotification, stepNotification } from '../notify/outcomes.js';
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

/** The started event's sentence: what will move, and what serves until then. */
function startedSentence(settings: Settings, roles: PoolRoles | undefined, servers: number): string {
  const strategy = settings.strategy;
  if (!roles || strategy?.name === 'rolling')
    return `Started a rolling update of ${settings.version} on ${servers} server${servers === 1 ? '' : 's'}.`;
  const steps = strategy?.name === 'canary' ? strategy.steps.map((s) => `${s.weight}%`).join(', ') : '100%';
  return `Started a ${strategy?.name} of ${settings.version}: pool ${roles.idle.name} gets it, then ${steps} of traffic; ${roles.live.name} serves all traffic until then.`;
}

export async function deploy(
  settings: Settings,
  driver: Driver,
  signal: AbortSignal,
  notify: Notify = NO_NOTIFY,
  guard?: LockGuard,
): Promise<Outcome> {
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
    const pools = roles && { stable: roles.live.name, new: roles.idle.name };
    notify.send({
      event: 'started',
      verdict: startedSentence(settings, roles, servers.length),
      share: 0,
      ...(pools ? { pools } : {}),
    });
    const hooks = {
      ...engineHooks(settings, deployment),
      passed: (step: StepPassed) => notify.send(stepNotification(step, pools)),
      ...(guard ? { guard } : {}),
    };
    return withEngine(settings, driver, signal, hooks, async (ctx) => {
      if (!roles || !pools) {
        const outcome = await runRolling(ctx, plan, servers, all);
        notify.send(rollingNotification(outcome));
        await writeSummary(renderRolling(outcome, settings, ctx.timeline.events, driver.advice, renderFleet(driver)));
        return finish(deployment, { result: outcome.result, weight: outcome.weight, deploymentId }, outcome.message);
      }
      const outcome = await runShift(ctx, plan, roles);
      notify.send(shiftNotification(outcome, pools, plan.stages.filter((s) => s.kind === 'shift').length));
      await writeSummary(renderShift(outcome, settings, ctx.timeline.events, driver.advice, renderFleet(driver)));
      const result = { result: outcome.result, livePool: outcome.livePool, weight: outcome.weight, deploymentId };
      return finish(deployment, result, outcome.message, outcome.status);
    });
  });
}
