/**
 * The team's own checks, as the `checks` input declares them (a YAML list): what each is, where in the rollout it
 * runs, and the condition that passes it. Pure: parsing and judging values; the kinds that run them are src/checks/.
 */
import { parse as parseYaml } from 'yaml';
import { formatDuration, parseDuration } from './durations.js';

/** The named points of a rollout a check runs at. */
export const CHECK_POINTS = ['before-traffic', 'during', 'before-promotion', 'after', 'rollback'] as const;
export type CheckPoint = (typeof CHECK_POINTS)[number];

export const CHECK_KINDS = ['command', 'http', 'prometheus', 'cloudwatch', 'datadog'] as const;
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
  /** Request headers; `{secret:NAME}` in a value is filled from check-secrets when sent. */
  readonly headers: readonly (readonly [string, string])[];
}

export interface PrometheusCheck extends CheckBase {
  readonly kind: 'prometheus';
  readonly url: string;
  readonly query: string;
  readonly condition: Condition;
  readonly headers: readonly (readonly [string, string])[];
}

/** A CloudWatch metric (GetMetricData: a metric's statistic, or a Metrics Insights/math expression), or an alarm. */
export interface CloudWatchCheck extends CheckBase {
  readonly kind: 'cloudwatch';
  /** Empty: the SDK's own (AWS_REGION, AWS_DEFAULT_REGION, the profile). */
  readonly region: string;
  readonly source:
    | { readonly alarm: string }
    | {
        readonly namespace: string;
        readonly metric: string;
        readonly dimensions: readonly (readonly [string, string])[];
        readonly stat: string;
      }
    | { readonly expression: string };
  readonly periodS: number;
  /** How far back the query reads: its newest datapoint is judged. */
  readonly windowMs: number;
  /** undefined for an alarm (its state must be OK). */
  readonly condition: Condition | undefined;
}

/** A Datadog metrics query (/api/v1/query) or a monitor's state (/api/v1/monitor/{id}); keys are check-secrets. */
export interface DatadogCheck extends CheckBase {
  readonly kind: 'datadog';
  /** The site's API address, https://api.datadoghq.com by default. */
  readonly url: string;
  readonly source: { readonly monitor: number } | { readonly query: string };
  readonly windowMs: number;
  readonly condition: Condition | undefined;
  /** Names of check-secrets entries holding the API and application keys. */
  readonly apiKey: string;
  readonly appKey: string;
}

export type CheckSpec = CommandCheck | HttpCheck | PrometheusCheck | CloudWatchCheck | DatadogCheck;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const COMMON = ['name', 'at', 'kind', 'timeout', 'interval', 'on-no-data'];
const FIELDS: Record<CheckKind, readonly string[]> = {
  command: ['run'],
  http: ['url', 'method', 'status', 'body', 'json-path', 'condition', 'headers'],
  prometheus: ['url', 'query', 'condition', 'headers'],
  cloudwatch: [
    'region',
    'alarm',
    'namespace',
    'metric',
    'dimensions',
    'stat',
    'expression',
    'period',
    'window',
    'condition',
  ],
  datadog: ['url', 'monitor', 'query', 'window', 'condition', 'api-key', 'app-key'],
};
export const DATADOG_URL = 'https://api.datadoghq.com';
/** CloudWatch's statistics: the named ones and percentiles, trimmed means and the like (p99, tm90, TC(10%:90%)). */
const CLOUDWATCH_STAT = /^(SampleCount|Average|Sum|Minimum|Maximum|(p|tm|tc|ts|wm|pr|TM|TC|TS|WM|PR)\(?[\d.:%]*\)?)$/;
const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** `{secret:NAME}` in a header's value. */
export const SECRET_PLACEHOLDER = /\{secret:([^}]*)\}/g;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
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

/** `headers:` a mapping of header names to values, secrets as `{secret:NAME}` (never the secret itself). */
function headersField(entry: Fields, problem: Problem): [string, string][] {
  const raw = entry.headers;
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    problem('headers', 'must be a mapping of header names to values (Authorization: "Bearer {secret:TOKEN}")');
    return [];
  }
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (!HEADER_NAME.test(name)) problem('headers', `'${name}' is not a header name`);
    if (typeof value !== 'string' || /[\r\n]/.test(value)) problem('headers', `${name}: must be one line of text`);
    for (const m of String(value).matchAll(SECRET_PLACEHOLDER))
      if (!SECRET_NAME.test(m[1] ?? ''))
        problem('headers', `${name}: '{secret:${m[1]}}' does not name a check-secrets entry (letters, digits, _)`);
    pairs.push([name, String(value)]);
  }
  return pairs;
}

