/**
 * promote, abort and status: act on the rollout recorded on the environment's latest GitHub deployment, after
 * checking the record against the load balancer's actual weights. A mismatch touches nothing.
 */
import * as core from '@actions/core';
import { InputError } from '../inputs.js';
import type { Driver, Server } from '../lb/driver.js';
import { withEngine } from '../engine/context.js';
import { runShift, type ShiftOutcome } from '../engine/shift.js';
import type { Plan, Stage, Wait } from '../plan/plan.js';
import { assignPools, type PoolRoles } from '../plan/pools.js';
import { isActive, latestRollout, type RolloutOnRecord } from '../report/deployment.js';
import { ReportedFailure, type Outcome } from '../report/outputs.js';
import { headline, renderShift, writeSummary } from '../report/summary.js';
import type { Settings } from '../settings.js';
import { checkPools, locate, stableChanges, type Position, type RolloutRecord } from './record.js';

interface Located {
  readonly rollout: RolloutOnRecord;
  readonly record: RolloutRecord;
  readonly servers: Server[];
  readonly position: Position;
}

function describeRollout(rollout: RolloutOnRecord): string {
  return `rollout of ${rollout.record.version} (deployment ${rollout.deployment.id}, ${rollout.state || 'no status'}${rollout.description ? `: ${rollout.description}` : ''})`;
}

/** The active rollout and where it stands on the load balancer; undefined (with a notice) when none is active. */
async function findActive(settings: Settings, driver: Driver, action: string): Promise<Located | { none: string }> {
  const rollout = await latestRollout(settings);
  if (!rollout || !isActive(rollout)) {
    const what = rollout
      ? `the latest ${describeRollout(rollout)} is not in progress`
      : `no rollout is recorded for environment ${settings.environment}`;
    return { none: `Nothing to ${action}: ${what}.` };
  }
  const record = rollout.record;
  const problems: string[] = [];
  if (record.strategy !== 'canary' && record.strategy !== 'blue-green')
    problems.push(
      `environment: the ${describeRollout(rollout)} is a ${record.strategy} rollout, which cannot be ${action}d`,
    );
  const poolProblem = checkPools(record, settings);
  if (poolProblem) problems.push(poolProblem);
  if (record.loadBalancer !== settings.loadBalancer.display)
    problems.push(
      `load-balancer: the rollout was made through ${record.loadBalancer}, not ${settings.loadBalancer.display}`,
    );
  if (problems.length) throw new InputError(problems);
  const servers = await core.group('Read the load balancer', async () => {
    const found = await driver.servers((settings.pools ?? []).flatMap((p) => p.selectors));
    core.info(found.map((s) => `${s.id} weight ${s.weight} ${s.admin}`).join('\n'));
    return found;
  });
  return { rollout, record, servers, position: locate(record, servers) };
}

function rolesOf(record: RolloutRecord, settings: Settings, servers: readonly Server[]): PoolRoles {
  const states = settings.pools ? assignPools(settings.pools, servers) : { error: 'pools: missing' };
  if ('error' in states) throw new InputError([states.error]);
  const live = states.find((p) => p.name === record.pools?.live);
  const idle = states.find((p) => p.name === record.pools?.idle);
  if (!live || !idle)
    throw new InputError([
      `pools: the rollout's pools ${record.pools?.live} and ${record.pools?.idle} are not both given`,
    ]);
  return { live, idle };
}

function planOf(record: RolloutRecord): Plan {
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
    detectMs: 0,
    probeDetectMs: 0,
    firstExposure: 0,
    minDurationMs: 0,
    notes: [],
  };
}

export async function report(
  outcome: ShiftOutcome,
  settings: Settings,
  events: Parameters<typeof renderShift>[2],
  rollout: RolloutOnRecord,
): Promise<Outcome> {
  await writeSummary(renderShift(outcome, settings, events));
  const state = outcome.result === 'succeeded' ? 'success' : outcome.result === 'paused' ? 'in_progress' : 'failure';
  await rollout.deployment.status(state, outcome.message);
  return {
    result: outcome.result,
    livePool: outcome.livePool,
    weight: outcome.weight,
    deploymentId: String(rollout.deployment.id),
  };
}

function mismatch(found: Located, action: string): never {
  const detail =
    found.position.kind === 'mismatch' ? found.position.detail : 'all traffic is already on the stable pool';
  throw new Error(
    `Refusing to ${action} the ${describeRollout(found.rollout)}: ${detail}. Someone changed the weights by hand, or the record belongs to another rollout; nothing was changed. ` +
      `Set the weights back to a step of the rollout, or abort it.`,
  );
}

