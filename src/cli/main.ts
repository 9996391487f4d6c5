/**
 * The CLI: the action's main step (main.ts) and post step (post.ts) run in one process, with inputs from flags,
 * ZDD_* variables and a YAML file, the step state in a state file, rollout records local unless GitHub is given,
 * and @actions/core's output rendered for a terminal or as NDJSON.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readActionInputs, INPUT_DEFAULTS, SECRET_INPUTS, type RunContext } from '../inputs.js';
import { run } from '../main.js';
import { InputError, errorMessage } from '../model/errors.js';
import { parseDuration } from '../model/durations.js';
import { parseLoadBalancer } from '../lb/registry.js';
import { useLocalRecords } from '../report/deployment.js';
import type { Settings } from '../settings.js';
import { Console, humanRenderer, jsonRenderer } from './console.js';
import { EXIT, exitCodeOf } from './exit-codes.js';
import { describeSource, invocation, UsageError, type Invocation } from './flags.js';
import { helpText, inputDescriptionsOf } from './help.js';
import { localRecords } from './records.js';
import { restoreLeftRuns } from './restore.js';
import { lockLine, tableLines } from './status.js';
import { defaultStatePath, RUN_KEY, StateFile, StateFileError } from './state-file.js';
import { VERSION } from './version.js';

type Write = (text: string) => void;

/** How a command ended: its exit code and the one error to print, if any. */
interface Ended {
  readonly code: number;
  readonly message?: string;
}

/** The YAML parser, loaded only for a run with a config file (a smaller bundle to start). */
type ParseYaml = (text: string) => unknown;

function configLoader(parseYaml: ParseYaml | undefined): (file: string) => unknown {
  return (file) => loadConfig(file, parseYaml);
}

function loadConfig(file: string, parseYaml: ParseYaml | undefined): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `--config ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)})`,
    );
  }
  try {
    if (!parseYaml) throw new Error('internal: no YAML parser loaded');
    return parseYaml(text);
  } catch (error) {
    throw new UsageError(`--config ${file}: is not YAML: ${errorMessage(error).split('\n')[0]}`);
  }
}

/** action.yml's input descriptions, for --help (the bundle carries action.yml). */
function inputDescriptions(): Record<string, string> {
  try {
    return inputDescriptionsOf(readFileSync(new URL('../../action.yml', import.meta.url), 'utf8'));
  } catch {
    return {};
  }
}

/** The commit for the version default: the CI system's own variable (GitHub, GitLab, Jenkins), if any. */
function cliContext(env: NodeJS.ProcessEnv): RunContext {
  return { sha: env.GITHUB_SHA || env.CI_COMMIT_SHA || env.GIT_COMMIT || '', pullRequestNumber: undefined };
}

/** Rewrites an InputError's problems to name the flag (and the variable or file the value came from). */
function describeProblems(error: InputError, inv: Invocation): string {
  const lines = error.problems.map((problem) => {
    const match = /^([a-z][a-z0-9-]*): /.exec(problem);
    const name = match?.[1];
    if (!name || !(name in INPUT_DEFAULTS)) return problem;
    return `${describeSource(name, inv.sources[name])}: ${problem.slice(name.length + 2)}`;
  });
  return `${lines.length === 1 ? 'Invalid input' : `${lines.length} invalid inputs`}:\n- ${lines.join('\n- ')}`;
}

interface Session {
  readonly inv: Invocation;
  readonly console: Console;
  readonly stateFile: StateFile;
  readonly outputs: Record<string, string>;
  readonly signals: string[];
}

function statePath(inv: Invocation): string {
  if (inv.cli.state) return inv.cli.state;
  const lb = inv.inputs['load-balancer']?.trim();
  if (!lb)
    throw new UsageError(
      `--load-balancer is required${inv.command === 'restore' ? ' (or --state FILE) to find the state file' : ''}`,
    );
  // One file per load balancer however its URL is spelled (as the checkpoint names it).
  const url = parseLoadBalancer(lb);
  return defaultStatePath('error' in url ? lb : url.display);
}

