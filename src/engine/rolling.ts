/**
 * Rolling deploy: per batch, drain -> out of traffic -> deploy-command -> direct probes -> the load balancer's own
 * check (while draining, so no new request reaches it) -> back in traffic with its original weight and state ->
 * one analysis window. Never more than one batch out of traffic; a failure stops the rollout after its batch.
 */
import * as core from '@actions/core';
import type { AdminState, PendingRestore, Server } from '../model/server.js';
import { errorMessage, LoadBalancerRestarted, LockLost, UnconfirmedChange } from '../model/errors.js';
import { probeUrl } from '../probes/http.js';
import type { Plan } from '../plan/plan.js';
import type { Advice } from '../lb/driver.js';
import { clause } from '../model/format.js';
import type { Settings } from '../settings.js';
import type { WindowData } from '../analysis/window.js';
import { startJudge, watchWindow, type JudgeRun } from './gates.js';
import { drainBatch } from './drain.js';
import { rollBack, updateServers, type ServerVersion } from './update.js';
import { NOTHING_IN_FLIGHT, type EngineContext } from './context.js';
import { applyVerified, readBack } from './writes.js';
import { whileWatching } from './watch.js';
import type { CheckPoint } from '../model/checks.js';
import type { CheckContext } from '../checks/kind.js';
import { Checks, type CheckRecord } from '../checks/runner.js';

export interface ServerReport {
  readonly id: string;
  readonly version: ServerVersion;
  readonly inTraffic: boolean;
}

export interface BatchReport {
  readonly index: number;
  readonly servers: readonly string[];
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly verdict: string;
  readonly window: WindowData | undefined;
  readonly latencies: readonly number[];
  /** The answers' latencies the load balancer logged (ms): the batch's, and the old servers' in traffic beside it. */
  readonly served?: { readonly canary: readonly number[]; readonly stable: readonly number[] };
  readonly passed: boolean;
  /** Long-lived connections its drain closed or left open, one line per server (drain-long-lived). */
  readonly connections?: readonly string[];
}

export interface RollingOutcome {
  readonly result: 'succeeded' | 'failed';
  readonly message: string;
  /** The new version's share of the targets' traffic at the end, by weight, in percent. */
  readonly weight: number;
  /** That share after each batch. */
  readonly shares: readonly { readonly at: Date; readonly share: number }[];
  readonly batches: readonly BatchReport[];
  readonly servers: readonly ServerReport[];
  /** The team's checks: each one's last result per batch. */
  readonly checks?: readonly CheckRecord[];
}

/** Problems with the targets themselves, found before anything moves. */
export function checkRollingTargets(
  settings: Settings,
  targets: readonly Server[],
  advice: Advice,
): string | undefined {
  const unchecked = targets.filter((s) => !s.check);
  if (unchecked.length && !settings.probe.healthUrl) {
    return `health-url: ${unchecked.map((s) => s.id).join(', ')} ha${unchecked.length === 1 ? 's' : 've'} no health check on the load balancer, so nothing could tell whether the new version works before it takes traffic; set health-url (e.g. http://{address}/health)${advice.healthCheck ? `, or ${advice.healthCheck}` : ''}`;
  }
  const bad = targets.filter((s) => !s.host || !s.port);
  if (bad.length && settings.probe.healthUrl)
    return `health-url: ${bad.map((s) => s.id).join(', ')} has no address the action can probe`;
  return undefined;
}

/** Two windows' numbers as one (a batch watched for longer than one window). */
function addWindows(a: WindowData | undefined, b: WindowData): WindowData {
  if (!a) return b;
  return {
    requests: a.requests + b.requests,
    failures: a.failures + b.failures,
    probesPassed: a.probesPassed + b.probesPassed,
    probesFailed: a.probesFailed + b.probesFailed,
    probeFailStreak: b.probeFailStreak,
    elapsedMs: a.elapsedMs + b.elapsedMs,
  };
}

