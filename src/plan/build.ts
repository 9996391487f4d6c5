/** Settings + the load balancer's current state -> Plan. Pure: no I/O, same answer for the same input. */
import type { Server } from '../model/server.js';
import type { Settings } from '../settings.js';
import { formatDuration } from '../model/durations.js';
import type { Plan, Stage, Wait } from './plan.js';
import { assignPools, poolRoles, type PoolRoles } from './pools.js';
import { splitWeights, type Split } from './weights.js';
import type { Capabilities, Driver } from '../lb/driver.js';

/** How often the engine reads counters while it judges: often enough to catch an obvious failure in a few requests. */
export const COUNTER_POLL_MS = 250;

export type LbState =
  | {
      readonly reachable: true;
      /** The servers the strategy names. */
      readonly servers: readonly Server[];
      /** Every server on the load balancer, when read: backends' other servers, entries sharing an address. */
      readonly all?: readonly Server[];
    }
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

/** Targets grouped by address: entries at one address are one process, deployed once and moved together. */
function byAddress(targets: readonly Server[]): Server[][] {
  const groups = new Map<string, Server[]>();
  for (const s of targets) groups.set(s.address, [...(groups.get(s.address) ?? []), s]);
  return [...groups.values()];
}

/**
 * Why a batch may not leave traffic at once: a backend it would leave with no server in traffic. `back` are the
 * servers of earlier batches, in traffic again by then (a rollout stops at the first batch that fails).
 */
function emptiedBackend(
  batch: readonly Server[],
  all: readonly Server[],
  back: ReadonlySet<string>,
): string | undefined {
  const out = new Set(batch.map((s) => s.id));
  for (const backend of new Set(batch.map((s) => s.backend))) {
    // Serving: in traffic and passing its check (a DOWN server serves nobody), or back from an earlier batch.
    const serving = all.filter(
      (s) =>
        s.backend === backend && ((inTraffic(s) && s.check?.passing !== false) || (back.has(s.id) && s.weight > 0)),
    );
    const left = serving.filter((s) => !out.has(s.id));
    if (serving.length && left.length === 0)
      return `backend ${backend} would have no server in traffic while ${serving.map((s) => s.id).join(', ')} ${serving.length === 1 ? 'is' : 'are'} out`;
  }
  return undefined;
}

