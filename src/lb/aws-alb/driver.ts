/**
 * AWS Application Load Balancer through ELBv2 and CloudWatch. A target group is a backend and a target `ID:PORT` a
 * server; traffic moves between target groups by the weights of one forward action (a listener's default action or a
 * rule's), written in one ModifyListener/ModifyRule call and verified by reading it back. A target out of traffic is
 * deregistered; ALB forgets it once it has drained, so the action remembers it as a tag on its target group.
 */
import * as core from '@actions/core';
import type { Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Advice, Capabilities, Driver, PoolSelection, PoolShare } from '../driver.js';
import type { AdminState, Change, Counters, Server } from '../../model/server.js';
import { matchesSelector, type Selector } from '../../model/selectors.js';
import { formatDuration } from '../../model/durations.js';
import { fromList, pollUntil } from '../../model/poll.js';
import { AwsApi, AwsCallError } from './api.js';
import { targetGroupDimension, type AlbArn } from './arn.js';
import { findForward, percentOf, weightDifferences, weightForPercent, withWeights, type Forward } from './forward.js';
import { AlbLock } from './lock.js';
import { readCounters, METRICS_PERIOD_S } from './metrics.js';
import { AlbLatency, type LatencyGroup } from './latency.js';
import { planApply, touchedGroups, type ApplyPlan, type TargetState } from './apply-plan.js';
import { groupName, targetDescription, targetIdOf } from './ids.js';
import { poolSplitProblems, trafficOutside, weightsRead } from './pools.js';
import { AlbPreviews } from './previews.js';

export const albCapabilities: Capabilities = {
  weights: { min: 0, max: 100 },
  healthChecks: true,
  previews: true,
  nativeSplit: true,
  inFlight: false,
  lock: true,
  countsPerMs: METRICS_PERIOD_S * 1000,
};

export const ALB_ADVICE: Advice = {
  outOfRotation: (pool) =>
    `ALB: weight 0 for ${pool}'s target group in the forward action (aws elbv2 modify-rule --actions ... or modify-listener --default-actions ...)`,
  healthCheck: "ALB always health-checks registered targets: set the target group's health check path",
  outOfTraffic: 'deregistered from its target group on ALB',
  zeroWeight: "weight 0 for its target group in the rule's forward action on ALB",
};

/** The tag that remembers a target the action took out of traffic: `zero-downtime-deploy:out:ID:PORT` = drain|maint. */
export const OUT_TAG = 'zero-downtime-deploy:out:';

/** Read-backs after a weight change, and the pause before each: ALB documents no figure for how late they show. */
const VERIFY_DELAYS_MS = [0, 250, 500, 1000, 2000, 4000, 8000, 15_000];

export interface AlbDriverOptions {
  readonly arn: AlbArn;
  readonly retries?: number;
  readonly timeoutMs?: number;
  /** The run's cancel (Tuning.signal). */
  readonly signal?: AbortSignal;
  /** drain-timeout: the longest a deregistered target of a group in traffic is waited on to finish draining. */
  readonly drainTimeoutMs: number;
  /** A rolling deploy: drain-timeout is checked against the deregistration delay of every group in traffic. */
  readonly rolling: boolean;
  /** The target group previews copy (preview-backend). */
  readonly previewBackend: string;
}

interface Group {
  readonly arn: string;
  readonly name: string;
  readonly healthCheckMs: number;
  /** HealthCheckInterval x (HealthyThreshold + 1) + timeout: the longest a new target takes to turn healthy. */
  readonly settleMs: number;
  /** deregistration_delay.timeout_seconds */
  readonly delaySeconds: number;
  /** The group's own stickiness (lb_cookie / app_cookie), as `on (lb_cookie, 86400 s)` or `off`. */
  readonly stickiness: string;
}

interface Snapshot {
  readonly actions: Action[];
  readonly forward: Forward;
  readonly groups: readonly Group[];
}