type BatchStage = Extract<Plan['stages'][number], { kind: 'batch' }>;

/** How a batch ended, whichever step ended it: passed (the rollout goes on) or not, and the verdict that says why. */
interface BatchEnd {
  readonly passed: boolean;
  readonly verdict: string;
}

/** What a batch's analysis windows saw, for its report. */
interface BatchSeen {
  window?: WindowData;
  latencies: readonly number[];
  served?: { canary: readonly number[]; stable: readonly number[] };
  connections?: readonly string[];
}

/** One rolling deploy: what each server runs and whether it takes traffic, and the batches that move it on. */
class Rolling {
  private readonly versions: Map<string, ServerVersion>;
  private readonly inTraffic: Map<string, boolean>;
  /** The last state each server was set to, so a failure can say exactly what it left behind. */
  private readonly lastSet = new Map<string, AdminState>();
  private readonly batches: BatchReport[] = [];
  private readonly shares: { at: Date; share: number }[] = [{ at: new Date(), share: 0 }];
  /** One evidence process for the whole rollout, fed by every batch's windows. */
  private readonly judge: JudgeRun;
  /** Reloads the rollout went on after, each as one sentence for the outcome's message. */
  private readonly resumed: string[] = [];
  /** The batch under way, while its servers are out of traffic (a reload puts them back where the rollout had them). */
  private current: { stage: BatchStage; batch: readonly Server[] } | undefined;
  /** The traffic change under way, if any (see exclusive). */
  private changing: Promise<unknown> = Promise.resolve();
  /** The team's checks: before-traffic and during per batch, rollback when a batch fails. */
  private readonly checks: Checks;

  constructor(
    private readonly ctx: EngineContext,
    private readonly stages: readonly BatchStage[],
    private readonly targets: readonly Server[],
    /** Every server read at the start: companions (other entries at a target's address) come from here. */
    private readonly all: readonly Server[],
  ) {
    this.versions = new Map(targets.map((s) => [s.id, 'old']));
    this.inTraffic = new Map(targets.map((s) => [s.id, s.admin === 'ready' && s.weight > 0]));
    this.judge = startJudge(ctx.settings, (text) => ctx.timeline.note(text));
    this.checks = new Checks(ctx.settings.checks ?? []);
  }

  async run(): Promise<RollingOutcome> {
    let failure: string | undefined;
    for (const stage of this.stages) {
      const report = await this.runBatch(stage);
      this.shares.push({ at: new Date(), share: this.shareNow() });
      this.batches.push(report);
      if (!report.passed) {
        failure = report.verdict;
        break;
      }
      this.ctx.hooks.passed?.({
        index: stage.index,
        of: this.stages.length,
        share: this.shareNow(),
        verdict: report.verdict,
        requests: report.window?.requests ?? 0,
        failed: report.window ? report.window.failures + report.window.probesFailed : 0,
      });
    }
    // What the message says of traffic is what the load balancer reports now, not what the rollout meant to leave.
    const read = await readBack(
      this.ctx.driver,
      this.targets.map((s) => s.id),
    );
    for (const s of read ?? []) {
      this.inTraffic.set(s.id, s.admin === 'ready' && s.weight > 0 && (!s.check || s.check.passing));
    }
    const servers = this.targets.map((s) => ({
      id: s.id,
      version: this.versions.get(s.id) ?? 'old',
      inTraffic: this.inTraffic.get(s.id) ?? false,
    }));
    const out = (read ?? [])
      .filter((s) => !this.inTraffic.get(s.id))
      .map(
        (s) =>
          `${s.id} (${s.admin}, weight ${s.weight}${s.check && !s.check.passing ? `, check ${s.check.status}` : ''})`,
      );
    const outText = read
      ? out.length
        ? ` Out of traffic now (read back): ${out.join(', ')}.`
        : ''
      : ' The load balancer could not be read back at the end.';
    const { shares, batches } = this;
    const weight = this.shareNow();
    if (failure) {
      // A server this run took out of traffic is not untouched, even while it still runs the old version.
      const untouched = servers.filter((s) => s.version === 'old' && !this.lastSet.has(s.id)).map((s) => s.id);
      return {
        result: 'failed',
        message:
          `Rolling deploy stopped: ${failure.replace(/\.+$/, '')}. ${untouched.length ? `Untouched, still on the old version: ${untouched.join(', ')}.` : ''}${outText}`.trim(),
        weight,
        shares,
        batches,
        servers,
        ...(this.checks.specs.length ? { checks: this.checks.results } : {}),
      };
    }
    const version = this.ctx.settings.version;
    return {
      result: 'succeeded',
      message:
        (out.length || !read
          ? `All ${this.targets.length} servers run version ${version}.${outText}`
          : `All ${this.targets.length} servers run version ${version} and are back in traffic.`) +
        this.resumed.map((r) => ` Resumed: ${r}.`).join(''),
      weight,
      shares,
      batches,
      servers,
      ...(this.checks.specs.length ? { checks: this.checks.results } : {}),
    };
  }