function lockWaitMs(inv: Invocation): number | undefined {
  const text = inv.cli['lock-wait'];
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (typeof ms !== 'number') throw new UsageError(`--lock-wait: ${ms.error}`);
  return ms;
}

/** The reader the action's input code gets: the merged flags, variables and file. */
function inputReader(inv: Invocation): () => Settings {
  return () => readActionInputs((name) => inv.inputs[name] ?? '', cliContext(process.env));
}

/** The inputs kept with a run in the state file for its restore (never a secret). */
function keptInputs(inv: Invocation): Record<string, string> {
  return Object.fromEntries(
    Object.entries(inv.inputs).filter(([name]) => !(SECRET_INPUTS as readonly string[]).includes(name)),
  );
}

/** Child processes (deploy commands) must not see the CLI's ZDD_* variables: tokens are among them. */
function scrubEnvironment(env: NodeJS.ProcessEnv): void {
  for (const key of Object.keys(env)) {
    if (key.startsWith('ZDD_') || key.startsWith('STATE_') || key.startsWith('INPUT_')) delete env[key];
  }
  // Outputs, state and summary come to this process, never to a runner's files.
  delete env.GITHUB_OUTPUT;
  delete env.GITHUB_STATE;
  delete env.GITHUB_STEP_SUMMARY;
}

function prepareSummary(file: string | undefined): void {
  if (!file) return;
  try {
    writeFileSync(file, '');
  } catch (error) {
    throw new UsageError(`--summary ${file}: cannot write it (${(error as NodeJS.ErrnoException).code ?? ''})`);
  }
  process.env.GITHUB_STEP_SUMMARY = file;
}

function resultLine(outputs: Record<string, string>, code: number): string {
  const parts = [`result ${outputs.result ?? 'failed'}`];
  if (outputs['live-pool']) parts.push(`live pool ${outputs['live-pool']}`);
  if (outputs.weight && outputs.weight !== '0') parts.push(`new version at ${outputs.weight}%`);
  if (outputs['deployment-id']) parts.push(`deployment ${outputs['deployment-id']}`);
  const next =
    code === EXIT.paused
      ? '\nnext: zero-downtime-deploy promote (or abort), with the same --load-balancer, --pools, --environment and --state'
      : '';
  return `${parts.join(', ')} (exit ${code})${next}`;
}

async function runCommand(session: Session): Promise<Ended> {
  const { inv, stateFile, console } = session;
  const context = cliContext(process.env);
  const errors = () => console.takeErrors();
  // Bad input is refused before anything changes, the restore of a killed run's traffic included.
  try {
    inputReader(inv)();
  } catch (error) {
    if (error instanceof InputError) return { code: EXIT.badInput, message: describeProblems(error, inv) };
    throw error;
  }
  const locked = ['deploy', 'promote', 'abort', 'preview'].includes(inv.command ?? '');
  // What a killed run left on this load balancer goes back first, as its post step would have done.
  if (locked) {
    const left = await restoreLeftRuns(stateFile, inv.inputs, context, 'next', errors);
    if (left.failed)
      return { code: EXIT.failed, message: `${left.failed}. Nothing else was changed; run restore once it is fixed.` };
  }
  // status puts its weights table in the summary: one is written (to a temporary file if not asked) and printed.
  const status = inv.command === 'status';
  if (status && !process.env.GITHUB_STEP_SUMMARY)
    prepareSummary(join(mkdtempSync(join(tmpdir(), 'zdd-status-')), 'summary.md'));
  // Cancelled while a killed run's traffic was being put back: that part is done, nothing new starts.
  const early = session.signals[0];
  if (early)
    return {
      code: early === 'SIGINT' ? EXIT.sigint : EXIT.sigterm,
      message: `cancelled (${early}) before the run started; nothing was changed`,
    };
  const end = await run({ readInputs: inputReader(inv), lockWaitMs: lockWaitMs(inv) });
  const failure = errors().join('\n');
  if (status && !end.error) await printStatus(inv, console);
  // The post step's part: a checkpoint or lock this run still holds (it was cancelled or failed mid-move).
  let restoreFailed: string | undefined;
  if (stateFile.read().runs[RUN_KEY])
    restoreFailed = (await restoreLeftRuns(stateFile, inv.inputs, context, 'own', errors)).failed;
  if (end.error instanceof InputError) return { code: EXIT.badInput, message: describeProblems(end.error, inv) };
  const message = [failure, restoreFailed].filter(Boolean).join('\n') || undefined;
  const signal = session.signals[0];
  const code = signal ? (signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm) : exitCodeOf(end.outcome.result);
  return { code: restoreFailed ? EXIT.failed : code, ...(message ? { message } : {}) };
}