/** Exactly one of `names` is given (the fields that say what a check reads). */
function oneOf(entry: Fields, names: readonly string[], problem: Problem): string | undefined {
  const given = names.filter((n) => entry[n] !== undefined && entry[n] !== '');
  if (given.length === 1) return given[0];
  problem(
    given[0] ?? names[0] ?? '',
    given.length ? `give one of ${given.join(', ')}, not both` : `give one of ${names.join(', ')}`,
  );
  return undefined;
}

function dimensionsField(entry: Fields, problem: Problem): [string, string][] {
  const raw = entry.dimensions;
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    problem('dimensions', 'must be a mapping of dimension names to values (LoadBalancer: app/shop/50dc6c495c0c9188)');
    return [];
  }
  const pairs = Object.entries(raw).map(
    ([k, v]) => [k, typeof v === 'string' || typeof v === 'number' ? String(v) : ''] as [string, string],
  );
  for (const [k, v] of pairs) if (v === '') problem('dimensions', `${k}: must be a text`);
  if (pairs.length > 30) problem('dimensions', `has ${pairs.length} dimensions; CloudWatch allows at most 30`);
  return pairs;
}

function parseCloudWatch(base: CheckBase, entry: Fields, problem: Problem): CloudWatchCheck {
  const what = oneOf(entry, ['alarm', 'metric', 'expression'], problem);
  const stat = text(entry, 'stat', problem) || 'Average';
  if (!CLOUDWATCH_STAT.test(stat))
    problem('stat', `'${stat}' is not a CloudWatch statistic (Average, Sum, Maximum, p99, ...)`);
  const periodMs = durationField(entry, 'period', 60_000, 1000, problem);
  const periodS = Math.round(periodMs / 1000);
  if (![1, 5, 10, 30].includes(periodS) && periodS % 60 !== 0)
    problem('period', `${periodS}s is not a CloudWatch period (1s, 5s, 10s, 30s or a multiple of 60s)`);
  const region = text(entry, 'region', problem);
  if (region && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region))
    problem('region', `'${region}' is not an AWS region (us-east-1)`);
  for (const field of ['namespace', 'dimensions', 'stat'])
    if (what !== 'metric' && entry[field] !== undefined) problem(field, 'is only used with metric');
  if (what === 'alarm' && entry.condition !== undefined)
    problem('condition', "is not used with alarm: the check passes while the alarm's state is OK");
  const source =
    what === 'alarm'
      ? { alarm: text(entry, 'alarm', problem, true) }
      : what === 'expression'
        ? { expression: text(entry, 'expression', problem, true) }
        : {
            namespace: text(entry, 'namespace', problem, what === 'metric'),
            metric: text(entry, 'metric', problem),
            dimensions: dimensionsField(entry, problem),
            stat,
          };
  return {
    ...base,
    kind: 'cloudwatch',
    region,
    source,
    periodS,
    windowMs: durationField(entry, 'window', 5 * 60_000, periodMs, problem),
    condition: what === 'alarm' ? undefined : conditionField(entry, problem, what !== undefined),
  };
}

