/**
 * ALB refusals through `dist/index.js` on the ALB stand-in: what a pool split cannot drive is refused before the
 * first write (the lock included), each with its exact message, and the stand-in read back as it was.
 */
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { errors, FAST_ROLLOUT, runAction } from '../helpers/action.js';
import { RULE_ARN, startAlbStandIn, type AlbStandIn } from '../helpers/aws-alb.js';
import { validated } from '../helpers/alb-lab.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';

let fleet: Fleet;
let alb: AlbStandIn | undefined;
beforeAll(async () => {
  fleet = await startFleet(3, 'v1');
});
afterAll(() => fleet.stopAll());
afterEach(async () => {
  await alb?.stop();
  alb = undefined;
});

const WRITES = /^(Modify|Register|Deregister|Add|Remove|Create|Delete|Set)/;

async function standIn(groups: { name: string; weight: number }[]): Promise<AlbStandIn> {
  alb = await startAlbStandIn({
    groups: groups.map((g, i) => ({ ...g, ports: [fleet.ports[i] ?? 0] })),
  });
  return alb;
}

/** Runs a deploy that must be refused; checks nothing was written and the deploy-command never ran. */
async function refusedOn(l: AlbStandIn, inputs: Record<string, string>, env: Record<string, string> = {}) {
  const before = l.weights();
  const marker = join(mkdtempSync(join(tmpdir(), 'zdd-alb-refusal-')), 'ran');
  const run = await runAction(
    {
      'load-balancer': `aws-alb:${RULE_ARN}`,
      'deploy-command': `touch ${marker}`,
      'health-url': 'http://{address}/health',
      ...FAST_ROLLOUT,
      'min-requests': '0',
      ...inputs,
    },
    { env: { ...fleet.env, ...l.env, ...env }, timeoutMs: 40_000 },
  );
  const message = errors(run).join('\n');
  expect(run.code, message).toBe(1);
  expect(run.outputs.result, message).toBe('failed');
  expect(l.calls.filter((c) => WRITES.test(c.operation)).map((c) => c.operation)).toEqual([]);
  expect(l.weights()).toEqual(before);
  expect(existsSync(marker)).toBe(false);
  validated(l);
  return { run, message };
}

describe('ALB: refused before the first write', () => {
  it('a target group with weight outside both pools is refused, naming it and its share', async () => {
    const l = await standIn([
      { name: 'shop-blue', weight: 90 },
      { name: 'shop-green', weight: 0 },
      { name: 'shop-legacy', weight: 10 },
    ]);
    const { message } = await refusedOn(l, { strategy: 'blue-green', pools: 'blue=shop-blue/*, green=shop-green/*' });
    expect(message).toBe(
      `Invalid input:\n- pools: target group shop-legacy has weight 10 (10% of the traffic) in the forward action of rule ${RULE_ARN} and is in neither pool, so it would keep that share while the rollout reports all traffic moved; set its weight to 0 or remove it from the forward action (aws elbv2 modify-rule --rule-arn ${RULE_ARN} ...), or make it one of the pools`,
    );
    expect(l.weights()).toEqual({ 'shop-blue': 90, 'shop-green': 0, 'shop-legacy': 10 });
  });

  it('the dry run refuses it too', async () => {
    const l = await standIn([
      { name: 'shop-blue', weight: 90 },
      { name: 'shop-green', weight: 0 },
      { name: 'shop-legacy', weight: 10 },
    ]);
    const { message } = await refusedOn(l, {
      strategy: 'canary',
      pools: 'blue=shop-blue/*, green=shop-green/*',
      'dry-run': 'true',
    });
    expect(message).toMatch(/^Invalid input:\n- pools: target group shop-legacy has weight 10 \(10% of the traffic\)/);
  });

  it('a pool over two target groups is refused before the idle pool is touched or deploy-command runs', async () => {
    const l = await standIn([
      { name: 'shop-blue', weight: 100 },
      { name: 'shop-green', weight: 0 },
      { name: 'shop-green2', weight: 0 },
    ]);
    const { message } = await refusedOn(l, { strategy: 'canary', pools: 'blue=shop-blue/*, green=shop-green*/*' });
    expect(message).toBe(
      `Invalid input:\n- pools: pool green (shop-green*/*) spans target groups shop-green, shop-green2 of rule ${RULE_ARN}; on ALB a pool is one target group, whose weight moves as one: give each pool the targets of one group (e.g. green=shop-green/*)`,
    );
  });
});

