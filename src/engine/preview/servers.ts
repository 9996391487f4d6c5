/** Reading and removing the servers a preview registered: shared by the preview itself and its canary. */
import type { Server } from '../../model/server.js';
import type { Driver, PreviewRouting } from '../../lb/driver.js';
import { exactSelectors } from '../../model/selectors.js';
import { waitDrained } from '../gates.js';
import type { EngineContext } from '../context.js';

/** One server by id, as the load balancer reports it now. */
export async function readServer(driver: Driver, id: string): Promise<Server> {
  const [server] = await driver.servers(exactSelectors([id]));
  if (!server) throw new Error(`${id} is not on the load balancer any more`);
  return server;
}

/** Every server of a backend. */
export function backendServers(driver: Driver, backend: string): Promise<Server[]> {
  return driver.servers(exactSelectors([`${backend}/*`]));
}

/** Out of traffic (weight 0), drained, into maint, then deleted; returns the ids removed. */
export async function retire(
  ctx: EngineContext,
  routing: PreviewRouting,
  servers: readonly Server[],
): Promise<string[]> {
  if (servers.length === 0) return [];
  const ids = servers.map((s) => s.id);
  // Weight 0 first: a preview's canary in a backend of real traffic may still be taking requests.
  const weighted = servers.filter((s) => s.weight > 0);
  if (weighted.length) await ctx.driver.apply(weighted.map((s) => ({ server: s.id, weight: 0 })));
  const left = await waitDrained(ctx.driver, ids, ctx.settings.drainTimeoutMs, ctx.signal);
  if (left > 0)
    ctx.timeline.note(`${left} requests still in flight on ${ids.join(', ')} after drain-timeout; removing anyway`);
  await ctx.driver.apply(ids.map((id) => ({ server: id, admin: 'maint' as const })));
  for (const id of ids) {
    await routing.unregister(id, ctx.settings.drainTimeoutMs + 5000);
    ctx.timeline.note(`${id}: removed from the load balancer`);
  }
  return ids;
}
