/**
 * The rollout record: everything a later job needs to continue or undo a canary, kept as the GitHub deployment's
 * payload so it survives the runner. Where a rollout stands is not stored but read: the load balancer's actual
 * weights must equal one step's weights in the record, which also proves the record belongs to this rollout.
 */
import { z } from 'zod';
import type { Change, PendingRestore, Server } from '../model/server.js';
import { probeUrl } from '../probes/http.js';
import type { Plan, Stage } from './plan.js';
import type { PoolRoles } from './pools.js';
import type { Settings } from '../settings.js';

export const RECORD_TOOL = 'zero-downtime-deploy';

/**
 * No upper bound: the range is the driver's (`capabilities.weights`), and a record's weights are only ever compared
 * with weights read from the load balancer that took them, or sent back to it.
 */
const weightsSchema = z.record(z.string(), z.number().int().min(0));

export const recordSchema = z.object({
  tool: z.literal(RECORD_TOOL),
  version: z.string(),
  strategy: z.enum(['rolling', 'blue-green', 'canary']),
  loadBalancer: z.string(),
  pools: z
    .object({ live: z.string(), idle: z.string(), selectors: z.record(z.string(), z.array(z.string())) })
    .optional(),
  stable: weightsSchema.optional(),
  /** rolling: every target's state and weight before the rollout, and the health-url template, for an abort. */
  targets: z
    .record(z.string(), z.object({ weight: z.number().int().min(0), admin: z.enum(['ready', 'drain', 'maint']) }))
    .optional(),
  healthUrl: z.string().optional(),
  steps: z
    .array(
      z.object({
        weight: z.number(),
        achieved: z.number(),
        pause: z.string(),
        windows: z.number().int(),
        weights: weightsSchema,
      }),
    )
    .optional(),
  analysis: z
    .object({
      maxErrorRate: z.number(),
      minRequests: z.number(),
      intervalMs: z.number(),
      // Absent in records written before false-rollback-rate existed.
      falseRollbackRate: z.number().optional(),
    })
    .optional(),
  probe: z
    .object({
      healthUrl: z.string(),
      checkUrl: z.string(),
      expectStatus: z.array(z.tuple([z.number(), z.number()])),
      expectBody: z.string(),
      intervalMs: z.number(),
      timeoutMs: z.number(),
      healthyThreshold: z.number(),
      unhealthyThreshold: z.number(),
    })
    .optional(),
});

export type RolloutRecord = z.infer<typeof recordSchema>;

function pauseText(stage: Extract<Stage, { kind: 'shift' }>): string {
  return stage.wait.kind === 'duration' ? `${stage.wait.ms}ms` : stage.wait.kind;
}

export function buildRecord(
  settings: Settings,
  plan: Plan,
  roles: PoolRoles | undefined,
  targets: readonly Server[] = [],
): RolloutRecord {
  const base = {
    tool: RECORD_TOOL,
    version: settings.version,
    strategy: plan.strategy,
    loadBalancer: settings.loadBalancer.display,
  } as const;
  if (settings.strategy?.name === 'rolling')
    return {
      ...base,
      targets: Object.fromEntries(targets.map((s) => [s.id, { weight: s.weight, admin: s.admin }])),
      healthUrl: settings.probe.healthUrl,
    };
  if (!roles || !settings.strategy) return base;
  const shifts = plan.stages.filter((s): s is Extract<Stage, { kind: 'shift' }> => s.kind === 'shift');
  return {
    ...base,
    pools: {
      live: roles.live.name,
      idle: roles.idle.name,
      selectors: Object.fromEntries(settings.strategy.pools.map((p) => [p.name, p.selectors.map((s) => s.text)])),
    },
    stable: Object.fromEntries([
      ...roles.live.servers.map((s) => [s.id, s.weight]),
      ...roles.idle.servers.map((s) => [s.id, 0]),
    ]),
    steps: shifts.map((s) => ({
      weight: s.weight,
      achieved: s.achieved ?? s.weight,
      pause: pauseText(s),
      windows: s.windows,
      weights: Object.fromEntries(s.weights ?? []),
    })),
    analysis: { ...settings.analysis },
    probe: { ...settings.probe, expectStatus: settings.probe.expectStatus.map(([a, b]) => [a, b] as [number, number]) },
  };
}

export function parseRecord(payload: unknown): RolloutRecord | undefined {
  const parsed = recordSchema.safeParse(typeof payload === 'string' ? safeJson(payload) : payload);
  return parsed.success ? parsed.data : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export type Position =
  | { readonly kind: 'stable' }
  | { readonly kind: 'step'; readonly index: number }
  | { readonly kind: 'mismatch'; readonly detail: string };

function same(expected: Record<string, number>, actual: ReadonlyMap<string, number>): boolean {
  const ids = Object.keys(expected);
  return ids.length === actual.size && ids.every((id) => actual.get(id) === expected[id]);
}

/** Where the rollout stands on the load balancer: its weights must equal the stable ones or one step's exactly. */
export function locate(record: RolloutRecord, servers: readonly Server[]): Position {
  const actual = new Map(servers.map((s) => [s.id, s.weight]));
  const steps = record.steps ?? [];
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i];
    if (step && same(step.weights, actual)) return { kind: 'step', index: i };
  }
  if (record.stable && same(record.stable, actual)) return { kind: 'stable' };
  const now = [...actual].map(([id, w]) => `${id}=${w}`).join(' ');
  const expected = steps
    .map(
      (s) =>
        `${s.weight}%: ${Object.entries(s.weights)
          .map(([id, w]) => `${id}=${w}`)
          .join(' ')}`,
    )
    .join('; ');
  return { kind: 'mismatch', detail: `the load balancer has ${now}, which is no step of this rollout (${expected})` };
}

/** rolling: the targets not in their recorded original state and weight, with what puts each back. */
export function outOfPlace(record: RolloutRecord, servers: readonly Server[]): PendingRestore[] {
  return Object.entries(record.targets ?? {}).flatMap(([id, original]) => {
    const now = servers.find((s) => s.id === id);
    if (!now || (now.admin === original.admin && now.weight === original.weight)) return [];
    return [{ server: id, ...original, ...(record.healthUrl ? { probe: probeUrl(record.healthUrl, now) } : {}) }];
  });
}

/** The changes that put all traffic back on the stable pool. */
export function stableChanges(record: RolloutRecord): Change[] {
  return Object.entries(record.stable ?? {}).map(([server, weight]) => ({ server, weight }));
}

/** Pools as given must be the pools the record was made with. */
export function checkPools(record: RolloutRecord, settings: Settings): string | undefined {
  const given = settings.pools;
  if (!given || !record.pools) return undefined;
  const canonical = (pools: Record<string, string[]>) =>
    JSON.stringify(
      Object.keys(pools)
        .sort()
        .map((name) => [name, pools[name]]),
    );
  const wanted = canonical(Object.fromEntries(given.map((p) => [p.name, p.selectors.map((s) => s.text)])));
  const recorded = canonical(record.pools.selectors);
  return wanted === recorded
    ? undefined
    : `pools: ${wanted} differs from the paused rollout's pools ${recorded}; the record belongs to another rollout`;
}