  /** Where a batch stands for its checks: its servers as the new ones, the targets still on the old version as stable. */
  private checkContext(point: CheckPoint, stage: BatchStage, servers: readonly Server[]): CheckContext {
    return {
      point,
      version: this.ctx.settings.version,
      step: stage.index,
      steps: this.stages.length,
      share: this.shareNow(),
      pool: servers
        .map((s) => s.backend)
        .filter((b, i, all) => all.indexOf(b) === i)
        .join(','),
      stablePool: '',
      servers,
      stableServers: this.targets.filter((s) => this.inTraffic.get(s.id) && this.versions.get(s.id) === 'old'),
      ...(this.ctx.settings.checkSecrets ? { secrets: this.ctx.settings.checkSecrets } : {}),
    };
  }

  /**
   * The before-traffic checks of a batch's verified servers, still out of traffic: a per-server check fails only
   * the servers it failed on, a check of the batch as a whole fails them all. Returns those that may go back.
   */
  private async checkBeforeTraffic(
    stage: BatchStage,
    ready: readonly Server[],
    failed: Map<string, string>,
  ): Promise<readonly Server[]> {
    if (!ready.length || !this.checks.at('before-traffic').length) return ready;
    const label = `batch ${stage.index} before traffic`;
    const context = this.checkContext('before-traffic', stage, ready);
    const failure = await core.group(`Checks ${label}`, () =>
      this.checks.runPoint('before-traffic', label, context, this.ctx.signal),
    );
    this.ctx.timeline.note(`checks ${label}: ${failure ?? 'passed'}`);
    if (!failure) return ready;
    const mine = this.checks.results.filter((r) => r.stage === label && !r.passed);
    const whole = mine.some((r) => !r.target);
    const bad = ready.filter((s) => whole || mine.some((r) => r.target === s.id));
    bad.forEach((s) => failed.set(s.id, failure));
    // Drain still lets sticky sessions in: out of traffic altogether, as a server that failed its probes.
    if (bad.length) await this.setState(bad, 'maint', 'failed its before-traffic checks');
    return ready.filter((s) => !bad.includes(s));
  }

  /** The rollback checks, once a failed batch's servers had their rollback-command; what they found, for the message. */
  private async checkRollback(stage: BatchStage, servers: readonly Server[]): Promise<string> {
    if (!this.checks.at('rollback').length) return '';
    const label = `batch ${stage.index} rollback`;
    const failure = await core
      .group(`Checks ${label}`, () =>
        this.checks.runPoint('rollback', label, this.checkContext('rollback', stage, servers), this.ctx.signal),
      )
      .catch(errorMessage);
    return failure ? ` On rollback, ${failure}.` : '';
  }

