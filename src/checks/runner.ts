/**
 * The rollout's checks: those of a named point run together (every one must pass), those `during` a step polled
 * in the background while the judge watches, each result recorded for the reports and written to the log.
 */
import * as core from '@actions/core';
import type { CheckPoint, CheckSpec } from '../model/checks.js';
import { formatDuration } from '../model/durations.js';
import { sleep } from '../model/time.js';
import { evaluate, type Evaluated } from './evaluate.js';
import type { CheckContext, CheckTarget } from './kind.js';
import { targetsOf } from './registry.js';

/** One check's last result at one stage, as the summary shows it. */
export interface CheckRecord {
  readonly name: string;
  readonly point: CheckPoint;
  /** The stage it ran at: `before traffic`, `step 2/3`, `after the end`, `rollback`. */
  readonly stage: string;
  /** The server it ran against, for a per-server check. */
  readonly target?: string;
  readonly role?: 'new' | 'stable';
  readonly passed: boolean;
  readonly value: string;
  readonly detail: string;
  readonly ms: number;
  /** How many times it ran at this stage, and how many of those failed. */
  readonly runs: number;
  readonly failures: number;
}

function where(target: CheckTarget | undefined): string {
  return target ? ` on ${target.server.id}${target.role === 'stable' ? ' (stable)' : ''}` : '';
}

export function failureText(record: CheckRecord): string {
  return `check ${record.name} failed${record.target ? ` on ${record.target}` : ''}: ${record.detail}`;
}

export class Checks {
  private readonly records: CheckRecord[] = [];

  constructor(readonly specs: readonly CheckSpec[]) {}

  at(point: CheckPoint): CheckSpec[] {
    return this.specs.filter((c) => c.at === point);
  }

  /** Every result recorded so far, one per check, stage and server. */
  get results(): readonly CheckRecord[] {
    return this.records;
  }

  /** Records a result (replacing the same check's earlier one at this stage); logs the first and every change. */
  record(check: CheckSpec, stage: string, target: CheckTarget | undefined, result: Evaluated): CheckRecord {
    const key = (r: CheckRecord) => r.name === check.name && r.stage === stage && r.target === target?.server.id;
    const index = this.records.findIndex(key);
    const before = index >= 0 ? this.records[index] : undefined;
    const record: CheckRecord = {
      name: check.name,
      point: check.at,
      stage,
      ...(target ? { target: target.server.id, role: target.role } : {}),
      passed: result.verdict === 'pass',
      value: result.value,
      detail: result.detail,
      ms: result.ms,
      runs: (before?.runs ?? 0) + 1,
      failures: (before?.failures ?? 0) + (result.verdict === 'pass' ? 0 : 1),
    };
    if (index >= 0) this.records[index] = record;
    else this.records.push(record);
    const line = `check ${check.name} (${stage})${where(target)}: ${record.passed ? 'passed' : 'FAILED'} in ${formatDuration(result.ms)}, ${result.detail}`;
    // A warning when a check starts failing (a step shows 10 annotations), a log line for each later failure.
    if (!record.passed && before?.passed !== false) core.warning(line);
    else if (!before || before.passed !== record.passed || !record.passed) core.info(line);
    return record;
  }

  /**
   * Runs every check of `point` once, together; returns why the point failed (each failing check named), or
   * undefined when all passed (or there are none).
   */
  async runPoint(
    point: CheckPoint,
    stage: string,
    context: CheckContext,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    const runs = this.at(point).flatMap((check) =>
      targetsOf(check, context, false).map(async (target) =>
        this.record(check, stage, target, await evaluate(check, context, target, signal)),
      ),
    );
    const failed = (await Promise.all(runs)).filter((r) => !r.passed);
    return failed.length ? failed.map(failureText).join('; ') : undefined;
  }