describe('ALB: a third group given weight during the rollout', () => {
  it('stops before moving traffic on, saying what it read back; never claims 100%', async () => {
    const l = await standIn([
      { name: 'shop-blue', weight: 100 },
      { name: 'shop-green', weight: 0 },
      { name: 'shop-legacy', weight: 0 },
    ]);
    const legacy = [...l.groups.values()].find((g) => g.name === 'shop-legacy')?.arn;
    let edited = false;
    const run = runAction(
      {
        'load-balancer': `aws-alb:${RULE_ARN}`,
        'deploy-command': 'true',
        'health-url': 'http://{address}/health',
        ...FAST_ROLLOUT,
        'min-requests': '0',
        strategy: 'canary',
        steps: '20% 2s, 100%',
        pools: 'blue=shop-blue/*, green=shop-green/*',
      },
      {
        env: { ...fleet.env, ...l.env },
        timeoutMs: 40_000,
        // Someone edits the rule at 20%: shop-legacy gets weight 10.
        onLine: (line) => {
          if (edited || !line.startsWith('split blue=80% green=20%')) return;
          edited = true;
          const forward = l.rule.actions.find((a) => a.Type === 'forward') as {
            ForwardConfig: { TargetGroups: { TargetGroupArn: string; Weight: number }[] };
          };
          for (const t of forward.ForwardConfig.TargetGroups) if (t.TargetGroupArn === legacy) t.Weight = 10;
        },
      },
    );
    const r = await run;
    expect(edited).toBe(true);
    expect(r.outputs.result).toBe('failed');
    expect(r.outputs.weight).not.toBe('100');
    expect(errors(r).join('\n')).toBe(
      `Stopped at step 2: ALB: target group shop-legacy weight 10 (9.1% of the traffic) is in the forward action of rule ${RULE_ARN} and in neither pool (was it changed during the rollout?); read back before the change: shop-blue 80, shop-green 20, shop-legacy 10. Not moving traffic on: the new version would not get the share reported. Set its weight to 0 (aws elbv2 modify-rule --rule-arn ${RULE_ARN} ...) and deploy again. The pools' traffic was moved back to blue, but target group shop-legacy weight 10 (9.1% of the traffic) keeps its share of the traffic (read back after the change: shop-blue 100, shop-green 0, shop-legacy 10).`,
    );
    // The restore goes on (traffic back on blue), and warns that the third group keeps its share.
    expect(r.stdout.replace(/%25/g, '%')).toContain(
      `::warning::ALB: target group shop-legacy weight 10 (9.1% of the traffic) is in the forward action of rule ${RULE_ARN} and in neither pool (was it changed during the rollout?); read back after the change: shop-blue 100, shop-green 0, shop-legacy 10; it keeps that share of the traffic`,
    );
    expect(l.weights()).toEqual({ 'shop-blue': 100, 'shop-green': 0, 'shop-legacy': 10 });
    validated(l);
  });
});

const POOLS = { strategy: 'blue-green', pools: 'blue=shop-blue/*, green=shop-green/*' };
const TWO_GROUPS = [
  { name: 'shop-blue', weight: 100 },
  { name: 'shop-green', weight: 0 },
];

describe('ALB: a first call that fails is not called bad input', () => {
  it('throttled on every attempt: says AWS throttled it and nothing was changed', async () => {
    const l = await standIn(TWO_GROUPS);
    l.throttle(1000);
    // AWS_MAX_ATTEMPTS lowers the SDK's 8 attempts (and their backoff, 30 s for throttling) to 3.
    const { message } = await refusedOn(l, POOLS, { AWS_MAX_ATTEMPTS: '3' });
    expect(message).toBe(
      `load-balancer: aws-alb:${RULE_ARN} could not be read, so nothing was changed: AWS DescribeRules failed (3 attempts): Throttling: Rate exceeded; AWS throttled the calls (the SDK retried with backoff): run again in a minute, or lower the rate of other ELBv2 callers on this account`,
    );
    expect(l.calls.map((c) => `${c.operation} ${c.refused}`)).toEqual(Array(3).fill('DescribeRules Throttling'));
  });

  it('AWS unreachable: says so and nothing was changed', async () => {
    const l = await standIn(TWO_GROUPS);
    const closed = 'http://127.0.0.1:9';
    const { message } = await refusedOn(l, POOLS, {
      AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: closed,
      AWS_ENDPOINT_URL_CLOUDWATCH: closed,
      AWS_MAX_ATTEMPTS: '3',
    });
    expect(message).toMatch(
      new RegExp(
        `^load-balancer: aws-alb:${RULE_ARN} could not be read, so nothing was changed: AWS DescribeRules failed \\(3 attempts\\): .*ECONNREFUSED.*; AWS's API did not answer \\(network, endpoint or an AWS outage\\): run again$`,
      ),
    );
    expect(l.calls).toEqual([]);
  });
});

describe('ALB: hostile inputs refused before any request reaches AWS', () => {
  it.each([
    ['health-url', 'http://{address}/h\r\nX: y', 'holds a line break (U+000D carriage return at character 19)'],
    ['check-url', 'http://127.0.0.1/\r\nHost: evil', 'holds a line break (U+000D carriage return at character 18)'],
    ['environment', 'produc\u200btion', 'holds an invisible character (U+200B zero-width space at character 7)'],
  ])('%s: %j', async (input, value, problem) => {
    const l = await standIn(TWO_GROUPS);
    const { message } = await refusedOn(l, { ...POOLS, [input]: value });
    expect(message).toMatch(new RegExp(`^Invalid input:\\n- ${input}: ${problem.replace(/[()+]/g, '\\$&')}`));
    expect(l.calls).toEqual([]);
  });
});
