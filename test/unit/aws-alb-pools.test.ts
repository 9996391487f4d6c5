/** Which pool splits ALB's forward action can drive: pure, without the stand-in. */
import { describe, expect, it } from 'vitest';
import { groupsOfPool, poolSplitProblems, trafficOutside, weightsRead } from '../../src/lb/aws-alb/pools.js';
import { exactSelectors } from '../../src/model/selectors.js';

const pool = (name: string, ...selectors: string[]) => ({ name, selectors: exactSelectors(selectors) });
const WHERE = 'rule R';
const MODIFY = 'aws elbv2 modify-rule --rule-arn R ...';

describe('ALB pool split', () => {
  it('two pools, one group each, nothing else in traffic: no problem', () => {
    const groups = [
      { name: 'shop-blue', weight: 100 },
      { name: 'shop-green', weight: 0 },
      { name: 'shop-old', weight: 0 },
    ];
    expect(
      poolSplitProblems([pool('blue', 'shop-blue/*'), pool('green', 'shop-green/*')], groups, WHERE, MODIFY),
    ).toEqual([]);
  });

  it('a group with weight in neither pool is named with its share of the traffic', () => {
    const groups = [
      { name: 'shop-blue', weight: 90 },
      { name: 'shop-green', weight: 0 },
      { name: 'shop-legacy', weight: 20 },
    ];
    const problems = poolSplitProblems(
      [pool('blue', 'shop-blue/*'), pool('green', 'shop-green/*')],
      groups,
      WHERE,
      MODIFY,
    );
    expect(problems).toEqual([
      `pools: target group shop-legacy has weight 20 (18.2% of the traffic) in the forward action of rule R and is in neither pool, so it would keep that share while the rollout reports all traffic moved; set its weight to 0 or remove it from the forward action (${MODIFY}), or make it one of the pools`,
    ]);
  });

  it('a pool over two groups, and a group in both pools, are each named', () => {
    const groups = [
      { name: 'shop-blue', weight: 100 },
      { name: 'shop-green', weight: 0 },
      { name: 'shop-green2', weight: 0 },
    ];
    expect(groupsOfPool(pool('green', 'shop-green*/*'), groups).map((g) => g.name)).toEqual([
      'shop-green',
      'shop-green2',
    ]);
    const problems = poolSplitProblems(
      [pool('blue', 'shop-blue/10.0.0.1:80'), pool('green', 'shop-green*/*', 'shop-blue/10.0.0.2:80')],
      groups,
      WHERE,
      MODIFY,
    );
    expect(problems).toEqual([
      'pools: pool green (shop-green*/* shop-blue/10.0.0.2:80) spans target groups shop-blue, shop-green, shop-green2 of rule R; on ALB a pool is one target group, whose weight moves as one: give each pool the targets of one group (e.g. green=shop-green/*)',
      'pools: target group shop-blue is in both pools (blue, green); ALB weighs target groups, not targets: give each pool a target group of its own',
    ]);
  });

  it('traffic outside the pools, as read back mid-run: each group with weight, its share, and the weights read', () => {
    const read = [
      { name: 'shop-blue', weight: 80 },
      { name: 'shop-green', weight: 20 },
      { name: 'shop-legacy', weight: 10 },
      { name: 'shop-old', weight: 0 },
    ];
    expect(trafficOutside(read, new Set(['shop-blue', 'shop-green']))).toEqual([
      'shop-legacy weight 10 (9.1% of the traffic)',
    ]);
    expect(trafficOutside(read, new Set(['shop-blue', 'shop-green', 'shop-legacy']))).toEqual([]);
    expect(weightsRead(read)).toBe('shop-blue 80, shop-green 20, shop-legacy 10, shop-old 0');
  });
});
