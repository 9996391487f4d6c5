/**
 * Blue-green and canary: deploy to the idle pool and verify it while it has no traffic, then move traffic in the
 * plan's steps (one call each), judging every step by analysis windows against the stable pool. A failed window
 * moves all traffic back to the stable pool in one call. Blue-green is the one-step case.
 */
import * as core from '@actions/core';
import type { AdminState, Change, Counters, Server } from '../model/server.js';
import { formatPercent } from '../model/format.js';
import { errorMessage } from '../model/errors.js';
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

export interface ShiftOptions {
  /** The first step to run (0 for a new rollout; after the paused step for promote). */
  readonly fromStep: number;
  /** The weights that put all traffic on the stable pool (a promote reads them from the rollout record). */
  readonly stable?: readonly Change[];
}

function totals(counters: Map<string, Counters>, servers: readonly Server[]): number {
  return servers.reduce((sum, s) => sum + (counters.get(s.id)?.requests ?? 0), 0);
}

/** One blue-green or canary rollout: what it has done so far, and the named steps that move it on. */
class Shift {
  private readonly live: readonly Server[];
  private readonly idle: readonly Server[];
  private readonly all: readonly Server[];
  private readonly versions: Map<string, ServerVersion>;
  private readonly weights: Map<string, number>;
  private readonly stable: readonly Change[];
  private readonly stages: readonly ShiftStage[];
  private readonly steps: StepReport[] = [];
  private readonly shares: { at: Date; share: number }[] = [];
  /** The new version's share of traffic, in percent, as the load balancer last took it. */
  private share: number;
  /** Counters when traffic started to move, for the new version's share of all requests. */
  private before: Map<string, Counters> | undefined;

  constructor(
    private readonly ctx: EngineContext,
    plan: Plan,
    private readonly roles: PoolRoles,
    private readonly options: ShiftOptions,
  ) {
    this.live = roles.live.servers;
    this.idle = roles.idle.servers;
    this.all = [...this.live, ...this.idle];
    const resuming = options.fromStep > 0;
    this.versions = new Map(this.all.map((s) => [s.id, resuming && this.idle.includes(s) ? 'new' : 'old']));
    this.weights = new Map(this.all.map((s) => [s.id, s.weight]));
    this.stable = options.stable ?? [
      ...this.live.map((s) => ({ server: s.id, weight: s.weight })),
      ...this.idle.map((s) => ({ server: s.id, weight: 0 })),
    ];
    this.stages = plan.stages.filter((s): s is ShiftStage => s.kind === 'shift');
    this.share = resuming ? (this.stages[options.fromStep - 1]?.achieved ?? 0) : 0;
  }

  async run(): Promise<ShiftOutcome> {
    const { hooks } = this.ctx;
    const liveName = this.roles.live.name;
    const idleName = this.roles.idle.name;
    if (this.options.fromStep === 0) {
      const failure = await this.deployIdle();
      if (failure !== undefined) {
        hooks.checkpoint(undefined);
        return this.outcome(
          'failed',
          `The new version failed its checks on pool ${idleName} before taking any traffic: ${failure}. Pool ${liveName} still serves all traffic.`,
          liveName,
        );
      }
    }
    this.before = await this.ctx.driver.counters(this.all.map((s) => s.id));
    this.shares.push({ at: new Date(), share: this.share });
    hooks.checkpoint(this.stable);
    try {
      for (const [i, stage] of this.stages.entries()) {
        if (i < this.options.fromStep) continue;
        const failure = await this.runStep(i, stage);
        if (failure !== undefined) {
          const at = this.share;
          await this.restoreStable(`rollback: all traffic back on ${liveName}`);
          return this.outcome(
            'rolled-back',
            `Rolled back at ${formatPercent(at)} on ${idleName}: ${failure}. All traffic is back on ${liveName}.`,
            liveName,
          );
        }
        if (stage.wait.kind === 'approval') {
          // A paused rollout is left as it is: nothing for the post step to restore.
          hooks.checkpoint(undefined);
          return this.outcome(
            'paused',
            `Paused at ${formatPercent(this.share)} on ${idleName} (step ${i + 1}/${this.stages.length}), waiting for approval: run this action with action: promote to continue, or action: abort to send all traffic back to ${liveName}.`,
            liveName,
          );
        }
      }
    } catch (error) {
      return this.stopped(errorMessage(error));
    }
    hooks.checkpoint(undefined);
    return this.outcome(
      'succeeded',
      `All traffic is on ${idleName}, version ${this.ctx.settings.version}; ${liveName} stays warm at weight 0 for an instant switch back.`,
      idleName,
    );
  }