export async function promote(settings: Settings, driver: Driver, signal: AbortSignal): Promise<Outcome> {
  const found = await findActive(settings, driver, 'promote');
  if ('none' in found) {
    core.notice(found.none);
    await writeSummary(headline('unchanged', found.none));
    return { result: 'unchanged' };
  }
  const { record, rollout, position, servers } = found;
  if (position.kind !== 'step') mismatch(found, 'promote');
  const step = record.steps?.[position.index];
  if (step?.pause !== 'approval') {
    throw new Error(
      `Refusing to promote the ${describeRollout(rollout)}: it is at step ${position.index + 1} (${step?.weight}%), which does not wait for approval; it is still running. Nothing was changed.`,
    );
  }
  // The paused rollout's own settings judge the rest of it, whatever this job's inputs say.
  const resumed: Settings = {
    ...settings,
    version: record.version,
    ...(record.analysis
      ? {
          analysis: {
            ...record.analysis,
            falseRollbackRate: record.analysis.falseRollbackRate ?? settings.analysis.falseRollbackRate,
          },
        }
      : {}),
    ...(record.probe ? { probe: record.probe } : {}),
  };
  const roles = rolesOf(record, resumed, servers);
  return withEngine(resumed, driver, signal, rollout.deployment, async (ctx) => {
    core.info(`Promoting the ${describeRollout(rollout)} from step ${position.index + 2}`);
    const outcome = await runShift(ctx, planOf(record), roles, {
      fromStep: position.index + 1,
      stable: stableChanges(record),
    });
    const result = await report(outcome, resumed, ctx.timeline.events, rollout);
    if (outcome.result === 'rolled-back' || outcome.result === 'failed')
      throw new ReportedFailure(outcome.message, result);
    return result;
  });
}

export async function abort(settings: Settings, driver: Driver): Promise<Outcome> {
  const found = await findActive(settings, driver, 'abort');
  if ('none' in found) {
    core.notice(found.none);
    await writeSummary(headline('unchanged', found.none));
    return { result: 'unchanged' };
  }
  const { record, rollout, position } = found;
  if (position.kind === 'mismatch') mismatch(found, 'abort');
  const live = record.pools?.live ?? '';
  if (position.kind === 'step') {
    await core.group(`Abort: all traffic back on ${live}`, async () => {
      const changes = stableChanges(record);
      await driver.apply(changes);
      core.info(
        `weights ${changes.map((c) => `${c.server}=${c.weight}`).join(' ')} (abort: all traffic back on ${live})`,
      );
    });
  }
  const message = `Aborted the ${describeRollout(rollout)}: all traffic is on ${live}${position.kind === 'stable' ? ' (it already was)' : ''}.`;
  await rollout.deployment.status('inactive', `Aborted: all traffic back on ${live}`);
  await writeSummary(headline('aborted', message));
  core.info(message);
  return { result: 'aborted', livePool: live, weight: 0, deploymentId: String(rollout.deployment.id) };
}

export async function status(settings: Settings, driver: Driver): Promise<Outcome> {
  const rollout = await latestRollout(settings);
  const servers = await driver.servers((settings.pools ?? []).flatMap((p) => p.selectors));
  const weights = servers.map((s) => `| ${s.id} | ${s.weight} | ${s.admin} | ${s.check?.status ?? 'no check'} |`);
  const lines = ['', '| server | weight | state | health |', '|---|---|---|---|', ...weights];
  if (!rollout) {
    const text = `No rollout is recorded for environment ${settings.environment}.`;
    await writeSummary(`${headline('unchanged', text)}\n${lines.join('\n')}`);
    core.info(text);
    return { result: 'unchanged' };
  }
  const position = locate(rollout.record, servers);
  const step = position.kind === 'step' ? rollout.record.steps?.[position.index] : undefined;
  const where =
    position.kind === 'step'
      ? `${step?.achieved}% of traffic on ${rollout.record.pools?.idle} (step ${position.index + 1}/${rollout.record.steps?.length}${step?.pause === 'approval' && isActive(rollout) ? ', waiting for approval: promote or abort' : ''})`
      : position.kind === 'stable'
        ? `all traffic on ${rollout.record.pools?.live}`
        : `weights that match no step of it (${position.detail})`;
  const text = `Latest ${describeRollout(rollout)}: the load balancer has ${where}.`;
  await writeSummary(`${headline('unchanged', text)}\n${lines.join('\n')}`);
  core.info(text);
  const live =
    position.kind === 'step' && (step?.achieved ?? 0) >= 100 ? rollout.record.pools?.idle : rollout.record.pools?.live;
  return {
    result: 'unchanged',
    livePool: live,
    weight: step?.achieved ?? 0,
    deploymentId: String(rollout.deployment.id),
  };
}
