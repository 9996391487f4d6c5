/** read inputs -> build plan -> execute -> report. The only place that calls core.setFailed. */
import { readFileSync } from 'node:fs';
import * as core from '@actions/core';
import { InputError, readInputs, SECRET_INPUTS, type RunContext } from './inputs.js';
import type { Driver, Server } from './lb/driver.js';
import { createDriver } from './lb/registry.js';
import { buildPlan, checkPlanFitsTimeout, type LbState } from './plan/build.js';
import type { Plan } from './plan/plan.js';
import { markdownToLog, renderPlan } from './report/plan.js';
import { ReportedFailure, writeOutputs, type Outcome } from './report/outputs.js';
import { headline, renderRolling, renderShift, writeSummary } from './report/summary.js';
import { checkRollingTargets, runRolling } from './engine/rolling.js';
import { runShift } from './engine/shift.js';
import { withEngine } from './engine/context.js';
import {
  deactivateDeployments,
  isActive,
  latestRollout,
  NONE,
  runUrl,
  startDeployment,
  type Deployment,
} from './report/deployment.js';
import { closePreview, openPreview, previewRouting } from './preview/preview.js';
import { previewLink, renderPreviewComment, renderPreviewSummary } from './report/preview.js';
import { upsertComment } from './report/pull-request.js';
import { RECORD_TOOL } from './rollout/record.js';
import { assignPools, poolRoles, type PoolRoles } from './plan/pools.js';
import { buildRecord } from './rollout/record.js';
import { abort, promote, status } from './rollout/actions.js';
import { formatDuration } from './plan/durations.js';
import type { Settings } from './settings.js';
import type { Selector } from './plan/selectors.js';

function runContext(): RunContext {
  let pullRequestNumber: number | undefined;
  let headSha: string | undefined;
  const eventPath = process.env.GITHUB_EVENT_PATH;
  if (eventPath) {
    try {
      const event = JSON.parse(readFileSync(eventPath, 'utf8')) as {
        pull_request?: { number?: number; head?: { sha?: string } };
      };
      pullRequestNumber = event.pull_request?.number;
      headSha = event.pull_request?.head?.sha;
    } catch {
      // No readable event (a local run): no pull request default.
    }
  }
  return { sha: headSha ?? process.env.GITHUB_SHA ?? '', pullRequestNumber };
}

/** The action's inputs as the runner gives them (main and post alike); secrets are masked as they are read. */
export function readActionInputs(): Settings {
  return readInputs((name) => {
    const value = core.getInput(name);
    if (value && SECRET_INPUTS.includes(name)) core.setSecret(value);
    return value;
  }, runContext());
}

function selectorsOf(settings: Settings): readonly Selector[] {
  const strategy = settings.strategy;
  if (!strategy) return [];
  return strategy.name === 'rolling' ? strategy.targets : strategy.pools.flatMap((p) => p.selectors);
}

async function readState(driver: Driver, settings: Settings): Promise<LbState> {
  try {
    return { reachable: true, servers: await driver.servers(selectorsOf(settings)) };
  } catch (error) {
    return { reachable: false, reason: (error as Error).message };
  }
}

async function dryRun(settings: Settings, driver: Driver | { error: string }): Promise<Outcome> {
  const state: LbState =
    'error' in driver ? { reachable: false, reason: driver.error } : await readState(driver, settings);
  const plan = buildPlan(settings, state);
  if ('error' in plan) throw new InputError([plan.error]);
  const markdown = renderPlan(plan, settings);
  await core.group('Plan (dry run: nothing is changed)', async () => core.info(markdownToLog(markdown)));
  const tooLong = checkPlanFitsTimeout(plan, settings);
  if (tooLong) core.warning(tooLong);
  await writeSummary(
    `${headline('unchanged', 'Dry run: this is the plan; the load balancer was not changed.')}\n\n${markdown}`,
  );
  return { result: 'unchanged', livePool: plan.pools?.live, weight: 0 };
}

