/**
 * `datadog`: a metrics query (`GET /api/v1/query`, each series' newest point held to the condition) or a monitor's
 * state (`GET /api/v1/monitor/{id}`: OK passes, Alert and Warn fail, No Data and the rest are no data). Plain
 * fetch: the official client is 130 MB for two GET requests. The API and application keys come from check-secrets,
 * go only into the request's headers, and are cut out of anything a report shows.
 */
import { meets, type DatadogCheck } from '../model/checks.js';
import { errorMessage } from '../model/errors.js';
import { fill, templateValues, type CheckKindRunner, type Reading } from './kind.js';

interface Series {
  readonly metric?: string;
  readonly scope?: string;
  readonly expression?: string;
  readonly pointlist?: readonly (readonly [number | null, number | null])[];
}

interface QueryAnswer {
  readonly status?: string;
  readonly error?: string;
  readonly series?: readonly Series[];
}

/** Every series' newest non-null point against the condition; an empty answer or an error has no data. */
export function judgeQuery(check: DatadogCheck, answer: QueryAnswer): Reading {
  if (answer.status !== 'ok' || !Array.isArray(answer.series))
    return {
      verdict: 'no-data',
      value: 'no data',
      detail: `Datadog answered ${answer.status ?? 'no status'}${answer.error ? `: ${answer.error}` : ''}`,
    };
  if (answer.series.length === 0)
    return { verdict: 'no-data', value: 'no data', detail: 'the query returned no series' };
  const read: { label: string; value: number }[] = [];
  for (const s of answer.series) {
    const label =
      s.scope && s.scope !== '*'
        ? `${s.metric ?? s.expression ?? 'series'}{${s.scope}}`
        : (s.expression ?? s.metric ?? 'series');
    const points: [number, number][] = (s.pointlist ?? []).filter(
      (p: readonly (number | null)[]): p is [number, number] =>
        Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number' && Number.isFinite(p[1]),
    );
    const newest = points.sort((a, b) => b[0] - a[0])[0];
    if (!newest) return { verdict: 'no-data', value: 'no data', detail: `${label}: no point in the window` };
    read.push({ label, value: newest[1] });
  }
  const condition = check.condition;
  const shown = read.map((r) => `${r.label} ${r.value}`).join(', ');
  const bad = condition ? read.find((r) => !meets(condition, r.value)) : undefined;
  if (bad) return { verdict: 'fail', value: String(bad.value), detail: `${shown}; wanted ${condition?.text}` };
  return {
    verdict: 'pass',
    value: read.map((r) => r.value).join(', '),
    detail: `${shown} ${condition?.text ?? ''}`.trim(),
  };
}

/** A monitor's overall_state: OK passes, Alert and Warn fail, No Data, Unknown, Skipped and Ignored have no data. */
export function judgeMonitor(id: number, monitor: { overall_state?: string; name?: string }): Reading {
  const state = monitor.overall_state ?? 'no state';
  const name = monitor.name ? ` (${monitor.name})` : '';
  if (state === 'OK') return { verdict: 'pass', value: state, detail: `monitor ${id}${name} is OK` };
  if (state === 'Alert' || state === 'Warn')
    return { verdict: 'fail', value: state, detail: `monitor ${id}${name} is ${state}` };
  return { verdict: 'no-data', value: state, detail: `monitor ${id}${name} is ${state}` };
}

function requestUrl(check: DatadogCheck, query: string | undefined): string {
  const base = check.url.replace(/\/+$/, '');
  if ('monitor' in check.source) return `${base}/api/v1/monitor/${check.source.monitor}`;
  const to = Math.floor(Date.now() / 1000);
  const from = to - Math.round(check.windowMs / 1000);
  return `${base}/api/v1/query?${new URLSearchParams({ from: String(from), to: String(to), query: query ?? '' })}`;
}

/** Datadog's answer to an error: `{"errors": ["Forbidden"]}`. */
function errorsOf(text: string): string {
  try {
    const errors = (JSON.parse(text) as { errors?: unknown }).errors;
    if (Array.isArray(errors)) return errors.map(String).join('; ');
  } catch {
    // not JSON: shown as it came
  }
  return text.replace(/\s+/g, ' ').slice(0, 80);
}

async function read(
  check: DatadogCheck,
  keys: { api: string; app: string },
  query: string | undefined,
  signal: AbortSignal,
): Promise<Reading> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(requestUrl(check, query), {
      signal,
      headers: { accept: 'application/json', 'DD-API-KEY': keys.api, 'DD-APPLICATION-KEY': keys.app },
    });
    text = await response.text();
  } catch (error) {
    const why = signal.aborted ? 'no answer within the timeout' : errorMessage((error as Error).cause ?? error);
    return { verdict: 'no-data', value: 'no data', detail: `${check.url} unreachable: ${why}` };
  }
  if (response.status === 401 || response.status === 403)
    return {
      verdict: 'no-data',
      value: `${response.status}`,
      detail: `Datadog refused the keys (${response.status} ${errorsOf(text)}): check the api-key and app-key secrets and the app key's scopes (metrics_read, monitors_read)`,
    };
  if (!response.ok)
    return {
      verdict: 'no-data',
      value: `${response.status}`,
      detail: `Datadog answered ${response.status}: ${errorsOf(text)}`,
    };
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    return {
      verdict: 'no-data',
      value: 'no data',
      detail: `${check.url} answered something not JSON: ${text.replace(/\s+/g, ' ').slice(0, 80)}`,
    };
  }
  if (typeof answer !== 'object' || answer === null)
    return {
      verdict: 'no-data',
      value: 'no data',
      detail: `${check.url} answered ${JSON.stringify(answer).slice(0, 80)}`,
    };
  if ('monitor' in check.source) return judgeMonitor(check.source.monitor, answer as { overall_state?: string });
  const reading = judgeQuery(check, answer as QueryAnswer);
  return { ...reading, detail: `${query}: ${reading.detail}` };
}

/** The text with every key cut out. */
function redact(text: string, keys: readonly string[]): string {
  return keys.filter((k) => k.length >= 4).reduce((t, k) => t.replaceAll(k, '***'), text);
}

export const datadogKind: CheckKindRunner<DatadogCheck> = {
  async evaluate(check, context, _target, signal) {
    const api = context.secrets?.get(check.apiKey);
    const app = context.secrets?.get(check.appKey);
    if (!api || !app)
      return {
        verdict: 'fail',
        value: 'no keys',
        detail: `check-secrets has no ${!api ? check.apiKey : check.appKey}`,
      };
    const query = 'query' in check.source ? fill(check.source.query, templateValues(context), (v) => v) : undefined;
    const reading = await read(check, { api, app }, query, signal);
    return { ...reading, value: redact(reading.value, [api, app]), detail: redact(reading.detail, [api, app]) };
  },
};
