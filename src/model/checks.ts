/**
 * The team's own checks, as the `checks` input declares them (a YAML list): what each is, where in the rollout it
 * runs, and the condition that passes it. Pure: parsing and judging values; the kinds that run them are src/checks/.
 */
import { parse as parseYaml } from 'yaml';
import { formatDuration, parseDuration } from './durations.js';

/** The named points of a rollout a check runs at. */
export const CHECK_POINTS = ['before-traffic', 'during', 'before-promotion', 'after', 'rollback'] as const;
export type CheckPoint = (typeof CHECK_POINTS)[number];

export const CHECK_KINDS = ['command', 'http', 'prometheus'] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];

export const CONDITION_OPERATORS = ['<=', '>=', '==', '!=', '<', '>'] as const;
export type ConditionOperator = (typeof CONDITION_OPERATORS)[number];

/** `< 0.01`, `== 0`, `== "ok"`: a comparison of the value a check read with a number or a text. */
export interface Condition {
  readonly op: ConditionOperator;
  readonly value: number | string;
  readonly text: string;
}

interface CheckBase {
  readonly name: string;
  readonly at: CheckPoint;
  /** How long one evaluation may take, retries of a missing or unreadable answer included, before it fails. */
  readonly timeoutMs: number;
  /** during: the pause between two evaluations. */
  readonly intervalMs: number;
  /** An answer with no data passes (only when the check says so); by default it is retried, then fails. */
  readonly noDataPasses: boolean;
}

export interface CommandCheck extends CheckBase {
  readonly kind: 'command';
  readonly run: string;
}

export interface HttpCheck extends CheckBase {
  readonly kind: 'http';
  /** With `{address}` (or `{host}`, `{port}`, `{server}`): once per new server, and per stable one for comparison. */
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly status: readonly (readonly [number, number])[];
  readonly body: string;
  readonly jsonPath: readonly string[] | undefined;
  readonly condition: Condition | undefined;
}

export interface PrometheusCheck extends CheckBase {
  readonly kind: 'prometheus';
  readonly url: string;
  readonly query: string;
  readonly condition: Condition;
}

export type CheckSpec = CommandCheck | HttpCheck | PrometheusCheck;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const COMMON = ['name', 'at', 'kind', 'timeout', 'interval', 'on-no-data'];
const FIELDS: Record<CheckKind, readonly string[]> = {
  command: ['run'],
  http: ['url', 'method', 'status', 'body', 'json-path', 'condition'],
  prometheus: ['url', 'query', 'condition'],
};
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_INTERVAL_MS = 2_000;
const MAX_CHECKS = 20;
export const URL_PLACEHOLDERS = /\{(address|host|port|server|backend|pool|version)\}/g;

/** Parses `< 0.01`, `== 0`, `!= "down"`, or says why it is not a condition. */
export function parseCondition(text: string): Condition | { error: string } {
  const match = /^\s*(<=|>=|==|!=|<|>)\s*(.+?)\s*$/.exec(text);
  const op = match?.[1] as ConditionOperator | undefined;
  const raw = match?.[2] ?? '';
  if (!op) return { error: `'${text}' is not a condition (examples: < 0.01, == 0, >= 1, == "ok")` };
  const quoted = /^"(.*)"$/.exec(raw) ?? /^'(.*)'$/.exec(raw) ?? /^(true|false)$/.exec(raw);
  if (quoted) {
    if (op !== '==' && op !== '!=') return { error: `'${text}': a text can only be compared with == or !=` };
    return { op, value: quoted[1] ?? '', text: `${op} ${raw}` };
  }
  const value = Number(raw);
  if (!Number.isFinite(value)) return { error: `'${text}': '${raw}' is not a number (quote a text: == "ok")` };
  return { op, value, text: `${op} ${raw}` };
}

/** Whether a value read meets the condition; a text compared with a number, or NaN, never does. */
export function meets(condition: Condition, value: number | string): boolean {
  const { op, value: want } = condition;
  if (typeof want === 'string' || typeof value === 'string') {
    const same = String(value) === String(want);
    return op === '==' ? same : op === '!=' ? !same : false;
  }
  if (Number.isNaN(value)) return false;
  switch (op) {
    case '<':
      return value < want;
    case '<=':
      return value <= want;
    case '>':
      return value > want;
    case '>=':
      return value >= want;
    case '==':
      return value === want;
    case '!=':
      return value !== want;
  }
}