/** Reads the servers the strategy names and builds the plan; throws InputError for anything the user must fix. */
async function readAndPlan(settings: Settings, driver: Driver): Promise<{ servers: Server[]; plan: Plan }> {
  const servers = await core.group('Read the load balancer', async () => {
    const found = await driver.servers(selectorsOf(settings));
    core.info(
      found
        .map((s) => `${s.id} ${s.address} weight ${s.weight} ${s.admin} ${s.check?.status ?? 'no check'}`)
        .join('\n'),
    );
    return found;
  });
  const plan = buildPlan(settings, { reachable: true, servers });
  if ('error' in plan) throw new InputError([plan.error]);
  const idle = servers.filter((s) => plan.stages.some((st) => st.kind === 'deploy-idle' && st.servers?.includes(s.id)));
  const problems = [
    checkRollingTargets(settings, settings.strategy?.name === 'rolling' ? servers : idle),
    checkPlanFitsTimeout(plan, settings),
  ];
  const found = problems.filter((p): p is string => !!p);
  if (found.length) throw new InputError(found);
  core.info(markdownToLog(renderPlan(plan, settings)));
  return { servers, plan };
}

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

async function deploy(
  settings: Settings,
  driver: Driver,
  signal: AbortSignal,
  started: (d: Deployment) => void,
): Promise<Outcome> {
  const strategy = settings.strategy;
  if (!strategy) throw new Error('internal: deploy without a strategy');
  await checkNoActiveRollout(settings);
  const { servers, plan } = await readAndPlan(settings, driver);
  let roles: PoolRoles | undefined;
  if (strategy.name !== 'rolling') {
    const states = assignPools(strategy.pools, servers);
    const found = 'error' in states ? states : poolRoles(states);
    if ('error' in found) throw new InputError([found.error]);
    roles = found;
  }
  const deployment = await startDeployment(
    settings,
    `${strategy.name} of ${settings.version}`,
    buildRecord(settings, plan, roles),
  );
  started(deployment);
  const deploymentId = deployment.id === undefined ? undefined : String(deployment.id);
  if (deploymentId) core.saveState('deployment-id', deploymentId);
  await deployment.status('in_progress', `${strategy.name} of ${settings.version} started`);
  return withEngine(settings, driver, signal, deployment, async (ctx) => {
    if (!roles) {
      const outcome = await runRolling(ctx, plan, servers);
      await writeSummary(renderRolling(outcome, settings, ctx.timeline.events));
      await deployment.status(outcome.result === 'succeeded' ? 'success' : 'failure', outcome.message);
      const result: Outcome = { result: outcome.result, weight: outcome.weight, deploymentId };
      if (outcome.result === 'failed') throw new ReportedFailure(outcome.message, result);
      core.info(outcome.message);
      return result;
    }
    const outcome = await runShift(ctx, plan, roles);
    await writeSummary(renderShift(outcome, settings, ctx.timeline.events));
    await deployment.status(
      outcome.result === 'succeeded' ? 'success' : outcome.result === 'paused' ? 'in_progress' : 'failure',
      outcome.message,
    );
    const result: Outcome = {
      result: outcome.result,
      livePool: outcome.livePool,
      weight: outcome.weight,
      deploymentId,
    };
    if (outcome.result === 'rolled-back' || outcome.result === 'failed')
      throw new ReportedFailure(outcome.message, result);
    core.info(outcome.message);
    return result;
  });
}

/** A preview's own GitHub environment: previews of different pull requests never touch each other's deployments. */
function previewEnvironment(settings: Settings): string {
  return `${settings.environment || 'preview'}/${settings.previewKey}`;
}

