/**
 * Pull-request previews on ALB. ALB routes by rule to a target group, never to one target, so each preview server is a
 * target group of its own, copied from the `preview-backend` group (VPC, protocol, port, target type, health check,
 * deregistration delay) and holding one target, preview-address. A key is three listener rules the action creates:
 * the `X-Preview: KEY` header, the `preview=KEY` cookie through a header condition on `Cookie`, and the query
 * `?preview=KEY` (which reaches the preview for that request only: ALB cannot set the cookie). Each carries the
 * deployed rule's own conditions and authenticate actions, and takes a free priority directly before it (on a
 * listener, after every other rule), so the key reaches the preview exactly where, and as, the deployed rule would
 * have served it.
 *
 * ALB health-checks only targets of a group some rule uses, so a new build's group is attached before it is checked:
 * with weight 0 to the key's header rule, or for a new key by a parked header rule that also needs a random header
 * nobody sends. Everything the action creates is tagged with the key and the deployed rule or listener, and only
 * what carries those tags is ever changed or removed.
 */
import { randomUUID } from 'node:crypto';
import type {
  Action,
  Rule,
  RuleCondition,
  TargetGroup,
  TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { PreviewCheck, PreviewRouting } from '../driver.js';
import type { Change, Server } from '../../model/server.js';
import { matchesSelector, type Selector } from '../../model/selectors.js';
import { backoff, fromList, pollUntil, retry } from '../../model/poll.js';
import type { AwsApi } from './api.js';
import type { AlbArn } from './arn.js';
import { targetDescription, targetIdOf } from './ids.js';
import {
  conditionCounts,
  freePriorities,
  GROUP_PREFIX,
  LAST_PRIORITY,
  MATCHES,
  MAX_VALUES,
  MAX_WILDCARDS,
  PREVIEW_ADDRESS_TAG,
  PREVIEW_FOR_TAG,
  PREVIEW_KEY_TAG,
  PREVIEW_MATCH_TAG,
  PREVIEW_OF_TAG,
  PREVIEW_PARKED_TAG,
  PREVIEW_SERVER_TAG,
  previewActions,
  previewConditions,
  previewGroupName,
  tuplesOf,
  type PreviewMatch,
  type Tuple,
} from './preview-rules.js';

/** Read-backs after a rule change (ALB applies rule changes with a delay). */
const VERIFY_DELAYS_MS = [0, 250, 500, 1000, 2000, 4000, 8000];

interface PreviewGroup {
  readonly arn: string;
  readonly key: string;
  /** `KEY:VERSION`, the server's name. */
  readonly server: string;
  readonly address: string;
}

interface PreviewRule {
  readonly arn: string;
  readonly key: string;
  readonly match: string;
  readonly parked: boolean;
  readonly priority: number;
  /** The target groups of its forward action, with their weights (0: attached for health checks only). */
  readonly tuples: readonly Tuple[];
  readonly actions: readonly Action[];
}

/** AWS's answer for a rule or target group deleted meanwhile (by another pull request's run). */
function gone(error: unknown): boolean {
  return /RuleNotFound|TargetGroupNotFound/.test((error as Error).message);
}

/** Retries of DeleteTargetGroup while ALB still sees it in use just after its rules let go of it (eventual). */
const IN_USE_RETRIES_MS = [500, 1000, 2000, 4000, 8000, 15_000];

export class AlbPreviews implements PreviewRouting {
  /** ALB can route `?preview=KEY` but not answer with a cookie. */
  readonly linkSetsCookie = false;
  private template: { group: TargetGroup; delay: string | undefined } | undefined;

  constructor(
    private readonly api: AwsApi,
    private readonly arn: AlbArn,
    readonly backend: string,
  ) {}

  private elb() {
    return this.api.elb();
  }

  /** The preview-backend target group the previews copy, or why it cannot serve. */
  private async readTemplate(): Promise<{ group: TargetGroup; delay: string | undefined } | string> {
    if (this.template) return this.template;
    const { client, sdk } = await this.elb();
    let group: TargetGroup | undefined;
    try {
      const out = await this.api.send(client, new sdk.DescribeTargetGroupsCommand({ Names: [this.backend] }));
      group = out.TargetGroups?.[0];
    } catch (error) {
      if (!/TargetGroupNotFound/.test((error as Error).message)) throw error;
    }
    if (!group?.TargetGroupArn)
      return `preview-backend: ALB has no target group named ${this.backend} in ${this.arn.region}; create an empty one for previews to copy (VPC, protocol, port, target type ip, health check) and give its name`;
    if (group.TargetType !== 'ip')
      return `preview-backend: target group ${this.backend} has target type ${group.TargetType ?? '?'}; previews register preview-address (IP:PORT), which needs target type ip`;
    const attrs = await this.api.send(
      client,
      new sdk.DescribeTargetGroupAttributesCommand({ TargetGroupArn: group.TargetGroupArn }),
    );
    const delay = attrs.Attributes?.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value;
    this.template = { group, delay };
    return this.template;
  }

  /** What the key's rules stand in for: the deployed rule (undefined on a listener), its conditions and auth actions. */
  private async deployed(): Promise<{
    rule: Rule | undefined;
    conditions: RuleCondition[];
    actions: Action[];
    auth: Action[];
  }> {
    const { client, sdk } = await this.elb();
    let rule: Rule | undefined;
    let actions: Action[];
    if (this.arn.kind === 'rule') {
      const out = await this.api.send(client, new sdk.DescribeRulesCommand({ RuleArns: [this.arn.arn] }));
      rule = out.Rules?.[0];
      if (!rule) throw new Error(`rule ${this.arn.arn} was not found`);
      actions = rule.Actions ?? [];
    } else {
      const out = await this.api.send(client, new sdk.DescribeListenersCommand({ ListenerArns: [this.arn.listener] }));
      actions = out.Listeners?.[0]?.DefaultActions ?? [];
    }
    const auth = [...actions]
      .sort((a, b) => (a.Order ?? 0) - (b.Order ?? 0))
      .filter((a) => a.Type?.startsWith('authenticate-'));
    return { rule, conditions: rule?.Conditions ?? [], actions, auth };
  }

  async check(purpose: 'open' | 'close'): Promise<string[]> {
    // Closing finds the key's rules and groups by their tags alone: it works after the setup changed.
    if (purpose === 'close') return [];
    const template = await this.readTemplate();
    const deployed = await this.deployed();
    const problems: string[] = typeof template === 'string' ? [template] : [];
    if (deployed.auth.some((a) => a.Type === 'authenticate-oidc'))
      problems.push(
        `load-balancer: ${this.arn.arn} authenticates with authenticate-oidc, whose client secret ALB never returns, and each new rule must carry it, so preview rules could not log users in as it does; previews on ALB need a rule or listener without authenticate-oidc (authenticate-cognito is copied)`,
      );
    if (typeof template !== 'string' && tuplesOf(deployed.actions).some((t) => t.arn === template.group.TargetGroupArn))
      problems.push(
        `preview-backend: target group ${this.backend} serves the traffic of ${this.arn.arn}; give an empty target group for previews to copy`,
      );
    const rules = previewConditions('k', deployed.conditions);
    const over = MATCHES.map((m) => [m, conditionCounts(rules[m])] as const).filter(
      ([, c]) => c.values > MAX_VALUES || c.wildcards > MAX_WILDCARDS,
    );
    if (over.length)
      problems.push(
        `load-balancer: the preview rules would carry rule ${this.arn.arn}'s conditions plus the key's (${over.map(([m, c]) => `${m}: ${c.values} values, ${c.wildcards} wildcards`).join('; ')}), over ALB's ${MAX_VALUES} values and ${MAX_WILDCARDS} wildcards per rule; give a rule with fewer condition values for previews`,
      );
    return problems;
  }

  /** Every rule of the listener (all pages). */
  private async listenerRules(): Promise<Rule[]> {
    const { client, sdk } = await this.elb();
    const rules: Rule[] = [];
    let marker: string | undefined;
    do {
      const out = await this.api.send(
        client,
        new sdk.DescribeRulesCommand({
          ListenerArn: this.arn.listener,
          PageSize: 400,
          ...(marker ? { Marker: marker } : {}),
        }),
      );
      rules.push(...(out.Rules ?? []));
      marker = out.NextMarker;
    } while (marker);
    return rules;
  }

  /** Tags of resources, 20 ARNs per call (ALB's limit). */
  private async tags(arns: readonly string[]): Promise<Map<string, Map<string, string>>> {
    const { client, sdk } = await this.elb();
    const result = new Map<string, Map<string, string>>();
    const read = async (batch: readonly string[]) => {
      const out = await this.api.send(client, new sdk.DescribeTagsCommand({ ResourceArns: [...batch] }));
      for (const d of out.TagDescriptions ?? [])
        if (d.ResourceArn) result.set(d.ResourceArn, new Map((d.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])));
    };
    for (let i = 0; i < arns.length; i += 20) {
      const batch = arns.slice(i, i + 20);
      try {
        await read(batch);
      } catch (error) {
        // Another pull request's run deleted one of them since the list: read them one by one, skip what is gone.
        if (!gone(error)) throw error;
        for (const arn of batch) await read([arn]).catch((e: unknown) => (gone(e) ? undefined : Promise.reject(e)));
      }
    }
    return result;
  }

  /**
   * Ours: made by a preview of this deployed rule or listener; a group also of this preview-backend (a rule is found
   * by key and rule alone, so a close with another preview-backend still removes the key's route).
   */
  private ours(tags: Map<string, string> | undefined, group: boolean): tags is Map<string, string> {
    return (
      !!tags?.get(PREVIEW_KEY_TAG) &&
      tags.get(PREVIEW_FOR_TAG) === this.arn.arn &&
      (!group || tags.get(PREVIEW_OF_TAG) === this.backend)
    );
  }

  /** The target groups previews of this template and deployed rule live in. */
  private async groups(): Promise<PreviewGroup[]> {
    const { client, sdk } = await this.elb();
    const candidates: string[] = [];
    let marker: string | undefined;
    do {
      const out = await this.api.send(
        client,
        new sdk.DescribeTargetGroupsCommand({ PageSize: 400, ...(marker ? { Marker: marker } : {}) }),
      );
      for (const g of out.TargetGroups ?? [])
        if (g.TargetGroupArn && g.TargetGroupName?.startsWith(GROUP_PREFIX)) candidates.push(g.TargetGroupArn);
      marker = out.NextMarker;
    } while (marker);
    const tags = await this.tags(candidates);
    return candidates.flatMap((arn) => {
      const t = tags.get(arn);
      const server = t?.get(PREVIEW_SERVER_TAG);
      if (!this.ours(t, true) || !server) return [];
      return [{ arn, key: t.get(PREVIEW_KEY_TAG) ?? '', server, address: t.get(PREVIEW_ADDRESS_TAG) ?? '' }];
    });
  }

  /** The rules previews of this deployed rule created (tagged), among those forwarding to a preview group. */
  private async previewRules(all?: readonly Rule[]): Promise<PreviewRule[]> {
    const rules = (all ?? (await this.listenerRules())).filter(
      (r) => r.RuleArn && tuplesOf(r.Actions).some((t) => t.arn.includes(`:targetgroup/${GROUP_PREFIX}`)),
    );
    const tags = await this.tags(rules.map((r) => r.RuleArn ?? ''));
    return rules.flatMap((r) => {
      const t = tags.get(r.RuleArn ?? '');
      if (!this.ours(t, false)) return [];
      return [
        {
          arn: r.RuleArn ?? '',
          key: t.get(PREVIEW_KEY_TAG) ?? '',
          match: t.get(PREVIEW_MATCH_TAG) ?? '',
          parked: t.get(PREVIEW_PARKED_TAG) === 'true',
          priority: Number(r.Priority),
          tuples: tuplesOf(r.Actions),
          actions: r.Actions ?? [],
        },
      ];
    });
  }

  /** key -> the servers its rules send requests to (a parked rule and a group at weight 0 send none). */
  async routes(): Promise<Map<string, string[]>> {
    const [rules, groups] = await Promise.all([this.previewRules(), this.groups()]);
    const routes = new Map<string, string[]>();
    for (const rule of rules.filter((r) => !r.parked)) {
      const ids = rule.tuples
        .filter((t) => t.weight > 0)
        .map((t) => `${this.backend}/${groups.find((g) => g.arn === t.arn)?.server ?? t.arn}`);
      routes.set(rule.key, [...new Set([...(routes.get(rule.key) ?? []), ...ids])]);
    }
    return routes;
  }

  private toServer(group: PreviewGroup, health: TargetHealthDescription | undefined): Server {
    const target = targetDescription(group.address);
    const state = health?.TargetHealth?.State;
    // `unused`: in a group no rule uses (a run died before attaching it): out, so the next run attaches it again.
    const registered = !!state && state !== 'draining' && state !== 'unhealthy.draining' && state !== 'unused';
    return {
      id: `${this.backend}/${group.server}`,
      backend: this.backend,
      name: group.server,
      address: group.address,
      host: target.Id,
      port: target.Port,
      weight: 0,
      admin: registered ? 'ready' : 'maint',
      check: {
        passing: state === 'healthy',
        settled: state === 'healthy',
        status: state
          ? `${state}${health?.TargetHealth?.Reason ? ` ${health.TargetHealth.Reason}` : ''}`
          : 'not registered',
      },
      inFlight: 0,
    };
  }

  private async health(group: PreviewGroup): Promise<TargetHealthDescription | undefined> {
    const { client, sdk } = await this.elb();
    const out = await this.api.send(client, new sdk.DescribeTargetHealthCommand({ TargetGroupArn: group.arn }));
    return (out.TargetHealthDescriptions ?? []).find((t) => targetIdOf(t) === group.address);
  }

  async servers(selectors?: readonly Selector[]): Promise<Server[]> {
    const groups = (await this.groups()).filter(
      (g) => !selectors || selectors.some((s) => matchesSelector(s, this.backend, g.server)),
    );
    const servers: Server[] = [];
    for (const group of groups) {
      try {
        servers.push(this.toServer(group, await this.health(group)));
      } catch (error) {
        // Another key's group deleted by its own run since the list: it is no server any more.
        if (!gone(error)) throw error;
      }
    }
    return servers;
  }

  private async groupOf(serverId: string): Promise<PreviewGroup> {
    const [backend, ...rest] = serverId.split('/');
    const server = rest.join('/');
    if (backend !== this.backend)
      throw new Error(
        `${serverId}: on ALB a preview serves only through its own target group, copied from preview-backend ${this.backend} (preview-canary is not available on aws-alb)`,
      );
    const group = (await this.groups()).find((g) => g.server === server);
    if (!group) throw new Error(`${serverId} is not on the load balancer any more`);
    return group;
  }

  private static target(address: string) {
    return targetDescription(address);
  }

  private tagsFor(key: string): { Key: string; Value: string }[] {
    return [
      { Key: PREVIEW_KEY_TAG, Value: key },
      { Key: PREVIEW_FOR_TAG, Value: this.arn.arn },
      { Key: PREVIEW_OF_TAG, Value: this.backend },
    ];
  }

  async register(serverId: string, address: string, _check: PreviewCheck): Promise<void> {
    const [backend, ...rest] = serverId.split('/');
    const server = rest.join('/');
    if (backend !== this.backend) await this.groupOf(serverId);
    const template = await this.readTemplate();
    if (typeof template === 'string') throw new Error(template);
    const t = template.group;
    const key = server.slice(0, server.indexOf(':'));
    await this.ensureRoom(key);
    const { client, sdk } = await this.elb();
    // The template's own health check decides (ALB's interval and thresholds, not probe-interval).
    const out = await this.api.send(
      client,
      new sdk.CreateTargetGroupCommand({
        Name: previewGroupName(t.TargetGroupArn ?? '', this.arn.arn, server),
        Protocol: t.Protocol,
        ProtocolVersion: t.ProtocolVersion,
        Port: t.Port,
        VpcId: t.VpcId,
        TargetType: t.TargetType,
        IpAddressType: t.IpAddressType,
        HealthCheckProtocol: t.HealthCheckProtocol,
        HealthCheckPort: t.HealthCheckPort,
        HealthCheckEnabled: t.HealthCheckEnabled,
        HealthCheckPath: t.HealthCheckPath,
        HealthCheckIntervalSeconds: t.HealthCheckIntervalSeconds,
        HealthCheckTimeoutSeconds: t.HealthCheckTimeoutSeconds,
        HealthyThresholdCount: t.HealthyThresholdCount,
        UnhealthyThresholdCount: t.UnhealthyThresholdCount,
        Matcher: t.Matcher,
        Tags: [
          ...this.tagsFor(key),
          { Key: PREVIEW_SERVER_TAG, Value: server },
          { Key: PREVIEW_ADDRESS_TAG, Value: address },
        ],
      }),
    );
    const arn = out.TargetGroups?.[0]?.TargetGroupArn;
    if (!arn) throw new Error(`AWS CreateTargetGroup for ${serverId} returned no target group`);
    if (template.delay !== undefined)
      await this.api.send(
        client,
        new sdk.ModifyTargetGroupAttributesCommand({
          TargetGroupArn: arn,
          Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: template.delay }],
        }),
      );
  }

  /**
   * ALB health-checks only targets of groups a rule uses: the new group joins the key's header rule at weight 0 (no
   * request reaches it), or for a key without rules a parked header rule that also needs a random header.
   */
  private async attach(key: string, groupArn: string): Promise<void> {
    const { client, sdk } = await this.elb();
    const mine = (await this.previewRules()).filter((r) => r.key === key);
    if (mine.some((r) => r.tuples.some((t) => t.arn === groupArn))) return;
    const rule = mine.find((r) => r.match === 'header') ?? mine[0];
    if (rule) {
      const auth = rule.actions.filter((a) => a.Type?.startsWith('authenticate-'));
      // Groups left at weight 0 by runs that died are dropped (ALB allows 5 per forward action); they are retired
      // as the key's stale servers.
      const live = rule.tuples.filter((t) => t.weight > 0);
      await this.api.send(
        client,
        new sdk.ModifyRuleCommand({
          RuleArn: rule.arn,
          Actions: previewActions(auth, [...live, { arn: groupArn, weight: 0 }]),
        }),
      );
      return;
    }
    const deployed = await this.deployed();
    const parking: RuleCondition = {
      Field: 'http-header',
      HttpHeaderConfig: { HttpHeaderName: 'X-Zdd-Parked', Values: [randomUUID()] },
    };
    await this.createRule(key, 'header', [...previewConditions(key, deployed.conditions).header, parking], {
      actions: previewActions(deployed.auth, [{ arn: groupArn, weight: 1 }]),
      before: deployed.rule?.Priority,
      parked: true,
    });
  }

  /**
   * ready and drain attach the group (for ALB's health check) and register the preview's target; maint deregisters
   * it. Weights stay 0: routes carry previews.
   */
  async apply(changes: readonly Change[]): Promise<void> {
    const { client, sdk } = await this.elb();
    for (const change of changes) {
      if (change.weight !== undefined && change.weight !== 0)
        throw new Error(`${change.server}: a preview's target group takes no share of the deployed traffic on ALB`);
      if (!change.admin) continue;
      const group = await this.groupOf(change.server);
      const state = (await this.health(group))?.TargetHealth?.State;
      const registered = !!state && state !== 'draining' && state !== 'unhealthy.draining';
      const target = AlbPreviews.target(group.address);
      if (change.admin !== 'maint') await this.attach(group.key, group.arn);
      if (change.admin !== 'maint' && !registered)
        await this.api.send(client, new sdk.RegisterTargetsCommand({ TargetGroupArn: group.arn, Targets: [target] }));
      if (change.admin === 'maint' && registered)
        await this.api.send(client, new sdk.DeregisterTargetsCommand({ TargetGroupArn: group.arn, Targets: [target] }));
    }
  }

  /** The rules' forward actions after a change, read back until ALB shows only `groupArn`. */
  private async verify(arns: readonly string[], groupArn: string): Promise<void> {
    const { client, sdk } = await this.elb();
    const read = async () => {
      const out = await this.api.send(client, new sdk.DescribeRulesCommand({ RuleArns: [...arns] }));
      return (out.Rules ?? []).filter((r) => {
        const live = tuplesOf(r.Actions).filter((t) => t.weight > 0);
        return live.length !== 1 || live[0]?.arn !== groupArn;
      });
    };
    const polled = await pollUntil(read, (wrong) => wrong.length === 0, {
      ...fromList(VERIFY_DELAYS_MS),
      signal: this.api.signal,
    });
    if (polled.done) return;
    throw new Error(`ALB did not show the preview rules ${arns.join(', ')} forwarding to ${groupArn} after the change`);
  }

  /**
   * The key's rules forward to the server's group alone, with the deployed rule's current conditions and authenticate
   * actions (one ModifyRule each, so a changed deployed rule is followed; a parked rule loses its random header); the
   * rules a run that died left out are created. Idempotent: it is called on every run.
   */
  async route(key: string, serverId: string): Promise<void> {
    const group = await this.groupOf(serverId);
    const { client, sdk } = await this.elb();
    const deployed = await this.deployed();
    const conditions = previewConditions(key, deployed.conditions);
    const actions = previewActions(deployed.auth, [{ arn: group.arn, weight: 1 }]);
    const existing = (await this.previewRules()).filter((r) => r.key === key);
    const kept: string[] = [];
    for (const rule of existing) {
      const match = MATCHES.find((m) => m === rule.match);
      // A second rule of one match (a retried CreateRule) or one without a known match is removed.
      if (!match || kept.some((arn) => existing.find((r) => r.arn === arn)?.match === match)) {
        await this.api.send(client, new sdk.DeleteRuleCommand({ RuleArn: rule.arn }));
        continue;
      }
      kept.push(rule.arn);
      await this.api.send(
        client,
        new sdk.ModifyRuleCommand({ RuleArn: rule.arn, Actions: actions, Conditions: conditions[match] }),
      );
      if (rule.parked)
        await this.api.send(
          client,
          new sdk.RemoveTagsCommand({ ResourceArns: [rule.arn], TagKeys: [PREVIEW_PARKED_TAG] }),
        );
    }
    const have = new Set(existing.filter((r) => kept.includes(r.arn)).map((r) => r.match));
    for (const match of MATCHES.filter((m) => !have.has(m)))
      kept.push(
        await this.createRule(key, match, conditions[match], {
          actions,
          before: deployed.rule?.Priority,
          parked: false,
        }),
      );
    await this.verify(kept, group.arn);
  }

  /** Before anything is created: the priorities the key's missing rules need are free directly below the deployed rule. */
  private async ensureRoom(key: string): Promise<void> {
    const all = await this.listenerRules();
    const mine = await this.previewRules(all);
    const need = MATCHES.filter((m) => !mine.some((r) => r.key === key && r.match === m)).length;
    if (need === 0) return;
    const deployed = this.arn.kind === 'rule' ? all.find((r) => r.RuleArn === this.arn.arn) : undefined;
    const before = deployed?.Priority === undefined ? undefined : Number(deployed.Priority);
    const taken = new Set(all.map((r) => Number(r.Priority)).filter(Number.isFinite));
    const free = freePriorities(taken, new Set(mine.map((r) => r.priority)), before, need);
    if (!Array.isArray(free))
      throw new Error(`${this.noRoom(key, free.blockedBy, before, `${need} rules`)}. Nothing was changed for ${key}`);
  }

  private noRoom(key: string, blockedBy: number, before: number | undefined, what: string): string {
    return blockedBy
      ? `ALB listener ${this.arn.listener}: the rule at priority ${blockedBy} sits directly before ${before ? `the deployed rule (${before})` : 'the default action'} with no free priority between, so preview ${key}'s ${what} would have to jump it; leave free priorities directly below ${before ?? LAST_PRIORITY + 1} for previews (3 per open preview)`
      : `ALB listener ${this.arn.listener} has no free rule priority left for preview ${key}'s ${what}`;
  }

  /** One rule of a key at a free priority; a priority another run takes meanwhile is read again and retried. */
  private async createRule(
    key: string,
    match: PreviewMatch,
    conditions: RuleCondition[],
    options: { actions: Action[]; before: string | undefined; parked: boolean },
  ): Promise<string> {
    const { client, sdk } = await this.elb();
    for (let attempt = 0; ; attempt++) {
      const all = await this.listenerRules();
      // Only this deployed rule's preview rules are skipped: anyone else's rule, other previews' too, is not jumped.
      const previews = new Set((await this.previewRules(all)).map((r) => r.priority));
      const taken = new Set(all.map((r) => Number(r.Priority)).filter(Number.isFinite));
      const before = options.before === undefined ? undefined : Number(options.before);
      const free = freePriorities(taken, previews, before, 1);
      if (!Array.isArray(free)) throw new Error(this.noRoom(key, free.blockedBy, before, `${match} rule`));
      const [priority] = free;
      try {
        const out = await this.api.send(
          client,
          new sdk.CreateRuleCommand({
            ListenerArn: this.arn.listener,
            Priority: priority,
            Conditions: conditions,
            Actions: options.actions,
            Tags: [
              ...this.tagsFor(key),
              { Key: PREVIEW_MATCH_TAG, Value: match },
              ...(options.parked ? [{ Key: PREVIEW_PARKED_TAG, Value: 'true' }] : []),
            ],
          }),
        );
        const arn = out.Rules?.[0]?.RuleArn;
        if (!arn) throw new Error(`AWS CreateRule for preview ${key} returned no rule`);
        return arn;
      } catch (error) {
        if (!/PriorityInUse/.test((error as Error).message) || attempt >= 4) throw error;
      }
    }
  }

  async unroute(key: string): Promise<void> {
    const { client, sdk } = await this.elb();
    for (const rule of (await this.previewRules()).filter((r) => r.key === key)) {
      try {
        await this.api.send(client, new sdk.DeleteRuleCommand({ RuleArn: rule.arn }));
      } catch (error) {
        if (!/RuleNotFound/.test((error as Error).message)) throw error;
      }
    }
  }

  /**
   * Detaches the group from the key's rules (a build that failed its checks is still attached at weight 0, or by a
   * parked rule, which goes with it), waits for its deregistered target to drain (at most timeoutMs), deletes it.
   */
  async unregister(serverId: string, timeoutMs: number): Promise<void> {
    const group = await this.groupOf(serverId);
    const { client, sdk } = await this.elb();
    for (const rule of (await this.previewRules()).filter((r) => r.tuples.some((t) => t.arn === group.arn))) {
      const rest = rule.tuples.filter((t) => t.arn !== group.arn);
      // A parked rule still holding an older build stays parked; one left with nothing goes.
      if (rest.length === 0) await this.api.send(client, new sdk.DeleteRuleCommand({ RuleArn: rule.arn }));
      else {
        const auth = rule.actions.filter((a) => a.Type?.startsWith('authenticate-'));
        await this.api.send(
          client,
          new sdk.ModifyRuleCommand({ RuleArn: rule.arn, Actions: previewActions(auth, rest) }),
        );
      }
    }
    const signal = this.api.signal;
    await pollUntil(
      () => this.health(group),
      (health) => !health,
      { pause: backoff(250, 5000), deadline: Date.now() + timeoutMs, signal },
    );
    await retry(
      () => this.api.send(client, new sdk.DeleteTargetGroupCommand({ TargetGroupArn: group.arn })),
      (error) => /ResourceInUse/.test((error as Error).message),
      { ...fromList([0, ...IN_USE_RETRIES_MS]), signal },
    );
  }
}