type Fields = Readonly<Record<string, unknown>>;
type Problem = (field: string, message: string) => void;

function text(entry: Fields, field: string, problem: Problem, required = false): string {
  const value = entry[field];
  if (value === undefined || value === null || value === '') {
    if (required) problem(field, 'is required');
    return '';
  }
  if (typeof value !== 'string' && typeof value !== 'number') {
    problem(field, 'must be a text');
    return '';
  }
  return String(value);
}

function durationField(entry: Fields, field: string, fallback: number, min: number, problem: Problem): number {
  const raw = text(entry, field, problem);
  if (raw === '') return fallback;
  const ms = parseDuration(raw);
  if (typeof ms !== 'number') {
    problem(field, ms.error);
    return fallback;
  }
  if (ms < min) problem(field, `'${raw}' is too short: give at least ${formatDuration(min)}`);
  return ms;
}

function conditionField(entry: Fields, problem: Problem, required: boolean): Condition | undefined {
  const raw = text(entry, 'condition', problem, required);
  if (raw === '') return undefined;
  const condition = parseCondition(raw);
  if ('error' in condition) {
    problem('condition', condition.error);
    return undefined;
  }
  return condition;
}

function urlField(entry: Fields, problem: Problem, placeholders: boolean): string {
  const raw = text(entry, 'url', problem, true);
  if (raw === '') return '';
  const filled = raw.replace(URL_PLACEHOLDERS, placeholders ? 'x' : '$&');
  let url: URL | undefined;
  try {
    url = new URL(filled.replace(/\{[^}]*\}/g, 'x'));
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    problem('url', `'${raw}' is not an http:// or https:// URL`);
  else if (url.username || url.password)
    problem('url', 'holds a user or password; put credentials in a secret the check reads, not in its URL');
  const unknown = filled.match(/\{[^}]*\}/g);
  if (unknown)
    problem(
      'url',
      `unknown placeholder ${unknown.join(', ')} (known: {address}, {host}, {port}, {server}, {backend}, {pool}, {version})`,
    );
  return raw;
}

function statusField(entry: Fields, problem: Problem): [number, number][] {
  const raw = text(entry, 'status', problem) || '200-299';
  const ranges: [number, number][] = [];
  for (const part of raw.split(/[\s,]+/).filter(Boolean)) {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
    const low = Number(m?.[1]);
    const high = Number(m?.[2] ?? m?.[1]);
    if (!m || low < 100 || high > 599 || high < low) {
      problem('status', `'${part}' is not a status code or range (e.g. 200, 200-299)`);
      return [[200, 299]];
    }
    ranges.push([low, high]);
  }
  return ranges;
}

/** `$.a.b[0]` or `a.b.0` as the keys to follow. */
export function parseJsonPath(raw: string): string[] | { error: string } {
  const path = raw.replace(/^\$\.?/, '');
  const keys = path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((k) => k !== '');
  if (keys.length === 0 || keys.some((k) => !/^[A-Za-z0-9_-]+$/.test(k)))
    return { error: `'${raw}' is not a JSON path of keys and indexes (e.g. $.status, $.checks[0].ok)` };
  return keys;
}

function parseKind(base: CheckBase & { kind: CheckKind }, entry: Fields, problem: Problem): CheckSpec {
  switch (base.kind) {
    case 'command':
      return { ...base, kind: 'command', run: text(entry, 'run', problem, true) };
    case 'http': {
      const method = (text(entry, 'method', problem) || 'GET').toUpperCase();
      if (method !== 'GET' && method !== 'POST') problem('method', `'${method}' is not GET or POST`);
      const pathText = text(entry, 'json-path', problem);
      const jsonPath = pathText ? parseJsonPath(pathText) : undefined;
      if (jsonPath && 'error' in jsonPath) problem('json-path', jsonPath.error);
      const condition = conditionField(entry, problem, false);
      if (pathText && entry.condition === undefined) problem('condition', 'is required with json-path (e.g. == "ok")');
      if (entry.condition !== undefined && !pathText)
        problem('json-path', 'is required with condition: the value to compare');
      return {
        ...base,
        kind: 'http',
        url: urlField(entry, problem, true),
        method: method === 'POST' ? 'POST' : 'GET',
        status: statusField(entry, problem),
        body: text(entry, 'body', problem),
        jsonPath: jsonPath && !('error' in jsonPath) ? jsonPath : undefined,
        condition,
      };
    }
    case 'prometheus':
      return {
        ...base,
        kind: 'prometheus',
        url: urlField(entry, problem, false),
        query: text(entry, 'query', problem, true),
        condition: conditionField(entry, problem, true) ?? { op: '==', value: 0, text: '== 0' },
      };
  }
}

