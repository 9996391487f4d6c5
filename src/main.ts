/** The main step: read inputs, create the driver, wire the deadline and signals, run one use case, set outputs. */
import * as core from '@actions/core';
import { abort } from './actions/abort.js';
import { closePreview } from './actions/close-preview.js';
import { deploy } from './actions/deploy.js';
import { dryRun } from './actions/dry-run.js';
import { preview } from './actions/preview.js';
import { promote } from './actions/promote.js';
import { status } from './actions/status.js';
import { withLock } from './actions/lock.js';
import { readActionInputs } from './inputs.js';
import type { Driver } from './lb/driver.js';
import { createDriver } from './lb/registry.js';
import { errorMessage, InputError, ReportedFailure } from './model/errors.js';
import { formatDuration } from './model/durations.js';
import type { Outcome } from './model/outcome.js';
import { writeOutputs } from './report/outputs.js';
import { headline, writeSummary } from './report/summary.js';
import type { ActionName, Settings } from './settings.js';

function ended(outcome: Outcome): RunEnd {
  writeOutputs(outcome);
  return { outcome };
}

type UseCase = (settings: Settings, driver: Driver, signal: AbortSignal) => Promise<Outcome>;

const USE_CASES: Record<ActionName, UseCase> = {
  deploy,
  promote,
  abort,
  status,
  preview,
  'close-preview': closePreview,
};

/** What the entry can replace: where the inputs come from (the CLI's flags), how long to wait for a held lock. */
export interface RunOptions {
  readonly readInputs?: () => Settings;
  /** How long to wait for another run's lock before refusing, in ms (0: refuse at once, as the action does). */
  readonly lockWaitMs?: number;
}

/** How the run ended: its outcome (the outputs), and the error that failed it, if any. */
export interface RunEnd {
  readonly outcome: Outcome;
  readonly error?: unknown;
}

/** Runs the main step; the only place that calls core.setFailed. */
export async function run(options: RunOptions = {}): Promise<RunEnd> {
  const controller = new AbortController();
  const onSignal = (name: string) => () => controller.abort(new Error(`the run was cancelled (${name})`));
  const handlers = { SIGINT: onSignal('SIGINT'), SIGTERM: onSignal('SIGTERM') };
  process.on('SIGINT', handlers.SIGINT);
  process.on('SIGTERM', handlers.SIGTERM);
  let driver: Driver | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const settings = (options.readInputs ?? readActionInputs)();
    core.debug(`settings: ${JSON.stringify({ ...settings, loadBalancerToken: '***', githubToken: '***' })}`);
    // A dry run only reads, once and quickly.
    driver = createDriver(
      settings.loadBalancer,
      settings.driverOptions,
      settings.dryRun ? { retries: 0, timeoutMs: 3000 } : {},
    );
    if (settings.dryRun) return ended(await dryRun(settings, driver));
    // Before anything moves: the load balancer answers, as the kind of endpoint the action needs.
    const problem = await driver.preflight?.(settings.action !== 'status');
    if (problem)
      throw new InputError([
        `load-balancer: ${settings.loadBalancer.display}${problem.startsWith(':') ? '' : ' '}${problem}`,
      ]);
    const deadline = `timeout ${formatDuration(settings.timeoutMs)} reached`;
    timer = setTimeout(() => controller.abort(new Error(deadline)), settings.timeoutMs);
    const lb = driver;
    const useCase = () => USE_CASES[settings.action](settings, lb, controller.signal);
    return ended(await withLock(settings, lb, useCase, { waitMs: options.lockWaitMs, signal: controller.signal }));
  } catch (error) {
    let outcome: Outcome = { result: 'failed', weight: 0 };
    if (error instanceof ReportedFailure) outcome = error.outcome;
    else if (!(error instanceof InputError)) await writeSummary(headline('failed', errorMessage(error)));
    writeOutputs(outcome);
    core.setFailed(errorMessage(error));
    return { outcome, error };
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', handlers.SIGINT);
    process.off('SIGTERM', handlers.SIGTERM);
    await driver?.close();
  }
}
