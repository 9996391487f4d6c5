/**
 * Blue-green and canary: deploy to the idle pool and verify it while it has no traffic, then move traffic in the
 * plan's steps (one batched call each), judging every step by analysis windows against the stable pool. A failed
 * window moves all traffic back to the stable pool in one call. Blue-green is the one-step case.
 */
import * as core from '@actions/core';
import type { AdminState, Change, Counters, Server } from '../model/server.js';
import { describeWindow, type WindowData } from '../analysis/window.js';
import type { Plan, Stage } from '../plan/plan.js';
import type { PoolRoles } from '../plan/pools.js';
import { watchWindow } from './gates.js';
import { rollBack, updateServers, type ServerVersion } from './update.js';
import type { EngineContext } from './context.js';

export interface StepReport {
  readonly index: number;
  readonly weight: number;
  readonly achieved: number;
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly windows: readonly {
    readonly data: WindowData;
    readonly stable: { requests: number; failures: number } | undefined;
    readonly latencies: readonly number[];
    readonly verdict: string;
  }[];
  readonly passed: boolean;
}

export interface ShiftOutcome {
  readonly result: 'succeeded' | 'rolled-back' | 'failed' | 'paused';
  readonly message: string;
  readonly livePool: string;
  /** The new version's share of traffic at the end, in percent. */
  readonly weight: number;
  readonly steps: readonly StepReport[];
  /** The new version's share of traffic each time it changed. */
  readonly shares: readonly { readonly at: Date; readonly share: number }[];
  readonly servers: readonly {
    readonly id: string;
    readonly pool: string;
    readonly version: ServerVersion;
    readonly weight: number;
  }[];
  /** Of all requests both pools served from the first shift to the end, the share the new version answered. */
  readonly newShare: { readonly requests: number; readonly total: number } | undefined;
}

type ShiftStage = Extract<Stage, { kind: 'shift' }>;

function pct(value: number): string {
  return `${Math.round(value * 10) / 10}%`;
}

function totals(counters: Map<string, Counters>, servers: readonly Server[]): number {
  return servers.reduce((sum, s) => sum + (counters.get(s.id)?.requests ?? 0), 0);
}

export interface ShiftOptions {
  /** The first step to run (0 for a new rollout; after the paused step for promote). */
  readonly fromStep: number;
  /** The weights that put all traffic on the stable pool (a promote reads them from the rollout record). */
  readonly stable?: readonly Change[];
}

