/** Which pool is live (carries traffic) and which is idle (gets the new version). */
import type { Server } from '../model/server.js';
import type { PoolSpec } from '../settings.js';
import type { Advice } from '../lb/driver.js';
import { matchesSelector } from '../model/selectors.js';

export interface PoolState {
  readonly name: string;
  readonly servers: readonly Server[];
}

export interface PoolRoles {
  readonly live: PoolState;
  readonly idle: PoolState;
}

/**
 * Servers of each pool; a server matched by both pools is an error. Pools share one backend, except where the load
 * balancer splits traffic between pools itself (`nativeSplit`, e.g. ALB target groups): its driver says what it needs.
 */
export function assignPools(
  pools: readonly [PoolSpec, PoolSpec],
  servers: readonly Server[],
  nativeSplit = false,
): [PoolState, PoolState] | { error: string } {
  const select = (pool: PoolSpec): PoolState => ({
    name: pool.name,
    servers: servers.filter((s) => pool.selectors.some((sel) => matchesSelector(sel, s.backend, s.name))),
  });
  const states: [PoolState, PoolState] = [select(pools[0]), select(pools[1])];
  for (const state of states) {
    if (state.servers.length === 0) {
      const spec = pools.find((p) => p.name === state.name);
      return {
        error: `pools: pool ${state.name} (${spec?.selectors.map((s) => s.text).join(' ')}) matches no server on the load balancer`,
      };
    }
  }
  const shared = states[0].servers.filter((s) => states[1].servers.some((t) => t.id === s.id));
  if (shared.length)
    return { error: `pools: ${shared.map((s) => s.id).join(', ')} is in both pools; make the selectors disjoint` };
  const backends = new Set([...states[0].servers, ...states[1].servers].map((s) => s.backend));
  if (backends.size !== 1 && !nativeSplit) {
    return {
      error: `pools: traffic is shifted by weights within one backend, but the pools span ${[...backends].join(', ')}; put both pools in one backend`,
    };
  }
  return states;
}

function carriesTraffic(pool: PoolState): boolean {
  return pool.servers.some((s) => s.weight > 0 && s.admin === 'ready');
}

/** The live pool carries weight, the idle one none. Anything else is ambiguous: the user must set it up. */
export function poolRoles(states: readonly [PoolState, PoolState], advice: Advice): PoolRoles | { error: string } {
  const [a, b] = states;
  const aLive = carriesTraffic(a);
  const bLive = carriesTraffic(b);
  if (aLive && !bLive) return { live: a, idle: b };
  if (bLive && !aLive) return { live: b, idle: a };
  const how = `give one pool's servers their weight and take the other's out of rotation (${advice.outOfRotation(b.name)})`;
  if (aLive && bLive) {
    return {
      error: `pools: both ${a.name} and ${b.name} carry traffic, so neither can be the idle pool to deploy to; ${how}`,
    };
  }
  return { error: `pools: neither ${a.name} nor ${b.name} carries traffic; ${how}` };
}
