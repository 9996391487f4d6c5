/**
 * The cloudwatch and datadog check kinds against their stand-ins (requests validated against AWS's published model
 * and Datadog's published client), each fault failing with why; one canary on the fake driver per kind.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { evaluate } from '../../src/checks/evaluate.js';
import type { CheckContext } from '../../src/checks/kind.js';
import { withEngine } from '../../src/engine/context.js';
import { runShift } from '../../src/engine/shift.js';
import { readActionInputs, readInputs } from '../../src/inputs.js';
import { parseChecks, type CheckSpec } from '../../src/model/checks.js';
import { InputError } from '../../src/model/errors.js';
import type { Server } from '../../src/model/server.js';
import { startCloudWatchStandIn, type CloudWatchStandIn } from '../helpers/cloudwatch.js';
import { DD_KEYS, startDatadogStandIn, type DatadogStandIn } from '../helpers/datadog.js';
import { BLUE_GREEN, fakeSettings, planOn, POOLS, recordingHooks } from '../helpers/engine-kit.js';
import { FakeDriver } from '../helpers/fake-driver.js';
import { freePort } from '../helpers/ports.js';

vi.mock('../../src/plan/build.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/plan/build.js')>()),
  COUNTER_POLL_MS: 10,
}));

const SECRETS = new Map([
  ['DD_API_KEY', DD_KEYS.api],
  ['DD_APP_KEY', DD_KEYS.app],
]);
const green = { id: 'app/green1', address: '127.0.0.1:1', host: '127.0.0.1', port: 1 } as Server;
const context: CheckContext = {
  point: 'during',
  version: 'v2',
  step: 1,
  steps: 2,
  share: 10,
  pool: 'green',
  stablePool: 'blue',
  servers: [green],
  stableServers: [],
  secrets: SECRETS,
};

function one(yaml: string): CheckSpec {
  const parsed = parseChecks(`- name: c\n  at: during\n  timeout: 400ms\n${yaml}`);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed[0] as CheckSpec;
}
const run = (check: CheckSpec, ctx = context) => evaluate(check, ctx, undefined, new AbortController().signal);
const now = () => Math.floor(Date.now() / 1000);

let cw: CloudWatchStandIn;
let dd: DatadogStandIn;
let closed = '';
const saved = { ...process.env };

beforeAll(async () => {
  [cw, dd] = await Promise.all([startCloudWatchStandIn(), startDatadogStandIn()]);
  Object.assign(process.env, cw.env);
  closed = `http://127.0.0.1:${await freePort()}`;
});
afterAll(async () => {
  for (const key of Object.keys(cw.env)) if (saved[key] === undefined) delete process.env[key];
  Object.assign(process.env, saved);
  await Promise.all([cw.stop(), dd.stop()]);
});

describe('cloudwatch checks', () => {
  const metric = `  kind: cloudwatch\n  namespace: Shop\n  metric: Errors\n  stat: Sum\n  dimensions:\n    Pool: "{pool}"\n  condition: < 5\n`;

  it('holds the newest datapoint of a metric to the condition, dimensions templated, every request valid', async () => {
    const key = 'Shop Errors Sum Pool=green';
    cw.metrics.set(key, [
      [now() - 120, 9],
      [now() - 60, 2],
    ]);
    expect(await run(one(metric))).toMatchObject({ verdict: 'pass', value: '2', detail: `${key} 2 < 5` });
    cw.metrics.set(key, [[now() - 30, 7]]);
    expect(await run(one(metric))).toMatchObject({ verdict: 'fail', value: '7', detail: `${key} 7; wanted < 5` });
    const expression = 'SELECT SUM(Errors) FROM Shop';
    cw.metrics.set(expression, [[now() - 30, 0]]);
    expect(
      await run(one(`  kind: cloudwatch\n  expression: ${expression}\n  period: 5m\n  condition: == 0\n`)),
    ).toMatchObject({ verdict: 'pass', value: '0' });
    const sent = cw.calls.filter((c) => c.operation === 'GetMetricData');
    expect(sent.length).toBe(3);
    expect(sent.flatMap((c) => c.errors)).toEqual([]);
    expect(sent[2]?.input.MetricDataQueries).toEqual([
      { Id: 'q', Expression: expression, Period: 300, ReturnData: true },
    ]);
  });

  it('passes while an alarm is OK, fails in ALARM with its reason; INSUFFICIENT_DATA is no data', async () => {
    cw.alarms.set('checkout-5xx', { state: 'OK', reason: 'fine' });
    const alarm = one('  kind: cloudwatch\n  alarm: checkout-5xx\n');
    expect(await run(alarm)).toMatchObject({ verdict: 'pass', value: 'OK' });
    cw.alarms.set('checkout-5xx', { state: 'ALARM', reason: 'Threshold Crossed: 3 datapoints > 10' });
    expect(await run(alarm)).toMatchObject({
      verdict: 'fail',
      detail: 'alarm checkout-5xx is in ALARM: Threshold Crossed: 3 datapoints > 10',
    });
    cw.alarms.set('checkout-5xx', { state: 'INSUFFICIENT_DATA', reason: 'no datapoints' });
    expect((await run(alarm)).detail).toBe(
      'no data within its timeout 400ms: alarm checkout-5xx is INSUFFICIENT_DATA: no datapoints',
    );
    expect(cw.calls.filter((c) => c.operation === 'DescribeAlarms').flatMap((c) => c.errors)).toEqual([]);
  });

  it.each([
    ['unreachable', /no data within its timeout 400ms: CloudWatch: GetMetricData failed.*ECONNREFUSED/],
    ['slow', /ended at its timeout 400ms: CloudWatch: no answer within the timeout/],
    ['malformed', /no data within its timeout 400ms: CloudWatch: GetMetricData failed: SyntaxError: .*not valid JSON/],
    ['no data', /no data within its timeout 400ms: Shop Errors Sum Pool=green: no datapoint in the window/],
  ])('%s never passes, and says why', async (fault, detail) => {
    cw.metrics.delete('Shop Errors Sum Pool=green');
    cw.mode = fault === 'slow' ? 'slow' : fault === 'malformed' ? 'malformed' : 'ok';
    if (fault === 'unreachable') process.env.AWS_ENDPOINT_URL_CLOUDWATCH = closed;
    try {
      const started = Date.now();
      const result = await run(one(metric));
      expect(result.verdict).toBe('fail');
      expect(result.detail).toMatch(detail);
      expect(Date.now() - started).toBeLessThan(2500);
    } finally {
      cw.mode = 'ok';
      process.env.AWS_ENDPOINT_URL_CLOUDWATCH = cw.env.AWS_ENDPOINT_URL_CLOUDWATCH;
    }
  });
});

describe('datadog checks', () => {
  const query = (url = dd.url) =>
    one(`  kind: datadog\n  url: ${url}\n  query: sum:shop.errors{pool:{pool}}.as_count()\n  condition: < 5\n`);

  it('holds each series newest point to the condition, passes an OK monitor, fails one in Alert', async () => {
    const q = 'sum:shop.errors{pool:green}.as_count()';
    dd.series.set(q, [
      [Date.now() - 60_000, 9],
      [Date.now() - 20_000, 1],
      [Date.now() - 10_000, null],
    ]);
    expect(await run(query())).toMatchObject({ verdict: 'pass', value: '1' });
    dd.series.set(q, [[Date.now() - 10_000, 6]]);
    expect(await run(query())).toMatchObject({ verdict: 'fail', detail: `${q}: ${q} 6; wanted < 5` });
    const monitor = one(`  kind: datadog\n  url: ${dd.url}\n  monitor: 4242\n`);
    dd.monitors.set(4242, 'OK');
    expect(await run(monitor)).toMatchObject({ verdict: 'pass', detail: 'monitor 4242 (monitor 4242) is OK' });
    dd.monitors.set(4242, 'Alert');
    expect(await run(monitor)).toMatchObject({ verdict: 'fail', value: 'Alert' });
    dd.monitors.set(4242, 'No Data');
    expect((await run(monitor)).detail).toBe(
      'no data within its timeout 400ms: monitor 4242 (monitor 4242) is No Data',
    );
    expect(dd.calls.flatMap((c) => c.errors)).toEqual([]);
  });

  it.each([
    ['unreachable', /no data within its timeout 400ms: http:\/\/127\.0\.0\.1:\d+ unreachable: .*ECONNREFUSED/],
    ['slow', /ended at its timeout 400ms: .*no answer within the timeout/],
    ['malformed', /no data within its timeout 400ms: .*answered something not JSON: <html>502 Bad Gateway/],
    ['no data', /no data within its timeout 400ms: .*the query returned no series/],
  ])('%s never passes, and says why', async (fault, detail) => {
    dd.series.clear();
    dd.mode = fault === 'slow' ? 'slow' : fault === 'malformed' ? 'malformed' : 'ok';
    try {
      const started = Date.now();
      const result = await run(query(fault === 'unreachable' ? closed : dd.url));
      expect(result.verdict).toBe('fail');
      expect(result.detail).toMatch(detail);
      expect(Date.now() - started).toBeLessThan(2500);
    } finally {
      dd.mode = 'ok';
    }
  });

  it("refuses a request that is not what Datadog's client sends", async () => {
    const headers = { 'DD-API-KEY': DD_KEYS.api, 'DD-APPLICATION-KEY': DD_KEYS.app };
    const refusal = async (query: string) => {
      const response = await fetch(`${dd.url}/api/v1/query?${query}`, { headers });
      return `${response.status} ${JSON.stringify(await response.json())}`;
    };
    expect(await refusal('from=1&query=x')).toBe(
      '400 {"errors":["Required parameter to was null or undefined when calling queryMetrics."]}',
    );
    expect(await refusal('from=1.5&to=2&query=x&extra=1')).toBe(
      `400 {"errors":["query parameters extra,from,query,to are not from,query,to","from: '1.5' is not an int64"]}`,
    );
  });

  it('wrong keys: refused, said so, and no key is ever in what a report shows', async () => {
    const wrong = new Map([
      ['DD_API_KEY', 'wrong-api-key-123'],
      ['DD_APP_KEY', DD_KEYS.app],
    ]);
    const result = await run(query(), { ...context, secrets: wrong });
    expect(result.verdict).toBe('fail');
    expect(result.detail).toContain('Datadog refused the keys (403 Forbidden)');
    expect(JSON.stringify(result)).not.toMatch(/wrong-api-key-123|dd-app-/);
    expect(JSON.stringify(context)).not.toContain(DD_KEYS.api);
  });
});

describe('check-secrets', () => {
  const lb = { 'load-balancer': 'haproxy://127.0.0.1:9999', strategy: 'canary', pools: 'a=app/a*, b=app/b*' };
  const datadog = '- name: errors\n  at: during\n  kind: datadog\n  monitor: 12\n  app-key: SHOP_APP_KEY';
  const read = (inputs: Record<string, string>) => {
    try {
      readInputs((n) => inputs[n] ?? '', { sha: 'abc1234', pullRequestNumber: undefined });
      return 'accepted';
    } catch (error) {
      if (error instanceof InputError) return error.problems.join('\n');
      throw error;
    }
  };

  it('a key a check names must be given; each value is masked; none reaches a command', async () => {
    expect(read({ ...lb, checks: datadog, 'check-secrets': 'DD_API_KEY=k1' })).toBe(
      'checks: errors: app-key: check-secrets has no SHOP_APP_KEY (give SHOP_APP_KEY=${{ secrets.SHOP_APP_KEY }} in check-secrets)',
    );
    expect(read({ ...lb, checks: datadog, 'check-secrets': 'oops' })).toContain(
      'check-secrets: line 1 is not NAME=value',
    );
    const writes: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (writes.push(String(chunk)), true));
    const inputs: Record<string, string> = {
      ...lb,
      checks: datadog,
      'check-secrets': 'DD_API_KEY=key-one-1111\nSHOP_APP_KEY=key-two-2222',
    };
    let settings;
    try {
      settings = readActionInputs((n) => inputs[n] ?? '', { sha: 'abc1234', pullRequestNumber: undefined });
    } finally {
      spy.mockRestore();
    }
    expect(writes.filter((w) => w.startsWith('::add-mask::')).map((w) => w.trim())).toEqual(
      expect.arrayContaining(['::add-mask::key-one-1111', '::add-mask::key-two-2222']),
    );
    expect(settings.checkSecrets?.get('SHOP_APP_KEY')).toBe('key-two-2222');
    process.env.INPUT_CHECK_SECRETS = inputs['check-secrets'];
    try {
      const probe = one('  kind: command\n  run: "! env | grep -q key-one-1111"\n');
      expect(await run(probe)).toMatchObject({ verdict: 'pass', value: 'exit 0' });
    } finally {
      delete process.env.INPUT_CHECK_SECRETS;
    }
  });
});

describe('one canary per kind on the fake driver', () => {
  async function canary(checks: string) {
    const settings = fakeSettings({
      strategy: 'canary',
      pools: POOLS,
      steps: '10% 50ms, 100%',
      checks,
      'check-secrets': `DD_API_KEY=${DD_KEYS.api}\nDD_APP_KEY=${DD_KEYS.app}`,
    });
    const lb = new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 } });
    const { plan, roles } = await planOn(settings, lb);
    return withEngine(settings, lb, new AbortController().signal, recordingHooks().hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    );
  }

  it('an alarm in ALARM during a step rolls back and is named; a Datadog monitor in Alert and a query with no data too', async () => {
    cw.alarms.set('shop-5xx', { state: 'ALARM', reason: 'Threshold Crossed' });
    dd.monitors.set(77, 'Alert');
    const cloud = await canary('- name: alarm\n  at: during\n  kind: cloudwatch\n  alarm: shop-5xx\n  timeout: 2s');
    expect(cloud.result).toBe('rolled-back');
    expect(cloud.message).toContain('Check alarm failed: alarm shop-5xx is in ALARM: Threshold Crossed');
    const dog = await canary(`- name: mon\n  at: before-promotion\n  kind: datadog\n  url: ${dd.url}\n  monitor: 77`);
    expect(dog.result).toBe('rolled-back');
    expect(dog.message).toContain('check mon failed: monitor 77 (monitor 77) is Alert');
    expect(JSON.stringify(dog)).not.toContain(DD_KEYS.api);
    // No data never promotes: a query with no series fails at its timeout, and the rollback says so.
    const empty = await canary(
      `- name: q\n  at: before-promotion\n  kind: datadog\n  url: ${dd.url}\n  query: sum:none{*}\n  condition: < 1\n  timeout: 300ms`,
    );
    expect(empty.result).toBe('rolled-back');
    expect(empty.message).toContain(
      'check q failed: no data within its timeout 300ms: sum:none{*}: the query returned no series',
    );
  });
});