  /** The new version's share of the targets' traffic, by weight, in percent. */
  private shareNow(): number {
    const serving = this.targets.filter((s) => this.inTraffic.get(s.id));
    const total = serving.reduce((n, s) => n + s.weight, 0);
    const onNew = serving.filter((s) => this.versions.get(s.id) === 'new').reduce((n, s) => n + s.weight, 0);
    return total ? (100 * onNew) / total : 0;
  }

  /** Runs one traffic change at a time: the watch's put-back after a reload never crosses the batch's own. */
  private exclusive<T>(change: () => Promise<T>): Promise<T> {
    const turn = this.changing.then(change);
    this.changing = turn.catch(() => undefined);
    return turn;
  }

  /** Re-reads the lock (throws LockLost when another run may hold it); a lock taken back after a reload is told. */
  private async guard(moment: string): Promise<void> {
    const reclaimed = await this.ctx.guard.check(moment);
    if (!reclaimed) return;
    this.ctx.timeline.note(`lock: ${reclaimed}`);
    // The lock was dropped by a reload the watch has not seen yet: the batch goes back to where the rollout had it.
    const why = await this.ctx.driver.watch?.().then(
      () => undefined,
      (error: unknown) => (error instanceof LoadBalancerRestarted ? errorMessage(error) : undefined),
    );
    if (why && this.current) await this.afterReload(this.current.stage, this.current.batch, why, false);
  }

  private async setState(servers: readonly Server[], admin: AdminState, why: string): Promise<void> {
    const ids = servers.map((s) => s.id).join(', ');
    await this.guard(`before setting ${ids} to ${admin}`);
    try {
      await this.exclusive(() =>
        applyVerified(
          this.ctx.driver,
          servers.map((s) => ({ server: s.id, admin })),
        ),
      );
    } catch (error) {
      // Answered without an error but not read back: it took, as far as anyone can tell.
      if (error instanceof UnconfirmedChange && error.acknowledged)
        servers.forEach((s) => this.lastSet.set(s.id, admin));
      throw error;
    }
    servers.forEach((s) => this.lastSet.set(s.id, admin));
    this.ctx.timeline.note(`${ids}: state ${admin} (${why})`);
    await this.guard(`after setting ${ids} to ${admin}`);
  }

  /** Verified servers back in traffic: ready with the weight each had, the lock re-read before and after. */
  private async putBack(ready: readonly Server[]): Promise<void> {
    const ids = ready.map((s) => s.id).join(', ');
    await this.guard(`before putting ${ids} back in traffic`);
    await this.exclusive(async () => {
      await applyVerified(
        this.ctx.driver,
        ready.map((s) => ({ server: s.id, weight: s.weight, admin: 'ready' as const })),
      );
      ready.forEach((s) => this.lastSet.set(s.id, 'ready'));
    });
    this.ctx.timeline.note(`${ready.map((s) => `${s.id} -> ready weight ${s.weight}`).join(', ')} (verified)`);
    ready.forEach((s) => this.inTraffic.set(s.id, s.weight > 0));
    await this.guard(`after putting ${ids} back in traffic`);
  }

  /**
   * The load balancer reloaded while the batch was out of traffic: the reload put its servers back to the
   * configuration's states (one being restarted back in traffic), so each goes back to where the rollout had it at
   * once, before the lock is re-read (taken back when the reload dropped it moments ago). The rollout goes on.
   */
  private async afterReload(stage: BatchStage, batch: readonly Server[], why: string, check = true): Promise<void> {
    const noticed = Date.now();
    // Read when its turn comes: a change of the batch in flight when the reload was noticed goes first.
    const back = await this.exclusive(async () => {
      const changes = batch.map((s) => ({ server: s.id, admin: this.lastSet.get(s.id) ?? s.admin }));
      await applyVerified(this.ctx.driver, changes);
      return changes;
    });
    const ms = Date.now() - noticed;
    const where = back.map((c) => `${c.server} in ${c.admin}`).join(', ');
    this.ctx.timeline.note(`${why}; put back: ${where} (${ms} ms after it was noticed)`);
    const reclaimed = check ? await this.ctx.guard.check('after the load balancer reloaded') : 'taken back';
    const lock = reclaimed ? '; the lock the reload dropped was taken back' : '';
    this.resumed.push(
      `${why.replace(/\): .*$/, ')')} during batch ${stage.index}; ${where} again ${ms} ms after the action noticed${lock}`,
    );
  }

