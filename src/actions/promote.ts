/** promote: continue a rollout paused at an approval step, judged by its own recorded settings. */
import * as core from '@actions/core';
import { withEngine, type StepPassed } from '../engine/context.js';
import { runShift } from '../engine/shift.js';
import type { Driver } from '../lb/driver.js';
import { stableChanges } from '../plan/record.js';
import { deploymentIdText } from '../report/deployment.js';
import type { Outcome } from '../model/outcome.js';
import { renderFleet } from '../report/fleet.js';
import { renderShift, writeSummary } from '../report/summary.js';
import type { Settings } from '../settings.js';
import { NO_NOTIFY, type Notify } from '../notify/registry.js';
import { shiftNotification, stepNotification } from '../notify/outcomes.js';
import { engineHooks, finish } from './github.js';
import { describeRollout, findActive, mismatch, nothingTo, planOf, rolesOf } from './rollout.js';

export async function promote(
  settings: Settings,
  driver: Driver,
  signal: AbortSignal,
  notify: Notify = NO_NOTIFY,
): Promise<Outcome> {
  const found = await findActive(settings, driver, 'promote');
  if ('none' in found) return nothingTo(found.none);
  const { record, rollout, position, servers } = found;
  if (position.kind !== 'step') mismatch(found, 'promote');
  const step = record.steps?.[position.index];
  if (step?.pause !== 'approval') {
    throw new Error(
      `Refusing to promote the ${describeRollout(rollout)}: it is at step ${position.index + 1} (${step?.weight}%), which does not wait for approval; it is still running. Nothing was changed.`,
    );
  }
  // The paused rollout's own settings judge the rest of it, whatever this job's inputs say.
  const resumed: Settings = {
    ...settings,
    version: record.version,
    ...(record.analysis
      ? {
          analysis: {
            ...record.analysis,
            falseRollbackRate: record.analysis.falseRollbackRate ?? settings.analysis.falseRollbackRate,
          },
        }
      : {}),
    ...(record.probe ? { probe: record.probe } : {}),
  };
  notify.describe({ version: record.version, strategy: record.strategy });
  const roles = rolesOf(record, resumed, servers, driver.capabilities.nativeSplit);
  const deployment = rollout.deployment;
  const pools = { stable: roles.live.name, new: roles.idle.name };
  const hooks = {
    ...engineHooks(resumed, deployment),
    passed: (step: StepPassed) => notify.send(stepNotification(step, pools)),
  };
  return withEngine(resumed, driver, signal, hooks, async (ctx) => {
    const promoting = `Promoting the ${describeRollout(rollout)} from step ${position.index + 2}`;
    core.info(promoting);
    notify.send({ event: 'promoted', verdict: `${promoting}.`, share: step.achieved ?? step.weight, pools });
    const plan = planOf(record);
    const outcome = await runShift(ctx, plan, roles, {
      fromStep: position.index + 1,
      stable: stableChanges(record),
    });
    notify.send(shiftNotification(outcome, pools, plan.stages.length));
    await writeSummary(renderShift(outcome, resumed, ctx.timeline.events, driver.advice, renderFleet(driver)));
    const { result, livePool, weight } = outcome;
    return finish(
      deployment,
      { result, livePool, weight, deploymentId: deploymentIdText(deployment) },
      outcome.message,
    );
  });
}