function parseEntry(entry: unknown, index: number, problems: string[]): CheckSpec | undefined {
  const label = `checks: check ${index + 1}`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    problems.push(`${label}: is not a mapping of fields (name: ..., at: ..., kind: ...)`);
    return undefined;
  }
  const fields = entry as Fields;
  const rawName = typeof fields.name === 'string' ? fields.name : '';
  const who = NAME.test(rawName) ? `checks: ${rawName}` : label;
  const problem: Problem = (field, message) => problems.push(`${who}: ${field}: ${message}`);
  if (!NAME.test(rawName))
    problem(
      'name',
      rawName ? `'${rawName}' may hold only letters, digits, '.', '_' and '-' (at most 63)` : 'is required',
    );
  const at = text(fields, 'at', problem, true);
  if (at && !(CHECK_POINTS as readonly string[]).includes(at))
    problem('at', `'${at}' is not one of ${CHECK_POINTS.join(', ')}`);
  const kind = text(fields, 'kind', problem, true);
  if (kind && !(CHECK_KINDS as readonly string[]).includes(kind))
    problem('kind', `'${kind}' is not one of ${CHECK_KINDS.join(', ')}`);
  if (!(CHECK_KINDS as readonly string[]).includes(kind)) return undefined;
  const known = [...COMMON, ...FIELDS[kind as CheckKind]];
  for (const field of Object.keys(fields))
    if (!known.includes(field)) problem(field, `is not a field of a ${kind} check (fields: ${known.join(', ')})`);
  const noData = text(fields, 'on-no-data', problem) || 'fail';
  if (noData !== 'fail' && noData !== 'pass') problem('on-no-data', `'${noData}' is not fail or pass`);
  const base = {
    name: rawName,
    at: at as CheckPoint,
    kind: kind as CheckKind,
    timeoutMs: durationField(fields, 'timeout', DEFAULT_TIMEOUT_MS, 100, problem),
    intervalMs: durationField(fields, 'interval', DEFAULT_INTERVAL_MS, 100, problem),
    noDataPasses: noData === 'pass',
  };
  if (fields.interval !== undefined && at !== 'during') problem('interval', 'is only used by checks at: during');
  return parseKind(base, fields, problem);
}

/** The `checks` input: a YAML list of checks; every problem names the check and its field. */
export function parseChecks(raw: string): CheckSpec[] | { error: string } {
  if (raw.trim() === '') return [];
  let doc: unknown;
  try {
    doc = parseYaml(raw);
  } catch (error) {
    const first = ((error as Error).message ?? '').split('\n')[0];
    return { error: `is not YAML (${first}); write a list of checks, each '- name: ...' (see docs/checks.md)` };
  }
  if (!Array.isArray(doc)) return { error: "must be a YAML list of checks, each starting '- name: ...'" };
  if (doc.length > MAX_CHECKS) return { error: `has ${doc.length} checks; at most ${MAX_CHECKS}` };
  const problems: string[] = [];
  const checks = doc.flatMap((entry, i) => parseEntry(entry, i, problems) ?? []);
  const seen = new Set<string>();
  for (const check of checks) {
    if (seen.has(check.name)) problems.push(`checks: ${check.name}: name: is used by two checks`);
    seen.add(check.name);
  }
  // The first problem goes through the schema's path ('checks: ...'); every one names its check and field.
  return problems.length ? { error: problems.map((p) => p.replace(/^checks: /, '')).join('; ') } : checks;
}

/** The pieces of a check worth showing (no credentials: checks hold none, secrets come in as the env). */
export function describeCheck(check: CheckSpec): string {
  switch (check.kind) {
    case 'command':
      return check.run.split('\n')[0] ?? '';
    case 'http':
      return `${check.method} ${check.url}${check.condition ? ` ${check.jsonPath?.join('.')} ${check.condition.text}` : ''}`;
    case 'prometheus':
      return `${check.query} ${check.condition.text}`;
  }
}

export const CHECK_POINT_TEXT: Record<CheckPoint, string> = {
  'before-traffic': 'before traffic (new servers, weight 0)',
  during: 'during every step (with the judge)',
  'before-promotion': 'before promotion (the last step)',
  after: 'after the end',
  rollback: 'on rollback',
};
