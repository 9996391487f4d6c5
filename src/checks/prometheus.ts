/**
 * `prometheus`: an instant PromQL query (`/api/v1/query`) templated with the version and pools, every series of the
 * answer held to the condition. An empty answer, NaN, an error or an unreadable body is no data, never a pass.
 */
import { fillSecrets, meets, type PrometheusCheck } from '../model/checks.js';
import { errorMessage } from '../model/errors.js';
import { fill, templateValues, type CheckKindRunner, type Reading } from './kind.js';

interface Sample {
  readonly metric?: Record<string, string>;
  readonly value?: [number, string];
}

interface Answer {
  readonly status?: string;
  readonly error?: string;
  readonly data?: { readonly resultType?: string; readonly result?: unknown };
}

function samples(answer: Answer): Sample[] | string {
  const data = answer.data;
  if (answer.status !== 'success' || !data)
    return `Prometheus answered ${answer.status ?? 'no status'}: ${answer.error ?? ''}`;
  if (data.resultType === 'scalar') return [{ value: data.result as [number, string] }];
  if (data.resultType !== 'vector' || !Array.isArray(data.result))
    return `the query returned a ${data.resultType ?? 'result of no type'}, not an instant vector or scalar`;
  return data.result as Sample[];
}

function label(sample: Sample): string {
  const entries = Object.entries(sample.metric ?? {});
  return entries.length ? `{${entries.map(([k, v]) => `${k}="${v}"`).join(',')}}` : '';
}

/** Every series meets the condition, or the first that does not fails the check. */
export function judgeAnswer(check: PrometheusCheck, answer: Answer): Reading {
  const found = samples(answer);
  if (typeof found === 'string') return { verdict: 'no-data', value: 'no data', detail: found };
  if (found.length === 0) return { verdict: 'no-data', value: 'no data', detail: 'the query returned no series' };
  const values = found.map((s) => ({ s, v: Number(s.value?.[1]) }));
  const unreadable = values.find(({ v }) => Number.isNaN(v));
  if (unreadable) return { verdict: 'no-data', value: 'NaN', detail: `series ${label(unreadable.s)} is NaN` };
  const shown = values.map(({ s, v }) => `${label(s)}${label(s) ? ' ' : ''}${v}`).join(', ');
  const bad = values.find(({ v }) => !meets(check.condition, v));
  if (bad) return { verdict: 'fail', value: String(bad.v), detail: `${shown}; wanted ${check.condition.text}` };
  return { verdict: 'pass', value: values.map(({ v }) => v).join(', '), detail: `${shown} ${check.condition.text}` };
}

export const prometheusKind: CheckKindRunner<PrometheusCheck> = {
  async evaluate(check, context, target, signal) {
    const query = fill(check.query, templateValues(context, target), (v) => v);
    const url = `${check.url.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`;
    let text: string;
    try {
      const headers = Object.fromEntries(check.headers.map(([n, v]) => [n, fillSecrets(v, context.secrets)]));
      const response = await fetch(url, { signal, headers: { accept: 'application/json', ...headers } });
      text = await response.text();
    } catch (error) {
      const why = signal.aborted ? 'no answer within the timeout' : errorMessage((error as Error).cause ?? error);
      return { verdict: 'no-data', value: 'no data', detail: `${check.url} unreachable: ${why}` };
    }
    let answer: Answer;
    try {
      answer = JSON.parse(text) as Answer;
    } catch {
      return {
        verdict: 'no-data',
        value: 'no data',
        detail: `${check.url} answered something not JSON: ${text.slice(0, 80)}`,
      };
    }
    const reading = judgeAnswer(check, answer);
    return { ...reading, detail: `${query}: ${reading.detail}` };
  },
};
