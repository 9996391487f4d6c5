/**
 * Opening, updating and closing a preview: requests that carry the key reach one server; nobody else's traffic
 * moves. A new server is verified before the key routes to it, the route is switched in one step, and only then are
 * the key's earlier servers drained and removed, so the key never routes nowhere.
 */
import * as core from '@actions/core';
import { formatPercent } from '../../model/format.js';
import type { Server } from '../../model/server.js';
import type { Driver, PreviewRouting } from '../../lb/driver.js';
import { waitLbHealthy } from '../gates.js';
import { deployAndProbe } from '../update.js';
import type { EngineContext } from '../context.js';
import { InputError } from '../../model/errors.js';
import { canaryName, chooseServer, ownedBy } from './names.js';
import { runPreviewCanary, type CanaryResult } from './canary.js';
import { readServer, retire } from './servers.js';

export interface PreviewOutcome {
  /** rolled-back: the preview's canary failed and was pulled out of real traffic (the key still reaches it). */
  readonly result: 'succeeded' | 'failed' | 'rolled-back';
  readonly key: string;
  /** Where the key routes at the end: the new server, the previous one when the new one failed, or none. */
  readonly routedTo: Server | undefined;
  /** Whether routedTo runs this run's version. */
  readonly current: boolean;
  /** Servers of the key removed by this run. */
  readonly removed: readonly string[];
  /** The one-line story, for the log, the deployment status and the comment. */
  readonly message: string;
  /** The new server's health when it failed, in words. */
  readonly failure?: string;
  /** With preview-canary: how the preview did on real traffic. */
  readonly canary?: CanaryResult;
  /** Whether the link `?preview=KEY` sets the cookie (false: it reaches the preview for that request only). */
  readonly linkSetsCookie?: boolean;
}

/** The driver's preview routing, after checking the load balancer is set up for it (reads only). */
export async function previewRouting(driver: Driver, purpose: 'open' | 'close'): Promise<PreviewRouting> {
  const routing = driver.previews;
  if (!routing) throw new InputError(['load-balancer: this load balancer cannot route previews']);
  const problems = await routing.check(purpose);
  if (problems.length) throw new InputError(problems);
  return routing;
}

/** deploy-command, direct probes, then the load balancer's own check; a server in maint is brought to ready. */
async function verify(ctx: EngineContext, server: Server): Promise<void> {
  const { driver, timeline } = ctx;
  const deadline = await deployAndProbe(ctx, server, undefined);
  if (server.admin === 'maint') {
    // Checks do not run in maint; in drain they do, and weight 0 keeps everyone else's traffic away regardless.
    await driver.apply([{ server: server.id, admin: 'drain' }]);
    timeline.note(`${server.id}: drain (health checks start)`);
  }
  const unhealthy = await waitLbHealthy(driver, [server.id], deadline, ctx.signal);
  const status = unhealthy.get(server.id);
  if (status) throw new Error(`the load balancer's own check did not pass within startup-timeout (${status})`);
  if (server.admin !== 'ready') await driver.apply([{ server: server.id, admin: 'ready' }]);
  const checked = await readServer(driver, server.id);
  timeline.note(`${server.id}: healthy (${checked.check?.status ?? 'no check'}), ready`);
}

/** The existing server `targets` names: exactly one, in the preview backend, serving no other key. */
async function targetServer(
  ctx: EngineContext,
  routing: PreviewRouting,
  routes: Map<string, string[]>,
  key: string,
): Promise<Server> {
  const targets = ctx.settings.previewTargets ?? [];
  const found = await ctx.driver.servers(targets);
  const list = targets.map((t) => t.text).join(', ');
  if (found.length !== 1) {
    throw new InputError([
      `targets: ${list} names ${found.length} servers (${found.map((s) => s.id).join(', ') || 'none'}); a preview routes to exactly one`,
    ]);
  }
  const server = found[0] as Server;
  if (server.backend !== routing.backend) {
    throw new InputError([
      `targets: ${server.id} is not in the preview backend ${routing.backend}, where the preview-key rule routes (see preview-backend)`,
    ]);
  }
  const other = [...routes].find(([k, ids]) => k !== key && ids.includes(server.id));
  if (other)
    throw new InputError([
      `targets: ${server.id} already serves preview ${other[0]}; close that preview first or pick another server`,
    ]);
  return server;
}

