/**
 * The ALB driver through `dist/index.js`, as the runner runs it, against the local ALB stand-in (test/helpers/aws-alb):
 * real app processes behind it, steady keep-alive load through its listener, every SDK request checked against AWS's
 * published model. Not AWS: the stand-in and the model.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { errors, FAST_ROLLOUT, runAction, summaryTimeline, type ActionRun } from '../helpers/action.js';
import { startAlbStandIn, RULE_ARN, type AlbStandIn } from '../helpers/aws-alb.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { startLoad } from '../helpers/load.js';

interface Lab {
  readonly alb: AlbStandIn;
  readonly fleet: Fleet;
}

let lab: Lab | undefined;

afterEach(async () => {
  await lab?.alb.stop();
  lab?.fleet.stopAll();
  lab = undefined;
});

const OIDC = {
  Type: 'authenticate-oidc',
  Order: 1,
  AuthenticateOidcConfig: {
    Issuer: 'https://issuer.example.com',
    AuthorizationEndpoint: 'https://issuer.example.com/authorize',
    TokenEndpoint: 'https://issuer.example.com/token',
    UserInfoEndpoint: 'https://issuer.example.com/userinfo',
    ClientId: 'shop',
    OnUnauthenticatedRequest: 'allow',
  },
};
const CONDITIONS = [
  { Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } },
  { Field: 'host-header', HostHeaderConfig: { Values: ['127.0.0.1:*'] } },
];

/** blue (2 targets, v1, all traffic) and green (2 targets, v1, weight 0) behind one rule with other actions and conditions. */
async function setup(): Promise<Lab> {
  const fleet = await startFleet(4, 'v1');
  const [b1, b2, g1, g2] = fleet.ports as [number, number, number, number];
  const alb = await startAlbStandIn({
    groups: [
      { name: 'shop-blue', weight: 100, ports: [b1, b2] },
      { name: 'shop-green', weight: 0, ports: [g1, g2] },
    ],
    conditions: CONDITIONS,
    extraActions: [OIDC],
  });
  lab = { alb, fleet };
  return lab;
}

function inputs(l: Lab, extra: Record<string, string>): Record<string, string> {
  return {
    'load-balancer': `aws-alb:${RULE_ARN}`,
    pools: 'blue=shop-blue/*, green=shop-green/*',
    'deploy-command': l.fleet.restartCommand,
    'health-url': 'http://{address}/health',
    ...FAST_ROLLOUT,
    // CloudWatch periods are 60 s: short windows judge by probes (counters count as they arrive).
    'min-requests': '0',
    'check-url': `${l.alb.trafficUrl}`,
    ...extra,
  };
}

function run(l: Lab, extra: Record<string, string>, env: Record<string, string> = {}): Promise<ActionRun> {
  return runAction(inputs(l, extra), { env: { ...l.fleet.env, ...l.alb.env, ...env }, timeoutMs: 80_000 });
}

/** Every request the SDK sent was valid per the model; returns how many there were, per operation. */
function validated(alb: AlbStandIn): { total: number; byOperation: Record<string, number> } {
  expect(alb.calls.filter((c) => c.errors.length)).toEqual([]);
  const byOperation: Record<string, number> = {};
  for (const c of alb.calls) byOperation[c.operation] = (byOperation[c.operation] ?? 0) + 1;
  return { total: alb.calls.length, byOperation };
}

describe('ALB stand-in: dry run', () => {
  it('shows the target groups, weights, deregistration delay and detection delay', async () => {
    const l = await setup();
    const r = await run(l, {
      strategy: 'canary',
      steps: '10% 1m, 50% 1m, 100%',
      'dry-run': 'true',
      'min-requests': '20',
      'analysis-interval': '1m',
    });
    expect(errors(r)).toEqual([]);
    expect(r.outputs.result).toBe('unchanged');
    expect(r.summary).toContain(
      'forward to shop-blue weight 100 (100%), shop-green weight 0 (0%); each traffic change is one ModifyRule call',
    );
    expect(r.summary).toContain('Deregistration delay: shop-blue 1 s, shop-green 1 s');
    expect(r.summary).toMatch(/Detection delay: CloudWatch counts ALB requests and 5xx per 60 s period/);
    expect(r.summary).toContain('Target group stickiness: forward action off');
    expect(l.alb.calls.filter((c) => /^(Modify|Register|Deregister|Add|Remove)/.test(c.operation))).toEqual([]);
    console.log(`dry run: ${JSON.stringify(validated(l.alb))}`);
  });
});