function planRolling(
  settings: Settings,
  strategy: Extract<Settings['strategy'], { name: 'rolling' }>,
  servers: readonly Server[] | undefined,
  all: readonly Server[] | undefined,
): Plan | { error: string } {
  const notes: string[] = [];
  const stages: Stage[] = [];
  const window = settings.analysis.intervalMs;
  const perBatchWait = window + settings.probe.healthyThreshold * settings.probe.intervalMs;
  let exposure = 0;
  if (servers) {
    const everyone = all ?? servers;
    const groups = byAddress(servers);
    const size = batchCount(groups.length, strategy.batchSize);
    const targets = new Set(servers.map((s) => s.id));
    const back = new Set<string>();
    for (let i = 0; i * size < groups.length; i++) {
      const batch = groups.slice(i * size, (i + 1) * size).flat();
      const addresses = new Set(batch.map((s) => s.address));
      const companions = everyone.filter((s) => addresses.has(s.address) && !targets.has(s.id) && inTraffic(s));
      const emptied = emptiedBackend([...batch, ...companions], everyone, back);
      [...batch, ...companions].forEach((s) => back.add(s.id));
      if (emptied) {
        return {
          error: `batch-size: ${emptied} (batch ${i + 1}); use a smaller batch-size so that every backend keeps a server in traffic, or add a server (a backend of one server needs a blue-green deploy)`,
        };
      }
      stages.push({
        kind: 'batch',
        index: i + 1,
        servers: batch.map((s) => s.id),
        companions: companions.map((s) => s.id),
        size: addresses.size,
      });
    }
    exposure = groups.length ? (100 * size) / groups.length : 0;
    const shared = stages.flatMap((s) => (s.kind === 'batch' ? s.companions : []));
    if (shared.length)
      notes.push(
        `${shared.join(', ')} share${shared.length === 1 ? 's' : ''} an address with a target: drained with its batch and back after it (the server is deployed once).`,
      );
    const out = servers.filter((s) => !inTraffic(s));
    if (out.length)
      notes.push(
        `Out of traffic at the start: ${out.map((s) => `${s.id} (${s.admin}, weight ${s.weight})`).join(', ')}. Each is deployed and checked like the others, then set ready with its weight: a maint or drain an earlier run left is not restored; a server at weight 0 stays at 0.`,
      );
  } else {
    const size = strategy.batchSize.kind === 'count' ? `${strategy.batchSize.count}` : `${strategy.batchSize.percent}%`;
    notes.push(
      `Servers are read from the load balancer at run time; batches of ${size} of ${strategy.targets.map((t) => t.text).join(' ')}.`,
    );
  }
  // Today's drain (wait) adds nothing to the plan; a close policy is said once.
  const closes = { 'close-at-start': 'at drain start (WebSockets)', 'close-at-deadline': 'at drain-timeout' } as const;
  const policy = settings.drainLongLived ?? 'wait';
  if (policy !== 'wait')
    notes.push(
      `Long-lived connections (WebSocket, server-sent events, long polls) of each batch are closed by the load balancer ${closes[policy]}, before deploy-command, counted per server in the log (drain-long-lived: ${policy}).`,
    );
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

/** A live server an operator parked (weight 0, drain or maint) takes no traffic: it keeps its weight in every step. */
function inTraffic(server: Server): boolean {
  return server.admin === 'ready' && server.weight > 0;
}

/** The weights of one step: the live pool's servers in traffic and the idle pool share the traffic. */
function shiftWeights(roles: PoolRoles, percent: number, capabilities: Capabilities): Split {
  const parked = roles.live.servers.filter((s) => !inTraffic(s));
  const split = splitWeights(
    roles.live.servers.filter(inTraffic).map((s) => ({ id: s.id, base: s.weight })),
    // The idle pool holds weight 0, so its servers share its part equally.
    roles.idle.servers.map((s) => ({ id: s.id, base: 1 })),
    percent,
    capabilities.weights.max,
  );
  return { ...split, weights: new Map([...split.weights, ...parked.map((s) => [s.id, s.weight] as const)]) };
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
    const split = roles ? shiftWeights(roles, step.weight, capabilities) : undefined;
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
    const plan = planRolling(settings, strategy, servers, lb.reachable ? lb.all : undefined);
    if ('error' in plan) return plan;
    return { ...plan, notes: [...unreachableNote, ...plan.notes] };
  }
  let roles: PoolRoles | undefined;
  if (servers) {
    const states = assignPools(strategy.pools, servers, traits.capabilities.nativeSplit);
    if ('error' in states) return states;
    const found = poolRoles(states, traits.advice);
    if ('error' in found) return found;
    roles = found;
    const shared = sharedWithIdle(roles, lb.reachable ? lb.all : undefined);
    if (shared) return { error: shared };
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

/**
 * Why the idle pool cannot be deployed without touching live traffic: one of its servers shares an address (one
 * process) with a server in traffic elsewhere (another backend, or the live pool). Deploying would restart that
 * process under live traffic and put the new version there unjudged.
 */
function sharedWithIdle(roles: PoolRoles, all: readonly Server[] | undefined): string | undefined {
  if (!all) return undefined;
  const idle = new Set(roles.idle.servers.map((s) => s.id));
  const clashes = roles.idle.servers.flatMap((server) =>
    all
      .filter((other) => other.address === server.address && !idle.has(other.id) && inTraffic(other))
      .map((other) => `${server.id} is the same process as ${other.id} (${server.address}), which is in traffic`),
  );
  if (!clashes.length) return undefined;
  return (
    `pools: idle pool ${roles.idle.name} cannot be deployed without touching live traffic: ${clashes.join('; ')}. ` +
    `Take those servers out of traffic first, add them to pool ${roles.idle.name}, or deploy with strategy: rolling, ` +
    'which drains every entry of a process before deploying it'
  );
}

/** A problem with the plan as a whole that the user must fix before anything moves. */
export function checkPlanFitsTimeout(plan: Plan, settings: Settings): string | undefined {
  if (plan.minDurationMs > settings.timeoutMs) {
    return `timeout: ${formatDuration(settings.timeoutMs)} is shorter than the plan's waits alone (${formatDuration(plan.minDurationMs)}); raise timeout or shorten steps/analysis-interval`;
  }
  return undefined;
}
