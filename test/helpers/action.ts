/** Runs the bundled action exactly as the runner does: INPUT_* variables and the GITHUB_* files. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BUNDLE = join(ROOT, 'dist/index.js');

export interface ActionRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly outputs: Record<string, string>;
  readonly summary: string;
  readonly state: Record<string, string>;
  readonly durationMs: number;
}

/** Parses the `name<<DELIMITER ... DELIMITER` records @actions/core writes to GITHUB_OUTPUT and GITHUB_STATE. */
export function parseCommandFile(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i] ?? '');
    if (!match) continue;
    const [, name, delimiter] = match as unknown as [string, string, string];
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] ?? '');
    result[name] = value.join('\n');
  }
  return result;
}

export interface RunOptions {
  readonly env?: Record<string, string>;
  readonly state?: Record<string, string>;
  readonly timeoutMs?: number;
  /** Called with the child once it runs (e.g. to signal it). */
  readonly onSpawn?: (child: ReturnType<typeof spawn>) => void;
  /** Called with each line the action prints, as it prints it. */
  readonly onLine?: (line: string) => void;
}

export async function runAction(inputs: Record<string, string>, options: RunOptions = {}): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), 'zdd-run-'));
  const files = {
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary'),
    GITHUB_STATE: join(dir, 'state'),
  };
  for (const file of Object.values(files)) writeFileSync(file, '');
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('INPUT_') && !key.startsWith('GITHUB_') && !key.startsWith('STATE_'))
      env[key] = value;
  }
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  for (const [name, value] of Object.entries(options.state ?? {})) env[`STATE_${name}`] = value;
  Object.assign(env, files, { GITHUB_SHA: '0123456789abcdef', GITHUB_ACTIONS: 'true' }, options.env ?? {});
  const started = Date.now();
  const child = spawn(process.execPath, [BUNDLE], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 110_000);
  const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
  clearTimeout(timer);
  return {
    code,
    stdout: Buffer.concat(out).toString(),
    stderr: Buffer.concat(err).toString(),
    outputs: parseCommandFile(readFileSync(files.GITHUB_OUTPUT, 'utf8')),
    summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
    state: parseCommandFile(readFileSync(files.GITHUB_STATE, 'utf8')),
    durationMs: Date.now() - started,
  };
}

/** The `::error::` lines the run printed (what the runner shows as annotations). */
export function errors(run: ActionRun): string[] {
  // Workflow commands escape %, CR and LF in their message.
  const unescape = (text: string) => text.replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%25/g, '%');
  return run.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error'))
    .map((l) => unescape(l.replace(/^::error[^:]*::/, '')));
}

/** The timeline the summary lists: [epoch ms, text] for each event. */
/** The summary's timeline: [noted at, text, call sent at (changes to the load balancer only)]. */
export function summaryTimeline(run: ActionRun): [number, string, number | undefined][] {
  const iso = '\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z';
  const line = new RegExp(`^- (${iso}) (.*?)(?: — sent (${iso}))?$`, 'gm');
  return [...run.summary.matchAll(line)].map((m) => [
    Date.parse(m[1] ?? ''),
    m[2] ?? '',
    m[3] ? Date.parse(m[3]) : undefined,
  ]);
}

/** Inputs that make a rollout fast enough for tests: short probes, windows at the 1s minimum, version v2. */
export const FAST_ROLLOUT: Readonly<Record<string, string>> = {
  'probe-interval': '200ms',
  'probe-timeout': '1s',
  'analysis-interval': '1s',
  'min-requests': '10',
  'drain-timeout': '5s',
  'startup-timeout': '10s',
  version: 'v2',
};
