/** Wires a use case to GitHub and the step state: engine hooks, and failures that still report their deployment. */
import * as core from '@actions/core';
import type { Hooks } from '../engine/context.js';
import { errorMessage, InputError, ReportedFailure } from '../model/errors.js';
import { deploymentIdText, deploymentState, type Deployment } from '../report/deployment.js';
import type { Outcome } from '../model/outcome.js';
import { headline, writeSummary } from '../report/summary.js';
import type { Settings } from '../settings.js';
import { saveCheckpoint, saveDeploymentInFlight, type Checkpoint } from '../state.js';
import type { Change, PendingRestore } from '../model/server.js';

/** Stages become deployment statuses; checkpoints go to the step state for the post step. */
export function engineHooks(settings: Settings, deployment: Deployment): Hooks {
  const deploymentId = deploymentIdText(deployment);
  // From here until the run gives it its final status, a post step that finds it set ends it (the main step died).
  saveDeploymentInFlight(deploymentId);
  return {
    stage: (text) => deployment.status('in_progress', text),
    checkpoint: (at) =>
      saveCheckpoint(
        at.kind === 'none'
          ? undefined
          : at.kind === 'leave'
            ? checkpointOf(settings, [], at.pending, at.failed)
            : checkpointOf(settings, at.changes, undefined, at.failed),
      ),
  };
}

/** What the post step gets from an engine checkpoint (see SafePoint). */
export function checkpointOf(
  settings: Settings,
  restore: readonly Change[],
  pending: readonly PendingRestore[] | undefined,
  failed: readonly string[] | undefined,
): Checkpoint {
  return {
    lb: settings.loadBalancer.display,
    options: settings.driverOptions,
    restore,
    ...(pending?.length ? { pending, verifyMs: Math.min(settings.startupTimeoutMs, 60_000) } : {}),
    ...(failed?.length ? { failed } : {}),
  };
}

/**
 * Ends a use case's deployment in the state its outcome calls for (described by `status`, short, or the message) and
 * returns the outcome; a red outcome becomes a ReportedFailure, so main sets the outputs and fails the step with the
 * outcome's message.
 */
export async function finish(
  deployment: Deployment,
  outcome: Outcome,
  message: string,
  status: string = message,
): Promise<Outcome> {
  await deployment.status(deploymentState(outcome.result), status);
  saveDeploymentInFlight(undefined);
  if (outcome.result === 'failed' || outcome.result === 'rolled-back') throw new ReportedFailure(message, outcome);
  core.info(message);
  return outcome;
}

/** Runs a use case that created a deployment: an unexpected error still marks it failed and fills the summary. */
export async function reportingFailure(deployment: Deployment, run: () => Promise<Outcome>): Promise<Outcome> {
  try {
    const outcome = await run();
    saveDeploymentInFlight(undefined);
    return outcome;
  } catch (error) {
    // A ReportedFailure's deployment got its status from the use case.
    if (error instanceof ReportedFailure) {
      saveDeploymentInFlight(undefined);
      throw error;
    }
    const message = errorMessage(error);
    await deployment.status('failure', message);
    saveDeploymentInFlight(undefined);
    if (!(error instanceof InputError)) await writeSummary(headline('failed', message));
    throw new ReportedFailure(message, { result: 'failed', weight: 0, deploymentId: deploymentIdText(deployment) });
  }
}