/**
 * The pause before the next read of a wait: 250 ms, then doubling every second read, up to a quarter or half of what
 * is waited on (at most 5 s), so short waits end soon after they can and long ones cost few calls.
 */
function pollPause(poll: number, longest: number): number {
  return Math.max(250, Math.min(250 * 2 ** Math.floor(poll / 2), longest, 5000));
}

export class AlbDriver implements Driver {
  readonly capabilities = albCapabilities;
  readonly advice = ALB_ADVICE;
  readonly lock: AlbLock;
  readonly previews: AlbPreviews;
  readonly latency: AlbLatency;
  private readonly api: AwsApi;
  private readonly groupCache = new Map<string, Group>();
  /** CloudWatch sums are taken from here on (a minute boundary before the driver started). */
  private readonly since = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000);
  /** What the last split read back outside both pools (trafficOutsidePools). */
  private outside: string | undefined;
  private stickinessReported = false;
  /** A weight change was written and not yet seen on a read-back: ALB may still apply it. */
  private unconfirmed = false;

  constructor(private readonly options: AlbDriverOptions) {
    this.api = new AwsApi({
      region: options.arn.region,
      maxAttempts: (options.retries ?? 7) + 1,
      timeoutMs: options.timeoutMs ?? 10_000,
      signal: options.signal,
    });
    this.lock = new AlbLock(this.api, options.arn.arn);
    this.previews = new AlbPreviews(this.api, options.arn, options.previewBackend);
    this.latency = new AlbLatency(this.api, options.arn.loadBalancer, this.since, (ids) => this.metricGroups(ids));
  }

  /** Whether a server id or selector is in the preview backend (target groups of previews, not of the forward action). */
  private isPreview(backend: string): boolean {
    return backend === this.previews.backend;
  }

  get roundTrips(): number {
    return this.api.attempts;
  }

  /** API calls so far (retries counted in roundTrips), e.g. for the bench. */
  get calls(): number {
    return this.api.calls.length;
  }

  private get where(): string {
    return `${this.options.arn.kind === 'rule' ? 'rule' : 'listener'} ${this.options.arn.arn}`;
  }

  private async readActions(): Promise<Action[]> {
    const { client, sdk } = await this.api.elb();
    if (this.options.arn.kind === 'rule') {
      const out = await this.api.send(client, new sdk.DescribeRulesCommand({ RuleArns: [this.options.arn.arn] }));
      const rule = out.Rules?.[0];
      if (!rule) throw new Error(`${this.where} was not found`);
      return rule.Actions ?? [];
    }
    const out = await this.api.send(client, new sdk.DescribeListenersCommand({ ListenerArns: [this.options.arn.arn] }));
    const listener = out.Listeners?.[0];
    if (!listener) throw new Error(`${this.where} was not found`);
    return listener.DefaultActions ?? [];
  }

  /** Target groups are described once per run: their names, health checks and attributes do not move under it. */
  private async describeGroups(arns: readonly string[]): Promise<Group[]> {
    const missing = arns.filter((a) => !this.groupCache.has(a));
    if (missing.length) {
      const { client, sdk } = await this.api.elb();
      const out = await this.api.send(client, new sdk.DescribeTargetGroupsCommand({ TargetGroupArns: missing }));
      for (const tg of out.TargetGroups ?? []) {
        if (!tg.TargetGroupArn) continue;
        const attrs = await this.api.send(
          client,
          new sdk.DescribeTargetGroupAttributesCommand({ TargetGroupArn: tg.TargetGroupArn }),
        );
        const attr = (key: string) => attrs.Attributes?.find((a) => a.Key === key)?.Value;
        const intervalMs = (tg.HealthCheckIntervalSeconds ?? 30) * 1000;
        const sticky = attr('stickiness.enabled') === 'true';
        const type = attr('stickiness.type') ?? 'lb_cookie';
        const seconds = attr(
          type === 'app_cookie' ? 'stickiness.app_cookie.duration_seconds' : 'stickiness.lb_cookie.duration_seconds',
        );
        this.groupCache.set(tg.TargetGroupArn, {
          arn: tg.TargetGroupArn,
          name: tg.TargetGroupName ?? tg.TargetGroupArn,
          healthCheckMs: intervalMs,
          settleMs: intervalMs * ((tg.HealthyThresholdCount ?? 5) + 1) + (tg.HealthCheckTimeoutSeconds ?? 5) * 1000,
          delaySeconds: Number(attr('deregistration_delay.timeout_seconds') ?? 300),
          stickiness: sticky ? `on (${type}${seconds ? `, ${seconds} s` : ''})` : 'off',
        });
      }
    }
    return arns.map((arn) => {
      const group = this.groupCache.get(arn);
      if (!group) throw new Error(`target group ${arn} of ${this.where} was not found`);
      return group;
    });
  }

  private async snapshot(): Promise<Snapshot> {
    const actions = await this.readActions();
    const forward = findForward(actions, this.where);
    if (typeof forward === 'string') throw new Error(forward);
    return { actions, forward, groups: await this.describeGroups([...forward.weights.keys()]) };
  }

  /** Registered targets (as DescribeTargetHealth reports them) and remembered ones, per target. */
  private async targets(groups: readonly Group[]): Promise<Map<string, Map<string, TargetState>>> {
    const { client, sdk } = await this.api.elb();
    const byGroup = new Map<string, Map<string, TargetState>>();
    const tags = groups.length
      ? await this.api.send(client, new sdk.DescribeTagsCommand({ ResourceArns: groups.map((g) => g.arn) }))
      : undefined;
    for (const group of groups) {
      const out = await this.api.send(client, new sdk.DescribeTargetHealthCommand({ TargetGroupArn: group.arn }));
      const targets = new Map<string, TargetState>();
      for (const t of out.TargetHealthDescriptions ?? []) targets.set(targetIdOf(t), { health: t, out: undefined });
      const groupTags = tags?.TagDescriptions?.find((d) => d.ResourceArn === group.arn)?.Tags ?? [];
      for (const tag of groupTags) {
        if (!tag.Key?.startsWith(OUT_TAG)) continue;
        const id = tag.Key.slice(OUT_TAG.length);
        const admin = tag.Value === 'drain' ? 'drain' : 'maint';
        targets.set(id, { health: targets.get(id)?.health, out: admin });
      }
      byGroup.set(group.arn, targets);
    }
    return byGroup;
  }

  private toServer(group: Group, id: string, state: TargetState, weight: number): Server {
    const { Id: host, Port: port } = targetDescription(id);
    const health = state.health?.TargetHealth;
    const registered = !!health && health.State !== 'draining' && health.State !== 'unhealthy.draining';
    const admin: AdminState = registered ? 'ready' : (state.out ?? 'drain');
    const status = health
      ? `${health.State ?? 'unknown'}${health.Reason ? ` ${health.Reason}` : ''}`
      : 'not registered';
    return {
      id: `${group.name}/${id}`,
      backend: group.name,
      name: id,
      address: `${host}:${port}`,
      host,
      port,
      weight,
      admin,
      check: {
        passing: health?.State === 'healthy',
        // A target still in `initial` has not been judged yet.
        settled: health?.State !== 'initial',
        status,
      },
      inFlight: 0,
    };
  }

  async servers(selectors: readonly Selector[]): Promise<Server[]> {
    const previewSelectors = selectors.filter((s) => this.isPreview(s.backend));
    const previews = previewSelectors.length ? await this.previews.servers(previewSelectors) : [];
    if (previewSelectors.length === selectors.length) return previews;
    return [...(await this.forwardServers(selectors.filter((s) => !this.isPreview(s.backend)))), ...previews];
  }

  private async forwardServers(selectors: readonly Selector[]): Promise<Server[]> {
    const snap = await this.snapshot();
    const wanted = snap.groups.filter((g) => selectors.some((s) => matchesSelector({ ...s, server: '*' }, g.name, '')));
    const targets = await this.targets(wanted);
    return wanted.flatMap((group) =>
      [...(targets.get(group.arn) ?? [])]
        .map(([id, state]) => this.toServer(group, id, state, snap.forward.weights.get(group.arn) ?? 0))
        .filter((s) => selectors.some((sel) => matchesSelector(sel, s.backend, s.name))),
    );
  }

  /**
   * Weights are per target group: a change's weight applies to its whole group (all changes to one group must agree).
   * ready registers a target and waits until ALB has judged it (healthy or not); drain and maint deregister it, and
   * maint on a group that has traffic waits until ALB has drained it (at most drain-timeout).
   */
  async apply(all: readonly Change[]): Promise<void> {
    const previews = all.filter((c) => this.isPreview(groupName(c.server)));
    if (previews.length) await this.previews.apply(previews);
    const changes = all.filter((c) => !previews.includes(c));
    if (changes.length === 0) return;
    const snap = await this.snapshot();
    const groups = touchedGroups(changes, snap.groups, this.where);
    const plan = planApply(
      changes,
      snap.groups,
      snap.forward.weights,
      await this.targets(groups),
      this.where,
      this.unconfirmed,
    );
    await this.carryOut(snap, plan);
  }

  /** The plan's calls, in order: register, the weights, tag and deregister, then the waits. */
  private async carryOut(snap: Snapshot, plan: ApplyPlan): Promise<void> {
    const { client, sdk } = await this.api.elb();
    const group = (arn: string) => snap.groups.find((g) => g.arn === arn) as Group;
    for (const [arn, ids] of plan.register) {
      await this.api.send(
        client,
        new sdk.RegisterTargetsCommand({ TargetGroupArn: arn, Targets: ids.map(targetDescription) }),
      );
      await this.api.send(
        client,
        new sdk.RemoveTagsCommand({ ResourceArns: [arn], TagKeys: ids.map((id) => OUT_TAG + id) }),
      );
    }
    if (plan.weights.size) await this.writeWeights(snap, plan.weights);
    for (const [arn, outs] of [...plan.deregister, ...plan.retag]) {
      // Remembered first: a target ALB forgets after draining is never lost to the action.
      await this.api.send(
        client,
        new sdk.AddTagsCommand({
          ResourceArns: [arn],
          Tags: outs.map((o) => ({ Key: OUT_TAG + o.id, Value: o.admin })),
        }),
      );
    }
    for (const [arn, outs] of plan.deregister) {
      await this.api.send(
        client,
        new sdk.DeregisterTargetsCommand({
          TargetGroupArn: arn,
          Targets: outs.map((o) => targetDescription(o.id)),
        }),
      );
    }
    for (const [arn, ids] of plan.register) await this.waitJudged(group(arn), ids);
    for (const [arn, ids] of plan.drain) await this.waitDrained(group(arn), ids);
  }

  /** Target states of one group, as DescribeTargetHealth reports them (one call; no tags). */
  private async states(group: Group): Promise<Map<string, string | undefined>> {
    const { client, sdk } = await this.api.elb();
    const out = await this.api.send(client, new sdk.DescribeTargetHealthCommand({ TargetGroupArn: group.arn }));
    return new Map((out.TargetHealthDescriptions ?? []).map((t) => [targetIdOf(t), t.TargetHealth?.State]));
  }

  /** Until ALB has judged newly registered targets (no longer `initial`), within the group's health check time. */
  private async waitJudged(group: Group, ids: readonly string[]): Promise<void> {
    await pollUntil(
      () => this.states(group),
      (states) => ids.every((id) => (states.get(id) ?? 'initial') !== 'initial'),
      {
        pause: (n) => pollPause(n - 1, group.healthCheckMs / 2),
        deadline: Date.now() + group.settleMs,
        signal: this.api.signal,
      },
    );
  }

  /** Until deregistered targets of a group in traffic have drained (ALB's deregistration delay), at most drain-timeout. */
  private async waitDrained(group: Group, ids: readonly string[]): Promise<void> {
    const limitMs = Math.min(this.options.drainTimeoutMs, group.delaySeconds * 1000) + 5000;
    const started = Date.now();
    const polled = await pollUntil(
      async () => {
        const states = await this.states(group);
        return ids.filter((id) => states.has(id));
      },
      (draining) => draining.length === 0,
      {
        pause: (n) => pollPause(n - 1, (group.delaySeconds * 1000) / 4),
        deadline: started + limitMs,
        signal: this.api.signal,
      },
    );
    const took = formatDuration(Date.now() - started);
    if (polled.done) return core.info(`ALB: ${group.name}: ${ids.join(', ')} drained in ${took}`);
    const why = polled.ended === 'aborted' ? 'when the run was cancelled' : `after ${formatDuration(limitMs)}`;
    core.warning(
      `ALB: ${group.name}: ${polled.value.join(', ')} still draining ${why} (${took}; deregistration delay ${group.delaySeconds} s); going on`,
    );
  }

  /** One ModifyRule/ModifyListener with the forward action's new weights, then read back until ALB shows them. */
  private async writeWeights(snap: Snapshot, weights: ReadonlyMap<string, number>): Promise<Forward> {
    const { client, sdk } = await this.api.elb();
    const actions = withWeights(snap.actions, weights);
    if (this.options.arn.kind === 'rule')
      await this.api.send(client, new sdk.ModifyRuleCommand({ RuleArn: this.options.arn.arn, Actions: actions }));
    else
      await this.api.send(
        client,
        new sdk.ModifyListenerCommand({ ListenerArn: this.options.arn.arn, DefaultActions: actions }),
      );
    this.unconfirmed = true;
    const name = (arn: string) => snap.groups.find((g) => g.arn === arn)?.name ?? arn;
    const started = Date.now();
    // Set by the poll (TypeScript does not follow assignments in a closure: hence the annotation by `as`).
    let shown = undefined as Forward | undefined;
    const read = await pollUntil(
      async () => {
        const forward = findForward(await this.readActions(), this.where);
        if (typeof forward === 'string') throw new Error(`after the change, ${forward}`);
        shown = forward;
        return weightDifferences(weights, forward.weights, name);
      },
      (wrong) => wrong.length === 0,
      { ...fromList(VERIFY_DELAYS_MS), signal: this.api.signal },
    );
    const after = formatDuration(Date.now() - started);
    this.unconfirmed = !read.done;
    if (read.done) {
      if (read.reads > 1)
        core.info(
          `ALB: the new weights showed on read-back ${read.reads} of ${this.where}, ${after} after the change (ALB applies rule changes with a delay)`,
        );
      // Done means a read showed the weights: `shown` is that read.
      return shown as Forward;
    }
    const times = `read back ${read.reads} time${read.reads === 1 ? '' : 's'}`;
    if (read.ended === 'aborted')
      throw new Error(
        `ALB took the change but had not shown the new weights when the run was cancelled, ${after} after it (${read.value.join('; ')}); ${times}`,
      );
    throw new Error(`ALB did not show the new weights ${after} after the change (${read.value.join('; ')}); ${times}`);
  }

  async split(shares: readonly PoolShare[]): Promise<void> {
    const snap = await this.snapshot();
    const weights = new Map<string, number>();
    for (const share of shares) {
      const names = new Set(share.servers.map(groupName));
      if (names.size !== 1)
        throw new Error(
          `pools: pool ${share.pool} spans target groups ${[...names].join(', ')}; on ALB a pool is one target group`,
        );
      const group = snap.groups.find((g) => names.has(g.name));
      if (!group) throw new Error(`pools: ${[...names].join('')} is not in the forward action of ${this.where}`);
      weights.set(group.arn, weightForPercent(share.percent));
    }
    if (snap.forward.stickiness.enabled && !this.stickinessReported) {
      this.stickinessReported = true;
      core.info(
        `ALB: target group stickiness is on in the forward action (${snap.forward.stickiness.seconds ?? '?'} s), kept as it is: a client already sent to one group stays on it up to that long after a shift`,
      );
    }
    // Traffic moving onto the new pool is refused while a third group holds a share (given it during the rollout):
    // the run would report a share the new version does not get. Moving it back to the stable pool always goes on.
    const onward = shares.some((s) => s.role === 'new' && s.percent > 0);
    const inPools = new Set(snap.groups.filter((g) => weights.has(g.arn)).map((g) => g.name));
    this.checkOutside(snap, snap.forward.weights, inPools, onward, 'before the change');
    const read = await this.writeWeights(snap, weights);
    this.checkOutside(snap, read.weights, inPools, onward, 'after the change');
  }

  /** Throws (onward) or warns when groups outside the pools hold traffic, saying what was read back. */
  private checkOutside(
    snap: Snapshot,
    read: ReadonlyMap<string, number>,
    inPools: ReadonlySet<string>,
    onward: boolean,
    when: string,
  ): void {
    const name = (arn: string) => snap.groups.find((g) => g.arn === arn)?.name ?? arn;
    const groups = [...read].map(([arn, weight]) => ({ name: name(arn), weight }));
    const outside = trafficOutside(groups, inPools);
    this.outside = undefined;
    if (!outside.length) return;
    const text = `target group ${outside.join(', ')} is in the forward action of ${this.where} and in neither pool (was it changed during the rollout?); read back ${when}: ${weightsRead(groups)}`;
    if (onward)
      throw new Error(
        `ALB: ${text}. Not moving traffic on: the new version would not get the share reported. Set its weight to 0 (${this.modifyCommand}) and deploy again`,
      );
    core.warning(`ALB: ${text}; it keeps that share of the traffic`);
    this.outside = `target group ${outside.join(', ')} keeps its share of the traffic (read back ${when}: ${weightsRead(groups)})`;
  }

  trafficOutsidePools(): string | undefined {
    return this.outside;
  }

  /**
   * The target groups of these server ids, each with the first of its ids asked for: CloudWatch counts per target
   * group, so a group's figures go to that id; sums over a pool (a group) are right and a lone target of a rolling
   * batch shows its whole group. Polled every probe interval: the rule is read only for a group not seen yet.
   */
  private async metricGroups(ids: readonly string[]): Promise<LatencyGroup[]> {
    const known = [...this.groupCache.values()];
    const names = new Set(ids.map(groupName));
    const groupsKnown = [...names].every((n) => known.some((g) => g.name === n));
    const groups = groupsKnown ? known : (await this.snapshot()).groups;
    const firstOfGroup = new Map<string, string>();
    for (const id of ids) {
      const name = groupName(id);
      if (!firstOfGroup.has(name)) firstOfGroup.set(name, id);
    }
    return groups.flatMap((g) => {
      const serverId = firstOfGroup.get(g.name);
      return serverId ? [{ dimension: targetGroupDimension(g.arn), serverId }] : [];
    });
  }

  async counters(ids: readonly string[]): Promise<Map<string, Counters>> {
    const groups = await this.metricGroups(ids);
    const sums = await readCounters(this.api, {
      loadBalancer: this.options.arn.loadBalancer,
      targetGroups: groups.map((g) => g.dimension),
      since: this.since,
    });
    const result = new Map<string, Counters>(ids.map((id) => [id, { requests: 0, failures: 0 }]));
    groups.forEach((g, i) => result.set(g.serverId, sums[i] ?? { requests: 0, failures: 0 }));
    return result;
  }

  /** The AWS CLI command that changes the forward action's weights. */
  private get modifyCommand(): string {
    return `aws elbv2 ${this.options.arn.kind === 'rule' ? 'modify-rule --rule-arn' : 'modify-listener --listener-arn'} ${this.options.arn.arn} ...`;
  }

  async splitProblems(pools: readonly PoolSelection[]): Promise<string[]> {
    const snap = await this.snapshot();
    const groups = snap.groups.map((g) => ({ name: g.name, weight: snap.forward.weights.get(g.arn) ?? 0 }));
    return poolSplitProblems(pools, groups, this.where, this.modifyCommand);
  }

  manualSteps(changes: readonly Change[]): string {
    const weights = changes.filter((c) => c.weight !== undefined);
    const steps: string[] = [];
    if (weights.length) {
      const perGroup = new Map(weights.map((c) => [groupName(c.server), c.weight]));
      steps.push(
        `set the forward action's target group weights to ${[...perGroup].map(([g, w]) => `${g}=${w}`).join(', ')} (${this.modifyCommand})`,
      );
    }
    const ready = changes.filter((c) => c.admin === 'ready').map((c) => c.server);
    const out = changes.filter((c) => c.admin === 'drain' || c.admin === 'maint').map((c) => c.server);
    if (ready.length) steps.push(`register ${ready.join(', ')} (aws elbv2 register-targets)`);
    if (out.length) steps.push(`deregister ${out.join(', ')} (aws elbv2 deregister-targets)`);
    return `on AWS: ${steps.join('; ')}`;
  }

  async preflight(): Promise<string | undefined> {
    let snap: Snapshot;
    try {
      snap = await this.snapshot();
    } catch (error) {
      // Only what AWS refused as given is bad input; throttling, an outage or missing credentials is not a typo.
      if (error instanceof AwsCallError && error.kind !== 'input')
        throw new Error(
          `load-balancer: aws-alb:${this.options.arn.arn} could not be read, so nothing was changed: ${error.message}`,
          { cause: error },
        );
      return `: ${(error as Error).message}`;
    }
    if (!this.options.rolling) return undefined;
    const short = snap.groups.filter(
      (g) => (snap.forward.weights.get(g.arn) ?? 0) > 0 && g.delaySeconds * 1000 > this.options.drainTimeoutMs,
    );
    if (short.length === 0) return undefined;
    return `: drain-timeout ${formatDuration(this.options.drainTimeoutMs)} is shorter than the deregistration delay of ${short.map((g) => `${g.name} (${g.delaySeconds} s)`).join(', ')}: a deregistered target keeps its in-flight requests that long, and a deploy before then would cut them; raise drain-timeout to at least ${Math.max(...short.map((g) => g.delaySeconds))}s, or lower the target group's deregistration_delay.timeout_seconds`;
  }

  async describe(): Promise<string[]> {
    const snap = await this.snapshot();
    const mode = this.options.arn.kind === 'rule' ? 'ModifyRule' : 'ModifyListener';
    const groups = snap.groups.map(
      (g) =>
        `${g.name} weight ${snap.forward.weights.get(g.arn) ?? 0} (${Math.round(percentOf(snap.forward.weights, g.arn))}%)`,
    );
    const sticky = snap.forward.stickiness;
    return [
      `ALB ${this.where}: forward to ${groups.join(', ')}; each traffic change is one ${mode} call (weights 0-100 of ALB's 0-999), then read back until ALB shows it.`,
      `Target group stickiness: forward action ${sticky.enabled ? `on (${sticky.seconds ?? '?'} s), kept` : 'off'}; ${snap.groups.map((g) => `${g.name} ${g.stickiness}`).join(', ')}.`,
      `Deregistration delay: ${snap.groups.map((g) => `${g.name} ${g.delaySeconds} s`).join(', ')}; a target taken out of a group that has traffic is waited on that long (at most drain-timeout) before its deploy.`,
      `Detection delay: CloudWatch counts ALB requests and 5xx per ${METRICS_PERIOD_S} s period, published about a minute after the period, so a failure shows in the counters up to ~${2 * METRICS_PERIOD_S} s after it happens; probes (health-url, check-url) see it within probe-interval x unhealthy-threshold. Latency (TargetResponseTime per target group, p50/p95/p99) shows in the same ${METRICS_PERIOD_S} s steps and delay.`,
    ];
  }

  async close(): Promise<void> {
    this.api.close();
    return Promise.resolve();
  }
}
