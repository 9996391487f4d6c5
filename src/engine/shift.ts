/**
 * Blue-green and canary: deploy to the idle pool and verify it while it has no traffic, then move traffic in the
 * plan's steps (one call each), judging every step by analysis windows against the stable pool. A failed window
 * moves all traffic back to the stable pool in one call. Blue-green is the one-step case.
 */
import * as core from '@actions/core';
import type { AdminState, Change, Counters, Server } from '../model/server.js';
import { formatSummary, summarize } from '../model/latency.js';
import { clause, formatPercent } from '../model/format.js';
import { errorMessage, UnconfirmedChange } from '../model/errors.js';
import { retry } from '../model/poll.js';
import type { WindowData } from '../analysis/window.js';
import { describeVerdict, heldReason, type JudgeVerdict } from '../analysis/judge.js';
import type { Plan, Stage } from '../plan/plan.js';
import type { PoolRoles } from '../plan/pools.js';
import { startJudge, watchWindow, type JudgeRun } from './gates.js';
import { rollBack, updateServers, type ServerVersion } from './update.js';
import { NOTHING_IN_FLIGHT, type EngineContext } from './context.js';
import { applyVerified, readBack } from './writes.js';
import { exactSelectors } from '../model/selectors.js';
import type { CheckPoint } from '../model/checks.js';
import type { CheckContext } from '../checks/kind.js';
import { Checks, type CheckRecord, type DuringChecks } from '../checks/runner.js';

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
    /** The answers' latencies the load balancer logged, per pool (ms); absent where it gives none. */
    readonly served?: { readonly canary: readonly number[]; readonly stable: readonly number[] } | undefined;
    readonly verdict: string;
  }[];
  readonly passed: boolean;
  /** Cut off while watching (timeout, cancel, the load balancer failing): it neither passed nor failed. */
  readonly cut?: boolean;
  /** Cut off while the judge was holding it (too little traffic, over the limit, both failing), and why. */
  readonly held?: string;
}

/** `new p50 .. (n=..), stable p50 .. (n=..)` over a step's windows, from the load balancer's latencies. */
export function stepLatency(windows: StepReport['windows']): string | undefined {
  const served = windows.filter((w) => w.served);
  if (!served.length) return undefined;
  const canary = summarize(served.flatMap((w) => w.served?.canary ?? []));
  const stable = summarize(served.flatMap((w) => w.served?.stable ?? []));
  return `${formatSummary(canary)}${stable.count ? `, stable ${formatSummary(stable)}` : ''}`;
}

export interface ShiftOutcome {
  readonly result: 'succeeded' | 'rolled-back' | 'failed' | 'paused';
  readonly message: string;
  /** The message in at most about 140 characters, for a deployment status, where it differs. */
  readonly status?: string;
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
  /** The team's checks: each one's last result per stage. */
  readonly checks?: readonly CheckRecord[];
}

type ShiftStage = Extract<Stage, { kind: 'shift' }>;

export interface ShiftOptions {
  /** The first step to run (0 for a new rollout; after the paused step for promote). */
  readonly fromStep: number;
  /** The weights that put all traffic on the stable pool (a promote reads them from the rollout record). */
  readonly stable?: readonly Change[];
}

/** Putting traffic back is tried this often, this far apart (times the attempt), before the run gives up. */
const RESTORE_ATTEMPTS = 3;
const RESTORE_RETRY_MS = 250;

/**
 * The changes ordered so that weight is added before it is taken away: a batch the load balancer applies only in
 * part (a connection lost half way) then leaves more capacity in traffic, never less.
 */