export async function openPreview(ctx: EngineContext, routing: PreviewRouting): Promise<PreviewOutcome> {
  const { settings, driver, timeline } = ctx;
  const key = settings.previewKey;
  const routes = await routing.routes();
  const before = routes.get(key) ?? [];
  const backendServers = await routing.servers();
  const owned = ownedBy(key, backendServers);
  core.info(
    `${key} routes to ${before.join(', ') || 'nothing'} now; servers of ${key}: ${owned.map((s) => `${s.id} ${s.address}`).join(', ') || 'none'}`,
  );

  let candidate: Server;
  let registered = false;
  if (settings.previewTargets) {
    candidate = await targetServer(ctx, routing, routes, key);
    if (candidate.weight !== 0) {
      // Weight 0: only the key's rule reaches it, never the backend's load balancing (another preview's fallback).
      await driver.apply([{ server: candidate.id, weight: 0 }]);
      timeline.note(`${candidate.id}: weight ${candidate.weight} -> 0 (reached only by its preview key)`);
    }
  } else {
    const choice = chooseServer(key, settings.version, settings.previewAddress, backendServers);
    if (choice.kind === 'reuse') {
      candidate = choice.server;
      timeline.note(
        `${candidate.id} (${candidate.address}) already registered for ${settings.version}: checking it again`,
      );
    } else {
      await routing.register(`${routing.backend}/${choice.name}`, settings.previewAddress, {
        intervalMs: settings.probe.intervalMs,
        rise: settings.probe.healthyThreshold,
        fall: settings.probe.unhealthyThreshold,
      });
      registered = true;
      candidate = await readServer(driver, `${routing.backend}/${choice.name}`);
      timeline.note(`${candidate.id} registered at ${settings.previewAddress} (maint, weight 0)`);
    }
  }

  await ctx.hooks.stage(`checking ${candidate.id}`);
  try {
    await verify(ctx, candidate);
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    const why = (error as Error).message;
    timeline.note(`${candidate.id}: failed its checks: ${why}`);
    if (registered) await retire(ctx, routing, [candidate]);
    const previous = before[0] ? await readServer(driver, before[0]).catch(() => undefined) : undefined;
    const keeps = previous
      ? `${key} still routes to ${previous.id}, the previous build`
      : `${key} routes nowhere: its requests get the normal site`;
    return {
      result: 'failed',
      key,
      routedTo: previous,
      current: false,
      removed: registered ? [candidate.id] : [],
      failure: why,
      message: `${settings.version} failed its checks on ${candidate.id} (${why}); ${keeps}`,
    };
  }

  // Also when the key routes there already: a route of several parts (ALB's rules) is completed where a run that
  // died left it half made.
  await routing.route(key, candidate.id);
  if (!(before.length === 1 && before[0] === candidate.id))
    timeline.note(`${key} -> ${candidate.id}${before.length ? ` (was ${before.join(', ')})` : ''}`);
  const stale = owned.filter((s) => s.id !== candidate.id);
  const removed = await retire(ctx, routing, stale);
  const routedTo = await readServer(driver, candidate.id);
  const routed = `${key} routes to ${routedTo.id} (${routedTo.address}, ${settings.version})${removed.length ? `; removed ${removed.join(', ')}` : ''}`;
  if (!settings.previewCanary) return { result: 'succeeded', key, routedTo, current: true, removed, message: routed };
  await ctx.hooks.stage(`canary: ${settings.previewCanary.percent}% of ${settings.previewCanary.backend}`);
  const canary = await runPreviewCanary(ctx, routing, routedTo, settings.previewCanary);
  const share = `${formatPercent(canary.share, 'fixed')} of ${canary.backend}'s traffic`;
  return canary.passed
    ? {
        result: 'succeeded',
        key,
        routedTo,
        current: true,
        removed,
        canary,
        message: `${routed}; canary passed on ${share} (${canary.verdict}) and was taken out again`,
      }
    : {
        result: 'rolled-back',
        key,
        routedTo,
        current: true,
        removed,
        canary,
        message: `${settings.version} failed as a canary on ${share} (${canary.verdict}) and was pulled out of real traffic; ${key} still reaches it`,
      };
}

export async function closePreview(ctx: EngineContext, routing: PreviewRouting): Promise<PreviewOutcome> {
  const key = ctx.settings.previewKey;
  const before = (await routing.routes()).get(key) ?? [];
  // The key's servers in the preview backend, and by their exact canary names a canary an interrupted run left in a
  // backend of real traffic: never a name pattern there (a real server may be named like `KEY:PORT`).
  const previews = ownedBy(key, await routing.servers());
  const names = previews.map((s) => canaryName(s.name));
  const canaries = names.length
    ? await ctx.driver.servers(names.map((name) => ({ text: `*/${name}`, backend: '*', server: name })))
    : [];
  const owned = [...previews, ...canaries.filter((s) => s.backend !== routing.backend)];
  if (before.length === 0 && owned.length === 0) {
    return {
      result: 'succeeded',
      key,
      routedTo: undefined,
      current: false,
      removed: [],
      message: `${key} has no preview on the load balancer: nothing to close`,
    };
  }
  // Also without a route: a build that never got one may still be held for its health check (ALB's parked rule).
  await routing.unroute(key);
  if (before.length)
    ctx.timeline.note(`${key}: route to ${before.join(', ')} removed; its requests get the normal site`);
  const removed = await retire(ctx, routing, owned);
  const kept = before.filter((id) => !removed.includes(id));
  return {
    result: 'succeeded',
    key,
    routedTo: undefined,
    current: false,
    removed,
    message: `${key} closed: no route${removed.length ? `; removed ${removed.join(', ')}` : ''}${kept.length ? `; ${kept.join(', ')} (named by targets) left in place` : ''}`,
  };
}