export async function runShift(
  ctx: EngineContext,
  plan: Plan,
  roles: PoolRoles,
  options: ShiftOptions = { fromStep: 0 },
): Promise<ShiftOutcome> {
  const { settings, driver, timeline } = ctx;
  const live = roles.live.servers;
  const idle = roles.idle.servers;
  const all = [...live, ...idle];
  const resuming = options.fromStep > 0;
  const versions = new Map<string, ServerVersion>(all.map((s) => [s.id, resuming && idle.includes(s) ? 'new' : 'old']));
  const weights = new Map<string, number>(all.map((s) => [s.id, s.weight]));
  const stable: readonly Change[] = options.stable ?? [
    ...live.map((s) => ({ server: s.id, weight: s.weight })),
    ...idle.map((s) => ({ server: s.id, weight: 0 })),
  ];
  const steps: StepReport[] = [];
  const stages = plan.stages.filter((s): s is ShiftStage => s.kind === 'shift');
  let share = resuming ? (stages[options.fromStep - 1]?.achieved ?? 0) : 0;
  const shares: { at: Date; share: number }[] = [];

  const setState = async (servers: readonly Server[], admin: AdminState, why: string) => {
    await driver.apply(servers.map((s) => ({ server: s.id, admin })));
    timeline.note(`${servers.map((s) => s.id).join(', ')}: state ${admin} (${why})`);
  };
  /** Sets the weights in one call; the new share counts only once the load balancer took it. */
  const setWeights = async (changes: readonly Change[], newShare: number, why: string) => {
    await driver.apply(changes);
    changes.forEach((c) => weights.set(c.server, c.weight ?? 0));
    share = newShare;
    shares.push({ at: new Date(), share });
    timeline.note(`weights ${changes.map((c) => `${c.server}=${c.weight}`).join(' ')} (${why})`);
  };
  const outcome = async (
    result: ShiftOutcome['result'],
    message: string,
    livePool: string,
    before?: Map<string, Counters>,
  ): Promise<ShiftOutcome> => {
    shares.push({ at: new Date(), share });
    let newShare: ShiftOutcome['newShare'];
    if (before) {
      const after = await driver.counters(all.map((s) => s.id)).catch(() => undefined);
      if (after) {
        const total = totals(after, all) - totals(before, all);
        newShare = { requests: totals(after, idle) - totals(before, idle), total };
      }
    }
    return {
      result,
      message,
      livePool,
      weight: share,
      steps,
      shares,
      newShare,
      servers: all.map((s) => ({
        id: s.id,
        pool: idle.includes(s) ? roles.idle.name : roles.live.name,
        version: versions.get(s.id) ?? 'old',
        weight: weights.get(s.id) ?? 0,
      })),
    };
  };

  // 1. The new version on the idle pool, verified before it has any traffic (a promote finds it there already).
  const deployed = resuming
    ? undefined
    : await core.group(
        `Deploy ${settings.version} to idle pool ${roles.idle.name}: ${idle.map((s) => s.id).join(', ')}`,
        async () => {
          await ctx.hooks.stage(`Deploying ${settings.version} to idle pool ${roles.idle.name}`);
          // The live pool is untouched while the idle one is out of traffic: stopped now, nothing needs restoring.
          ctx.hooks.checkpoint([]);
          await setState(idle, 'maint', 'out of traffic for the deploy');
          const update = await updateServers(ctx, idle, (id, v) => versions.set(id, v), setState, roles.idle.name);
          if (update.failed.size) {
            const failed = idle.filter((s) => update.failed.has(s.id));
            (await rollBack(settings, failed, timeline, roles.idle.name)).forEach((v, id) => versions.set(id, v));
            return [...update.failed].map(([id, why]) => `${id}: ${why}`).join('; ');
          }
          await driver.apply(idle.map((s) => ({ server: s.id, admin: s.admin, weight: 0 })));
          timeline.note(
            `${idle.map((s) => s.id).join(', ')}: verified, back to ${idle.map((s) => s.admin).join(', ')} at weight 0`,
          );
          return undefined;
        },
      );
  if (deployed !== undefined) {
    ctx.hooks.checkpoint(undefined);
    return outcome(
      'failed',
      `The new version failed its checks on pool ${roles.idle.name} before taking any traffic: ${deployed}. Pool ${roles.live.name} still serves all traffic.`,
      roles.live.name,
    );
  }

  // 2. Traffic moves step by step; every step is judged by at least one analysis window.
  const before = await driver.counters(all.map((s) => s.id));
  shares.push({ at: new Date(), share });
  ctx.hooks.checkpoint(stable);
  try {
    for (const [i, stage] of stages.entries()) {
      if (i < options.fromStep) continue;
      const target = stage.weights;
      if (!target) throw new Error('internal: a shift stage without weights');
      const started = new Date();
      const windows: StepReport['windows'][number][] = [];
      const failure = await core.group(
        `Step ${i + 1}/${stages.length}: ${pct(stage.weight)} of traffic on ${roles.idle.name}`,
        async () => {
          await ctx.hooks.stage(
            `Step ${i + 1}/${stages.length}: ${pct(stage.weight)} of traffic on ${roles.idle.name}`,
          );
          await setWeights(
            [...target].map(([server, weight]) => ({ server, weight })),
            stage.achieved ?? stage.weight,
            `${pct(stage.achieved ?? stage.weight)} on ${roles.idle.name}`,
          );
          const pauseMs = stage.wait.kind === 'duration' ? stage.wait.ms : 0;
          while (windows.length < stage.windows || Date.now() - started.getTime() < pauseMs) {
            const result = await watchWindow(
              driver,
              ctx.prober,
              { watched: idle, stable: share < 100 ? live : undefined, pool: roles.idle.name },
              settings,
              ctx.signal,
            );
            const comparison = result.stable
              ? `; ${roles.live.name} (stable) in the same window: ${describeWindow({ requests: result.stable.requests, failures: result.stable.failures, probesPassed: 0, probesFailed: 0, probeFailStreak: 0, elapsedMs: 0 })}`
              : '';
            const verdict = `${roles.idle.name} (new): ${result.verdict.summary}${comparison}`;
            windows.push({ data: result.data, stable: result.stable, latencies: result.latencies, verdict });
            timeline.note(`window ${windows.length} at ${pct(share)}: ${result.verdict.kind}: ${verdict}`);
            if (result.verdict.kind === 'fail') return verdict;
          }
          return undefined;
        },
      );
      steps.push({
        index: i + 1,
        weight: stage.weight,
        achieved: stage.achieved ?? stage.weight,
        startedAt: started,
        durationMs: Date.now() - started.getTime(),
        windows,
        passed: failure === undefined,
      });
      if (failure !== undefined) {
        const at = share;
        await setWeights(stable, 0, `rollback: all traffic back on ${roles.live.name}`);
        ctx.hooks.checkpoint(undefined);
        return outcome(
          'rolled-back',
          `Rolled back at ${pct(at)} on ${roles.idle.name}: ${failure}. All traffic is back on ${roles.live.name}.`,
          roles.live.name,
          before,
        );
      }
      if (stage.wait.kind === 'approval') {
        // A paused rollout is left as it is: nothing for the post step to restore.
        ctx.hooks.checkpoint(undefined);
        return outcome(
          'paused',
          `Paused at ${pct(share)} on ${roles.idle.name} (step ${i + 1}/${stages.length}), waiting for approval: run this action with action: promote to continue, or action: abort to send all traffic back to ${roles.live.name}.`,
          roles.live.name,
          before,
        );
      }
    }
  } catch (error) {
    // Cancelled, timed out, or the load balancer failed under us: put traffic back on the stable pool if we can.
    const why = error instanceof Error ? error.message : String(error);
    if (share === 0) {
      ctx.hooks.checkpoint(undefined);
      return outcome(
        'failed',
        `Stopped before any traffic moved: ${why}. Pool ${roles.live.name} still serves all traffic.`,
        roles.live.name,
        before,
      );
    }
    try {
      await setWeights(stable, 0, `stopped: all traffic back on ${roles.live.name}`);
      ctx.hooks.checkpoint(undefined);
      return outcome(
        'failed',
        `Stopped at step ${steps.length + 1}: ${why}. All traffic was moved back to ${roles.live.name}.`,
        roles.live.name,
        before,
      );
    } catch (restoreError) {
      // The checkpoint still holds the stable weights: the post step tries again.
      const left = [...weights].map(([id, w]) => `${id}=${w}`).join(' ');
      return outcome(
        'failed',
        `Stopped at ${pct(share)} on ${roles.idle.name}: ${why}. Moving traffic back also failed (${(restoreError as Error).message}), so traffic is left split: ${left}. ` +
          `Restore it ${driver.manualSteps(stable)}`,
        roles.live.name,
      );
    }
  }
  ctx.hooks.checkpoint(undefined);
  return outcome(
    'succeeded',
    `All traffic is on ${roles.idle.name}, version ${settings.version}; ${roles.live.name} stays warm at weight 0 for an instant switch back.`,
    roles.idle.name,
    before,
  );
}