function makeBeforeBreak(changes: readonly Change[], weights: ReadonlyMap<string, number>): Change[] {
  const delta = (c: Change) => (c.weight ?? 0) - (weights.get(c.server) ?? 0);
  return [...changes].sort((a, b) => delta(b) - delta(a));
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
  /** One evidence process for the whole rollout, fed by every window of every step. */
  private readonly judge: JudgeRun;
  private lastVerdict: JudgeVerdict | undefined;
  /** A change that moves traffic onto the new pool was sent (it may have taken in part even if it failed). */
  private sentTraffic = false;
  private readonly checks: Checks;

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
    this.judge = startJudge(ctx.settings, (text) => ctx.timeline.note(text));
    this.checks = new Checks(ctx.settings.checks ?? []);
  }

  async run(): Promise<ShiftOutcome> {
    const { hooks } = this.ctx;
    const liveName = this.roles.live.name;
    const idleName = this.roles.idle.name;
    if (this.options.fromStep === 0) {
      const failure = (await this.deployIdle()) ?? (await this.checksBeforeTraffic());
      if (failure !== undefined) {
        hooks.checkpoint(NOTHING_IN_FLIGHT);
        return this.outcome(
          'failed',
          `The new version failed its checks on pool ${idleName} before taking any traffic: ${failure}. Pool ${liveName} still serves all traffic.`,
          liveName,
        );
      }
    }
    this.before = await this.ctx.driver.counters(this.all.map((s) => s.id));
    this.shares.push({ at: new Date(), share: this.share });
    hooks.checkpoint({ kind: 'restore', changes: this.stable });
    try {
      for (const [i, stage] of this.stages.entries()) {
        if (i < this.options.fromStep) continue;
        // Cancelled or timed out: no step moves traffic forward any more.
        this.ctx.signal.throwIfAborted();
        const failure = await this.runStep(i, stage);
        if (failure !== undefined) return await this.rollBackTraffic(failure);
        this.reportPassed();
        if (stage.wait.kind === 'approval') {
          // A paused rollout is left as it is: nothing for the post step to restore.
          hooks.checkpoint(NOTHING_IN_FLIGHT);
          return this.outcome(
            'paused',
            `Paused at ${formatPercent(this.share)} on ${idleName} (step ${i + 1}/${this.stages.length}), waiting for approval: run this action with action: promote to continue, or action: abort to send all traffic back to ${liveName}.`,
            liveName,
          );
        }
      }
      const after = await this.runChecks('after', 'after the end', this.stages.length);
      if (after !== undefined) return await this.rollBackTraffic(after);
    } catch (error) {
      // A call the timeout or a cancel cut short that only echoes it ("HAProxy Runtime API failed ...: gave up waiting
      // for ...: timeout 8s reached") stops the run for that reason; a call that says more (what it left) keeps its words.
      const message = errorMessage(error);
      const reason = this.ctx.signal.aborted ? errorMessage(this.ctx.signal.reason) : undefined;
      return this.stopped(reason && message.endsWith(reason) ? reason : message);
    }
    hooks.checkpoint(NOTHING_IN_FLIGHT);
    return this.outcome(
      'succeeded',
      `All traffic is on ${idleName}, version ${this.ctx.settings.version}; ${liveName} stays warm at weight 0 for an instant switch back.`,
      idleName,
    );
  }

  /** All traffic back on the stable pool after a failure (a step's verdict or a check), then the rollback checks. */
  private async rollBackTraffic(failure: string): Promise<ShiftOutcome> {
    const liveName = this.roles.live.name;
    const idleName = this.roles.idle.name;
    const at = this.share;
    const left = await this.tryRestoreStable(`rollback: all traffic back on ${liveName}`);
    const checked = await this.runChecks('rollback', 'rollback', this.steps.length).catch(errorMessage);
    const also = checked ? ` On rollback, ${checked}.` : '';
    if (left) {
      return this.outcome(
        'failed',
        `Rolling back at ${formatPercent(at)} on ${idleName} (${clause(failure)}) failed: ${left}${also}`,
        liveName,
      );
    }
    const outcome = await this.outcome(
      'rolled-back',
      `Rolled back at ${formatPercent(at)} on ${idleName}: ${clause(failure)}. ${this.backOn(liveName, 'is')}${also}`,
      liveName,
    );
    const verdict = this.lastVerdict ? describeVerdict(this.lastVerdict, { short: true }) : failure;
    return { ...outcome, status: `Rolled back at ${formatPercent(at)} on ${idleName}: ${verdict}` };
  }

  private checkContext(point: CheckPoint, step: number): CheckContext {
    return {
      point,
      version: this.ctx.settings.version,
      step,
      steps: this.stages.length,
      share: this.share,
      pool: this.roles.idle.name,
      stablePool: this.roles.live.name,
      servers: this.idle,
      stableServers: this.live,
      ...(this.ctx.settings.checkSecrets ? { secrets: this.ctx.settings.checkSecrets } : {}),
    };
  }

  /** The checks of one point, in a group of their own; why they failed, if they did. */
  private async runChecks(point: CheckPoint, stage: string, step: number): Promise<string | undefined> {
    if (this.checks.at(point).length === 0) return undefined;
    return core.group(`Checks ${stage}`, async () => {
      const failure = await this.checks.runPoint(point, stage, this.checkContext(point, step), this.ctx.signal);
      this.ctx.timeline.note(`checks ${stage}: ${failure ?? 'passed'}`);
      return failure;
    });
  }

  /** The before-traffic checks against the new servers at weight 0; on a failure, rollback-command and checks. */
  private async checksBeforeTraffic(): Promise<string | undefined> {
    const failure = await this.runChecks('before-traffic', 'before traffic', 0);
    if (failure === undefined) return undefined;
    const { settings, timeline, signal } = this.ctx;
    (await rollBack(settings, this.idle, timeline, this.roles.idle.name, signal)).forEach((v, id) =>
      this.versions.set(id, v),
    );
    const checked = await this.runChecks('rollback', 'rollback', 0).catch(errorMessage);
    return checked ? `${failure}; on rollback, ${checked}` : failure;
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
        ctx.hooks.checkpoint({ kind: 'leave' });
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
        // Verified servers are ready at weight 0, whatever state they started in: a maint or drain an earlier run
        // left is never restored, and no traffic reaches them until a step gives them weight.
        const ready = idle.map((s) => ({ server: s.id, admin: 'ready' as const, weight: 0 }));
        this.remember(await applyVerified(driver, ready));
        timeline.note(`${idle.map((s) => s.id).join(', ')}: verified, ready at weight 0`);
        return undefined;
      },
    );
  }

  /** Step i: its share of traffic in one call, then analysis windows until the step's pause is over. */
  private async runStep(i: number, stage: ShiftStage): Promise<string | undefined> {
    const started = new Date();
    const windows: StepReport['windows'][number][] = [];
    const title = `Step ${i + 1}/${this.stages.length}: ${formatPercent(stage.weight)} of traffic on ${this.roles.idle.name}`;
    let failure: string | undefined;
    try {
      failure = await this.stepWithin(i, stage, title, started, windows);
    } catch (error) {
      // Cut off while watching (timeout, cancel, the load balancer failing): the step still gets its row.
      if (windows.length) this.recordStep(i, stage, started, windows, false, true);
      throw error;
    }
    this.recordStep(i, stage, started, windows, failure === undefined);
    return failure;
  }

  /** Step i within its log group: the checks before it, its weights, then its windows. */
  private async stepWithin(
    i: number,
    stage: ShiftStage,
    title: string,
    started: Date,
    windows: StepReport['windows'][number][],
  ): Promise<string | undefined> {
    const { ctx, roles } = this;
    const target = stage.weights;
    if (!target) throw new Error('internal: a shift stage without weights');
    return core.group(title, async () => {
      await ctx.hooks.stage(title);
      // Weight only ever moves onto servers the load balancer reports ready and passing their check.
      const unfit = await this.unfitIdle();
      if (unfit) return unfit;
      if (i === this.stages.length - 1) {
        const refused = await this.runChecks('before-promotion', 'before promotion', i);
        if (refused !== undefined) return `refusing to promote: ${refused}`;
      }
      const achieved = stage.achieved ?? stage.weight;
      await this.setWeights(
        [...target].map(([server, weight]) => ({ server, weight })),
        achieved,
        `${formatPercent(achieved)} on ${roles.idle.name}`,
      );
      const pauseMs = stage.wait.kind === 'duration' ? stage.wait.ms : 0;
      const endsAt = started.getTime() + Math.max(pauseMs, ctx.settings.analysis.intervalMs);
      const checks = this.checks.at('during').length
        ? this.checks.watch(
            `step ${i + 1}/${this.stages.length}`,
            this.checkContext('during', i + 1),
            this.share < 100,
            ctx.signal,
          )
        : undefined;
      try {
        return await this.watchStep(i, title, endsAt, windows, checks);
      } finally {
        await checks?.stop();
      }
    });
  }

  /** The step's row: its windows, and why the judge held it when it neither passed nor failed. */
  private recordStep(
    i: number,
    stage: ShiftStage,
    started: Date,
    windows: StepReport['windows'][number][],
    passed: boolean,
    cut = false,
  ): void {
    const latency = stepLatency(windows);
    if (latency) this.ctx.timeline.note(`step ${i + 1} latency: ${this.roles.idle.name} (new) ${latency}`);
    const held = cut ? heldReason(this.lastVerdict) : undefined;
    this.steps.push({
      index: i + 1,
      weight: stage.weight,
      achieved: stage.achieved ?? stage.weight,
      startedAt: started,
      durationMs: Date.now() - started.getTime(),
      windows,
      passed,
      ...(cut ? { cut } : {}),
      ...(held ? { held } : {}),
    });
  }

  /** Analysis windows of step i (the during checks polled with the judge) until it passes or fails. */
  private async watchStep(
    i: number,
    title: string,
    endsAt: number,
    windows: StepReport['windows'][number][],
    checks: DuringChecks | undefined,
  ): Promise<string | undefined> {
    const { ctx, roles } = this;
    for (;;) {
      const subjects = {
        watched: this.idle,
        stable: this.share < 100 ? this.live : undefined,
        pool: roles.idle.name,
      };
      const result = await watchWindow(
        ctx.driver,
        ctx.prober,
        subjects,
        ctx.settings,
        ctx.signal,
        this.judge,
        { index: i, endsAt },
        checks,
      );
      const verdict = `${roles.idle.name} (new) against ${roles.live.name} (stable): ${result.verdict.summary}`;
      this.lastVerdict = result.checkFailed ? undefined : result.judged;
      windows.push({
        data: result.data,
        stable: result.stable,
        latencies: result.latencies,
        served: result.served,
        verdict,
      });
      ctx.timeline.note(`window ${windows.length} at ${formatPercent(this.share)}: ${result.verdict.kind}: ${verdict}`);
      if (result.verdict.kind === 'fail') return verdict;
      if (result.verdict.kind === 'pass') return undefined;
      // Held past its duration (too little traffic, over the limit, an outage of both): the deployment says why.
      if (result.judged.kind === 'wait' && result.judged.reason !== 'running')
        await ctx.hooks.stage(`${title}: ${describeVerdict(result.judged, { short: true })}`);
    }
  }

  /** The step just run passed: tell the hooks (not awaited, so nothing waits for whoever listens). */
  private reportPassed(): void {
    const step = this.steps.at(-1);
    if (!step) return;
    this.ctx.hooks.passed?.({
      index: step.index,
      of: this.stages.length,
      share: this.share,
      verdict: step.windows.at(-1)?.verdict ?? 'passed',
      requests: step.windows.reduce((n, w) => n + w.data.requests, 0),
      failed: step.windows.reduce((n, w) => n + w.data.failures + w.data.probesFailed, 0),
    });
  }

  /** All traffic back on the stable pool in one call; the checkpoint is cleared once the load balancer took it. */
  private async restoreStable(why: string): Promise<void> {
    await this.setWeights(this.stable, 0, why);
    this.ctx.hooks.checkpoint(NOTHING_IN_FLIGHT);
  }

  /** "All traffic is back on blue.", unless the load balancer read traffic back outside both pools. */
  private backOn(liveName: string, verb: 'is' | 'was moved'): string {
    const outside = this.ctx.driver.trafficOutsidePools?.();
    const where = verb === 'is' ? `is back on ${liveName}` : `was moved back to ${liveName}`;
    return outside ? `The pools' traffic ${where}, but ${outside}.` : `All traffic ${where}.`;
  }

  /**
   * restoreStable, tried again on a refusal or a lost connection (whatever the cancel signal says: putting traffic
   * back is always allowed). Returns undefined once it took, else what was left and how to restore it by hand; the
   * checkpoint then still holds the stable weights, so the post step tries again.
   */
  private async tryRestoreStable(why: string): Promise<string | undefined> {
    let last: unknown;
    try {
      // No signal: putting traffic back is tried whatever the cancel says (the driver bounds its calls after one).
      await retry(
        () => this.restoreStable(why),
        () => true,
        { pause: (n) => RESTORE_RETRY_MS * n, attempts: RESTORE_ATTEMPTS },
      );
      return undefined;
    } catch (error) {
      last = error;
    }
    let unread = '';
    const read = await readBack(
      this.ctx.driver,
      this.all.map((s) => s.id),
      (why) => (unread = why),
    );
    if (read) this.remember(read);
    const left = read
      ? read.map((s) => `${s.id}=${s.weight}${s.admin === 'ready' ? '' : ` (${s.admin})`}`).join(' ')
      : `unknown: the load balancer could not be read back (last known ${[...this.weights].map(([id, w]) => `${id}=${w}`).join(' ')}), as read: ${unread}`;
    const onNew = read?.some((s) => this.idle.some((i) => i.id === s.id) && s.weight > 0 && s.admin === 'ready');
    const where = !read
      ? 'traffic may be left split'
      : onNew
        ? 'traffic is left split'
        : `the new pool has no weight, but the weights are not the stable ones`;
    return (
      `moving traffic back failed ${RESTORE_ATTEMPTS} times (${last instanceof UnconfirmedChange ? last.reason : errorMessage(last)}), so ${where}: ${left}. ` +
      `Restore it ${this.ctx.driver.manualSteps(this.stable)}`
    );
  }

  /** Steps that ended (passed or failed); a step cut off while watching has its row but did not end. */
  private stepsEnded(): number {
    const last = this.steps.at(-1);
    return last && last.cut ? this.steps.length - 1 : this.steps.length;
  }

  /** Cancelled, timed out, or the load balancer failed under us: put traffic back on the stable pool if we can. */
  private async stopped(reason: string): Promise<ShiftOutcome> {
    const liveName = this.roles.live.name;
    const held = this.lastVerdict?.kind === 'wait' && this.lastVerdict.reason !== 'running';
    // Stopped while the judge held the step (an outage on both pools, too little traffic): say what it saw.
    const full =
      held && this.lastVerdict ? `${reason}; the step was held: ${describeVerdict(this.lastVerdict)}` : reason;
    const why = full.replace(/\.+$/, '');
    if (this.share === 0 && !this.sentTraffic) {
      this.ctx.hooks.checkpoint(NOTHING_IN_FLIGHT);
      return this.outcome(
        'failed',
        `Stopped before any traffic moved: ${clause(why)}. Pool ${liveName} still serves all traffic.`,
        liveName,
      );
    }
    const at = this.share;
    const left = await this.tryRestoreStable(`stopped: all traffic back on ${liveName}`);
    if (left) {
      this.before = undefined;
      return this.outcome(
        'failed',
        `Stopped at ${formatPercent(at)} on ${this.roles.idle.name}: ${clause(why)}. ${left[0]?.toUpperCase()}${left.slice(1)}`,
        liveName,
      );
    }
    return this.outcome(
      'failed',
      `Stopped at step ${this.stepsEnded() + 1}: ${clause(why)}. ${this.backOn(liveName, 'was moved')}`,
      liveName,
    );
  }

  /** The new pool's servers that may not take weight (not ready, or failing the load balancer's check), as a reason. */
  private async unfitIdle(): Promise<string | undefined> {
    const read = await this.ctx.driver.servers(exactSelectors(this.idle.map((s) => s.id)));
    const unfit = this.idle.flatMap((s) => {
      const now = read.find((r) => r.id === s.id);
      if (!now) return [`${s.id} is not on the load balancer any more`];
      if (now.admin !== 'ready') return [`${s.id} is ${now.admin}`];
      if (now.check && !now.check.passing) return [`${s.id} fails the load balancer's check (${now.check.status})`];
      return [];
    });
    return unfit.length ? `refusing to move traffic onto ${this.roles.idle.name}: ${unfit.join('; ')}` : undefined;
  }

  /** Weights as read back from the load balancer: what the outcome and messages report. */
  private remember(read: readonly Server[]): void {
    for (const s of read) if (this.weights.has(s.id)) this.weights.set(s.id, s.weight);
  }

  private async setState(servers: readonly Server[], admin: AdminState, why: string): Promise<void> {
    await applyVerified(
      this.ctx.driver,
      servers.map((s) => ({ server: s.id, admin })),
    );
    this.ctx.timeline.note(`${servers.map((s) => s.id).join(', ')}: state ${admin} (${why})`);
  }

  /**
   * Moves traffic in one call: the pools' shares where the load balancer splits between pools itself, else the
   * server weights. The new share counts only once the load balancer took it.
   */
  private async setWeights(changes: readonly Change[], share: number, why: string): Promise<void> {
    const { driver, timeline } = this.ctx;
    const sent = new Date();
    // From the moment a traffic change is sent, traffic may have moved, whatever the call's fate.
    if (share > 0) this.sentTraffic = true;
    if (driver.capabilities.nativeSplit && driver.split) {
      const { live, idle } = this.roles;
      await driver.split([
        { pool: live.name, servers: this.live.map((s) => s.id), percent: 100 - share, role: 'stable' },
        { pool: idle.name, servers: this.idle.map((s) => s.id), percent: share, role: 'new' },
      ]);
      timeline.note(
        `split ${live.name}=${formatPercent(100 - share)} ${idle.name}=${formatPercent(share)} (${why})`,
        sent,
      );
    } else {
      try {
        this.remember(await applyVerified(driver, makeBeforeBreak(changes, this.weights)));
      } catch (error) {
        // Refused, in part or whole, or lost: traffic may have moved. What was read back is what we know; a change
        // the load balancer answered without an error counts as taken.
        if (error instanceof UnconfirmedChange && error.read) this.remember(error.read);
        if (error instanceof UnconfirmedChange && error.acknowledged) {
          changes.forEach((c) => this.weights.set(c.server, c.weight ?? 0));
          this.share = share;
        }
        throw error;
      }
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
      checks: this.checks.results,
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
