/**
 * A Datadog API stand-in for the datadog check kind: `GET /api/v1/query` and `GET /api/v1/monitor/{id}`. Every
 * request is checked against Datadog's own published client (@datadog/datadog-api-client, generated from their
 * OpenAPI description): the stand-in rebuilds the request with the client's request factory from what it received
 * and refuses anything that differs (path, method, query parameters, key headers), and int64 parameters must be
 * integers. Answers are written through the client's ObjectSerializer, so field names and enums are Datadog's.
 */
import http from 'node:http';
import { client, v1 } from '@datadog/datadog-api-client';
import metricsApi from '@datadog/datadog-api-client/dist/packages/datadog-api-client-v1/apis/MetricsApi.js';
import monitorsApi from '@datadog/datadog-api-client/dist/packages/datadog-api-client-v1/apis/MonitorsApi.js';
import { freePort } from './ports.js';

export const DD_KEYS = { api: 'dd-api-0123456789abcdef', app: 'dd-app-fedcba9876543210' };

export interface DatadogCall {
  readonly path: string;
  readonly errors: readonly string[];
}

export interface DatadogStandIn {
  readonly url: string;
  readonly calls: DatadogCall[];
  /** Points by query text: [epoch ms, value]; a query not listed returns no series. */
  readonly series: Map<string, [number, number | null][]>;
  /** overallState by monitor id (Datadog's enum: OK, Alert, Warn, No Data, ...). */
  readonly monitors: Map<number, string>;
  mode: 'ok' | 'slow' | 'malformed';
  stop(): Promise<void>;
}

const configuration = (url: string) =>
  client.createConfiguration({
    authMethods: { apiKeyAuth: DD_KEYS.api, appKeyAuth: DD_KEYS.app },
    baseServer: new client.BaseServerConfiguration(url, {}),
  });

/** What the client would send for the same call, to compare with what came. */
async function reference(url: string, path: string, params: URLSearchParams): Promise<client.RequestContext> {
  const config = configuration(url);
  const monitor = /^\/api\/v1\/monitor\/(\d+)$/.exec(path);
  if (monitor) return new monitorsApi.MonitorsApiRequestFactory(config).getMonitor(Number(monitor[1]));
  if (path === '/api/v1/query')
    // A parameter missing here is missing there too: the client's factory refuses it (RequiredError).
    return new metricsApi.MetricsApiRequestFactory(config).queryMetrics(
      (params.has('from') ? Number(params.get('from')) : undefined) as number,
      (params.has('to') ? Number(params.get('to')) : undefined) as number,
      params.get('query') ?? (undefined as unknown as string),
    );
  throw new Error(`${path} is not an operation the stand-in serves`);
}

function compare(req: http.IncomingMessage, want: client.RequestContext, got: URL): string[] {
  const errors: string[] = [];
  const expected = new URL(want.getUrl());
  if (req.method !== want.getHttpMethod()) errors.push(`method ${req.method} is not ${want.getHttpMethod()}`);
  if (got.pathname !== expected.pathname) errors.push(`path ${got.pathname} is not ${expected.pathname}`);
  const names = (u: URL) => [...u.searchParams.keys()].sort().join(',');
  if (names(got) !== names(expected))
    errors.push(`query parameters ${names(got) || 'none'} are not ${names(expected) || 'none'}`);
  for (const [k, v] of expected.searchParams)
    if (got.searchParams.get(k) !== v) errors.push(`${k}: '${got.searchParams.get(k)}' is not '${v}'`);
  for (const header of ['DD-API-KEY', 'DD-APPLICATION-KEY'])
    if (req.headers[header.toLowerCase()] !== want.getHeaders()[header]) errors.push(`${header} is missing or wrong`);
  for (const k of ['from', 'to'])
    if (got.searchParams.has(k) && !/^\d+$/.test(got.searchParams.get(k) ?? ''))
      errors.push(`${k}: '${got.searchParams.get(k)}' is not an int64`);
  return errors;
}

function answer(s: DatadogStandIn, path: string, params: URLSearchParams): unknown {
  const monitor = /^\/api\/v1\/monitor\/(\d+)$/.exec(path);
  if (monitor) {
    const id = Number(monitor[1]);
    const state = s.monitors.get(id);
    if (state === undefined) return undefined;
    return v1.ObjectSerializer.serialize(
      { id, name: `monitor ${id}`, type: 'metric alert', query: 'avg(last_5m):avg:x{*} > 1', overallState: state },
      'Monitor',
      '',
    );
  }
  const query = params.get('query') ?? '';
  const points = s.series.get(query);
  return v1.ObjectSerializer.serialize(
    {
      status: 'ok',
      query,
      fromDate: Number(params.get('from')) * 1000,
      toDate: Number(params.get('to')) * 1000,
      series: points
        ? [{ metric: query, scope: '*', expression: query, pointlist: points, length: points.length }]
        : [],
    },
    'MetricsQueryResponse',
    '',
  );
}

export async function startDatadogStandIn(): Promise<DatadogStandIn> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const state: DatadogStandIn = {
    url,
    calls: [],
    series: new Map(),
    monitors: new Map(),
    mode: 'ok',
    stop: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
  const server = http.createServer((req, res) => {
    void (async () => {
      const got = new URL(req.url ?? '/', url);
      let errors: string[];
      try {
        errors = compare(req, await reference(url, got.pathname, got.searchParams), got);
      } catch (error) {
        errors = [(error as Error).message];
      }
      state.calls.push({ path: got.pathname, errors });
      const json = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (errors.some((e) => e.startsWith('DD-'))) return json(403, { errors: ['Forbidden'] });
      if (errors.length) return json(400, { errors });
      if (state.mode === 'slow') return void setTimeout(() => json(200, {}), 3000).unref();
      if (state.mode === 'malformed') return void res.writeHead(200).end('<html>502 Bad Gateway</html>');
      const body = answer(state, got.pathname, got.searchParams);
      if (body === undefined) return json(404, { errors: ['Monitor not found'] });
      json(200, body);
    })();
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return state;
}
