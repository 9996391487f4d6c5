/** Runs the built CLI (dist/cli/index.js) as a user would: a child process with flags, its own state dir. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { ROOT } from './action.js';
import { startPools, type PoolsLab } from './pools.js';

/** The pools lab's weights once all traffic is on green. */
export const ALL_GREEN = { 'app/blue1': 0, 'app/blue2': 0, 'app/green1': 256, 'app/green2': 256 };

/** A pools lab per test, stopped after it. */
export function usePools(): () => Promise<PoolsLab> {
  let lab: PoolsLab | undefined;
  afterEach(async () => {
    await lab?.stop();
    lab = undefined;
  });
  return async () => (lab = await startPools());
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'zdd-cli-test-'));
}

/** The lines holding a GitHub workflow command marker (none may reach what a person sees). */
export function workflowCommandLines(text: string): string[] {
  return text.split('\n').filter((line) => line.includes('::'));
}

export const CLI_BUNDLE = join(ROOT, 'dist/cli/index.js');

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  readonly timeoutMs?: number;
  readonly onSpawn?: (child: ChildProcess) => void;
  /** Each stdout line as it is printed. */
  readonly onLine?: (line: string) => void;
}

/** Inputs as flags: { steps: '20%, 100%' } -> ['--steps=20%, 100%']. */
export function flags(inputs: Record<string, string>): string[] {
  return Object.entries(inputs).map(([name, value]) => `--${name}=${value}`);
}

/** An environment without the runner's variables (GITHUB_*, INPUT_*, STATE_*, ZDD_*), HOME in a temp dir. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(GITHUB_|INPUT_|STATE_|ZDD_|RUNNER_)/.test(key)) continue;
    env[key] = value;
  }
  const home = mkdtempSync(join(tmpdir(), 'zdd-cli-home-'));
  return { ...env, HOME: home, XDG_STATE_HOME: join(home, 'state'), ...extra };
}

export async function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI_BUNDLE, ...args], {
    env: options.env ?? cleanEnv(),
    cwd: options.cwd ?? tmpdir(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  options.onSpawn?.(child);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let partial = '';
  child.stdout.on('data', (c: Buffer) => {
    out.push(c);
    if (!options.onLine) return;
    const lines = (partial + c.toString()).split('\n');
    partial = lines.pop() ?? '';
    lines.forEach(options.onLine);
  });
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 50_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) =>
    child.on('close', (c, s) => done([c, s])),
  );
  clearTimeout(timer);
  return { code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}