  /** The new version on the idle pool, verified before it has any traffic; returns why it failed, if it did. */
  private deployIdle(): Promise<string | undefined> {
    const { ctx, idle } = this;
    const { settings, driver, timeline } = ctx;
    const pool = this.roles.idle.name;
    return core.group(
      `Deploy ${settings.version} to idle pool ${pool}: ${idle.map((s) => s.id).join(', ')}`,
      async () => {
        await ctx.hooks.stage(`Deploying ${settings.version} to idle pool ${pool}`);
        // The live pool is untouched while the idle one is out of traffic: stopped now, nothing needs restoring.
        ctx.hooks.checkpoint([]);
        await this.setState(idle, 'maint', 'out of traffic for the deploy');
        const update = await updateServers(
          ctx,
          idle,
          (id, v) => this.versions.set(id, v),
          (servers, admin, why) => this.setState(servers, admin, why),
          pool,
        );
        if (update.failed.size) {
          const failed = idle.filter((s) => update.failed.has(s.id));
          (await rollBack(settings, failed, timeline, pool, ctx.signal)).forEach((v, id) => this.versions.set(id, v));
          return [...update.failed].map(([id, why]) => `${id}: ${why}`).join('; ');
        }
        await driver.apply(idle.map((s) => ({ server: s.id, admin: s.admin, weight: 0 })));
        timeline.note(
          `${idle.map((s) => s.id).join(', ')}: verified, back to ${idle.map((s) => s.admin).join(', ')} at weight 0`,
        );
        return undefined;
      },
    );
  }

  /** Step i: its share of traffic in one call, then analysis windows until the step's pause is over. */
  private async runStep(i: number, stage: ShiftStage): Promise<string | undefined> {
    const { ctx, roles } = this;
    const target = stage.weights;
    if (!target) throw new Error('internal: a shift stage without weights');
    const started = new Date();
    const windows: StepReport['windows'][number][] = [];
    const title = `Step ${i + 1}/${this.stages.length}: ${formatPercent(stage.weight)} of traffic on ${roles.idle.name}`;
    const failure = await core.group(title, async () => {
      await ctx.hooks.stage(title);
      const achieved = stage.achieved ?? stage.weight;
      await this.setWeights(
        [...target].map(([server, weight]) => ({ server, weight })),
        achieved,
        `${formatPercent(achieved)} on ${roles.idle.name}`,
      );
      const pauseMs = stage.wait.kind === 'duration' ? stage.wait.ms : 0;
      while (windows.length < stage.windows || Date.now() - started.getTime() < pauseMs) {
        const subjects = {
          watched: this.idle,
          stable: this.share < 100 ? this.live : undefined,
          pool: roles.idle.name,
        };
        const result = await watchWindow(ctx.driver, ctx.prober, subjects, ctx.settings, ctx.signal);
        const comparison = result.stable
          ? `; ${roles.live.name} (stable) in the same window: ${describeWindow({ ...result.stable, probesPassed: 0, probesFailed: 0, probeFailStreak: 0, elapsedMs: 0 })}`
          : '';
        const verdict = `${roles.idle.name} (new): ${result.verdict.summary}${comparison}`;
        windows.push({ data: result.data, stable: result.stable, latencies: result.latencies, verdict });
        ctx.timeline.note(
          `window ${windows.length} at ${formatPercent(this.share)}: ${result.verdict.kind}: ${verdict}`,
        );
        if (result.verdict.kind === 'fail') return verdict;
      }
      return undefined;
    });
    this.steps.push({
      index: i + 1,
      weight: stage.weight,
      achieved: stage.achieved ?? stage.weight,
      startedAt: started,
      durationMs: Date.now() - started.getTime(),
      windows,
      passed: failure === undefined,
    });
    return failure;
  }

