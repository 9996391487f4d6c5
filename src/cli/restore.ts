/**
 * The post step without a runner: what a run left in the state file (its checkpoint, the lock it held, its
 * deployment in flight) is handed to post.ts and the lock release exactly as the runner hands the saved step state
 * to the action's post step. Runs: this process's own (after its main part), or those of runs no longer alive
 * (`restore`, and the start of the next run on the load balancer).
 */
import { releaseLeftLock } from '../actions/lock.js';
import { readActionInputs, type RunContext } from '../inputs.js';
import { post } from '../post.js';
import { isAlive, RUN_KEY, type RunEntry, type StateFile } from './state-file.js';

export interface LeftRuns {
  readonly restored: number;
  /** Why a restore failed (post.ts's own message, with what to apply by hand). */
  readonly failed?: string;
  /** Runs still alive, left as they are. */
  readonly alive: readonly string[];
}

type Mode = 'own' | 'next' | 'all';

function selected(runs: Record<string, RunEntry>, mode: Mode): { left: [string, RunEntry][]; alive: string[] } {
  const entries = Object.entries(runs);
  if (mode === 'own') return { left: entries.filter(([key]) => key === RUN_KEY), alive: [] };
  const others = entries.filter(([key]) => key !== RUN_KEY);
  return {
    left: others.filter(([, entry]) => !isAlive(entry)),
    alive: others
      .filter(([, entry]) => isAlive(entry))
      .map(([, e]) => `${e.command} (pid ${e.pid} on ${e.host}, since ${e.started})`),
  };
}

/** Runs post.ts with one run's saved state in STATE_* (as the runner does), then the lock release. */
async function restoreOne(entry: RunEntry, current: Readonly<Record<string, string>>, context: RunContext) {
  const names = Object.keys(entry.state);
  for (const name of names) process.env[`STATE_${name}`] = entry.state[name];
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    // The run's own inputs (as its post step would read them), secrets from this invocation.
    await post(() => readActionInputs((name) => entry.inputs?.[name] ?? current[name] ?? '', context));
    await releaseLeftLock();
    return process.exitCode === undefined || process.exitCode === 0;
  } finally {
    for (const name of names) delete process.env[`STATE_${name}`];
    process.exitCode = before;
  }
}

export async function restoreLeftRuns(
  file: StateFile,
  current: Readonly<Record<string, string>>,
  context: RunContext,
  mode: Mode,
  errors: () => string[],
): Promise<LeftRuns> {
  const { left, alive } = selected(file.read().runs, mode);
  let restored = 0;
  for (const [key, entry] of left) {
    if (!(await restoreOne(entry, current, context)))
      return {
        restored,
        alive,
        failed: `restoring what ${entry.command} (pid ${entry.pid}) left failed: ${errors().join(' ') || 'see above'}`,
      };
    file.removeRun(key);
    restored++;
  }
  return { restored, alive };
}
