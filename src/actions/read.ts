/** Reading the load balancer for a use case: the servers the strategy names, and the plan built from them. */
import * as core from '@actions/core';
import type { Driver } from '../lb/driver.js';
import { InputError } from '../model/errors.js';
import type { Selector } from '../model/selectors.js';
import type { Server } from '../model/server.js';
import { checkRollingTargets } from '../engine/rolling.js';
import { buildPlan, checkPlanFitsTimeout } from '../plan/build.js';
import type { Plan } from '../plan/plan.js';
import { markdownToLog, renderPlan } from '../report/plan.js';
import type { Settings } from '../settings.js';

export function selectorsOf(settings: Settings): readonly Selector[] {
  const strategy = settings.strategy;
  if (!strategy) return [];
  return strategy.name === 'rolling' ? strategy.targets : strategy.pools.flatMap((p) => p.selectors);
}

/** Reads the servers the strategy names and builds the plan; throws InputError for anything the user must fix. */
export async function readAndPlan(settings: Settings, driver: Driver): Promise<{ servers: Server[]; plan: Plan }> {
  const servers = await core.group('Read the load balancer', async () => {
    const found = await driver.servers(selectorsOf(settings));
    core.info(
      found
        .map((s) => `${s.id} ${s.address} weight ${s.weight} ${s.admin} ${s.check?.status ?? 'no check'}`)
        .join('\n'),
    );
    return found;
  });
  const plan = buildPlan(settings, { reachable: true, servers }, driver);
  if ('error' in plan) throw new InputError([plan.error]);
  const idle = servers.filter((s) => plan.stages.some((st) => st.kind === 'deploy-idle' && st.servers?.includes(s.id)));
  const problems = [
    checkRollingTargets(settings, settings.strategy?.name === 'rolling' ? servers : idle, driver.advice),
    checkPlanFitsTimeout(plan, settings),
  ];
  const found = problems.filter((p): p is string => !!p);
  if (found.length) throw new InputError(found);
  core.info(markdownToLog(renderPlan(plan, settings)));
  return { servers, plan };
}
