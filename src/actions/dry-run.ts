/** dry-run: read the load balancer once, print the plan, change nothing. */
import * as core from '@actions/core';
import type { Driver } from '../lb/driver.js';
import { errorMessage, InputError } from '../model/errors.js';
import { buildPlan, checkPlanFitsTimeout, type LbState } from '../plan/build.js';
import type { Outcome } from '../report/outputs.js';
import { markdownToLog, renderPlan } from '../report/plan.js';
import { headline, writeSummary } from '../report/summary.js';
import type { Settings } from '../settings.js';
import { selectorsOf } from './read.js';

async function readState(driver: Driver, settings: Settings): Promise<LbState> {
  try {
    return { reachable: true, servers: await driver.servers(selectorsOf(settings)) };
  } catch (error) {
    return { reachable: false, reason: errorMessage(error) };
  }
}

export async function dryRun(settings: Settings, driver: Driver): Promise<Outcome> {
  // An absent load balancer still gets a plan.
  const plan = buildPlan(settings, await readState(driver, settings), driver);
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
