/**
 * What the forward action lets a pool split drive, pure: on ALB a pool is one target group, whose weight moves as
 * one, and every group holding weight must be in a pool (a group outside both keeps its share while the rollout
 * reports the new version at 100%).
 */
import { matchesSelector } from '../../model/selectors.js';
import type { PoolSelection } from '../driver.js';

export interface WeightedGroup {
  readonly name: string;
  readonly weight: number;
}

/** The forward action's groups a pool's selectors name (a selector's backend part names the group). */
export function groupsOfPool(pool: PoolSelection, groups: readonly WeightedGroup[]): WeightedGroup[] {
  return groups.filter((g) => pool.selectors.some((s) => matchesSelector({ ...s, server: '*' }, g.name, '')));
}

function share(weight: number, total: number): string {
  const percent = total > 0 ? (100 * weight) / total : 0;
  return `${Number.isInteger(percent) ? percent : percent.toFixed(1)}%`;
}

/**
 * Every reason the pools cannot be split on this forward action, each naming `pools` and the fix; `where` names the
 * rule or listener and `modify` the AWS CLI command that changes its weights. Empty when the split can be driven.
 */
export function poolSplitProblems(
  pools: readonly PoolSelection[],
  groups: readonly WeightedGroup[],
  where: string,
  modify: string,
): string[] {
  const problems: string[] = [];
  const total = groups.reduce((sum, g) => sum + g.weight, 0);
  const byPool = pools.map((pool) => ({ pool, groups: groupsOfPool(pool, groups) }));
  for (const { pool, groups: matched } of byPool) {
    if (matched.length < 2) continue;
    const own = matched.find((g) => byPool.every((p) => p.pool === pool || !p.groups.includes(g))) ?? matched[0];
    problems.push(
      `pools: pool ${pool.name} (${pool.selectors.map((s) => s.text).join(' ')}) spans target groups ${matched.map((g) => g.name).join(', ')} of ${where}; on ALB a pool is one target group, whose weight moves as one: give each pool the targets of one group (e.g. ${pool.name}=${own?.name}/*)`,
    );
  }
  for (const group of groups) {
    const in_ = byPool.filter((p) => p.groups.includes(group)).map((p) => p.pool.name);
    if (in_.length > 1)
      problems.push(
        `pools: target group ${group.name} is in both pools (${in_.join(', ')}); ALB weighs target groups, not targets: give each pool a target group of its own`,
      );
    else if (in_.length === 0 && group.weight > 0)
      problems.push(
        `pools: target group ${group.name} has weight ${group.weight} (${share(group.weight, total)} of the traffic) in the forward action of ${where} and is in neither pool, so it would keep that share while the rollout reports all traffic moved; set its weight to 0 or remove it from the forward action (${modify}), or make it one of the pools`,
      );
  }
  return problems;
}

/**
 * Groups holding traffic outside the pools' groups (`inPools`, by name), as `shop-legacy weight 10 (9.1% of the
 * traffic)`: someone gave a third group weight while the rollout ran. Empty when every weighted group is a pool's.
 */
export function trafficOutside(groups: readonly WeightedGroup[], inPools: ReadonlySet<string>): string[] {
  const total = groups.reduce((sum, g) => sum + g.weight, 0);
  return groups
    .filter((g) => g.weight > 0 && !inPools.has(g.name))
    .map((g) => `${g.name} weight ${g.weight} (${share(g.weight, total)} of the traffic)`);
}

/** The forward action's weights as read, e.g. `shop-blue 90, shop-green 10, shop-legacy 10`. */
export function weightsRead(groups: readonly WeightedGroup[]): string {
  return groups.map((g) => `${g.name} ${g.weight}`).join(', ');
}
