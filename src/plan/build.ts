/** Settings + the load balancer's current state -> Plan. Pure: no I/O, same answer for the same input. */
import type { Server } from '../model/server.js';
import type { Settings } from '../settings.js';
import { formatDuration } from '../model/durations.js';
import type { Plan, Stage, Wait } from './plan.js';
import { assignPools, poolRoles, type PoolRoles } from './pools.js';
import { splitWeights } from './weights.js';
import type { Capabilities, Driver } from '../lb/driver.js';

/** How often the engine reads counters while it judges: often enough to catch an obvious failure in a few requests. */
export const COUNTER_POLL_MS = 250;

export type LbState =
  | { readonly reachable: true; readonly servers: readonly Server[] }
  | { readonly reachable: false; readonly reason: string };

function probeDetectMs(settings: Settings): number {
  const { intervalMs, timeoutMs, unhealthyThreshold } = settings.probe;
  return unhealthyThreshold * intervalMs + timeoutMs;
}

export function batchCount(
  total: number,
  batchSize: Extract<Settings['strategy'], { name: 'rolling' }>['batchSize'],
): number {
  const size = batchSize.kind === 'count' ? batchSize.count : Math.ceil((total * batchSize.percent) / 100);
  return Math.max(1, Math.min(size, Math.max(total, 1)));
}

function planRolling(
  settings: Settings,
  strategy: Extract<Settings['strategy'], { name: 'rolling' }>,
  servers: readonly Server[] | undefined,
): Plan {
  const notes: string[] = [];
  const stages: Stage[] = [];
  const window = settings.analysis.intervalMs;
  const perBatchWait = window + settings.probe.healthyThreshold * settings.probe.intervalMs;
  let exposure = 0;
  if (servers) {
    const size = batchCount(servers.length, strategy.batchSize);
    for (let i = 0; i * size < servers.length; i++) {
      const batch = servers.slice(i * size, (i + 1) * size).map((s) => s.id);
      stages.push({ kind: 'batch', index: i + 1, servers: batch, size: batch.length });
    }
    exposure = servers.length ? (100 * size) / servers.length : 0;
  } else {
    const size = strategy.batchSize.kind === 'count' ? `${strategy.batchSize.count}` : `${strategy.batchSize.percent}%`;
    notes.push(
      `Servers are read from the load balancer at run time; batches of ${size} of ${strategy.targets.map((t) => t.text).join(' ')}.`,
    );
  }
  return {
    strategy: 'rolling',
    stages,
    pools: undefined,
    probeDetectMs: settings.startupTimeoutMs,
    firstExposure: exposure,
    minDurationMs: stages.length * perBatchWait,
    notes,
  };
}

function windowsFor(wait: Wait, windowMs: number): number {
  return wait.kind === 'duration' ? Math.max(1, Math.ceil(wait.ms / windowMs)) : 1;
}

function planShifts(
  settings: Settings,
  steps: readonly { weight: number; pause: Wait }[],
  roles: PoolRoles | undefined,
  capabilities: Capabilities,
): { stages: Stage[]; minDurationMs: number } {
  const windowMs = settings.analysis.intervalMs;
  const stages: Stage[] = [
    {
      kind: 'deploy-idle',
      pool: roles?.idle.name ?? '(found at run time)',
      servers: roles?.idle.servers.map((s) => s.id),
    },
  ];
  let minDurationMs = 0;
  for (const step of steps) {
    const split = roles
      ? splitWeights(
          roles.live.servers.map((s) => ({ id: s.id, base: s.weight })),
          // The idle pool holds weight 0, so its servers share its part equally.
          roles.idle.servers.map((s) => ({ id: s.id, base: 1 })),
          step.weight,
          capabilities.weights.max,
        )
      : undefined;
    const windows = windowsFor(step.pause, windowMs);
    stages.push({
      kind: 'shift',
      weight: step.weight,
      // A load balancer that splits between pools itself gives the share exactly.
      achieved: capabilities.nativeSplit && split ? step.weight : split?.achieved,
      weights: split?.weights,
      wait: step.pause,
      windows,
    });
    minDurationMs += Math.max(windows * windowMs, step.pause.kind === 'duration' ? step.pause.ms : 0);
  }
  return { stages, minDurationMs };
}

/** What planning needs to know of the load balancer besides its servers. */
export type LbTraits = Pick<Driver, 'capabilities' | 'advice'>;

export function buildPlan(settings: Settings, lb: LbState, traits: LbTraits): Plan | { error: string } {
  const strategy = settings.strategy;
  if (!strategy) return { error: 'strategy: is required to build a plan' };
  const servers = lb.reachable ? lb.servers : undefined;
  const unreachableNote = lb.reachable
    ? []
    : [`Load balancer not read (${lb.reason}): servers and weights are resolved at run time.`];
  if (strategy.name === 'rolling') {
    if (servers && servers.length === 0) {
      return {
        error: `targets: ${strategy.targets.map((t) => t.text).join(' ')} matches no server on the load balancer`,
      };
    }
    const plan = planRolling(settings, strategy, servers);
    return { ...plan, notes: [...unreachableNote, ...plan.notes] };
  }
  let roles: PoolRoles | undefined;
  if (servers) {
    const states = assignPools(strategy.pools, servers);
    if ('error' in states) return states;
    const found = poolRoles(states, traits.advice);
    if ('error' in found) return found;
    roles = found;
  }
  const steps = strategy.name === 'canary' ? strategy.steps : [{ weight: 100, pause: { kind: 'none' } as const }];
  const { stages, minDurationMs } = planShifts(settings, steps, roles, traits.capabilities);
  const first = stages.find((s): s is Extract<Stage, { kind: 'shift' }> => s.kind === 'shift');
  const notes = [...unreachableNote];
  if (!roles)
    notes.push(
      `The live pool (the one carrying weight) is found at run time; the other of ${strategy.pools.map((p) => p.name).join(' and ')} gets the new version.`,
    );
  return {
    strategy: strategy.name,
    stages,
    pools: roles ? { live: roles.live.name, idle: roles.idle.name } : undefined,
    probeDetectMs: probeDetectMs(settings),
    firstExposure: first?.achieved ?? first?.weight ?? 0,
    minDurationMs,
    notes,
  };
}

/** A problem with the plan as a whole that the user must fix before anything moves. */
export function checkPlanFitsTimeout(plan: Plan, settings: Settings): string | undefined {
  if (plan.minDurationMs > settings.timeoutMs) {
    return `timeout: ${formatDuration(settings.timeoutMs)} is shorter than the plan's waits alone (${formatDuration(plan.minDurationMs)}); raise timeout or shorten steps/analysis-interval`;
  }
  return undefined;
}
