/**
 * A local stand-in for an AWS Application Load Balancer: the ELBv2 Query API (form-encoded in, XML out) and
 * CloudWatch's GetMetricData (AWS JSON 1.0, as SDK v3 speaks it), every request checked against AWS's published model
 * (aws-model.ts), and a listener that forwards real HTTP traffic by its own state: the weights of the forward action,
 * registered, draining and healthy targets. What it does not do as AWS does: its health checks run every
 * `checkMs` (it reports 5 s, AWS's minimum), authenticate actions are kept but not enforced, and GetMetricData
 * answers the current minute at once (CloudWatch publishes about a minute late).
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { checkJson, decodeQuery, loadModel, queryError, queryResponse, type ServiceModel } from './aws-model.js';
import { freePort } from './ports.js';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const LB = 'app/shop/50dc6c495c0c9188';
const PREFIX = `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}`;
export const LISTENER_ARN = `${PREFIX}:listener/${LB}/f2f7dc8efc522ab2`;
export const RULE_ARN = `${PREFIX}:listener-rule/${LB}/f2f7dc8efc522ab2/9683b2d02a6cabee`;

type Json = Record<string, unknown>;

export interface StandInTarget {
  readonly id: string;
  readonly port: number;
  /** unused: in a group no rule or listener uses, which ALB does not health-check. */
  state: 'initial' | 'healthy' | 'unhealthy' | 'draining' | 'unused';
  passes: number;
  fails: number;
  next: number;
}

export interface Minute {
  requests: number;
  target5xx: number;
  connErrors: number;
  readonly times: number[];
}

export interface StandInGroup {
  readonly arn: string;
  readonly name: string;
  readonly targets: Map<string, StandInTarget>;
  readonly tags: Map<string, string>;
  readonly attributes: Map<string, string>;
  /**
   * Per minute (epoch seconds of its start): requests, target 5xx, connection errors, and each TargetResponseTime
   * (seconds from the request sent to the target to its response headers, what the targets really took).
   */
  readonly minutes: Map<number, Minute>;
  rr: number;
  /** What CreateTargetGroup was given (groups made by the action); undefined for the lab's own groups. */
  readonly created?: Json;
}

export interface StandInRule {
  readonly arn: string;
  priority: string;
  conditions: Json[];
  actions: Json[];
  /** Actions as last written, visible from `visibleAt` (ALB applies rule changes with a delay). */
  pending: { actions: Json[]; visibleAt: number } | undefined;
  readonly tags: Map<string, string>;
}

export interface RecordedCall {
  readonly service: 'elbv2' | 'cloudwatch';
  readonly operation: string;
  readonly input: Json;
  readonly errors: readonly string[];
  /** What the stand-in answered instead of serving it (Throttling, ValidationError). */
  readonly refused?: string;
  /** When it arrived (epoch ms). */
  readonly at: number;
}

export interface StandInOptions {
  readonly groups: readonly { name: string; weight: number; ports: readonly number[] }[];
  /** Conditions of the rule that carries traffic (default: every path). */
  readonly conditions?: Json[];
  /** Actions before the forward action in that rule (e.g. authenticate-oidc). */
  readonly extraActions?: Json[];
  readonly deregistrationDelaySeconds?: number;
  /** Where the forward action lives: the rule (default), or the listener's default action (the rule then never matches). */
  readonly forwardOn?: 'rule' | 'listener';
  readonly checkMs?: number;
  /** The lab groups' target type (default ip). */
  readonly targetType?: 'ip' | 'instance';
  /** More target groups, out of every forward action (e.g. the one previews copy). */
  readonly idleGroups?: readonly string[];
}

export interface AlbStandIn {
  readonly apiUrl: string;
  readonly trafficUrl: string;
  readonly calls: RecordedCall[];
  readonly groups: Map<string, StandInGroup>;
  readonly rule: StandInRule;
  /** Every rule of the listener, the one above included (previews add and remove theirs). */
  readonly rules: StandInRule[];
  /** Env for the action: endpoints and throwaway credentials. */
  readonly env: Record<string, string>;
  /** The next `n` ELBv2 requests answer Throttling. */
  throttle(n: number): void;
  /** The next ModifyRule/ModifyListener shows (in reads and routing) only `ms` after it was made. */
  delayNextChange(ms: number): void;
  /** Responses the stand-in cut mid-way because their target failed after sending headers. */
  cutResponses(): number;
  /** The listener's default actions as they are now. */
  listenerActions(): readonly Json[];
  /** The forward weights as the stand-in routes now, by group name. */
  weights(): Record<string, number>;
  stop(): Promise<void>;
}

