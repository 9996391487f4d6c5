/**
 * A CloudWatch stand-in for the cloudwatch check kind: GetMetricData and DescribeAlarms in AWS JSON 1.0, as SDK v3
 * speaks them, every request checked against AWS's published model (aws-model.ts, the same checker as the ALB
 * stand-in's) and signed with SigV4. Metrics are keyed by what a query names (metricKey); an alarm by its name.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { checkJson, loadModel } from './aws-model.js';
import { freePort } from './ports.js';

type Json = Record<string, unknown>;

export interface CloudWatchCall {
  readonly operation: string;
  readonly input: Json;
  readonly errors: readonly string[];
}

export interface CloudWatchStandIn {
  /** Endpoints and throwaway credentials for the SDK's chain. */
  readonly env: Record<string, string>;
  readonly calls: CloudWatchCall[];
  /** Datapoints by metricKey(...) or expression text: [epoch seconds, value]. */
  readonly metrics: Map<string, [number, number][]>;
  readonly alarms: Map<string, { state: string; reason: string }>;
  mode: 'ok' | 'slow' | 'malformed';
  stop(): Promise<void>;
}

/** `Namespace MetricName Stat k=v,...` (dimensions sorted), or an expression as given. */
export function metricKey(query: Json): string {
  if (typeof query.Expression === 'string') return query.Expression;
  const stat = query.MetricStat as Json;
  const metric = stat.Metric as Json;
  const dims = ((metric.Dimensions as Json[] | undefined) ?? []).map((d) => `${String(d.Name)}=${String(d.Value)}`);
  return `${String(metric.Namespace)} ${String(metric.MetricName)} ${String(stat.Stat)} ${dims.sort().join(',')}`;
}

export async function startCloudWatchStandIn(): Promise<CloudWatchStandIn> {
  const model = loadModel('monitoring-2010-08-01');
  const port = await freePort();
  const state: CloudWatchStandIn = {
    env: {
      AWS_ENDPOINT_URL_CLOUDWATCH: `http://127.0.0.1:${port}`,
      AWS_ACCESS_KEY_ID: 'AKIDSTANDIN',
      AWS_SECRET_ACCESS_KEY: 'stand-in-secret',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    calls: [],
    metrics: new Map(),
    alarms: new Map(),
    mode: 'ok',
    stop: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
  const serve: Record<string, (input: Json) => Json> = {
    GetMetricData: (input) => {
      const start = input.StartTime as number;
      const end = input.EndTime as number;
      return {
        MetricDataResults: (input.MetricDataQueries as Json[]).map((q) => {
          const points = (state.metrics.get(metricKey(q)) ?? []).filter(([t]) => t >= start && t <= end);
          return {
            Id: q.Id,
            Label: metricKey(q),
            Timestamps: points.map(([t]) => t),
            Values: points.map(([, v]) => v),
            StatusCode: 'Complete',
          };
        }),
        Messages: [],
      };
    },
    DescribeAlarms: (input) => {
      const found = ((input.AlarmNames as string[] | undefined) ?? []).flatMap((name) => {
        const alarm = state.alarms.get(name);
        return alarm
          ? [
              {
                AlarmName: name,
                StateValue: alarm.state,
                StateReason: alarm.reason,
                StateUpdatedTimestamp: Date.now() / 1000,
              },
            ]
          : [];
      });
      return { MetricAlarms: found, CompositeAlarms: [] };
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      let input: Json = {};
      let errors: string[];
      try {
        input = JSON.parse(Buffer.concat(chunks).toString()) as Json;
        errors = checkJson(model, operation, input);
      } catch (error) {
        errors = [`body is not JSON: ${(error as Error).message}`];
      }
      if (!req.headers.authorization?.startsWith('AWS4-HMAC-SHA256')) errors.push('request is not signed with SigV4');
      const handler = serve[operation];
      if (!handler) errors.push(`${operation} is not served here`);
      state.calls.push({ operation, input, errors });
      const headers = { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() };
      if (errors.length || !handler)
        return void res
          .writeHead(400, { ...headers, 'x-amzn-query-error': 'ValidationError;Sender' })
          .end(JSON.stringify({ __type: 'ValidationError', message: errors.join('; ') }));
      if (state.mode === 'slow') return void setTimeout(() => res.writeHead(200, headers).end('{}'), 3000).unref();
      if (state.mode === 'malformed') return void res.writeHead(200, headers).end('<html>oops</html>');
      res.writeHead(200, headers).end(JSON.stringify(handler(input)));
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return state;
}
