/** read inputs -> build plan -> execute -> report. The only place that calls core.setFailed. */
import { readFileSync } from 'node:fs';
import * as core from '@actions/core';
import { InputError, readInputs, SECRET_INPUTS, type RunContext } from './inputs.js';
import type { Driver } from './lb/driver.js';
import { createDriver } from './lb/registry.js';
import { buildPlan, checkPlanFitsTimeout, type LbState } from './plan/build.js';
import type { Plan } from './plan/plan.js';
import { Prober } from './probes/http.js';
import { markdownToLog, renderPlan } from './report/plan.js';
import { writeOutputs, type Outcome } from './report/outputs.js';
import { headline, renderRolling, writeSummary } from './report/summary.js';
import { checkRollingTargets, runRolling } from './engine/rolling.js';
import { Timeline } from './engine/timeline.js';
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

async function deployRolling(settings: Settings, driver: Driver, signal: AbortSignal): Promise<Outcome> {
  const strategy = settings.strategy;
  if (strategy?.name !== 'rolling') throw new Error('internal: rolling without targets');
  const targets = await core.group('Read the load balancer', async () => {
    const servers = await driver.servers(strategy.targets);
    core.info(servers.map((s) => `${s.id} ${s.address} weight ${s.weight} ${s.admin} ${s.check?.status ?? 'no check'}`).join('\n'));
    return servers;
  });
  const plan = buildPlan(settings, { reachable: true, servers: targets });
  if ('error' in plan) throw new InputError([plan.error]);
  const problems = [checkRollingTargets(settings, targets), checkPlanFitsTimeout(plan, settings)].filter((p): p is string => !!p);
  if (problems.length) throw new InputError(problems);
  core.info(markdownToLog(renderPlan(plan, settings)));
  const timeline = new Timeline();
  const prober = new Prober(settings.probe);
  try {
    const outcome = await runRolling({ settings, driver, prober, timeline, signal }, plan as Plan, targets);
    await writeSummary(renderRolling(outcome, settings, timeline.events));
    if (outcome.result === 'failed') throw new Error(outcome.message);
    core.info(outcome.message);
    return { result: 'succeeded', weight: 100 };
  } finally {
    await prober.close();
  }
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
  try {
    const settings = readInputs((name) => {
      const value = core.getInput(name);
      if (value && SECRET_INPUTS.includes(name)) core.setSecret(value);
      return value;
    }, runContext());
    core.debug(`settings: ${JSON.stringify({ ...settings, loadBalancerToken: '***', githubToken: '***' })}`);
    if (settings.environment) core.warning('environment: GitHub deployments are not created by this release yet; the input is ignored');
    if (settings.dryRun) {
      // A dry run only reads, once and quickly: an absent load balancer still gets a plan.
      driver = createDriver(settings.loadBalancer, { retries: 0, timeoutMs: 3000 });
      writeOutputs(await dryRun(settings, driver));
      return;
    }
    driver = createDriver(settings.loadBalancer);
    if ('error' in driver) throw new InputError([driver.error]);
    if (settings.action !== 'deploy') throw new InputError([`action: '${settings.action}' is not supported by this release yet; supported: deploy`]);
    if (settings.strategy?.name !== 'rolling') {
      throw new InputError([`strategy: ${settings.strategy?.name} runs are not supported by this release yet (rolling is; dry-run: true prints a ${settings.strategy?.name} plan)`]);
    }
    timer = setTimeout(() => controller.abort(new Error(`timeout ${settings.timeoutMs}ms reached`)), settings.timeoutMs);
    writeOutputs(await deployRolling(settings, driver, controller.signal));
  } catch (error) {
    writeOutputs({ result: 'failed', weight: 0 });
    if (!(error instanceof InputError)) await writeSummary(headline('failed', errorMessage(error)));
    core.setFailed(errorMessage(error));
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', handlers.SIGINT);
    process.off('SIGTERM', handlers.SIGTERM);
    if (driver && !('error' in driver)) await driver.close();
  }
}