function forwardOf(actions: readonly Json[]): Json | undefined {
  return actions.find((a) => a.Type === 'forward');
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return re.test(value);
}

export async function startAlbStandIn(options: StandInOptions): Promise<AlbStandIn> {
  const elbModel: ServiceModel = loadModel('elasticloadbalancingv2-2015-12-01');
  const cwModel: ServiceModel = loadModel('monitoring-2010-08-01');
  const checkMs = options.checkMs ?? 200;
  const calls: RecordedCall[] = [];
  const groups = new Map<string, StandInGroup>();
  let throttled = 0;
  /** Responses cut because the target failed after its headers (the client sees a reset). */
  let midResponse = 0;
  let changeDelayMs = 0;
  const groupSpecs = [...options.groups, ...(options.idleGroups ?? []).map((name) => ({ name, weight: 0, ports: [] }))];
  groupSpecs.forEach((g, i) => {
    const arn = `${PREFIX}:targetgroup/${g.name}/${(0x73e2d6bc24d8a067n + BigInt(i)).toString(16)}`;
    groups.set(arn, {
      arn,
      name: g.name,
      targets: new Map(
        g.ports.map((port) => [
          `127.0.0.1:${port}`,
          { id: '127.0.0.1', port, state: 'healthy', passes: 2, fails: 0, next: 0 } as StandInTarget,
        ]),
      ),
      tags: new Map(),
      attributes: new Map([
        ['deregistration_delay.timeout_seconds', String(options.deregistrationDelaySeconds ?? 1)],
        ['stickiness.enabled', 'false'],
        ['stickiness.type', 'lb_cookie'],
        ['stickiness.lb_cookie.duration_seconds', '86400'],
      ]),
      minutes: new Map(),
      rr: 0,
    });
  });
  const forward: Json = {
    Type: 'forward',
    Order: (options.extraActions?.length ?? 0) + 1,
    ForwardConfig: {
      TargetGroups: options.groups.map((g, i) => ({ TargetGroupArn: [...groups.keys()][i], Weight: g.weight })),
      TargetGroupStickinessConfig: { Enabled: false },
    },
  };
  const rule: StandInRule = {
    arn: RULE_ARN,
    priority: '10',
    conditions:
      options.forwardOn === 'listener'
        ? [{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Never', Values: ['never'] } }]
        : (options.conditions ?? [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } }]),
    actions:
      options.forwardOn === 'listener'
        ? [{ Type: 'fixed-response', Order: 1, FixedResponseConfig: { StatusCode: '418' } }]
        : [...(options.extraActions ?? []), forward],
    pending: undefined,
    tags: new Map(),
  };
  const listener = {
    arn: LISTENER_ARN,
    defaultActions: (options.forwardOn === 'listener'
      ? [...(options.extraActions ?? []), forward]
      : [
          {
            Type: 'fixed-response',
            Order: 1,
            FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain', MessageBody: 'no rule matched' },
          },
        ]) as Json[],
    tags: new Map<string, string>(),
  };
  const visible = (r: StandInRule): Json[] => {
    if (r.pending && Date.now() >= r.pending.visibleAt) {
      r.actions = r.pending.actions;
      r.pending = undefined;
    }
    return r.actions;
  };
  const byArn = (arn: string) => groups.get(arn);
  const rules: StandInRule[] = [rule];
  const tuplesOf = (action: Json | undefined) => {
    if (!action) return [];
    const config = action.ForwardConfig as Json | undefined;
    if (config?.TargetGroups) return config.TargetGroups as { TargetGroupArn: string; Weight?: number }[];
    return action.TargetGroupArn ? [{ TargetGroupArn: action.TargetGroupArn as string, Weight: 1 }] : [];
  };
  const groupTuples = () => tuplesOf(forwardOf(visible(rule)) ?? forwardOf(listener.defaultActions));
  /** Groups some rule or the listener forwards to, at any weight. */
  const usedGroups = () =>
    new Set(
      [...rules.map((r) => visible(r)), listener.defaultActions].flatMap((actions) =>
        tuplesOf(forwardOf(actions)).map((t) => t.TargetGroupArn),
      ),
    );

  // Health checks and draining.
  const timer = setInterval(
    () => {
      const now = Date.now();
      const used = usedGroups();
      for (const group of groups.values()) {
        for (const [key, t] of group.targets) {
          if (t.state === 'draining') {
            if (now >= t.next) group.targets.delete(key);
            continue;
          }
          // As ALB: targets of a group no rule uses are `unused` and not checked; in use, they start over.
          if (!used.has(group.arn)) {
            t.state = 'unused';
            t.passes = 0;
            continue;
          }
          if (t.state === 'unused') t.state = 'initial';
          if (now < t.next) continue;
          t.next = now + checkMs;
          const req = http.get(
            { host: t.id, port: t.port, path: '/health', timeout: checkMs * 2, agent: false },
            (res) => {
              res.resume();
              const ok = res.statusCode === 200;
              t.passes = ok ? t.passes + 1 : 0;
              t.fails = ok ? 0 : t.fails + 1;
              if (t.state === 'draining') return;
              if (ok && t.passes >= 2) t.state = 'healthy';
              if (!ok && t.fails >= 2) t.state = 'unhealthy';
            },
          );
          req.on('timeout', () => req.destroy());
          req.on('error', () => {
            t.passes = 0;
            t.fails++;
            if (t.state !== 'draining' && t.fails >= 2) t.state = 'unhealthy';
          });
        }
      }
    },
    Math.max(20, checkMs / 4),
  );

  const minuteOf = (group: StandInGroup): Minute => {
    const minute = Math.floor(Date.now() / 60_000) * 60;
    const m = group.minutes.get(minute) ?? { requests: 0, target5xx: 0, connErrors: 0, times: [] };
    group.minutes.set(minute, m);
    return m;
  };
  const count = (group: StandInGroup, what: 'requests' | 'target5xx' | 'connErrors') => void minuteOf(group)[what]++;

  // Smooth weighted round robin between the groups of the forward action.
  const current = new Map<string, number>();
  const pickGroup = (action: Json | undefined): StandInGroup | undefined => {
    const tuples = tuplesOf(action).filter((t) => (t.Weight ?? 1) > 0);
    const total = tuples.reduce((s, t) => s + (t.Weight ?? 1), 0);
    let best: string | undefined;
    for (const t of tuples) {
      current.set(t.TargetGroupArn, (current.get(t.TargetGroupArn) ?? 0) + (t.Weight ?? 1));
      if (best === undefined || (current.get(t.TargetGroupArn) ?? 0) > (current.get(best) ?? 0))
        best = t.TargetGroupArn;
    }
    if (best === undefined) return undefined;
    current.set(best, (current.get(best) ?? 0) - total);
    return byArn(best);
  };
  const matches = (conditions: readonly Json[], req: http.IncomingMessage): boolean =>
    conditions.every((c) => {
      if (c.Field === 'path-pattern')
        return ((c.PathPatternConfig as Json)?.Values as string[]).some((p) =>
          globMatch(p, (req.url ?? '/').split('?')[0] ?? '/'),
        );
      if (c.Field === 'host-header')
        return ((c.HostHeaderConfig as Json)?.Values as string[]).some((p) => globMatch(p, req.headers.host ?? ''));
      if (c.Field === 'http-header') {
        const cfg = c.HttpHeaderConfig as { HttpHeaderName: string; Values: string[] };
        const value = req.headers[cfg.HttpHeaderName.toLowerCase()];
        return typeof value === 'string' && cfg.Values.some((p) => globMatch(p, value));
      }
      if (c.Field === 'query-string') {
        const query = new URL(req.url ?? '/', 'http://stand-in').searchParams;
        return ((c.QueryStringConfig as Json)?.Values as { Key?: string; Value: string }[]).some((v) =>
          (v.Key ? query.getAll(v.Key) : [...query.values()]).some((x) => globMatch(v.Value, x)),
        );
      }
      return false;
    });
  // Idle connections to targets are dropped after 10 s, before the apps' own 30 s keep-alive timeout: reusing one
  // the target is closing would reset a request (ALB's 5xx for that is ELB_502, not something a deploy causes).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64, timeout: 10_000 });
  const traffic = http.createServer((req, res) => {
    const byPriority = [...rules].sort((a, b) => Number(a.priority) - Number(b.priority));
    const matched = byPriority.find((r) => matches(r.conditions, req));
    const actions = matched ? visible(matched) : listener.defaultActions;
    const fixed = actions.find((a) => a.Type === 'fixed-response');
    if (!forwardOf(actions) && fixed) {
      const cfg = fixed.FixedResponseConfig as Json;
      res.writeHead(Number(cfg.StatusCode)).end(String(cfg.MessageBody ?? ''));
      return;
    }
    const group = pickGroup(forwardOf(actions));
    if (!group) return void res.writeHead(503).end('no target group has weight');
    const live = [...group.targets.values()].filter((t) => t.state !== 'draining');
    const healthy = live.filter((t) => t.state === 'healthy');
    // ALB fails open: with no healthy target it routes to every registered one.
    const pool = healthy.length ? healthy : live;
    count(group, 'requests');
    const target = pool[group.rr++ % Math.max(1, pool.length)];
    if (!target) return void res.writeHead(503).end('no registered target');
    const sent = performance.now();
    const upstream = http.request(
      { host: target.id, port: target.port, path: req.url, method: req.method, headers: req.headers, agent },
      (up) => {
        minuteOf(group).times.push((performance.now() - sent) / 1000);
        if ((up.statusCode ?? 0) >= 500) count(group, 'target5xx');
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      count(group, 'connErrors');
      if (!res.headersSent) res.writeHead(502).end('target connection error');
      else {
        midResponse++;
        res.destroy();
      }
    });
    req.pipe(upstream);
  });

  // ALB's default idle timeout is 60 s; Node's 5 s default would close idle keep-alive connections under the load
  // client, which then races a request onto a closing socket (a reset no ALB would cause at that rate).
  traffic.keepAliveTimeout = 60_000;
  const ruleByArn = (arn: string) => rules.find((r) => r.arn === arn);
  const tagsOf = (arn: string) => ruleByArn(arn)?.tags ?? (arn === LISTENER_ARN ? listener.tags : byArn(arn)?.tags);
  const tagDescription = (arn: string) => {
    const tags = tagsOf(arn);
    return tags ? { ResourceArn: arn, Tags: [...tags].map(([Key, Value]) => ({ Key, Value })) } : undefined;
  };
  const ruleJson = (r: StandInRule = rule) => ({
    RuleArn: r.arn,
    Priority: r.priority,
    Conditions: r.conditions,
    Actions: visible(r),
    IsDefault: false,
  });
  let made = 0;
  const newId = () => (0x5f1e000000000000n + BigInt(++made)).toString(16);
  const targetHealth = (t: StandInTarget) => ({
    Target: { Id: t.id, Port: t.port },
    HealthCheckPort: String(t.port),
    TargetHealth: {
      State: t.state,
      ...(t.state === 'initial' ? { Reason: 'Elb.RegistrationInProgress' } : {}),
      ...(t.state === 'unhealthy' ? { Reason: 'Target.ResponseCodeMismatch' } : {}),
      ...(t.state === 'draining' ? { Reason: 'Target.DeregistrationInProgress' } : {}),
      ...(t.state === 'unused' ? { Reason: 'Target.NotInUse' } : {}),
    },
  });
  class ApiError extends Error {
    constructor(
      readonly code: string,
      message: string,
    ) {
      super(message);
    }
  }
  const groupJson = (arn: string): Json => {
    const g = need(byArn(arn), arn);
    const c = g.created ?? {};
    return {
      TargetGroupArn: g.arn,
      TargetGroupName: g.name,
      Protocol: c.Protocol ?? 'HTTP',
      Port: c.Port ?? 80,
      VpcId: c.VpcId ?? 'vpc-0abc',
      HealthCheckProtocol: c.HealthCheckProtocol ?? 'HTTP',
      HealthCheckPath: c.HealthCheckPath ?? '/health',
      HealthCheckIntervalSeconds: c.HealthCheckIntervalSeconds ?? 5,
      HealthCheckTimeoutSeconds: c.HealthCheckTimeoutSeconds ?? 2,
      HealthyThresholdCount: c.HealthyThresholdCount ?? 2,
      UnhealthyThresholdCount: c.UnhealthyThresholdCount ?? 2,
      Matcher: c.Matcher ?? { HttpCode: '200' },
      TargetType: c.TargetType ?? options.targetType ?? 'ip',
      LoadBalancerArns: [...rules.map((r) => visible(r)), listener.defaultActions].some((actions) =>
        tuplesOf(forwardOf(actions)).some((t) => t.TargetGroupArn === g.arn),
      )
        ? [`${PREFIX}:loadbalancer/${LB}`]
        : [],
    };
  };
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined)
      throw new ApiError(what.endsWith('rule') ? 'RuleNotFound' : 'TargetGroupNotFound', `${what} not found`);
    return value;
  };
  const elbv2: Record<string, (input: Json) => Json> = {
    DescribeListeners: (input) => ({
      Listeners: ((input.ListenerArns as string[]) ?? [LISTENER_ARN]).map((arn) => {
        if (arn !== LISTENER_ARN) throw new ApiError('ListenerNotFound', `${arn} not found`);
        return {
          ListenerArn: arn,
          LoadBalancerArn: `${PREFIX}:loadbalancer/${LB}`,
          Port: 80,
          Protocol: 'HTTP',
          DefaultActions: listener.defaultActions,
        };
      }),
    }),
    DescribeRules: (input) => {
      if (input.RuleArns) {
        const found = (input.RuleArns as string[]).map((arn) => need(ruleByArn(arn), `${arn} rule`));
        return { Rules: found.map((r) => ruleJson(r)) };
      }
      if (input.ListenerArn !== LISTENER_ARN)
        throw new ApiError('ListenerNotFound', `${String(input.ListenerArn)} not found`);
      // Pages of PageSize (default 100 here, as small pages prove the caller follows NextMarker).
      const all = [
        ...[...rules].sort((a, b) => Number(a.priority) - Number(b.priority)).map((r) => ruleJson(r)),
        {
          RuleArn: `${PREFIX}:listener-rule/${LB}/f2f7dc8efc522ab2/default`,
          Priority: 'default',
          Conditions: [],
          Actions: listener.defaultActions,
          IsDefault: true,
        },
      ];
      const start = Number(input.Marker ?? 0);
      const size = Number(input.PageSize ?? 100);
      const page = all.slice(start, start + size);
      return { Rules: page, ...(start + size < all.length ? { NextMarker: String(start + size) } : {}) };
    },
    CreateRule: (input) => {
      if (input.ListenerArn !== LISTENER_ARN)
        throw new ApiError('ListenerNotFound', `${String(input.ListenerArn)} not found`);
      const priority = Number(input.Priority);
      if (!Number.isInteger(priority) || priority < 1 || priority > 50_000)
        throw new ApiError('ValidationError', `priority ${priority} is not 1-50000`);
      if (rules.some((r) => Number(r.priority) === priority))
        throw new ApiError('PriorityInUse', `Priority '${priority}' is currently in use`);
      checkForward(input.Actions as Json[]);
      const created: StandInRule = {
        arn: `${PREFIX}:listener-rule/${LB}/f2f7dc8efc522ab2/${newId()}`,
        priority: String(priority),
        conditions: input.Conditions as Json[],
        actions: stored(input.Actions as Json[], true),
        pending: undefined,
        tags: new Map(((input.Tags as { Key: string; Value?: string }[]) ?? []).map((t) => [t.Key, t.Value ?? ''])),
      };
      rules.push(created);
      return { Rules: [ruleJson(created)] };
    },
    DeleteRule: (input) => {
      const found = need(ruleByArn(input.RuleArn as string), `${String(input.RuleArn)} rule`);
      if (found === rule) throw new ApiError('OperationNotPermitted', 'the lab rule is not to be deleted');
      rules.splice(rules.indexOf(found), 1);
      return {};
    },
    CreateTargetGroup: (input) => {
      const name = input.Name as string;
      if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/.test(name) || name.startsWith('internal-'))
        throw new ApiError('ValidationError', `'${name}' is not a target group name (1-32 letters, digits, '-')`);
      const same = [...groups.values()].find((g) => g.name === name);
      // As AWS: the same name with the same settings answers the existing group (a retried call succeeds).
      if (same && JSON.stringify(same.created) === JSON.stringify(input))
        return { TargetGroups: [groupJson(same.arn)] };
      if (same)
        throw new ApiError(
          'DuplicateTargetGroupName',
          `A target group with the same name '${name}' exists, but with different settings`,
        );
      const arn = `${PREFIX}:targetgroup/${name}/${newId()}`;
      groups.set(arn, {
        arn,
        name,
        targets: new Map(),
        tags: new Map(((input.Tags as { Key: string; Value?: string }[]) ?? []).map((t) => [t.Key, t.Value ?? ''])),
        attributes: new Map([
          // AWS's defaults for a new group.
          ['deregistration_delay.timeout_seconds', '300'],
          ['stickiness.enabled', 'false'],
          ['stickiness.type', 'lb_cookie'],
          ['stickiness.lb_cookie.duration_seconds', '86400'],
        ]),
        minutes: new Map(),
        rr: 0,
        created: input,
      });
      return { TargetGroups: [groupJson(arn)] };
    },
    DeleteTargetGroup: (input) => {
      const g = need(byArn(input.TargetGroupArn as string), String(input.TargetGroupArn));
      const users = [...rules.map((r) => visible(r)), listener.defaultActions].some((actions) =>
        tuplesOf(forwardOf(actions)).some((t) => t.TargetGroupArn === g.arn),
      );
      if (users)
        throw new ApiError('ResourceInUse', `Target group '${g.arn}' is currently in use by a listener or a rule`);
      groups.delete(g.arn);
      return {};
    },
    ModifyTargetGroupAttributes: (input) => {
      const g = need(byArn(input.TargetGroupArn as string), String(input.TargetGroupArn));
      for (const a of input.Attributes as { Key: string; Value: string }[]) g.attributes.set(a.Key, a.Value);
      return { Attributes: [...g.attributes].map(([Key, Value]) => ({ Key, Value })) };
    },
    DescribeTargetGroups: (input) => {
      let arns = (input.TargetGroupArns as string[] | undefined) ?? [...groups.keys()];
      if (input.Names) {
        arns = (input.Names as string[]).map((n) => {
          const g = [...groups.values()].find((x) => x.name === n);
          if (!g) throw new ApiError('TargetGroupNotFound', `One or more target groups not found`);
          return g.arn;
        });
      }
      const start = Number(input.Marker ?? 0);
      const size = Number(input.PageSize ?? 400);
      const page = arns.slice(start, start + size).map((arn) => need(byArn(arn), arn) && groupJson(arn));
      return { TargetGroups: page, ...(start + size < arns.length ? { NextMarker: String(start + size) } : {}) };
    },
    DescribeTargetGroupAttributes: (input) => ({
      Attributes: [...need(byArn(input.TargetGroupArn as string), String(input.TargetGroupArn)).attributes].map(
        ([Key, Value]) => ({ Key, Value }),
      ),
    }),
    DescribeTargetHealth: (input) => ({
      TargetHealthDescriptions: [
        ...need(byArn(input.TargetGroupArn as string), String(input.TargetGroupArn)).targets.values(),
      ].map(targetHealth),
    }),
    DescribeTags: (input) => ({
      TagDescriptions: (input.ResourceArns as string[]).map((arn) => need(tagDescription(arn), arn)),
    }),
    AddTags: (input) => {
      for (const arn of input.ResourceArns as string[]) {
        const tags = need(tagsOf(arn), arn);
        for (const t of input.Tags as { Key: string; Value?: string }[]) tags.set(t.Key, t.Value ?? '');
      }
      return {};
    },
    RemoveTags: (input) => {
      for (const arn of input.ResourceArns as string[]) {
        const tags = need(tagsOf(arn), arn);
        for (const k of input.TagKeys as string[]) tags.delete(k);
      }
      return {};
    },
    RegisterTargets: (input) => {
      const g = need(byArn(input.TargetGroupArn as string), String(input.TargetGroupArn));
      for (const t of input.Targets as { Id: string; Port: number }[]) {
        const key = `${t.Id}:${t.Port}`;
        const old = g.targets.get(key);
        if (old && old.state !== 'draining') continue;
        const state = usedGroups().has(g.arn) ? 'initial' : 'unused';
        g.targets.set(key, { id: t.Id, port: t.Port, state, passes: 0, fails: 0, next: 0 });
      }
      return {};
    },
    DeregisterTargets: (input) => {
      const g = need(byArn(input.TargetGroupArn as string), String(input.TargetGroupArn));
      const delay = Number(g.attributes.get('deregistration_delay.timeout_seconds')) * 1000;
      for (const t of input.Targets as { Id: string; Port: number }[]) {
        const target = g.targets.get(`${t.Id}:${t.Port}`);
        if (!target) throw new ApiError('InvalidTarget', `${t.Id}:${t.Port} is not registered`);
        target.state = 'draining';
        target.next = Date.now() + delay;
      }
      return {};
    },
    ModifyListener: (input) => {
      if (input.ListenerArn !== LISTENER_ARN)
        throw new ApiError('ListenerNotFound', `${String(input.ListenerArn)} not found`);
      if (input.DefaultActions) {
        checkForward(input.DefaultActions as Json[]);
        listener.defaultActions = stored(input.DefaultActions as Json[], false);
      }
      return {
        Listeners: [
          {
            ListenerArn: LISTENER_ARN,
            LoadBalancerArn: `${PREFIX}:loadbalancer/${LB}`,
            Port: 80,
            Protocol: 'HTTP',
            DefaultActions: listener.defaultActions,
          },
        ],
      };
    },
    ModifyRule: (input) => {
      const rule = need(ruleByArn(input.RuleArn as string), `${String(input.RuleArn)} rule`);
      checkForward((input.Actions as Json[] | undefined) ?? rule.actions);
      if (input.Conditions) rule.conditions = input.Conditions as Json[];
      if (input.Actions) {
        const actions = stored(input.Actions as Json[], false);
        // The last write wins, as on ALB: one not delayed replaces a change still pending.
        rule.pending = changeDelayMs > 0 ? { actions, visibleAt: Date.now() + changeDelayMs } : undefined;
        if (changeDelayMs <= 0) rule.actions = actions;
        changeDelayMs = 0;
      }
      // ALB answers with the rule as written, even before it takes effect.
      return { Rules: [{ ...ruleJson(rule), Actions: (input.Actions as Json[] | undefined) ?? rule.actions }] };
    },
  };
  /**
   * Actions as ALB stores them, refusing what it refuses: an authenticate-oidc action needs its ClientSecret when a
   * rule is created, and on a change either the secret or UseExistingClientSecret (ALB never returns the secret).
   */
  function stored(actions: readonly Json[], creating: boolean): Json[] {
    return actions.map((a) => {
      const oidc = a.AuthenticateOidcConfig as Json | undefined;
      if (!oidc) return a;
      if (!oidc.ClientSecret && (creating || oidc.UseExistingClientSecret !== true))
        throw new ApiError(
          'ValidationError',
          creating
            ? 'A client secret must be specified for an authenticate-oidc action of a new rule'
            : 'A client secret must be specified, or UseExistingClientSecret set to true',
        );
      const { ClientSecret: _secret, UseExistingClientSecret: _use, ...kept } = oidc;
      void _secret;
      void _use;
      return { ...a, AuthenticateOidcConfig: kept };
    });
  }

  /** What ALB itself refuses in a forward action (ValidationError), beyond the model. */
  function checkForward(actions: readonly Json[]): void {
    const fwd = forwardOf(actions);
    const tuples = ((fwd?.ForwardConfig as Json | undefined)?.TargetGroups ?? []) as { TargetGroupArn: string }[];
    for (const t of tuples)
      if (!byArn(t.TargetGroupArn)) throw new ApiError('TargetGroupNotFound', `${t.TargetGroupArn} not found`);
    if (fwd?.TargetGroupArn && fwd.ForwardConfig) {
      const arns = tuples.map((t) => t.TargetGroupArn);
      if (arns.length !== 1 || arns[0] !== fwd.TargetGroupArn)
        throw new ApiError('ValidationError', 'TargetGroupArn and ForwardConfig name different target groups');
    }
  }

  /** A statistic of one minute: a Sum of a count, or TargetResponseTime's SampleCount, Average or pNN (nearest rank). */
  const statOf = (metric: string, stat: string, m: Minute): number | undefined => {
    if (metric !== 'TargetResponseTime') {
      const field = {
        RequestCount: 'requests',
        HTTPCode_Target_5XX_Count: 'target5xx',
        TargetConnectionErrorCount: 'connErrors',
      }[metric] as 'requests' | 'target5xx' | 'connErrors' | undefined;
      return field && m.requests > 0 ? m[field] : undefined;
    }
    const times = [...m.times].sort((a, b) => a - b);
    if (!times.length) return undefined;
    if (stat === 'SampleCount') return times.length;
    if (stat === 'Average') return times.reduce((a, b) => a + b, 0) / times.length;
    const p = /^p(\d+(?:\.\d+)?)$/.exec(stat);
    // Other statistics (tm99, PR(...)) are valid (the model checks the name) but not computed here: no data.
    if (!p) return undefined;
    return times[Math.min(times.length - 1, Math.max(0, Math.ceil((Number(p[1]) / 100) * times.length) - 1))];
  };

  const metricData = (input: Json): Json => {
    const results = (input.MetricDataQueries as Json[]).map((q) => {
      const stat = q.MetricStat as Json;
      const metric = stat.Metric as { MetricName: string; Dimensions: { Name: string; Value: string }[] };
      const dim = metric.Dimensions.find((d) => d.Name === 'TargetGroup')?.Value;
      const group = [...groups.values()].find((g) => g.arn.endsWith(`:${dim ?? ''}`));
      const start = Number(input.StartTime);
      const end = Number(input.EndTime);
      const points = [...(group?.minutes ?? [])]
        .filter(([minute]) => minute >= start && minute < end)
        .map(([minute, m]) => [minute, statOf(metric.MetricName, String(stat.Stat), m)] as const)
        .filter((p): p is readonly [number, number] => p[1] !== undefined)
        .sort(([a], [b]) => b - a);
      return {
        Id: q.Id,
        Label: metric.MetricName,
        Timestamps: points.map(([minute]) => minute),
        Values: points.map(([, v]) => v),
        StatusCode: 'Complete',
      };
    });
    return { MetricDataResults: results, Messages: [] };
  };

  const api = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const requestId = randomUUID();
      const target = req.headers['x-amz-target'];
      if (typeof target === 'string') {
        const operation = target.split('.')[1] ?? '';
        let input: Json = {};
        let errors: string[];
        try {
          input = JSON.parse(body) as Json;
          errors = checkJson(cwModel, operation, input);
        } catch (error) {
          errors = [`body is not JSON: ${(error as Error).message}`];
        }
        if (!req.headers.authorization?.startsWith('AWS4-HMAC-SHA256')) errors.push('request is not signed with SigV4');
        if (errors.length || operation !== 'GetMetricData') {
          calls.push({ service: 'cloudwatch', operation, input, errors, refused: 'ValidationError', at: Date.now() });
          res.writeHead(400, {
            'content-type': 'application/x-amz-json-1.0',
            'x-amzn-query-error': 'ValidationError;Sender',
          });
          return void res.end(
            JSON.stringify({
              __type: 'ValidationError',
              message: errors.join('; ') || `${operation} is not served here`,
            }),
          );
        }
        calls.push({ service: 'cloudwatch', operation, input, errors, at: Date.now() });
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId });
        return void res.end(JSON.stringify(metricData(input)));
      }
      const { operation, input, errors } = decodeQuery(elbModel, new URLSearchParams(body));
      if (!req.headers.authorization?.startsWith('AWS4-HMAC-SHA256')) errors.push('request is not signed with SigV4');
      const answer = (status: number, xml: string) =>
        res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }).end(xml);
      if (errors.length) {
        calls.push({ service: 'elbv2', operation, input, errors, refused: 'ValidationError', at: Date.now() });
        return void answer(400, queryError(elbModel, 'ValidationError', errors.join('; '), requestId));
      }
      if (throttled > 0) {
        throttled--;
        calls.push({ service: 'elbv2', operation, input, errors, refused: 'Throttling', at: Date.now() });
        return void answer(400, queryError(elbModel, 'Throttling', 'Rate exceeded', requestId));
      }
      const handler = elbv2[operation];
      if (!handler) {
        calls.push({
          service: 'elbv2',
          operation,
          input,
          errors: [`${operation} is not served by the stand-in`],
          at: Date.now(),
        });
        return void answer(400, queryError(elbModel, 'ValidationError', `${operation} is not served here`, requestId));
      }
      calls.push({ service: 'elbv2', operation, input, errors, at: Date.now() });
      try {
        answer(200, queryResponse(elbModel, operation, handler(input), requestId));
      } catch (error) {
        const code = error instanceof ApiError ? error.code : 'InternalFailure';
        answer(400, queryError(elbModel, code, (error as Error).message, requestId));
      }
    });
  });
  const apiPort = await freePort();
  const trafficPort = await freePort();
  await new Promise<void>((r) => api.listen(apiPort, '127.0.0.1', r));
  await new Promise<void>((r) => traffic.listen(trafficPort, '127.0.0.1', r));
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  return {
    apiUrl,
    trafficUrl: `http://127.0.0.1:${trafficPort}/`,
    calls,
    groups,
    rule,
    rules,
    env: {
      AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: apiUrl,
      AWS_ENDPOINT_URL_CLOUDWATCH: apiUrl,
      AWS_ACCESS_KEY_ID: 'AKIDSTANDIN',
      AWS_SECRET_ACCESS_KEY: 'stand-in-secret',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    throttle: (n) => void (throttled = n),
    cutResponses: () => midResponse,
    listenerActions: () => listener.defaultActions,
    delayNextChange: (ms) => void (changeDelayMs = ms),
    weights: () =>
      Object.fromEntries(groupTuples().map((t) => [byArn(t.TargetGroupArn)?.name ?? t.TargetGroupArn, t.Weight ?? 1])),
    async stop() {
      clearInterval(timer);
      agent.destroy();
      traffic.closeAllConnections();
      api.closeAllConnections();
      await Promise.all([new Promise((r) => traffic.close(r)), new Promise((r) => api.close(r))]);
    },
  };
}
