/**
 * The pure part of previews on ALB: the tags on what a preview creates, a preview group's name, the rules' conditions
 * and actions for a key, ALB's per-rule limits, and free priorities. No AWS call here (check-layers.js enforces it).
 */
import { createHash } from 'node:crypto';
import type { Action, RuleCondition } from '@aws-sdk/client-elastic-load-balancing-v2';

/** On the rules and target groups a preview creates: the preview key. */
export const PREVIEW_KEY_TAG = 'zero-downtime-deploy:preview-key';
/** On the rules and target groups a preview creates: the deployed rule's or listener's ARN (the load-balancer input). */
export const PREVIEW_FOR_TAG = 'zero-downtime-deploy:preview-for';
/** On a preview's target group: the server's name, `KEY:VERSION`. */
export const PREVIEW_SERVER_TAG = 'zero-downtime-deploy:preview-server';
/** On a preview's target group: the target group it was copied from (`preview-backend`). */
export const PREVIEW_OF_TAG = 'zero-downtime-deploy:preview-of';
/** On a preview's target group: preview-address, so a server out of traffic still has its address. */
export const PREVIEW_ADDRESS_TAG = 'zero-downtime-deploy:preview-address';
/** On a preview's rules: what the rule matches. */
export const PREVIEW_MATCH_TAG = 'zero-downtime-deploy:preview-match';
/** On a parked rule: it holds a new build's group for ALB's health check and matches no request. */
export const PREVIEW_PARKED_TAG = 'zero-downtime-deploy:preview-parked';

export const MATCHES = ['header', 'cookie', 'query'] as const;
export type PreviewMatch = (typeof MATCHES)[number];

/** Target groups the action creates for previews are named this and a hash (ALB allows 32 characters). */
export const GROUP_PREFIX = 'zdd-pv-';
/** ALB's highest rule priority. */
export const LAST_PRIORITY = 50_000;
/** ALB's limits per rule: condition values, and wildcards among them. */
export const MAX_VALUES = 5;
export const MAX_WILDCARDS = 5;

export interface Tuple {
  readonly arn: string;
  readonly weight: number;
}

/**
 * The name of the target group for a preview server: the same server of the same template and deployed rule always
 * gets the same one (so a retried CreateTargetGroup answers the group made before).
 */
export function previewGroupName(templateArn: string, scope: string, server: string): string {
  const hash = createHash('sha256').update(`${templateArn}\n${scope}\n${server}`).digest('hex');
  return `${GROUP_PREFIX}${hash.slice(0, 32 - GROUP_PREFIX.length)}`;
}

/** The conditions of a key's three rules, each with the deployed rule's own conditions. */
export function previewConditions(key: string, base: readonly RuleCondition[]): Record<PreviewMatch, RuleCondition[]> {
  // A condition as read carries both `Values` and its `...Config`; CreateRule takes one of them.
  const copied = base.map((c) => {
    const { Values, ...rest } = c;
    return Object.keys(rest).some((k) => k.endsWith('Config')) ? rest : { ...rest, Values };
  });
  return {
    header: [...copied, { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Preview', Values: [key] } }],
    // `preview=KEY` last or followed by `;`: `*` before it also admits a cookie named e.g. `xpreview` (documented).
    cookie: [
      ...copied,
      {
        Field: 'http-header',
        HttpHeaderConfig: { HttpHeaderName: 'Cookie', Values: [`*preview=${key}`, `*preview=${key};*`] },
      },
    ],
    // The link `?preview=KEY` reaches the preview for that request (ALB cannot set the cookie for the next ones).
    query: [...copied, { Field: 'query-string', QueryStringConfig: { Values: [{ Key: 'preview', Value: key }] } }],
  };
}

/** Condition values and wildcards of a rule, as ALB counts them against its limits. */
export function conditionCounts(conditions: readonly RuleCondition[]): { values: number; wildcards: number } {
  const texts = conditions.flatMap((c) => [
    ...(c.HostHeaderConfig?.Values ?? []),
    ...(c.PathPatternConfig?.Values ?? []),
    ...(c.HttpHeaderConfig?.Values ?? []),
    ...(c.HttpRequestMethodConfig?.Values ?? []),
    ...(c.SourceIpConfig?.Values ?? []),
    ...(c.QueryStringConfig?.Values ?? []).map((v) => `${v.Key ?? ''}=${v.Value ?? ''}`),
    ...(Object.keys(c).some((k) => k.endsWith('Config')) ? [] : (c.Values ?? [])),
  ]);
  return { values: texts.length, wildcards: texts.join('').replace(/[^*?]/g, '').length };
}

/**
 * `count` priorities for a key's rules directly before the deployed rule's (`before`; a listener's default action
 * comes after 50000): free ones, skipping other previews' rules, stopping at the first rule of anyone else, so no rule
 * of yours sits between the key's rules and the rule they stand in for.
 */
export function freePriorities(
  taken: ReadonlySet<number>,
  previews: ReadonlySet<number>,
  before: number | undefined,
  count: number,
): number[] | { blockedBy: number } {
  const found: number[] = [];
  for (let p = (before ?? LAST_PRIORITY + 1) - 1; p >= 1 && found.length < count; p--) {
    if (previews.has(p)) continue;
    if (taken.has(p)) return { blockedBy: p };
    found.push(p);
  }
  return found.length === count ? found : { blockedBy: 0 };
}

export function tuplesOf(actions: readonly Action[] | undefined): Tuple[] {
  const forward = actions?.find((a) => a.Type === 'forward');
  const tuples = (forward?.ForwardConfig?.TargetGroups ?? [])
    .filter((t) => t.TargetGroupArn)
    .map((t) => ({ arn: t.TargetGroupArn ?? '', weight: t.Weight ?? 1 }));
  return tuples.length ? tuples : forward?.TargetGroupArn ? [{ arn: forward.TargetGroupArn, weight: 1 }] : [];
}

/** The deployed rule's authenticate actions, in order, then a forward to these groups. */
export function previewActions(auth: readonly Action[], tuples: readonly Tuple[]): Action[] {
  const forward: Action = {
    Type: 'forward',
    Order: auth.length + 1,
    ForwardConfig: { TargetGroups: tuples.map((t) => ({ TargetGroupArn: t.arn, Weight: t.weight })) },
  };
  return [...auth.map((a, i) => ({ ...a, Order: i + 1 })), forward];
}