function parseDatadog(base: CheckBase, entry: Fields, problem: Problem): DatadogCheck {
  const what = oneOf(entry, ['monitor', 'query'], problem);
  const monitorText = text(entry, 'monitor', problem);
  const monitor = Number(monitorText);
  if (what === 'monitor' && !(Number.isInteger(monitor) && monitor > 0))
    problem('monitor', `'${monitorText}' is not a monitor id (the number in its URL)`);
  if (what === 'monitor' && entry.condition !== undefined)
    problem('condition', "is not used with monitor: the check passes while the monitor's state is OK");
  const key = (field: string, fallback: string) => {
    const name = text(entry, field, problem) || fallback;
    if (!SECRET_NAME.test(name))
      problem(field, `'${name}' is not the name of a check-secrets entry (letters, digits, _)`);
    return name;
  };
  const url = entry.url === undefined ? DATADOG_URL : urlField(entry, problem, false);
  return {
    ...base,
    kind: 'datadog',
    url,
    source: what === 'monitor' ? { monitor } : { query: text(entry, 'query', problem, what === 'query') },
    windowMs: durationField(entry, 'window', 5 * 60_000, 1000, problem),
    condition: what === 'monitor' ? undefined : conditionField(entry, problem, what !== undefined),
    apiKey: key('api-key', 'DD_API_KEY'),
    appKey: key('app-key', 'DD_APP_KEY'),
  };
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
        headers: headersField(entry, problem),
      };
    }
    case 'prometheus':
      return {
        ...base,
        kind: 'prometheus',
        url: urlField(entry, problem, false),
        query: text(entry, 'query', problem, true),
        condition: conditionField(entry, problem, true) ?? { op: '==', value: 0, text: '== 0' },
        headers: headersField(entry, problem),
      };
    case 'cloudwatch':
      return parseCloudWatch(base, entry, problem);
    case 'datadog':
      return parseDatadog(base, entry, problem);
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
    case 'cloudwatch': {
      const s = check.source;
      if ('alarm' in s) return `alarm ${s.alarm} OK`;
      const read =
        'expression' in s
          ? s.expression
          : `${s.stat} ${s.namespace} ${s.metric}${s.dimensions.map(([k, v]) => ` ${k}=${v}`).join('')}`;
      return `${read} ${check.condition?.text ?? ''}`;
    }
    case 'datadog':
      return 'monitor' in check.source
        ? `monitor ${check.source.monitor} OK`
        : `${check.source.query} ${check.condition?.text ?? ''}`;
  }
}

/** The names of the check-secrets entries the checks use. */
export function secretsUsed(checks: readonly CheckSpec[]): { check: string; field: string; name: string }[] {
  return checks.flatMap((c) => {
    if (c.kind === 'datadog')
      return [
        { check: c.name, field: 'api-key', name: c.apiKey },
        { check: c.name, field: 'app-key', name: c.appKey },
      ];
    if (c.kind !== 'http' && c.kind !== 'prometheus') return [];
    return c.headers.flatMap(([header, value]) =>
      [...value.matchAll(SECRET_PLACEHOLDER)].map((m) => ({
        check: c.name,
        field: `headers: ${header}`,
        name: m[1] ?? '',
      })),
    );
  });
}

/** A header's value with each `{secret:NAME}` filled (an entry not given stays empty: the check is refused first). */
export function fillSecrets(value: string, secrets: ReadonlyMap<string, string> | undefined): string {
  return value.replace(SECRET_PLACEHOLDER, (_whole, name: string) => secrets?.get(name) ?? '');
}

/** The text with every secret value in it replaced by `***` (values shorter than 4 characters are not secrets). */
export function redactSecrets(text: string, secrets: ReadonlyMap<string, string> | undefined): string {
  const values = [...(secrets?.values() ?? [])].filter((v) => v.length >= 4).sort((a, b) => b.length - a.length);
  return values.reduce((t, v) => t.replaceAll(v, '***'), text);
}

/** `check-secrets`: `NAME=value` lines (values from the workflow's secrets), or why not. */
export function parseCheckSecrets(raw: string): ReadonlyMap<string, string> | { error: string } {
  const secrets = new Map<string, string>();
  for (const [i, line] of raw.split('\n').entries()) {
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    const name = eq > 0 ? line.slice(0, eq).trim() : '';
    if (!SECRET_NAME.test(name))
      return { error: `line ${i + 1} is not NAME=value (a name of letters, digits and _, then =, then the secret)` };
    if (secrets.has(name)) return { error: `${name} is given twice` };
    secrets.set(name, line.slice(eq + 1).trim());
  }
  return secrets;
}

export const CHECK_POINT_TEXT: Record<CheckPoint, string> = {
  'before-traffic': 'before traffic (new servers, weight 0)',
  during: 'during every step (with the judge)',
  'before-promotion': 'before promotion (the last step)',
  after: 'after the end',
  rollback: 'on rollback',
};