async function preview(
  settings: Settings,
  driver: Driver,
  signal: AbortSignal,
  started: (d: Deployment) => void,
): Promise<Outcome> {
  const closing = settings.action === 'close-preview';
  const key = settings.previewKey;
  const routing = await core.group('Read the load balancer', () => previewRouting(driver));
  const environment = previewEnvironment(settings);
  const deployment = closing
    ? NONE
    : await startDeployment(
        settings,
        `preview ${key} of ${settings.version}`,
        {
          tool: RECORD_TOOL,
          kind: 'preview',
          key,
          version: settings.version,
          loadBalancer: settings.loadBalancer.display,
        },
        { environment, transient: true },
      );
  started(deployment);
  const deploymentId = deployment.id === undefined ? undefined : String(deployment.id);
  await deployment.status('in_progress', `preview ${key} of ${settings.version} started`);
  return withEngine(settings, driver, signal, deployment, async (ctx) => {
    const outcome = await core.group(closing ? `Close preview ${key}` : `Preview ${key}`, () =>
      closing ? closePreview(ctx, routing) : openPreview(ctx, routing),
    );
    await writeSummary(renderPreviewSummary(outcome, settings, closing, ctx.timeline.events));
    await core.group('Report to GitHub', async () => {
      if (closing) {
        const changed = await deactivateDeployments(settings, environment);
        core.info(`${changed} deployment(s) of ${environment} marked inactive`);
      } else if (outcome.result !== 'failed') {
        // A failed canary leaves the preview itself live: the deployment succeeded, the step reports the canary.
        await deployment.status('success', outcome.message, previewLink(settings.environmentUrl, key) || undefined);
        // Transient deployments are not made inactive by GitHub when a newer one succeeds.
        await deactivateDeployments(settings, environment, deployment.id);
      } else {
        await deployment.status('failure', outcome.message);
      }
      await upsertComment(settings, key, renderPreviewComment(outcome, settings, closing, new Date(), runUrl()));
    });
    const result: Outcome = { result: outcome.result, weight: 0, deploymentId };
    if (outcome.result !== 'succeeded') throw new ReportedFailure(outcome.message, result);
    core.info(outcome.message);
    return result;
  });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function runMain(): Promise<void> {
  const controller = new AbortController();
  const onSignal = (name: string) => () => controller.abort(new Error(`the run was cancelled (${name})`));
  const handlers = { SIGINT: onSignal('SIGINT'), SIGTERM: onSignal('SIGTERM') };
  process.on('SIGINT', handlers.SIGINT);
  process.on('SIGTERM', handlers.SIGTERM);
  let driver: Driver | { error: string } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let deployment: Deployment | undefined;
  try {
    const settings = readActionInputs();
    core.debug(`settings: ${JSON.stringify({ ...settings, loadBalancerToken: '***', githubToken: '***' })}`);
    if (settings.dryRun) {
      // A dry run only reads, once and quickly: an absent load balancer still gets a plan.
      driver = createDriver(settings.loadBalancer, settings.nginx, { retries: 0, timeoutMs: 3000 });
      writeOutputs(await dryRun(settings, driver));
      return;
    }
    const previewing = settings.action === 'preview' || settings.action === 'close-preview';
    driver = createDriver(
      settings.loadBalancer,
      settings.nginx,
      previewing ? { previews: { map: settings.previewMap, backend: settings.previewBackend } } : {},
    );
    if ('error' in driver) throw new InputError([driver.error]);
    timer = setTimeout(
      () => controller.abort(new Error(`timeout ${formatDuration(settings.timeoutMs)} reached`)),
      settings.timeoutMs,
    );
    switch (settings.action) {
      case 'deploy':
        writeOutputs(await deploy(settings, driver, controller.signal, (d) => (deployment = d)));
        return;
      case 'promote':
        writeOutputs(await promote(settings, driver, controller.signal));
        return;
      case 'abort':
        writeOutputs(await abort(settings, driver));
        return;
      case 'status':
        writeOutputs(await status(settings, driver));
        return;
      case 'preview':
      case 'close-preview':
        writeOutputs(await preview(settings, driver, controller.signal, (d) => (deployment = d)));
        return;
    }
  } catch (error) {
    if (error instanceof ReportedFailure) {
      writeOutputs(error.outcome);
    } else {
      writeOutputs({
        result: 'failed',
        weight: 0,
        deploymentId: deployment?.id === undefined ? undefined : String(deployment.id),
      });
      await deployment?.status('failure', errorMessage(error));
      if (!(error instanceof InputError)) await writeSummary(headline('failed', errorMessage(error)));
    }
    core.setFailed(errorMessage(error));
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', handlers.SIGINT);
    process.off('SIGTERM', handlers.SIGTERM);
    if (driver && !('error' in driver)) await driver.close();
  }
}