describe('ALB stand-in: blue-green and canary under load', () => {
  it('blue-green: all traffic to green with 0 failed requests; the rule keeps its other action and conditions', async () => {
    const l = await setup();
    const load = startLoad(l.alb.trafficUrl, { rps: 200, maxMs: 60_000 });
    const r = await run(l, { strategy: 'blue-green' });
    const stats = await load.stop();
    expect(errors(r)).toEqual([]);
    expect(r.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'green', weight: '100' });
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(l.alb.weights()).toEqual({ 'shop-blue': 0, 'shop-green': 100 });
    expect(l.alb.rule.actions[0]).toEqual(OIDC);
    expect(l.alb.rule.conditions).toEqual(CONDITIONS);
    const v = validated(l.alb);
    console.log(
      `blue-green: ${stats.sent} requests, ${stats.failed} failed; ${v.total} AWS requests valid per the model ${JSON.stringify(v.byOperation)}`,
    );
  });
});

describe('ALB stand-in: canary', () => {
  it('moves 20%, 50%, 100% to green under load with 0 failed requests; each step near its share', async () => {
    const l = await setup();
    const load = startLoad(l.alb.trafficUrl, { rps: 200, maxMs: 60_000 });
    const r = await run(l, { strategy: 'canary', steps: '20% 3s, 50% 3s, 100%' });
    const stats = await load.stop();
    expect(errors(r)).toEqual([]);
    expect(r.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'green', weight: '100' });
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(l.alb.weights()).toEqual({ 'shop-blue': 0, 'shop-green': 100 });
    const splits = summaryTimeline(r).filter(([, text]) => text.startsWith('split '));
    expect(splits.map(([, text]) => text.replace(/ \(.*$/, ''))).toEqual([
      'split blue=80% green=20%',
      'split blue=50% green=50%',
      'split blue=0% green=100%',
    ]);
    const shares = splits.slice(0, 2).map(([at], i) => {
      const end = splits[i + 1]?.[0] ?? Date.now();
      const window = stats.requests.filter((q) => q.start > at && q.start < end);
      return (100 * window.filter((q) => q.version === 'v2').length) / window.length;
    });
    expect(Math.abs((shares[0] ?? 0) - 20)).toBeLessThanOrEqual(3);
    expect(Math.abs((shares[1] ?? 0) - 50)).toBeLessThanOrEqual(3);
    const modify = l.alb.calls.filter((c) => c.operation === 'ModifyRule').length;
    const v = validated(l.alb);
    console.log(
      `canary: ${stats.sent} requests, ${stats.failed} failed; shares ${shares.map((s) => s.toFixed(1)).join('%, ')}%; ${modify} ModifyRule for 3 steps; ${v.total} AWS requests valid per the model ${JSON.stringify(v.byOperation)}`,
    );
  });

  it('rolls a canary that fails 30% of its requests back to blue; no failure after the rollback', async () => {
    const l = await setup();
    const load = startLoad(l.alb.trafficUrl, { rps: 200, maxMs: 60_000 });
    const r = await run(l, { strategy: 'canary', steps: '20% 10s, 100%' }, { APP_NEXT_FAIL_RATE: '0.3' });
    await new Promise((done) => setTimeout(done, 1000));
    const stats = await load.stop();
    expect(r.code).toBe(1);
    expect(r.outputs).toMatchObject({ result: 'rolled-back', 'live-pool': 'blue', weight: '0' });
    expect(errors(r).join('\n')).toMatch(/Rolled back at 20% on green/);
    expect(l.alb.weights()).toEqual({ 'shop-blue': 100, 'shop-green': 0 });
    const rollback = summaryTimeline(r).find(([, text]) => text.includes('rollback: all traffic back on blue'));
    expect(rollback).toBeDefined();
    const after = stats.requests.filter((q) => q.start > (rollback?.[0] ?? 0));
    expect(after.length).toBeGreaterThan(100);
    expect(after.filter((q) => q.status !== 200 || q.version !== 'v1')).toEqual([]);
    const bad = stats.requests.filter((q) => q.status >= 500).length;
    const v = validated(l.alb);
    console.log(
      `bad canary: ${stats.sent} requests, ${bad} answered 5xx by the bad version before the rollback, ${after.length} after it all v1 and 200; ${v.total} AWS requests valid per the model`,
    );
  });
});

describe('ALB stand-in: AWS being AWS', () => {
  it('retries throttled calls with backoff and reads the weights back until a delayed change shows', async () => {
    const l = await setup();
    l.alb.throttle(3);
    l.alb.delayNextChange(1500);
    const load = startLoad(l.alb.trafficUrl, { rps: 100, maxMs: 60_000 });
    const r = await run(l, { strategy: 'blue-green' });
    const stats = await load.stop();
    expect(errors(r)).toEqual([]);
    expect(r.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'green' });
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(l.alb.calls.filter((c) => c.refused === 'Throttling')).toHaveLength(3);
    expect(r.stdout).toMatch(/ALB: the new weights showed on read-back \d+ of rule .*, [\d.]+m?s after the change/);
    expect(l.alb.weights()).toEqual({ 'shop-blue': 0, 'shop-green': 100 });
    validated(l.alb);
  });
});
