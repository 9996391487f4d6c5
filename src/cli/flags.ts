/**
 * The CLI's command line: a command, every action input as a flag of the same name (`--load-balancer`), as an
 * environment variable (`ZDD_LOAD_BALANCER`: ZDD_, the name in upper case, '-' as '_') and as a key of a YAML file
 * (`--config FILE`), plus the CLI's own flags. A flag wins over the environment, the environment over the file.
 * Pure: nothing here touches the load balancer, and every mistake is a UsageError naming the flag.
 */
import { ACTIONS, type ActionName } from '../settings.js';

export const COMMANDS = [...ACTIONS, 'restore'] as const;
export type CommandName = (typeof COMMANDS)[number];

/** The CLI's own flags (not action inputs), with whether each takes a value. */
export const CLI_FLAGS = {
  config: { value: true, text: 'FILE: read inputs from a YAML file (keys are the input names)' },
  state: { value: true, text: 'FILE: the state file (checkpoint, lock, local rollout records); default: see below' },
  'lock-wait': { value: true, text: "DURATION: wait this long for another run's lock instead of failing at once" },
  json: { value: false, text: 'print NDJSON events (one JSON object a line), the last one the result' },
  summary: { value: true, text: "FILE: write the run's Markdown summary (the action's job summary) to FILE" },
  verbose: { value: false, text: 'also print debug lines' },
  help: { value: false, text: "print this help (and this release's version)" },
} as const;
export type CliFlag = keyof typeof CLI_FLAGS;

/** Where an input's value came from, to name it in an error. */
export type Source = { kind: 'flag' } | { kind: 'env'; name: string } | { kind: 'config'; file: string };

export interface Invocation {
  readonly command: CommandName | undefined;
  /** Action inputs given, by input name (defaults are applied by inputs.ts, as in the action). */
  readonly inputs: Readonly<Record<string, string>>;
  readonly sources: Readonly<Record<string, Source>>;
  readonly cli: Partial<Record<CliFlag, string>>;
}

/** A mistake on the command line, in the environment or in the config file: exit code "bad input". */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The environment variable of an input or CLI flag: ZDD_LOAD_BALANCER for load-balancer. */
export function envName(name: string): string {
  return `ZDD_${name.toUpperCase().replace(/-/g, '_')}`;
}

/** How an input's value is named to the user: --steps, ZDD_STEPS, or steps in the config file. */
export function describeSource(name: string, source: Source | undefined): string {
  if (!source || source.kind === 'flag') return `--${name}`;
  return source.kind === 'env' ? `${source.name} (--${name})` : `${name} in ${source.file} (--${name})`;
}

/** The closest known name within two edits, for "did you mean". */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = row;
  }
  return previous[b.length] ?? 0;
}

function unknown(what: string, name: string, known: readonly string[]): UsageError {
  const near = closest(name, known);
  return new UsageError(
    `${what}${near ? ` (did you mean ${what.startsWith('unknown flag') ? `--${near}` : near}?)` : ''}`,
  );
}

/** Boolean inputs and flags: `--dry-run` alone means true. */
function isBoolean(name: string, defaults: Readonly<Record<string, string>>): boolean {
  return defaults[name] === 'false' || defaults[name] === 'true';
}

interface FlagParse {
  command: CommandName | undefined;
  inputs: Record<string, string>;
  cli: Partial<Record<CliFlag, string>>;
}

/** The command line alone: the command and the flags, each checked against the known names. */
export function parseArgv(argv: readonly string[], defaults: Readonly<Record<string, string>>): FlagParse {
  const result: FlagParse = { command: undefined, inputs: {}, cli: {} };
  const inputNames = Object.keys(defaults);
  const all = [...inputNames, ...Object.keys(CLI_FLAGS)];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) {
      if (result.command)
        throw new UsageError(`unexpected argument '${arg}': the command is already ${result.command}`);
      if (!(COMMANDS as readonly string[]).includes(arg))
        throw unknown(`unknown command '${arg}': give one of ${COMMANDS.join(', ')}`, arg, COMMANDS);
      result.command = arg as CommandName;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const cli = (CLI_FLAGS as Record<string, { value: boolean }>)[name];
    if (!cli && !inputNames.includes(name)) throw unknown(`unknown flag --${name}`, name, all);
    const takesValue = cli ? cli.value : !isBoolean(name, defaults);
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (!takesValue) {
      const next = argv[i + 1];
      value = next === 'true' || next === 'false' ? (i++, next) : 'true';
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2))
        throw new UsageError(`--${name} needs a value (--${name} VALUE or --${name}=VALUE)`);
      value = next;
      i++;
    }
    const seen = cli ? result.cli[name as CliFlag] : result.inputs[name];
    if (seen !== undefined) throw new UsageError(`--${name} is given twice`);
    if (cli) result.cli[name as CliFlag] = value;
    else result.inputs[name] = value;
  }
  return result;
}

