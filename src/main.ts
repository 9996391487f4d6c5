/** read inputs -> build plan -> execute -> report. The only place that calls core.setFailed. */
import { readFileSync } from 'node:fs';
import * as core from '@actions/core';
import { InputError, readInputs, SECRET_INPUTS, type RunContext } from './inputs.js';
import type { Driver, Server } from './lb/driver.js';
import { createDriver } from './lb/registry.js';
import { buildPlan, checkPlanFitsTimeout, type LbState } from './plan/build.js';
import type { Plan } from './plan/plan.js';
import { Prober } from './probes/http.js';
import { markdownToLog, renderPlan } from './report/plan.js';
import { writeOutputs, type Outcome } from './report/outputs.js';
import { headline, renderRolling, renderShift, writeSummary } from './report/summary.js';
import { checkRollingTargets, runRolling } from './engine/rolling.js';
import { Timeline } from './engine/timeline.js';
import { runShift } from './engine/shift.js';
import type { Hooks } from './engine/update.js';
import { startDeployment, type Deployment } from './report/deployment.js';
import { assignPools, poolRoles } from './plan/pools.js';
import { formatDuration } from './plan/durations.js';
import type { Settings } from './settings.js';
import type { Selector } from './plan/selectors.js';

function runContext(): RunContext {
  let pullRequestNumber: number | undefined;
  const eventPath = process.env.GITHUB_EVENT_PATH;
  if (eventPath) {
    try {
      const event = JSON.parse(readFileSync(eventPath, 'utf8')) as { pull_request?: { number?: number } };
      pullRequestNumber = event.pull_request?.number;
    } catch {
      // No readable event (a local run): no pull request default.
    }
  }
  return { sha: process.env.GITHUB_SHA ?? '', pullRequestNumber };
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
  const state: LbState = 'error' in driver ? { reachable: false, reason: driver.error } : await readState(driver, settings);
  const plan = buildPlan(settings, state);
  if ('error' in plan) throw new InputError([plan.error]);
  const markdown = renderPlan(plan, settings);
  await core.group('Plan (dry run: nothing is changed)', async () => core.info(markdownToLog(markdown)));
  const tooLong = checkPlanFitsTimeout(plan, settings);
  if (tooLong) core.warning(tooLong);
  await writeSummary(`${headline('unchanged', 'Dry run: this is the plan; the load balancer was not changed.')}\n\n${markdown}`);
  return { result: 'unchanged', livePool: plan.pools?.live, weight: 0 };
}

/** Reads the servers the strategy names and builds the plan; throws InputError for anything the user must fix. */
async function readAndPlan(settings: Settings, driver: Driver): Promise<{ servers: Server[]; plan: Plan }> {
  const servers = await core.group('Read the load balancer', async () => {
    const found = await driver.servers(selectorsOf(settings));
    core.info(found.map((s) => `${s.id} ${s.address} weight ${s.weight} ${s.admin} ${s.check?.status ?? 'no check'}`).join('\n'));
    return found;
  });
  const plan = buildPlan(settings, { reachable: true, servers });
  if ('error' in plan) throw new InputError([plan.error]);
  const problems = [settings.strategy?.name === 'rolling' ? checkRollingTargets(settings, servers) : checkIdleTargets(settings, plan, servers), checkPlanFitsTimeout(plan, settings)];
  const found = problems.filter((p): p is string => !!p);
  if (found.length) throw new InputError(found);
  core.info(markdownToLog(renderPlan(plan, settings)));
  return { servers, plan };
}

/** The idle pool must be checkable before it takes traffic, like rolling targets. */
function checkIdleTargets(settings: Settings, plan: Plan, servers: readonly Server[]): string | undefined {
  const idle = servers.filter((s) => plan.stages.some((st) => st.kind === 'deploy-idle' && st.servers?.includes(s.id)));
  return checkRollingTargets(settings, idle);
}