  /** All traffic back on the stable pool in one call; the checkpoint is cleared once the load balancer took it. */
  private async restoreStable(why: string): Promise<void> {
    await this.setWeights(this.stable, 0, why);
    this.ctx.hooks.checkpoint(undefined);
  }

  /** Cancelled, timed out, or the load balancer failed under us: put traffic back on the stable pool if we can. */
  private async stopped(why: string): Promise<ShiftOutcome> {
    const liveName = this.roles.live.name;
    if (this.share === 0) {
      this.ctx.hooks.checkpoint(undefined);
      return this.outcome(
        'failed',
        `Stopped before any traffic moved: ${why}. Pool ${liveName} still serves all traffic.`,
        liveName,
      );
    }
    try {
      await this.restoreStable(`stopped: all traffic back on ${liveName}`);
      return this.outcome(
        'failed',
        `Stopped at step ${this.steps.length + 1}: ${why}. All traffic was moved back to ${liveName}.`,
        liveName,
      );
    } catch (restoreError) {
      // The checkpoint still holds the stable weights: the post step tries again.
      const left = [...this.weights].map(([id, w]) => `${id}=${w}`).join(' ');
      this.before = undefined;
      return this.outcome(
        'failed',
        `Stopped at ${formatPercent(this.share)} on ${this.roles.idle.name}: ${why}. Moving traffic back also failed (${errorMessage(restoreError)}), so traffic is left split: ${left}. ` +
          `Restore it ${this.ctx.driver.manualSteps(this.stable)}`,
        liveName,
      );
    }
  }

  private async setState(servers: readonly Server[], admin: AdminState, why: string): Promise<void> {
    await this.ctx.driver.apply(servers.map((s) => ({ server: s.id, admin })));
    this.ctx.timeline.note(`${servers.map((s) => s.id).join(', ')}: state ${admin} (${why})`);
  }

  /**
   * Moves traffic in one call: the pools' shares where the load balancer splits between pools itself, else the
   * server weights. The new share counts only once the load balancer took it.
   */
  private async setWeights(changes: readonly Change[], share: number, why: string): Promise<void> {
    const { driver, timeline } = this.ctx;
    const sent = new Date();
    if (driver.capabilities.nativeSplit && driver.split) {
      const { live, idle } = this.roles;
      await driver.split([
        { pool: live.name, servers: this.live.map((s) => s.id), percent: 100 - share },
        { pool: idle.name, servers: this.idle.map((s) => s.id), percent: share },
      ]);
      timeline.note(
        `split ${live.name}=${formatPercent(100 - share)} ${idle.name}=${formatPercent(share)} (${why})`,
        sent,
      );
    } else {
      await driver.apply(changes);
      changes.forEach((c) => this.weights.set(c.server, c.weight ?? 0));
      timeline.note(`weights ${changes.map((c) => `${c.server}=${c.weight}`).join(' ')} (${why})`, sent);
    }
    this.share = share;
    this.shares.push({ at: new Date(), share });
  }

  private async outcome(result: ShiftOutcome['result'], message: string, livePool: string): Promise<ShiftOutcome> {
    this.shares.push({ at: new Date(), share: this.share });
    let newShare: ShiftOutcome['newShare'];
    if (this.before) {
      const after = await this.ctx.driver.counters(this.all.map((s) => s.id)).catch(() => undefined);
      if (after) {
        const total = totals(after, this.all) - totals(this.before, this.all);
        newShare = { requests: totals(after, this.idle) - totals(this.before, this.idle), total };
      }
    }
    return {
      result,
      message,
      livePool,
      weight: this.share,
      steps: this.steps,
      shares: this.shares,
      newShare,
      servers: this.all.map((s) => ({
        id: s.id,
        pool: this.idle.includes(s) ? this.roles.idle.name : this.roles.live.name,
        version: this.versions.get(s.id) ?? 'old',
        weight: this.weights.get(s.id) ?? 0,
      })),
    };
  }
}

export function runShift(
  ctx: EngineContext,
  plan: Plan,
  roles: PoolRoles,
  options: ShiftOptions = { fromStep: 0 },
): Promise<ShiftOutcome> {
  return new Shift(ctx, plan, roles, options).run();
}
