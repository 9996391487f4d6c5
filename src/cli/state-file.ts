/**
 * The CLI's state file, in place of the runner's step state: what each run would leave for its post step (the
 * checkpoint, the lock it holds, its deployment in flight), keyed by the run (host and process id), and the local
 * rollout records (deployments) when GitHub is not used. One file per load balancer by default, so a later run on
 * the same load balancer, or `restore`, finds what a killed run left. Every write is atomic (a rename).
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { dirname, join } from 'node:path';

export interface RunEntry {
  readonly host: string;
  readonly pid: number;
  readonly command: string;
  readonly started: string;
  /** The step-state keys of state.ts (rollout, lock, deployment) as core.saveState wrote them. */
  readonly state: Record<string, string>;
  /** The run's inputs but its secrets, for its restore to read them as a post step does. */
  readonly inputs?: Record<string, string>;
}

export interface LocalStatus {
  readonly state: string;
  readonly description: string;
  readonly at: string;
}

export interface LocalDeployment {
  readonly id: number;
  readonly environment: string;
  readonly created: string;
  readonly payload: unknown;
  readonly statuses: LocalStatus[];
}

export interface StateData {
  runs: Record<string, RunEntry>;
  deployments: LocalDeployment[];
}

/** The default state file of a load balancer: $XDG_STATE_HOME (or ~/.local/state)/zero-downtime-deploy/<hash>.json. */
export function defaultStatePath(loadBalancer: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  const key = createHash('sha256').update(loadBalancer.trim()).digest('hex').slice(0, 16);
  return join(base, 'zero-downtime-deploy', `${key}.json`);
}

/** This process's key among the runs. */
export const RUN_KEY = `${hostname()}:${process.pid}`;

/** Whether the run that wrote an entry is still alive (on another host: assumed so). */
export function isAlive(entry: RunEntry): boolean {
  if (entry.host !== hostname()) return true;
  if (entry.pid === process.pid) return true;
  try {
    process.kill(entry.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lock file older than this was left by a process killed inside its few milliseconds of holding it. */
const STALE_LOCK_MS = 2000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs `fn` holding an exclusively created lock file (synchronous: core.saveState is). */
function withFileLock<T>(lock: string, fn: () => T): T {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) unlinkSync(lock);
      } catch {
        // released meanwhile
      }
      if (Date.now() > deadline) throw new Error(`${lock} stays locked by another process`, { cause: error });
      sleepSync(10);
    }
  }
  try {
    return fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      // already gone
    }
  }
}

export class StateFile {
  constructor(readonly path: string) {}

  read(): StateData {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { runs: {}, deployments: [] };
      throw new Error(`--state ${this.path}: cannot read it: ${(error as Error).message}`, { cause: error });
    }
    try {
      const data = JSON.parse(text) as Partial<StateData>;
      return { runs: data.runs ?? {}, deployments: data.deployments ?? [] };
    } catch {
      throw new Error(`--state ${this.path}: is not a state file this tool wrote (not JSON); move it away`);
    }
  }

  /**
   * Reads, changes and writes back atomically (a temporary file renamed over it), holding `FILE.lock` so that two
   * runs sharing the file (one waiting for the other's load-balancer lock) never write over each other's entries.
   */
  update<T>(change: (data: StateData) => T): T {
    mkdirSync(dirname(this.path), { recursive: true });
    return withFileLock(`${this.path}.lock`, () => {
      const data = this.read();
      const result = change(data);
      const temporary = `${this.path}.${process.pid}.tmp`;
      writeFileSync(temporary, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
      renameSync(temporary, this.path);
      return result;
    });
  }

  /** Throws a UsageError-like message when the file cannot be read or written (before anything moves). */
  check(): void {
    try {
      this.update(() => undefined);
    } catch (error) {
      throw new StateFileError(`--state ${this.path}: cannot be written: ${(error as Error).message}`);
    }
  }

  /** core.saveState of this run: kept under the run's key; an entry with nothing left is removed. */
  saveRunState(command: string, name: string, value: string, inputs: Record<string, string>): void {
    this.update((data) => {
      const entry = data.runs[RUN_KEY] ?? {
        host: hostname(),
        pid: process.pid,
        command,
        started: new Date().toISOString(),
        state: {},
        inputs,
      };
      const state = { ...entry.state };
      if (value) state[name] = value;
      else delete state[name];
      if (Object.keys(state).length) data.runs[RUN_KEY] = { ...entry, state };
      else delete data.runs[RUN_KEY];
    });
  }

  removeRun(key: string): void {
    this.update((data) => {
      delete data.runs[key];
    });
  }
}

export class StateFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateFileError';
  }
}