async function deploy(settings: Settings, driver: Driver, signal: AbortSignal, started: (d: Deployment) => void): Promise<Outcome> {
  const { servers, plan } = await readAndPlan(settings, driver);
  const strategy = settings.strategy;
  if (!strategy) throw new Error('internal: deploy without a strategy');
  const deployment = await startDeployment(settings, `${strategy.name} of ${settings.version}`, {
    tool: 'zero-downtime-deploy',
    strategy: strategy.name,
    version: settings.version,
    loadBalancer: settings.loadBalancer.display,
    ...(plan.pools ? { livePool: plan.pools.live, idlePool: plan.pools.idle } : {}),
  });
  started(deployment);
  const deploymentId = deployment.id === undefined ? undefined : String(deployment.id);
  if (deploymentId) core.saveState('deployment-id', deploymentId);
  await deployment.status('in_progress', `${strategy.name} of ${settings.version} started`);
  const timeline = new Timeline();
  const prober = new Prober(settings.probe);
  const hooks: Hooks = {
    stage: (text) => deployment.status('in_progress', text),
    checkpoint: (restore) => core.saveState('rollout', restore ? JSON.stringify({ lb: settings.loadBalancer.display, restore, deploymentId }) : ''),
  };
  const ctx = { settings, driver, prober, timeline, signal, hooks };
  try {
    if (strategy.name === 'rolling') {
      const outcome = await runRolling(ctx, plan, servers);
      await writeSummary(renderRolling(outcome, settings, timeline.events));
      writeOutputs({ result: outcome.result, weight: outcome.weight, deploymentId });
      await deployment.status(outcome.result === 'succeeded' ? 'success' : 'failure', outcome.message);
      if (outcome.result === 'failed') throw new ReportedFailure(outcome.message);
      core.info(outcome.message);
      return { result: 'succeeded', weight: outcome.weight, deploymentId };
    }
    const states = assignPools(strategy.pools, servers);
    const roles = 'error' in states ? states : poolRoles(states);
    if ('error' in roles) throw new InputError([roles.error]);
    const outcome = await runShift(ctx, plan, roles);
    await writeSummary(renderShift(outcome, settings, timeline.events));
    writeOutputs({ result: outcome.result, livePool: outcome.livePool, weight: outcome.weight, deploymentId });
    await deployment.status(outcome.result === 'succeeded' ? 'success' : 'failure', outcome.message);
    if (outcome.result !== 'succeeded') throw new ReportedFailure(outcome.message);
    core.info(outcome.message);
    return { result: 'succeeded', livePool: outcome.livePool, weight: outcome.weight, deploymentId };
  } finally {
    await prober.close();
  }
}

/** A failure whose outputs and summary are already written. */
class ReportedFailure extends Error {}

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
      driver = createDriver(settings.loadBalancer, { retries: 0, timeoutMs: 3000 });
      writeOutputs(await dryRun(settings, driver));
      return;
    }
    driver = createDriver(settings.loadBalancer);
    if ('error' in driver) throw new InputError([driver.error]);
    if (settings.action !== 'deploy') throw new InputError([`action: '${settings.action}' is not supported by this release yet; supported: deploy`]);
    if (settings.strategy?.name === 'canary' && settings.strategy.steps.some((s) => s.pause.kind === 'approval')) {
      throw new InputError(['steps: approval steps are not supported by this release yet (dry-run: true prints the plan)']);
    }
    timer = setTimeout(() => controller.abort(new Error(`timeout ${formatDuration(settings.timeoutMs)} reached`)), settings.timeoutMs);
    writeOutputs(await deploy(settings, driver, controller.signal, (d) => (deployment = d)));
  } catch (error) {
    if (!(error instanceof ReportedFailure)) {
      writeOutputs({ result: 'failed', weight: 0, deploymentId: deployment?.id === undefined ? undefined : String(deployment.id) });
      await deployment?.status('failure', errorMessage(error));
    }
    if (!(error instanceof InputError) && !(error instanceof ReportedFailure)) await writeSummary(headline('failed', errorMessage(error)));
    core.setFailed(errorMessage(error));
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', handlers.SIGINT);
    process.off('SIGTERM', handlers.SIGTERM);
    if (driver && !('error' in driver)) await driver.close();
  }
}
