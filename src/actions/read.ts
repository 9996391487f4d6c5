/** Reading the load balancer for a use case: the servers the strategy names, and the plan built from them. */
import * as core from '@actions/core';
import type { Driver } from '../lb/driver.js';
import { InputError } from '../model/errors.js';
import { matchesSelector, type Selector } from '../model/selectors.js';
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
/** Every server on the load balancer (a rolling deploy checks backends and shared addresses against them). */
export const EVERY_SERVER: readonly Selector[] = [{ text: '*/*', backend: '*', server: '*' }];

export async function readAndPlan(
  settings: Settings,
  driver: Driver,
): Promise<{ servers: Server[]; all: Server[]; plan: Plan }> {
  const rolling = settings.strategy?.name === 'rolling';
  const selectors = selectorsOf(settings);
  let all: Server[] = [];
  const servers = await core.group('Read the load balancer', async () => {
    // Rolling: one read of everything, the targets picked from it.
    all = rolling ? await driver.servers(EVERY_SERVER) : [];
    const found = rolling
      ? all.filter((s) => selectors.some((sel) => matchesSelector(sel, s.backend, s.name)))
      : await driver.servers(selectors);
    core.info(
      found
        .map((s) => `${s.id} ${s.address} weight ${s.weight} ${s.admin} ${s.check?.status ?? 'no check'}`)
        .join('\n'),
    );
    return found;
  });
  const plan = buildPlan(settings, { reachable: true, servers, all: rolling ? all : undefined }, driver);
  if ('error' in plan) throw new InputError([plan.error]);
  const idle = servers.filter((s) => plan.stages.some((st) => st.kind === 'deploy-idle' && st.servers?.includes(s.id)));
  const problems = [
    checkRollingTargets(settings, settings.strategy?.name === 'rolling' ? servers : idle, driver.advice),
    checkPlanFitsTimeout(plan, settings),
  ];
  // A pool split needs run-time weights: a backend whose algorithm cannot take them is refused before anything moves.
  if (settings.strategy && settings.strategy.name !== 'rolling' && driver.weightProblems) {
    const backends = [...new Set(servers.map((s) => s.backend))];
    problems.push(...(await driver.weightProblems(backends)).map((p) => `pools: ${p}`));
  }
  const found = problems.filter((p): p is string => !!p);
  if (found.length) throw new InputError(found);
  core.info(markdownToLog(renderPlan(plan, settings)));
  return { servers, all, plan };
}