async function printStatus(inv: Invocation, console: Console): Promise<void> {
  const summary = process.env.GITHUB_STEP_SUMMARY;
  console.emit({ type: 'stage', name: 'Pools and lock' });
  for (const line of summary ? tableLines(summary) : []) console.emit({ type: 'log', message: line });
  console.emit({ type: 'log', message: await lockLine(inputReader(inv)()) });
}

/** Every signal is remembered (main.ts's own handlers cancel the run); the third one ends the process at once. */
function watchSignals(signals: string[], err: Write): () => void {
  const on = (name: NodeJS.Signals) => () => {
    signals.push(name);
    if (signals.length === 1)
      err(`${name}: cancelling; traffic is made safe before exiting (send it twice more to exit at once)\n`);
    if (signals.length >= 3) process.exit(name === 'SIGINT' ? EXIT.sigint : EXIT.sigterm);
  };
  const handlers = { SIGINT: on('SIGINT'), SIGTERM: on('SIGTERM') };
  process.on('SIGINT', handlers.SIGINT);
  process.on('SIGTERM', handlers.SIGTERM);
  return () => {
    process.off('SIGINT', handlers.SIGINT);
    process.off('SIGTERM', handlers.SIGTERM);
  };
}

function usage(error: UsageError, err: Write, json: boolean, out: Write): number {
  if (json)
    out(
      `${JSON.stringify({ time: new Date().toISOString(), type: 'result', result: 'failed', exitCode: EXIT.badInput, message: error.message })}\n`,
    );
  err(`zero-downtime-deploy: ${error.message}\nRun zero-downtime-deploy --help for the commands and flags.\n`);
  return EXIT.badInput;
}

interface Prepared {
  readonly inv: Invocation;
  readonly stateFile: StateFile;
  readonly json: boolean;
}

/** Everything checked before the run: flags, help, the state file, --lock-wait, --summary; a number is an exit. */
async function prepare(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  out: Write,
  err: Write,
): Promise<Prepared | number> {
  // Until the flags are parsed (a usage error): a guess; then what --json or ZDD_JSON says.
  const guess = argv.includes('--json') || env.ZDD_JSON === 'true';
  const wantsConfig = argv.some((a) => a === '--config' || a.startsWith('--config=')) || !!env.ZDD_CONFIG;
  const yaml = wantsConfig ? (await import('yaml')).parse : undefined;
  let inv: Invocation | undefined;
  try {
    inv = invocation(argv, env, INPUT_DEFAULTS, configLoader(yaml));
    if (inv.cli.help === 'true') return (out(helpText(INPUT_DEFAULTS, VERSION, inputDescriptions())), EXIT.ok);
    if (!inv.command && inv.inputs.action === undefined)
      throw new UsageError('give a command: deploy, promote, abort, status, preview, close-preview or restore');
    scrubEnvironment(process.env);
    const stateFile = new StateFile(statePath(inv));
    // Written at every change mid-rollout: a file that cannot be written is refused before anything moves.
    stateFile.check();
    lockWaitMs(inv);
    prepareSummary(inv.cli.summary);
    return { inv, stateFile, json: inv.cli.json === 'true' };
  } catch (error) {
    const json = inv ? inv.cli.json === 'true' : guess;
    if (error instanceof UsageError) return usage(error, err, json, out);
    if (error instanceof StateFileError) return usage(new UsageError(error.message), err, json, out);
    throw error;
  }
}

