/**
 * `http`: GET or POST (the rollout's context as JSON) a URL, passing on a status, a text in the body and a JSON
 * path's value, as Argo Rollouts' Web metric. Connection errors and timeouts are failed requests, as for probes.
 */
import { fillSecrets, meets, type HttpCheck } from '../model/checks.js';
import { errorMessage } from '../model/errors.js';
import { contextPayload, fill, templateValues, type CheckKindRunner, type Reading } from './kind.js';

const BODY_LIMIT = 1_000_000;

/** A value as it goes into a URL: an address (`[::1]:8080`, `10.0.0.5:80`) stays readable, anything else is escaped. */
function encodeValue(value: string): string {
  return value.replace(/[^A-Za-z0-9._~:[\]-]/g, (c) => encodeURIComponent(c));
}

function at(value: unknown, keys: readonly string[]): unknown {
  let here = value;
  for (const key of keys) {
    if (typeof here !== 'object' || here === null) return undefined;
    here = (here as Record<string, unknown>)[key];
  }
  return here;
}

/** The JSON path's value against the condition; a body that is not JSON or lacks the path has no data. */
function judgeJson(check: HttpCheck, body: string, status: number): Reading {
  const path = `$.${check.jsonPath?.join('.')}`;
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return { verdict: 'no-data', value: `${status}`, detail: `answer is not JSON, cannot read ${path}` };
  }
  const value = at(doc, check.jsonPath ?? []);
  if (value === undefined || value === null || typeof value === 'object')
    return {
      verdict: 'no-data',
      value: `${status}`,
      detail: `${path} is ${value === undefined ? 'missing' : 'not a value'}`,
    };
  const read = typeof value === 'number' ? value : typeof value === 'boolean' ? String(value) : String(value);
  const ok = check.condition ? meets(check.condition, read) : true;
  const detail = `${path} = ${JSON.stringify(value)}${ok ? '' : `, wanted ${check.condition?.text}`}`;
  return { verdict: ok ? 'pass' : 'fail', value: `${path}=${JSON.stringify(value)}`, detail };
}

function short(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 80 ? `${line.slice(0, 80)}...` : line;
}

export const httpKind: CheckKindRunner<HttpCheck> = {
  async evaluate(check, context, target, signal) {
    const url = fill(check.url, templateValues(context, target), encodeValue);
    let response: Response;
    let body: string;
    try {
      const headers: Record<string, string> = Object.fromEntries(
        check.headers.map(([name, value]) => [name, fillSecrets(value, context.secrets)]),
      );
      if (check.method === 'POST') headers['content-type'] ??= 'application/json';
      response = await fetch(url, {
        method: check.method,
        signal,
        redirect: 'manual',
        headers,
        ...(check.method === 'POST' ? { body: contextPayload(context, check, target) } : {}),
      });
      body = (await response.text()).slice(0, BODY_LIMIT);
    } catch (error) {
      const why = signal.aborted
        ? `no answer within the check's timeout`
        : errorMessage((error as Error).cause ?? error);
      return { verdict: 'fail', value: 'no answer', detail: `${url}: ${why}` };
    }
    const status = response.status;
    if (!check.status.some(([low, high]) => status >= low && status <= high))
      return { verdict: 'fail', value: `${status}`, detail: `${url} answered ${status}: ${short(body)}` };
    if (check.body && !body.includes(check.body))
      return {
        verdict: 'fail',
        value: `${status}`,
        detail: `${url} answered ${status} without '${check.body}': ${short(body)}`,
      };
    if (check.jsonPath) {
      const judged = judgeJson(check, body, status);
      return { ...judged, detail: `${url}: ${judged.detail}` };
    }
    return { verdict: 'pass', value: `${status}`, detail: `${url} answered ${status}` };
  },
};