  /** Starts the `during` checks for one step; the window polls what they found. */
  watch(stage: string, context: CheckContext, compare: boolean, signal: AbortSignal): DuringChecks {
    return new DuringChecks(this, stage, context, compare, signal);
  }
}

/** What the during checks found since the last poll: evidence for the judge, or a failure that ends the step. */
export interface CheckEvidence {
  /** Per-server results on the new servers, counted like probes. */
  readonly passed: number;
  readonly failed: number;
  /** The longest current run of failures of one per-server check on one new server. */
  readonly failStreak: number;
  /** Per-server results on the stable servers, counted like the stable pool's requests. */
  readonly stable: { readonly requests: number; readonly failures: number };
  /** A check of the stage as a whole failed: the version fails at once. */
  readonly failure?: string;
}

/** The `during` checks of one step, each running back to back (its interval apart) until stopped. */
export class DuringChecks {
  private readonly stopper = new AbortController();
  private readonly loops: Promise<void>[];
  private fresh: { record: CheckRecord; perServer: boolean }[] = [];
  private readonly streaks = new Map<string, number>();
  private lastFailing: CheckRecord | undefined;
  /** check and new server (or the stage) still waiting for a first pass in this step. */
  private readonly unproven = new Map<string, string>();

  constructor(
    private readonly checks: Checks,
    private readonly stage: string,
    context: CheckContext,
    compare: boolean,
    signal: AbortSignal,
  ) {
    const until = AbortSignal.any([signal, this.stopper.signal]);
    this.loops = checks.at('during').flatMap((check) =>
      targetsOf(check, context, compare).map((target) => {
        if (target?.role !== 'stable') this.unproven.set(`${check.name} ${target?.server.id ?? ''}`, check.name);
        return this.loop(check, context, target, until);
      }),
    );
  }

  private async loop(check: CheckSpec, context: CheckContext, target: CheckTarget | undefined, until: AbortSignal) {
    while (!until.aborted) {
      const result = await evaluate(check, context, target, until);
      // A result cut short by the end of the step says nothing about the version.
      if (this.stopper.signal.aborted) return;
      const record = this.checks.record(check, this.stage, target, result);
      this.fresh.push({ record, perServer: target !== undefined });
      if (record.passed) this.unproven.delete(`${check.name} ${target?.server.id ?? ''}`);
      await sleep(check.intervalMs, until).catch(() => undefined);
    }
  }

  /** The results since the last poll. */
  poll(): CheckEvidence {
    const fresh = this.fresh;
    this.fresh = [];
    const evidence = { passed: 0, failed: 0, stable: { requests: 0, failures: 0 } };
    let failure: string | undefined;
    for (const { record, perServer } of fresh) {
      if (!record.passed && record.role !== 'stable') this.lastFailing = record;
      if (!perServer) {
        if (!record.passed) failure ??= failureText(record);
        continue;
      }
      if (record.role === 'stable') {
        evidence.stable.requests++;
        evidence.stable.failures += record.passed ? 0 : 1;
        continue;
      }
      const key = `${record.name} ${record.target}`;
      this.streaks.set(key, record.passed ? 0 : (this.streaks.get(key) ?? 0) + 1);
      if (record.passed) evidence.passed++;
      else evidence.failed++;
    }
    const failStreak = Math.max(0, ...this.streaks.values());
    return { ...evidence, failStreak, ...(failure ? { failure } : {}) };
  }

  /** The latest failure of a per-server check, to name in a verdict it contributed to. */
  lastFailure(): string | undefined {
    return this.lastFailing ? failureText(this.lastFailing) : undefined;
  }

  /** A during check that has not passed yet in this step (no data is not a pass): the step waits for it. */
  pending(): string | undefined {
    const waiting = [...new Set(this.unproven.values())];
    return waiting.length ? `waiting for check ${waiting.join(', ')} to pass in this step` : undefined;
  }

  async stop(): Promise<void> {
    this.stopper.abort(new Error('the step is over'));
    await Promise.all(this.loops);
  }
}