  /** The servers' original state and weight, restored once each passes its check (and its health-url, if set). */
  private pending(servers: readonly Server[]): PendingRestore[] {
    const { healthUrl } = this.ctx.settings.probe;
    // Once verified a server goes back ready with its weight, as the rollout itself would put it (never to a maint
    // or drain it started in).
    return servers.map((s) => ({
      server: s.id,
      weight: s.weight,
      admin: 'ready' as const,
      ...(healthUrl ? { probe: probeUrl(healthUrl, s) } : {}),
    }));
  }

  /** Why the batch may not leave traffic now: a backend with no other server in traffic and passing its check. */
  private async lastServing(batch: readonly Server[]): Promise<string | undefined> {
    const out = new Set(batch.map((s) => s.id));
    const backends = [...new Set(batch.map((s) => s.backend))];
    const now = await this.ctx.driver.servers(backends.map((b) => ({ text: `${b}/*`, backend: b, server: '*' })));
    for (const backend of backends) {
      const others = now.filter((s) => s.backend === backend && !out.has(s.id));
      const serving = others.filter((s) => s.admin === 'ready' && s.weight > 0 && s.check?.passing !== false);
      if (others.length && !serving.length) {
        const state = others.map((s) => `${s.id} ${s.admin}${s.check ? ` ${s.check.status}` : ''}`).join(', ');
        return `not taking ${batch.map((s) => s.id).join(', ')} out of traffic: backend ${backend} has no other server in traffic and passing its check (${state})`;
      }
    }
    return undefined;
  }

  /** Which servers of the batch are left out of traffic, in which state, and how a person puts each back. */
  private leftBehind(batch: readonly Server[]): string {
    const left = batch.filter((s) => this.lastSet.has(s.id) && this.lastSet.get(s.id) !== s.admin);
    if (!left.length) return 'No server was left changed.';
    const version = (id: string) => {
      const v = this.versions.get(id);
      return v === 'new' ? `version ${this.ctx.settings.version}` : v === 'old' ? 'previous version' : `version ${v}`;
    };
    return (
      `Left out of traffic: ${left.map((s) => `${s.id} in ${this.lastSet.get(s.id)} (${version(s.id)})`).join(', ')}; ` +
      `once each answers its health check, restore it ${this.ctx.driver.manualSteps(left.map((s) => ({ server: s.id, weight: s.weight, admin: s.admin })))}.`
    );
  }

  /**
   * The lock is not this run's any more: another run may be moving these servers, so nothing more is touched (no
   * restore, no rollback-command, no post step); the message says where the batch stands, as read back.
   */
  private async lockLost(stage: BatchStage, batch: readonly Server[], error: LockLost): Promise<string> {
    this.ctx.hooks.checkpoint(NOTHING_IN_FLIGHT);
    const read = await readBack(
      this.ctx.driver,
      batch.map((s) => s.id),
    );
    const state = read
      ? `Read back: ${read.map((s) => `${s.id} ${s.admin} weight ${s.weight}`).join(', ')}.`
      : 'The load balancer could not be read back.';
    return `batch ${stage.index} (${batch.map((s) => s.id).join(', ')}) was stopped: ${clause(error.message)}. ${state} Check what the other run does before putting anything back.`;
  }

