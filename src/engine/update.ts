/**
 * Puts the new version on servers that are already out of traffic (maint), and verifies it before they may take
 * traffic again: deploy-command, direct probes, then drain so the load balancer's own checks resume while new requests
 * still go elsewhere, and a check passed since. Shared by rolling batches and idle pools.
 */
import type { AdminState, Server } from '../model/server.js';
import { errorMessage, LockLost } from '../model/errors.js';
import { probeUrl } from '../probes/http.js';
import type { Settings } from '../settings.js';
import { commandFailure, runCommand } from '../exec.js';
import { waitLbHealthy, waitProbesPass } from './gates.js';
import type { Timeline } from './timeline.js';
import type { EngineContext } from './context.js';

export type ServerVersion = 'old' | 'new' | 'unknown' | 'rolled back';

export interface UpdateResult {
  /** Verified servers, now in drain: ready to be given their traffic back. */
  readonly verified: readonly Server[];
  /** Servers that failed, with why; left in maint. */
  readonly failed: ReadonlyMap<string, string>;
}

/**
 * The new version on one server out of traffic: deploy-command, then healthy-threshold direct probes in a row,
 * within startup-timeout counted from the end of the command. Throws with why the server is not fit; `setVersion`
 * follows what the server runs. Returns the server's deadline (for the load balancer's own check).
 */
/** The lock could not be re-read around a command (the load balancer did not answer): the batch stops, not one server. */
class LockUnread extends Error {}

/** ctx.guard.check, a failure to read the lock made LockUnread (a lost lock stays LockLost). */
async function recheck(ctx: EngineContext, moment: string): Promise<void> {
  try {
    await ctx.guard.check(moment);
  } catch (error) {
    if (error instanceof LockLost) throw error;
    throw new LockUnread(`the lock could not be re-read ${moment} (${errorMessage(error)})`, { cause: error });
  }
}

export async function deployAndProbe(
  ctx: EngineContext,
  server: Server,
  pool: string | undefined,
  setVersion: (id: string, version: ServerVersion) => void = () => undefined,
): Promise<number> {
  const { settings } = ctx;
  if (settings.deployCommand) {
    await recheck(ctx, `before the deploy-command on ${server.id}`);
    setVersion(server.id, 'unknown');
    const result = await runCommand(settings.deployCommand, { server, pool, version: settings.version }, ctx.signal);
    if (result.stopped || result.exitCode !== 0) throw new Error(commandFailure('deploy-command', server.id, result));
    ctx.timeline.note(`${server.id}: deploy-command done`);
    await recheck(ctx, `after the deploy-command on ${server.id}`);
  }
  // startup-timeout starts once the server has the new version: a slow deploy (an image pull) does not eat it.
  const deadline = Date.now() + settings.startupTimeoutMs;
  setVersion(server.id, 'new');
  if (!settings.probe.healthUrl) return deadline;
  await waitProbesPass(ctx.prober, probeUrl(settings.probe.healthUrl, server, pool), settings, deadline, ctx.signal);
  ctx.timeline.note(`${server.id}: passed ${settings.probe.healthyThreshold} direct probes`);
  return deadline;
}

export async function updateServers(
  ctx: EngineContext,
  servers: readonly Server[],
  setVersion: (id: string, version: ServerVersion) => void,
  setState: (servers: readonly Server[], admin: AdminState, why: string) => Promise<void>,
  pool?: string,
): Promise<UpdateResult> {
  const failed = new Map<string, string>();
  const deadlines = new Map<string, number>();
  // Entries at one address are one process (the same app behind two backends): deployed and probed once.
  const byAddress = new Map<string, Server[]>();
  for (const s of servers) byAddress.set(s.address, [...(byAddress.get(s.address) ?? []), s]);
  // Every server's command ends (or is stopped) before this returns: nothing of ours runs on after a cancel.
  const settled = await Promise.allSettled(
    [...byAddress.values()].map(async (group) => {
      const [first] = group as [Server, ...Server[]];
      const setAll = (_id: string, version: ServerVersion) => group.forEach((s) => setVersion(s.id, version));
      try {
        const deadline = await deployAndProbe(ctx, first, pool, setAll);
        group.forEach((s) => deadlines.set(s.id, deadline));
      } catch (error) {
        // A lost lock stops the batch, not one server: another run may be moving them all.
        if (ctx.signal.aborted || error instanceof LockLost || error instanceof LockUnread) throw error;
        group.forEach((s) => failed.set(s.id, (error as Error).message));
      }
    }),
  );
  const stop = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (stop) throw stop.reason;
  const candidates = servers.filter((s) => !failed.has(s.id));
  if (candidates.length) {
    // Checks are paused in maint; in drain they resume while new requests still go elsewhere.
    await setState(candidates, 'drain', "the load balancer's health checks resume, still no new requests");
    const unhealthy = await waitLbHealthy(
      ctx.driver,
      candidates.map((s) => s.id),
      Math.max(...candidates.map((s) => deadlines.get(s.id) ?? 0)),
      ctx.signal,
    );
    for (const [id, status] of unhealthy)
      failed.set(id, `the load balancer's own check did not pass within startup-timeout (${status})`);
  }
  const stillOut = servers.filter((s) => failed.has(s.id));
  if (stillOut.some((s) => candidates.includes(s)))
    await setState(stillOut, 'maint', 'failed its checks, kept out of traffic');
  return { verified: candidates.filter((s) => !failed.has(s.id)), failed };
}

/** Runs rollback-command for each failed server; returns the version each is left on. */
export async function rollBack(
  settings: Settings,
  servers: readonly Server[],
  timeline: Timeline,
  pool?: string,
  signal?: AbortSignal,
): Promise<Map<string, ServerVersion>> {
  const versions = new Map<string, ServerVersion>();
  if (!settings.rollbackCommand) return versions;
  for (const server of servers) {
    const result = await runCommand(settings.rollbackCommand, { server, pool, version: settings.version }, signal);
    versions.set(server.id, result.exitCode === 0 && !result.stopped ? 'rolled back' : 'unknown');
    const what =
      result.stopped || result.exitCode !== 0
        ? commandFailure('rollback-command', server.id, result)
        : 'rollback-command exited 0';
    timeline.note(`${server.id}: ${what}; the server stays out of traffic`);
  }
  return versions;
}
