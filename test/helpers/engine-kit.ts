/**
 * What engine tests on the fake driver share: settings read through `readInputs` with `load-balancer: fake://lb`,
 * then shrunk to milliseconds; hooks that record every stage and checkpoint; the plan and pool roles as the deploy
 * use case builds them. Test files that watch analysis windows also mock COUNTER_POLL_MS (see engine-*.test.ts).
 */
import { readInputs } from '../../src/inputs.js';
import type { Hooks } from '../../src/engine/context.js';
import { buildPlan } from '../../src/plan/build.js';
import type { Plan } from '../../src/plan/plan.js';
import { assignPools, poolRoles, type PoolRoles } from '../../src/plan/pools.js';
import type { Change, PendingRestore, Server } from '../../src/model/server.js';
import type { Settings } from '../../src/settings.js';
import { selectorsOf } from '../../src/actions/read.js';
import type { FakeDriver } from './fake-driver.js';
import './fake-driver.js';

/** Settings from inputs (fake://lb, version v2), with every wait shrunk so a rollout takes well under a second. */
export function fakeSettings(inputs: Record<string, string>, tweak: Partial<Settings> = {}): Settings {
  const given: Record<string, string> = { 'load-balancer': 'fake://lb', version: 'v2', ...inputs };
  const settings = readInputs((name) => given[name] ?? '', { sha: 'abc1234', pullRequestNumber: undefined });
  return {
    ...settings,
    analysis: { ...settings.analysis, intervalMs: 30 },
    probe: { ...settings.probe, intervalMs: 20, timeoutMs: 200 },
    startupTimeoutMs: 400,
    drainTimeoutMs: 5000,
    ...tweak,
  };
}

export interface RecordedCheckpoint {
  readonly restore: readonly Change[] | undefined;
  readonly pending: readonly PendingRestore[] | undefined;
  readonly failed: readonly string[] | undefined;
}

export interface Recorded {
  readonly hooks: Hooks;
  readonly stages: string[];
  /** Every checkpoint in order: the changes that restore safe traffic, [] for "leave as is", undefined for none. */
  readonly checkpoints: (readonly Change[] | undefined)[];
  /** Every checkpoint call in order, whole: what restores safe traffic, the pending servers, the failed ones. */
  readonly calls: RecordedCheckpoint[];
  /** The checkpoint's restore in force now (what a post step would apply). */
  last(): readonly Change[] | undefined;
}

export function recordingHooks(): Recorded {
  const stages: string[] = [];
  const checkpoints: (readonly Change[] | undefined)[] = [];
  const calls: RecordedCheckpoint[] = [];
  return {
    hooks: {
      stage: async (text) => {
        stages.push(text);
      },
      checkpoint: (at) => {
        const restore = at.kind === 'none' ? undefined : at.kind === 'leave' ? [] : at.changes;
        const pending = at.kind === 'leave' ? at.pending : undefined;
        const failed = at.kind === 'none' ? undefined : at.failed;
        checkpoints.push(restore && restore.map((c) => ({ ...c })));
        calls.push({
          restore: restore && restore.map((c) => ({ ...c })),
          pending: pending?.map((p) => ({ ...p })),
          failed: failed && [...failed],
        });
      },
    },
    stages,
    checkpoints,
    calls,
    last: () => checkpoints.at(-1),
  };
}

/** Reads the servers the strategy names from the fake and builds the plan, as the deploy use case does. */
export async function planOn(
  settings: Settings,
  fake: FakeDriver,
): Promise<{ servers: Server[]; plan: Plan; roles: PoolRoles | undefined }> {
  const servers = await fake.servers(selectorsOf(settings));
  const plan = buildPlan(settings, { reachable: true, servers }, fake);
  if ('error' in plan) throw new Error(plan.error);
  const strategy = settings.strategy;
  if (!strategy || strategy.name === 'rolling') return { servers, plan, roles: undefined };
  const states = assignPools(strategy.pools, servers);
  if ('error' in states) throw new Error(states.error);
  const roles = poolRoles(states, fake.advice);
  if ('error' in roles) throw new Error(roles.error);
  return { servers, plan, roles };
}

/** Blue live (weight 100, in traffic), green idle (weight 0): the pools a canary or blue-green starts from. */
export const BLUE_GREEN = [
  { id: 'app/blue1', weight: 100 },
  { id: 'app/blue2', weight: 100 },
  { id: 'app/green1', weight: 0 },
  { id: 'app/green2', weight: 0 },
] as const;

export const POOLS = 'blue=app/blue*, green=app/green*';

/** `id=weight` for the servers given, in order, as the fake holds them. */
export function weightsOf(fake: FakeDriver, ids: readonly string[]): string {
  return ids.map((id) => `${id}=${fake.state(id).weight}`).join(' ');
}