  /** One batch from drain to its analysis window; its report says whether it passed and why not. */
  private async runBatch(stage: BatchStage): Promise<BatchReport> {
    // The batch's targets, and the entries of other backends at their addresses: one process, out and back together.
    const batch = [
      ...this.targets.filter((t) => stage.servers?.includes(t.id)),
      ...this.all.filter((s) => stage.companions.includes(s.id)),
    ];
    const started = new Date();
    const seen: BatchSeen = { latencies: [] };
    this.current = { stage, batch };
    const end = await core.group(
      `Batch ${stage.index}/${this.stages.length}: ${batch.map((s) => s.id).join(', ')}`,
      () => this.batchSteps(stage, batch, seen),
    );
    this.current = undefined;
    return {
      index: stage.index,
      servers: batch.map((s) => s.id),
      startedAt: started,
      durationMs: Date.now() - started.getTime(),
      verdict: end.verdict,
      window: seen.window,
      latencies: seen.latencies,
      ...(seen.served ? { served: seen.served } : {}),
      passed: end.passed,
      ...(seen.connections?.length ? { connections: seen.connections } : {}),
    };
  }

  /** drain -> maint -> deploy and verify -> original state and weight -> analysis window, as named steps. */
  private async batchSteps(stage: BatchStage, batch: readonly Server[], seen: BatchSeen): Promise<BatchEnd> {
    const failed = new Map<string, string>();
    try {
      const refused = await this.takeOut(stage, batch, seen);
      if (refused) return refused;
      await this.deploy(batch, failed);
      if (failed.size)
        return await this.failedChecks(
          batch,
          failed,
          [...failed].map(([id, why]) => `${id}: ${why}`),
        );
      return await this.judgeBatch(stage, batch, failed, seen);
    } catch (error) {
      if (error instanceof LockLost) return { passed: false, verdict: await this.lockLost(stage, batch, error) };
      if (this.ctx.signal.aborted) return { passed: false, verdict: await this.stopped(stage, batch, failed, error) };
      return { passed: false, verdict: await this.unfinished(stage, batch, error) };
    }
  }

  /** Step 1: drain, wait for in-flight requests (closing long-lived ones by drain-long-lived), maint; refused (nothing moved) when no other server would serve. */
  private async takeOut(stage: BatchStage, batch: readonly Server[], seen: BatchSeen): Promise<BatchEnd | undefined> {
    const { ctx } = this;
    // Cancelled or timed out: no further batch leaves traffic.
    ctx.signal.throwIfAborted();
    // Read now, not at the start: an earlier batch's servers may have gone down since.
    const alone = await this.lastServing(batch);
    if (alone) return { passed: false, verdict: alone };
    await ctx.hooks.stage(`Batch ${stage.index}/${this.stages.length}: ${batch.map((s) => s.id).join(', ')}`);
    // Until the deploy starts, putting the batch back as it was is safe.
    ctx.hooks.checkpoint({
      kind: 'restore',
      changes: batch.map((s) => ({ server: s.id, admin: s.admin, weight: s.weight })),
    });
    await this.setState(batch, 'drain', 'new requests stop, in-flight ones finish');
    batch.forEach((s) => this.inTraffic.set(s.id, false));
    seen.connections = await drainBatch(
      ctx,
      batch.map((s) => s.id),
    );
    // From here a server's version is unknown until verified: stopped now, the batch stays out of traffic until
    // each passes its check, which puts it back as it was (the post step does that).
    ctx.hooks.checkpoint({ kind: 'leave', pending: this.pending(batch) });
    await this.setState(batch, 'maint', 'out of traffic for the deploy');
    return undefined;
  }

