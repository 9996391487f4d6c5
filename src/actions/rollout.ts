/**
 * What promote, abort and status share: the rollout recorded on the environment's latest GitHub deployment, checked
 * against the load balancer's actual weights. A mismatch touches nothing.
 */
import * as core from '@actions/core';
import { exactSelectors } from '../model/selectors.js';
import { InputError } from '../model/errors.js';
import type { Server } from '../model/server.js';
import type { Driver } from '../lb/driver.js';
import type { Plan, Stage, Wait } from '../plan/plan.js';
import { assignPools, type PoolRoles } from '../plan/pools.js';
import { isActive, latestRollout, type RolloutOnRecord } from '../report/deployment.js';
import type { Outcome } from '../model/outcome.js';
import { headline, writeSummary } from '../report/summary.js';
import type { Settings } from '../settings.js';
import { checkPools, locate, type Position, type RolloutRecord } from '../plan/record.js';

export interface Located {
  readonly rollout: RolloutOnRecord;
  readonly record: RolloutRecord;
  readonly servers: Server[];
  readonly position: Position;
}

export function describeRollout(rollout: RolloutOnRecord): string {
  return `rollout of ${rollout.record.version} (deployment ${rollout.deployment.id}, ${rollout.state || 'no status'}${rollout.description ? `: ${rollout.description}` : ''})`;
}

/** The active rollout and where it stands on the load balancer; undefined (with a notice) when none is active. */
export async function findActive(
  settings: Settings,
  driver: Driver,
  action: string,
): Promise<Located | { none: string }> {
  const rollout = await latestRollout(settings);
  if (!rollout || !isActive(rollout)) {
    const what = rollout
      ? `the latest ${describeRollout(rollout)} is not in progress`
      : `no rollout is recorded for environment ${settings.environment}`;
    return { none: `Nothing to ${action}: ${what}.` };
  }
  const record = rollout.record;
  const problems: string[] = [];
  const rolling = record.strategy === 'rolling';
  if (rolling && action !== 'abort')
    problems.push(
      `environment: the ${describeRollout(rollout)} is a rolling rollout, which never pauses, so it cannot be ${action === 'promote' ? 'promoted' : `${action}ed`}; abort it to put its current batch back`,
    );
  if (!rolling && !settings.pools)
    problems.push(
      `pools: action ${action} of the ${record.strategy} rollout needs its pools (e.g. blue=app/blue*, green=app/green*)`,
    );
  const poolProblem = rolling ? undefined : checkPools(record, settings);
  if (poolProblem) problems.push(poolProblem);
  if (record.loadBalancer !== settings.loadBalancer.display)
    problems.push(
      `load-balancer: the rollout was made through ${record.loadBalancer}, not ${settings.loadBalancer.display}`,
    );
  if (problems.length) throw new InputError(problems);
  const servers = await core.group('Read the load balancer', async () => {
    const selectors = rolling
      ? exactSelectors(Object.keys(record.targets ?? {}))
      : (settings.pools ?? []).flatMap((p) => p.selectors);
    const found = selectors.length ? await driver.servers(selectors) : [];
    core.info(found.map((s) => `${s.id} weight ${s.weight} ${s.admin}`).join('\n'));
    return found;
  });
  return { rollout, record, servers, position: locate(record, servers) };
}

export function rolesOf(
  record: RolloutRecord,
  settings: Settings,
  servers: readonly Server[],
  nativeSplit = false,
): PoolRoles {
  const states = settings.pools ? assignPools(settings.pools, servers, nativeSplit) : { error: 'pools: missing' };
  if ('error' in states) throw new InputError([states.error]);
  const live = states.find((p) => p.name === record.pools?.live);
  const idle = states.find((p) => p.name === record.pools?.idle);
  if (!live || !idle)
    throw new InputError([
      `pools: the rollout's pools ${record.pools?.live} and ${record.pools?.idle} are not both given`,
    ]);
  return { live, idle };
}

export function planOf(record: RolloutRecord): Plan {
  const stages: Stage[] = (record.steps ?? []).map((step) => {
    const wait: Wait =
      step.pause === 'approval'
        ? { kind: 'approval' }
        : step.pause === 'none'
          ? { kind: 'none' }
          : { kind: 'duration', ms: Number.parseInt(step.pause, 10) };
    return {
      kind: 'shift',
      weight: step.weight,
      achieved: step.achieved,
      weights: new Map(Object.entries(step.weights)),
      wait,
      windows: step.windows,
    };
  });
  return {
    strategy: record.strategy,
    stages,
    pools: record.pools && { live: record.pools.live, idle: record.pools.idle },
    probeDetectMs: 0,
    firstExposure: 0,
    minDurationMs: 0,
    notes: [],
  };
}

export function mismatch(found: Located, action: string): never {
  const detail =
    found.position.kind === 'mismatch' ? found.position.detail : 'all traffic is already on the stable pool';
  throw new Error(
    `Refusing to ${action} the ${describeRollout(found.rollout)}: ${detail}. Someone changed the weights by hand, or the record belongs to another rollout; nothing was changed. ` +
      `Set the weights back to a step of the rollout, or abort it.`,
  );
}

/** No active rollout: a notice and an unchanged outcome. */
export async function nothingTo(notice: string): Promise<Outcome> {
  core.notice(notice);
  await writeSummary(headline('unchanged', notice));
  return { result: 'unchanged' };
}
