/**
 * What one `apply` does on ALB, planned from what was read and no call made: the forward action's new weights (per
 * target group), and which targets to register, deregister, tag as out of traffic and wait on to drain. Pure: the
 * driver makes the calls in the order the plan's fields are listed.
 */
import type { TargetHealthDescription } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AdminState, Change } from '../../model/server.js';
import { groupName, targetOf } from './ids.js';

/** A target group as the plan needs it. */
export interface PlanGroup {
  readonly arn: string;
  readonly name: string;
}

/** A target as read: DescribeTargetHealth's entry (absent when not registered) and the out-of-traffic tag's value. */
export type TargetState = {
  readonly health: TargetHealthDescription | undefined;
  readonly out: AdminState | undefined;
};

export interface ApplyPlan {
  /** Target group ARN -> weight, only those that differ from the forward action read (one write for all). */
  readonly weights: ReadonlyMap<string, number>;
  /** Per group ARN: target ids (`ID:PORT`) to register, then wait on until ALB has judged them. */
  readonly register: ReadonlyMap<string, readonly string[]>;
  /** Per group ARN: registered targets to tag as out (drain or maint) and then deregister. */
  readonly deregister: ReadonlyMap<string, readonly { readonly id: string; readonly admin: AdminState }[]>;
  /** Per group ARN: targets already out whose tag says otherwise (drain -> maint, ...): tagged only. */
  readonly retag: ReadonlyMap<string, readonly { readonly id: string; readonly admin: AdminState }[]>;
  /** Per group ARN with traffic: maint targets ALB still knows, waited on until drained. */
  readonly drain: ReadonlyMap<string, readonly string[]>;
}

/** The groups the changes touch, by name; throws naming a server whose group is not in the forward action. */
export function touchedGroups<G extends PlanGroup>(
  changes: readonly Change[],
  groups: readonly G[],
  where: string,
): G[] {
  const byName = new Map(groups.map((g) => [g.name, g]));
  return [
    ...new Set(
      changes.map((c) => {
        const group = byName.get(groupName(c.server));
        if (!group) throw new Error(`${c.server}: its target group is not in the forward action of ${where}`);
        return group;
      }),
    ),
  ];
}

/** Weights are per group: all changes to one group must agree. Returns ARN -> weight wanted. */
export function wantedWeights(changes: readonly Change[], groups: readonly PlanGroup[], where: string) {
  const weights = new Map<string, number>();
  for (const c of changes) {
    if (c.weight === undefined) continue;
    const [group] = touchedGroups([c], groups, where) as [PlanGroup];
    const other = weights.get(group.arn);
    if (other !== undefined && other !== c.weight)
      throw new Error(
        `ALB weighs target groups, not targets: ${group.name} cannot take weights ${other} and ${c.weight} at once`,
      );
    weights.set(group.arn, c.weight);
  }
  return weights;
}

function registered(state: TargetState | undefined): boolean {
  const health = state?.health?.TargetHealth?.State;
  return health !== undefined && health !== 'draining' && health !== 'unhealthy.draining';
}

/**
 * The plan of `changes` against the forward action's weights (`forward`, ARN -> weight) and the touched groups'
 * targets (ARN -> target id -> state). ready registers a target not registered; drain and maint deregister a
 * registered one (remembered by a tag first) or only retag one already out; maint on a group with traffic waits.
 * `writeAll`: after a write ALB had not shown yet, what it shows is no guide, so every wanted weight is written.
 */
export function planApply(
  changes: readonly Change[],
  groups: readonly PlanGroup[],
  forward: ReadonlyMap<string, number>,
  targets: ReadonlyMap<string, ReadonlyMap<string, TargetState>>,
  where: string,
  writeAll = false,
): ApplyPlan {
  const weights = wantedWeights(changes, groups, where);
  // Only a weight that differs is written: each write is a rule change ALB takes with a delay.
  if (!writeAll) for (const [arn, weight] of weights) if (forward.get(arn) === weight) weights.delete(arn);
  const register = new Map<string, string[]>();
  const deregister = new Map<string, { id: string; admin: AdminState }[]>();
  const retag = new Map<string, { id: string; admin: AdminState }[]>();
  const drain = new Map<string, string[]>();
  const push = <T>(map: Map<string, T[]>, arn: string, value: T) => map.set(arn, [...(map.get(arn) ?? []), value]);
  for (const c of changes) {
    if (!c.admin) continue;
    const [group] = touchedGroups([c], groups, where) as [PlanGroup];
    const id = targetOf(c.server);
    const state = targets.get(group.arn)?.get(id);
    if (c.admin === 'ready') {
      if (!registered(state)) push(register, group.arn, id);
      continue;
    }
    if (registered(state)) push(deregister, group.arn, { id, admin: c.admin });
    else if (state?.out !== c.admin) push(retag, group.arn, { id, admin: c.admin });
    // maint is out and drained: a target ALB still knows (deregistered now, or draining from an earlier drain) is
    // waited on while its group has traffic, so a deploy never cuts requests ALB still lets it finish.
    if (c.admin === 'maint' && (forward.get(group.arn) ?? 0) > 0 && state?.health !== undefined)
      push(drain, group.arn, id);
  }
  return { weights, register, deregister, retag, drain };
}