  /**
   * Step 2: deploy-command and checks with the load balancer watched (a reload puts the batch back where the rollout
   * had it and resumes), then the verified servers back in traffic; `failed` gets the others, which stay out.
   */
  private async deploy(batch: readonly Server[], failed: Map<string, string>): Promise<void> {
    const { ctx } = this;
    const stage = this.current?.stage;
    const update = await whileWatching(
      ctx.driver,
      ctx.signal,
      // A lost lock stops the batch's commands: another run owns these servers now.
      (signal) =>
        updateServers(
          { ...ctx, signal },
          batch,
          (id, v) => this.versions.set(id, v),
          (servers, admin, why) => this.setState(servers, admin, why),
        ),
      (why) => (stage ? this.afterReload(stage, batch, why) : Promise.resolve()),
    );
    update.failed.forEach((why, id) => failed.set(id, why));
    // The team's before-traffic checks against the verified servers, still out of traffic.
    const ready = stage ? await this.checkBeforeTraffic(stage, update.verified, failed) : update.verified;
    // Verified servers may go back as they were; failed ones stay out on purpose.
    ctx.hooks.checkpoint({
      kind: 'restore',
      changes: ready.map((s) => ({ server: s.id, admin: 'ready' as const, weight: s.weight })),
      failed: [...failed.keys()],
    });
    // Verified: ready with the weight it had. A maint or drain it started in (an earlier run's, or an operator's)
    // is not restored: it passed the same checks as the rest. A weight of 0 stays 0 (parked, no traffic).
    if (ready.length) await this.putBack(ready);
    ctx.hooks.checkpoint(NOTHING_IN_FLIGHT);
  }

  /** Step 3: the batch's analysis windows until a verdict; a failing batch goes out again and is rolled back. */
  private async judgeBatch(
    stage: BatchStage,
    batch: readonly Server[],
    failed: Map<string, string>,
    seen: BatchSeen,
  ): Promise<BatchEnd> {
    const { ctx, versions, inTraffic } = this;
    const { settings, driver, timeline } = ctx;
    const watched = batch.filter((s) => inTraffic.get(s.id));
    if (!watched.length)
      return { passed: true, verdict: 'no server of the batch takes traffic by its original state: nothing to watch' };
    // The new servers against the targets still on the old version and in traffic (none: judged alone).
    const stable = this.targets.filter((s) => inTraffic.get(s.id) && versions.get(s.id) === 'old');
    const step = { index: stage.index, endsAt: Date.now() + settings.analysis.intervalMs };
    let window;
    let verdict = '';
    // The during checks, polled with the judge for as long as the batch is watched.
    const during = this.checks.at('during').length
      ? this.checks.watch(
          `batch ${stage.index}`,
          this.checkContext('during', stage, watched),
          stable.length > 0,
          ctx.signal,
        )
      : undefined;
    try {
      do {
        window = await watchWindow(
          driver,
          ctx.prober,
          { watched, stable },
          settings,
          ctx.signal,
          this.judge,
          step,
          during,
        );
        seen.window = addWindows(seen.window, window.data);
        seen.latencies = [...seen.latencies, ...window.latencies];
        if (window.served)
          seen.served = {
            canary: [...(seen.served?.canary ?? []), ...window.served.canary],
            stable: [...(seen.served?.stable ?? []), ...window.served.stable],
          };
        verdict = window.verdict.summary;
        timeline.note(`batch ${stage.index} window: ${window.verdict.kind}: ${verdict}`);
      } while (window.verdict.kind === 'wait');
    } finally {
      await during?.stop();
    }
    if (window.verdict.kind !== 'fail') return { passed: true, verdict };
    await this.setState(watched, 'maint', 'failed its analysis window');
    watched.forEach((s) => {
      inTraffic.set(s.id, false);
      failed.set(s.id, `analysis window failed: ${verdict}`);
    });
    const why = `batch ${stage.index} (${watched.map((s) => s.id).join(', ')}) failed its analysis window: ${verdict}`;
    return this.failedChecks(batch, failed, [why]);
  }

