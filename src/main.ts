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
import { splitProblems } from './actions/read.js';
import { readActionInputs } from './inputs.js';
import type { Driver } from './lb/driver.js';
import type { LockGuard } from './engine/context.js';
import { createDriver } from './lb/registry.js';
import { errorMessage, InputError, ReportedFailure } from './model/errors.js';
import { formatDuration } from './model/durations.js';
import type { Outcome } from './model/outcome.js';
import { writeOutputs } from './report/outputs.js';
import { headline, writeSummary } from './report/summary.js';
import type { ActionName, Settings } from './settings.js';
import { createNotifier, NO_NOTIFY, type Notifier, type Notify } from './notify/registry.js';
import { renderNotifications } from './notify/summary.js';

function ended(outcome: Outcome): RunEnd {
  writeOutputs(outcome);
  return { outcome };
}

type UseCase = (
  settings: Settings,
  driver: Driver,
  signal: AbortSignal,
  notify: Notify,
  guard?: LockGuard,
) => Promise<Outcome>;

const USE_CASES: Record<ActionName, UseCase> = {
  deploy,
  promote,
  abort,
  status,
  preview,
  'close-preview': closePreview,
};

/** How long a cancelled or timed-out run still waits for its notifications (the runner's SIGKILL follows soon). */
const CANCELLED_WAIT_MS = 2000;

/** Waits (bounded) for the run's notifications to go out, and adds what arrived and what did not to the summary. */
async function closeNotifier(notifier: Notifier | undefined, cancelled: AbortSignal): Promise<void> {
  if (!notifier) return;
  // Cancelled or past its deadline (before or while waiting), the runner kills the step soon: a short last chance.
  const report = await notifier.close(cancelled.aborted ? CANCELLED_WAIT_MS : undefined, cancelled, CANCELLED_WAIT_MS);
  await writeSummary(renderNotifications(report));
}

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
  let notifier: Notifier | undefined;
  try {
    const settings = (options.readInputs ?? readActionInputs)();
    // A dry run and a status report send nothing.
    if (!settings.dryRun && settings.action !== 'status') notifier = createNotifier(settings);
    core.debug(
      `settings: ${JSON.stringify({ ...settings, loadBalancerToken: '***', githubToken: '***', notify: settings.notify?.map((t) => t.label) })}`,
    );
    // A dry run only reads, once and quickly.
    driver = createDriver(
      settings.loadBalancer,
      settings.driverOptions,
      settings.dryRun ? { retries: 0, timeoutMs: 3000 } : { signal: controller.signal },
    );
    if (settings.dryRun) return ended(await dryRun(settings, driver));
    // Before anything moves: the load balancer answers, as the kind of endpoint the action needs.
    const problem = await driver.preflight?.(settings.action !== 'status');
    if (problem)
      throw new InputError([
        `load-balancer: ${settings.loadBalancer.display}${problem.startsWith(':') ? '' : ' '}${problem}`,
      ]);
    const unsplittable = await splitProblems(settings, driver);
    if (unsplittable.length) throw new InputError(unsplittable);
    const deadline = `timeout ${formatDuration(settings.timeoutMs)} reached`;
    timer = setTimeout(() => controller.abort(new Error(deadline)), settings.timeoutMs);
    const lb = driver;
    const notify = notifier ?? NO_NOTIFY;
    const useCase = (guard?: LockGuard) => USE_CASES[settings.action](settings, lb, controller.signal, notify, guard);
    return ended(await withLock(settings, lb, useCase, { waitMs: options.lockWaitMs, signal: controller.signal }));
  } catch (error) {
    let outcome: Outcome = { result: 'failed', weight: 0 };
    if (error instanceof ReportedFailure) outcome = error.outcome;
    else if (!(error instanceof InputError)) await writeSummary(headline('failed', errorMessage(error)));
    writeOutputs(outcome);
    // A failure the use case did not report as its end (bad input, a lock held, a crash) is the run's end.
    if (notifier && !notifier.ended) notifier.send({ event: 'failed', verdict: errorMessage(error) });
    core.setFailed(errorMessage(error));
    return { outcome, error };
  } finally {
    await closeNotifier(notifier, controller.signal);
    clearTimeout(timer);
    process.off('SIGINT', handlers.SIGINT);
    process.off('SIGTERM', handlers.SIGTERM);
    await driver?.close();
  }
}