/** ZDD_* variables: each must name an input or a CLI flag (a typo is refused, not ignored). */
export function readEnv(env: NodeJS.ProcessEnv, defaults: Readonly<Record<string, string>>): FlagParse {
  const result: FlagParse = { command: undefined, inputs: {}, cli: {} };
  const names = [...Object.keys(defaults), ...Object.keys(CLI_FLAGS).filter((f) => f !== 'help')];
  const byEnv = new Map(names.map((n) => [envName(n), n]));
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('ZDD_') || value === undefined) continue;
    const name = byEnv.get(key);
    if (!name) throw unknown(`unknown environment variable ${key}`, key, [...byEnv.keys()]);
    if (name in CLI_FLAGS) result.cli[name as CliFlag] = value;
    else result.inputs[name] = value;
  }
  return result;
}

/** A YAML config file's keys, as parsed (an object of scalars; a list is joined with ', '). */
export function configInputs(
  parsed: unknown,
  file: string,
  defaults: Readonly<Record<string, string>>,
): Record<string, string> {
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new UsageError(`--config ${file}: must be a mapping of input names to values (e.g. strategy: canary)`);
  const inputs: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!(key in defaults)) throw unknown(`--config ${file}: unknown key ${key}`, key, Object.keys(defaults));
    const scalar = (v: unknown) => {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
      throw new UsageError(`--config ${file}: ${key} must be text, a number, true/false or a list of them`);
    };
    inputs[key] = Array.isArray(value) ? value.map(scalar).join(', ') : value === null ? '' : scalar(value);
  }
  return inputs;
}

/**
 * Merges the three sources (flag over environment over file) and checks the command against the action input.
 * `loadConfig` reads and parses the YAML file (I/O kept out of here).
 */
export function invocation(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  defaults: Readonly<Record<string, string>>,
  loadConfig: (file: string) => unknown,
): Invocation {
  const flags = parseArgv(argv, defaults);
  const fromEnv = readEnv(env, defaults);
  const cli = { ...fromEnv.cli, ...flags.cli };
  const file = cli.config;
  const fromFile = file ? configInputs(loadConfig(file), file, defaults) : {};
  const inputs: Record<string, string> = {};
  const sources: Record<string, Source> = {};
  const add = (values: Record<string, string>, source: (name: string) => Source) => {
    for (const [name, value] of Object.entries(values)) {
      inputs[name] = value;
      sources[name] = source(name);
    }
  };
  add(fromFile, () => ({ kind: 'config', file: file ?? '' }));
  add(fromEnv.inputs, (name) => ({ kind: 'env', name: envName(name) }));
  add(flags.inputs, () => ({ kind: 'flag' }));
  for (const [name, flag] of Object.entries(CLI_FLAGS)) {
    const value = cli[name as CliFlag];
    if (!flag.value && value !== undefined && value !== 'true' && value !== 'false')
      throw new UsageError(
        `${fromEnv.cli[name as CliFlag] === value && flags.cli[name as CliFlag] === undefined ? envName(name) : `--${name}`}: '${value}' is not true or false`,
      );
  }
  let command = flags.command;
  const action = inputs.action;
  if (command && command !== 'restore' && action !== undefined && action !== command)
    throw new UsageError(
      `${describeSource('action', sources.action)} says ${action} but the command is ${command}: give one of them`,
    );
  if (!command && action && (COMMANDS as readonly string[]).includes(action)) command = action as ActionName;
  if (command && command !== 'restore') inputs.action = command;
  return { command, inputs, sources, cli };
}
