/**
 * The forward action of a listener or rule: which target groups it holds and with what weights. Pure: a new action
 * list is computed from the one read, so every other action (authenticate-oidc, ...) and its order survive.
 */
import type { Action, TargetGroupTuple } from '@aws-sdk/client-elastic-load-balancing-v2';

/** ALB's weight range for a target group in a forward action. */
export const MAX_WEIGHT = 999;

export interface Forward {
  /** Target group ARN -> weight, in the action's order. */
  readonly weights: ReadonlyMap<string, number>;
  /** Target group stickiness of the forward action (clients stay on the group they were sent to for a while). */
  readonly stickiness: { readonly enabled: boolean; readonly seconds: number | undefined };
}

/** The one forward action among the actions, or why there is none to split traffic with. */
export function findForward(actions: readonly Action[], where: string): Forward | string {
  const forwards = actions.filter((a) => a.Type === 'forward');
  if (forwards.length !== 1)
    return `${where} has ${forwards.length === 0 ? 'no forward action' : `${forwards.length} forward actions`}; give a listener or rule whose action forwards to the target groups of both pools`;
  const action = forwards[0] as Action;
  const tuples: readonly TargetGroupTuple[] =
    action.ForwardConfig?.TargetGroups ?? (action.TargetGroupArn ? [{ TargetGroupArn: action.TargetGroupArn }] : []);
  const weights = new Map<string, number>();
  // A forward to one group without a ForwardConfig sends it everything: weight 1 of 1.
  for (const t of tuples) if (t.TargetGroupArn) weights.set(t.TargetGroupArn, t.Weight ?? 1);
  const sticky = action.ForwardConfig?.TargetGroupStickinessConfig;
  return { weights, stickiness: { enabled: sticky?.Enabled === true, seconds: sticky?.DurationSeconds } };
}

/**
 * The actions with the forward action's weights replaced (groups not named keep theirs); everything else, stickiness
 * included, is written back as it was read. A single-group `TargetGroupArn` becomes a ForwardConfig.
 */
export function withWeights(actions: readonly Action[], weights: ReadonlyMap<string, number>): Action[] {
  return actions.map((read) => {
    // ALB never returns an OIDC client secret: writing the action back must say to keep the one it has.
    const action: Action = read.AuthenticateOidcConfig
      ? { ...read, AuthenticateOidcConfig: { ...read.AuthenticateOidcConfig, UseExistingClientSecret: true } }
      : read;
    if (action.Type !== 'forward') return action;
    const current = findForward([action], 'the action');
    if (typeof current === 'string') return action;
    const { TargetGroupArn: _single, ForwardConfig, ...rest } = action;
    void _single;
    return {
      ...rest,
      ForwardConfig: {
        ...ForwardConfig,
        TargetGroups: [...current.weights].map(([arn, weight]) => ({
          TargetGroupArn: arn,
          Weight: weights.get(arn) ?? weight,
        })),
      },
    };
  });
}

/** Weights out of MAX_WEIGHT for shares in percent (0-100): the percent itself, exact and readable. */
export function weightForPercent(percent: number): number {
  return Math.max(0, Math.min(100, Math.round(percent)));
}

/** A group's share of the forward action's traffic, in percent. */
export function percentOf(weights: ReadonlyMap<string, number>, arn: string): number {
  const total = [...weights.values()].reduce((a, b) => a + b, 0);
  return total > 0 ? (100 * (weights.get(arn) ?? 0)) / total : 0;
}

/** Where the weights read differ from those wanted, e.g. `shop-green 10 wanted, 0 read`. */
export function weightDifferences(
  wanted: ReadonlyMap<string, number>,
  read: ReadonlyMap<string, number>,
  name: (arn: string) => string,
): string[] {
  return [...wanted]
    .filter(([arn, w]) => read.get(arn) !== w)
    .map(([arn, w]) => `${name(arn)} ${w} wanted, ${read.get(arn) ?? 'absent'} read`);
}