/** The console for this run: outputs collected, step state to the state file (and STATE_*, as a post step sees it). */
function openConsole({ inv, stateFile, json }: Prepared, out: Write, err: Write) {
  const verbose = inv.cli.verbose === 'true';
  const outputs: Record<string, string> = {};
  const command = inv.command ?? inv.inputs.action ?? '';
  const console = new Console(json ? jsonRenderer(out, verbose) : humanRenderer(out, err, verbose), {
    output: (name, value) => (outputs[name] = value),
    state: (name, value) => {
      if (value) process.env[`STATE_${name}`] = value;
      else delete process.env[`STATE_${name}`];
      stateFile.saveRunState(command, name, value, keptInputs(inv));
    },
  });
  for (const name of SECRET_INPUTS) if (inv.inputs[name]) console.mask(inv.inputs[name]);
  return { console, outputs };
}

/** The one error, then the result: a line for people, the last event with --json. */
function report(ended: Ended, prepared: Prepared, console: Console, outputs: Record<string, string>, out: Write): void {
  const { inv, json } = prepared;
  if (ended.message && ended.code !== EXIT.ok) console.emit({ type: 'error', message: ended.message });
  const restore = inv.command === 'restore';
  const result = restore ? (ended.code === EXIT.ok ? 'restored' : 'failed') : (outputs.result ?? 'failed');
  if (json) {
    const message = ended.message ? { message: console.redact(ended.message) } : {};
    console.emit({ type: 'result', result, exitCode: ended.code, outputs, ...message });
  } else out(`\n${restore ? `restore: ${result} (exit ${ended.code})` : resultLine(outputs, ended.code)}\n`);
}

export async function cli(argv: readonly string[], env: NodeJS.ProcessEnv, out: Write, err: Write): Promise<number> {
  const prepared = await prepare(argv, env, out, err);
  if (typeof prepared === 'number') return prepared;
  const { inv, stateFile } = prepared;
  const { console, outputs } = openConsole(prepared, out, err);
  const signals: string[] = [];
  const unwatch = watchSignals(signals, err);
  // GitHub deployments only with a token and a repository; else the records stay in the state file.
  if (!(inv.inputs['github-token'] && process.env.GITHUB_REPOSITORY)) useLocalRecords(localRecords(stateFile));
  console.capture();
  let ended: Ended;
  try {
    ended =
      inv.command === 'restore'
        ? await restoreCommand(stateFile, inv, console)
        : await runCommand({ inv, console, stateFile, outputs, signals });
  } catch (error) {
    ended = { code: EXIT.failed, message: errorMessage(error) };
  } finally {
    console.release();
    unwatch();
  }
  report(ended, prepared, console, outputs, out);
  return ended.code;
}

async function restoreCommand(stateFile: StateFile, inv: Invocation, console: Console): Promise<Ended> {
  const result = await restoreLeftRuns(stateFile, inv.inputs, cliContext(process.env), 'all', () =>
    console.takeErrors(),
  );
  for (const run of result.alive)
    console.emit({ type: 'warning', message: `restore: ${run} is still running; left as it is` });
  if (result.failed) return { code: EXIT.failed, message: result.failed };
  console.emit({
    type: 'log',
    message: result.restored
      ? `restore: put back what ${result.restored} interrupted run(s) left (${stateFile.path})`
      : `restore: no interrupted run left anything to restore in ${stateFile.path}`,
  });
  return { code: EXIT.ok };
}