  /** Servers that failed their checks stay out of traffic; rollback-command runs for each. */
  private async failedChecks(
    batch: readonly Server[],
    failed: ReadonlyMap<string, string>,
    why: readonly string[],
  ): Promise<BatchEnd> {
    const { settings, timeline, signal } = this.ctx;
    const failedServers = batch.filter((srv) => failed.has(srv.id));
    (await rollBack(settings, failedServers, timeline, undefined, signal)).forEach((v, id) => this.versions.set(id, v));
    const stage = this.current?.stage;
    const checked = stage ? await this.checkRollback(stage, failedServers) : '';
    return { passed: false, verdict: `${why.join('; ')}${checked}` };
  }

  /** Stopped by timeout or cancel: servers not yet changed go back as they were; unverified ones stay out. */
  private async stopped(
    stage: BatchStage,
    batch: readonly Server[],
    failed: ReadonlyMap<string, string>,
    error: unknown,
  ): Promise<string> {
    const { ctx, versions } = this;
    const untouched = batch.filter((s) => versions.get(s.id) === 'old' && !failed.has(s.id));
    if (untouched.length) {
      const back = await ctx.driver
        .apply(untouched.map((s) => ({ server: s.id, admin: s.admin, weight: s.weight })))
        .then(() => true)
        .catch(() => false);
      if (back) {
        untouched.forEach((s) => {
          this.inTraffic.set(s.id, s.admin === 'ready' && s.weight > 0);
          this.lastSet.set(s.id, s.admin);
        });
        ctx.timeline.note(`${untouched.map((s) => s.id).join(', ')}: not yet deployed, restored to its original state`);
      }
    }
    const out = batch.filter((s) => this.lastSet.has(s.id) && this.lastSet.get(s.id) !== s.admin);
    // What the post step can still verify and put back; the rest stays as it is.
    ctx.hooks.checkpoint({
      kind: 'leave',
      pending: this.pending(out.filter((s) => !failed.has(s.id))),
      failed: out.filter((s) => failed.has(s.id)).map((s) => s.id),
    });
    const why = error instanceof Error && error !== ctx.signal.reason ? error.message : errorMessage(ctx.signal.reason);
    const post = out.some((s) => !failed.has(s.id))
      ? " The action's post step puts back those that pass their check."
      : '';
    return `batch ${stage.index} (${batch.map((s) => s.id).join(', ')}) was stopped: ${clause(why)}. ${this.leftBehind(batch)}${post}`;
  }

  /** The load balancer or a command failed under us: each server of the batch's state, as read back. */
  private async unfinished(stage: BatchStage, batch: readonly Server[], error: unknown): Promise<string> {
    const { driver } = this.ctx;
    if (error instanceof LoadBalancerRestarted) {
      // The reload put the batch back to the configuration's states, unverified servers in traffic with them: out
      // again first, then tell.
      const unverified = batch.filter((s) => this.versions.get(s.id) !== 'old');
      if (unverified.length)
        await this.setState(
          unverified,
          'maint',
          'the load balancer reloaded: out of traffic again until verified',
        ).catch(() => undefined);
    }
    let unread = '';
    const read = await readBack(
      driver,
      batch.map((s) => s.id),
      (why) => (unread = why),
    );
    const out = (read ?? []).filter((s) => s.admin !== 'ready');
    const state = !read
      ? `${this.leftBehind(batch)} The load balancer could not be read back: ${unread}.`
      : out.length
        ? `Once each answers its health check, put it back ${driver.manualSteps(out.map((s) => ({ server: s.id, admin: 'ready' })))}.`
        : 'No server of the batch was left out of traffic.';
    const reason = error instanceof UnconfirmedChange ? error.reason : errorMessage(error);
    return `could not finish batch ${stage.index}: ${clause(reason)}. ${state}`;
  }
}

export function runRolling(
  ctx: EngineContext,
  plan: Plan,
  targets: readonly Server[],
  all: readonly Server[] = targets,
): Promise<RollingOutcome> {
  const stages = plan.stages.filter((s): s is BatchStage => s.kind === 'batch');
  return new Rolling(ctx, stages, targets, all).run();
}
