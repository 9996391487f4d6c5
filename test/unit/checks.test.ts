import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/checks/evaluate.js';
import type { CheckContext } from '../../src/checks/kind.js';
import { judgeAnswer } from '../../src/checks/prometheus.js';
import { readInputs } from '../../src/inputs.js';
import { meets, parseChecks, parseCondition, type CheckSpec, type PrometheusCheck } from '../../src/model/checks.js';
import { InputError } from '../../src/model/errors.js';
import type { Server } from '../../src/model/server.js';
import { freePort } from '../helpers/ports.js';

function checks(yaml: string): CheckSpec[] {
  const parsed = parseChecks(yaml);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed;
}

function refusal(yaml: string): string {
  const parsed = parseChecks(yaml);
  return 'error' in parsed ? parsed.error : 'accepted';
}

describe('the checks input', () => {
  it('reads every kind with its defaults', () => {
    const [smoke, page, errors] = checks(`
- name: smoke
  at: before-traffic
  kind: command
  run: ./smoke.sh
- name: page
  at: during
  kind: http
  url: http://{address}/checkout
  method: post
  status: 200-299, 304
  body: Checkout
  json-path: $.db.status
  condition: == "ok"
  interval: 500ms
- name: errors
  at: during
  kind: prometheus
  url: http://prometheus:9090
  query: sum(rate(http_errors_total{version="{version}"}[1m]))
  condition: < 0.01
  timeout: 1m
  on-no-data: pass
`);
    expect(smoke).toEqual({
      name: 'smoke',
      at: 'before-traffic',
      kind: 'command',
      run: './smoke.sh',
      timeoutMs: 30_000,
      intervalMs: 2000,
      noDataPasses: false,
    });
    expect(page).toMatchObject({
      method: 'POST',
      status: [
        [200, 299],
        [304, 304],
      ],
      jsonPath: ['db', 'status'],
      condition: { op: '==', value: 'ok' },
      intervalMs: 500,
    });
    expect(errors).toMatchObject({ condition: { op: '<', value: 0.01 }, timeoutMs: 60_000, noDataPasses: true });
  });

  it.each([
    ['- name: a\n  at: during\n  kind: graphite', "a: kind: 'graphite' is not one of command, http, prometheus"],
    ['- name: a\n  at: sometime\n  kind: command\n  run: x', "a: at: 'sometime' is not one of before-traffic"],
    ['- name: a\n  at: during\n  kind: http', 'a: url: is required'],
    ['- name: a\n  at: during\n  kind: http\n  url: ftp://x/', "a: url: 'ftp://x/' is not an http:// or https:// URL"],
    ['- name: a\n  at: during\n  kind: http\n  url: http://u:p@x/', 'a: url: holds a user or password'],
    ['- name: a\n  at: during\n  kind: http\n  url: http://{addr}/', 'a: url: unknown placeholder {addr}'],
    ['- name: a\n  at: during\n  kind: prometheus\n  url: http://p\n  query: up', 'a: condition: is required'],
    [
      '- name: a\n  at: during\n  kind: prometheus\n  url: http://p\n  query: up\n  condition: < x',
      "a: condition: '< x': 'x' is not a number",
    ],
    [
      '- name: a\n  at: after\n  kind: command\n  run: x\n  interval: 1s',
      'a: interval: is only used by checks at: during',
    ],
    ['- name: a\n  at: after\n  kind: command\n  run: x\n  timeout: 10', "a: timeout: '10' has no unit"],
    ['- name: a\n  at: after\n  kind: command\n  run: x\n  url: http://x', 'a: url: is not a field of a command check'],
    [
      '- name: a\n  at: after\n  kind: http\n  url: http://x\n  json-path: $.ok',
      'a: condition: is required with json-path',
    ],
    [
      '- name: a\n  at: after\n  kind: command\n  run: x\n- name: a\n  at: after\n  kind: command\n  run: y',
      'a: name: is used by two checks',
    ],
    ['- at: after\n  kind: command\n  run: x', 'check 1: name: is required'],
    ['name: a', 'must be a YAML list of checks'],
    ['- name: [a', 'is not YAML'],
    ['- name: a\n  at: during\n  kind: cloudwatch', 'a: alarm: give one of alarm, metric, expression'],
    [
      '- name: a\n  at: during\n  kind: cloudwatch\n  alarm: x\n  metric: y',
      'a: alarm: give one of alarm, metric, not both',
    ],
    [
      '- name: a\n  at: during\n  kind: cloudwatch\n  alarm: x\n  condition: < 1',
      'a: condition: is not used with alarm',
    ],
    ['- name: a\n  at: during\n  kind: cloudwatch\n  metric: y\n  condition: < 1', 'a: namespace: is required'],
    [
      '- name: a\n  at: during\n  kind: cloudwatch\n  expression: x\n  period: 45s\n  condition: < 1',
      'a: period: 45s is not a CloudWatch period',
    ],
    ['- name: a\n  at: during\n  kind: cloudwatch\n  alarm: x\n  stat: p99', 'a: stat: is only used with metric'],
    ['- name: a\n  at: during\n  kind: datadog\n  monitor: abc', "a: monitor: 'abc' is not a monitor id"],
    ['- name: a\n  at: during\n  kind: datadog\n  query: avg:x{*}', 'a: condition: is required'],
    ['- name: a\n  at: during\n  kind: datadog\n  monitor: 1\n  api-key: $X', "a: api-key: '$X' is not the name"],
  ])('refuses %j naming the check and the field', (yaml, message) => {
    expect(refusal(yaml)).toContain(message);
  });

  it('is refused through readInputs with the input named, and for strategy rolling', () => {
    const read = (inputs: Record<string, string>) => {
      try {
        readInputs((n) => inputs[n] ?? '', { sha: 'abc1234', pullRequestNumber: undefined });
      } catch (error) {
        if (error instanceof InputError) return error.problems.join('\n');
      }
      return 'accepted';
    };
    const lb = { 'load-balancer': 'haproxy://127.0.0.1:9999' };
    const check = '- name: smoke\n  at: before-traffic\n  kind: command\n  run: "true"';
    expect(read({ ...lb, strategy: 'canary', pools: 'a=app/a*, b=app/b*', checks: '- name: x\n  at: y' })).toContain(
      "checks: x: at: 'y' is not one of",
    );
    expect(read({ ...lb, strategy: 'rolling', targets: 'app/*', checks: check })).toBe('accepted');
    expect(
      read({ ...lb, strategy: 'rolling', targets: 'app/*', checks: check.replace('before-traffic', 'after') }),
    ).toBe(
      'checks: smoke: at: after is for strategy canary and blue-green; rolling runs before-traffic and during per batch, and rollback when a batch fails',
    );
    expect(read({ ...lb, strategy: 'canary', pools: 'a=app/a*, b=app/b*', checks: check })).toBe('accepted');
    const header = `- name: page\n  at: during\n  kind: http\n  url: http://x/\n  headers:\n    X-Token: "{secret:TOKEN}"`;
    expect(read({ ...lb, strategy: 'canary', pools: 'a=app/a*, b=app/b*', checks: header })).toBe(
      'checks: page: headers: X-Token: check-secrets has no TOKEN (give TOKEN=${{ secrets.TOKEN }} in check-secrets)',
    );
    expect(
      read({ ...lb, strategy: 'canary', pools: 'a=app/a*, b=app/b*', checks: header, 'check-secrets': 'TOKEN=t0k3n' }),
    ).toBe('accepted');
    expect(read({ ...lb, strategy: 'canary', pools: 'a=app/a*, b=app/b*', 'dry-run': 'checks' })).toBe(
      'dry-run: checks tries the checks input once, and there are no checks; give dry-run: true',
    );
    expect(read({ ...lb, strategy: 'canary', pools: 'a=app/a*, b=app/b*', checks: check, 'dry-run': 'checks' })).toBe(
      'accepted',
    );
  });

  it('compares values as conditions say; NaN and a text against a number never pass', () => {
    const c = (text: string) => {
      const parsed = parseCondition(text);
      if ('error' in parsed) throw new Error(parsed.error);
      return parsed;
    };
    expect(meets(c('< 0.01'), 0.009)).toBe(true);
    expect(meets(c('< 0.01'), 0.01)).toBe(false);
    expect(meets(c('== 0'), 0)).toBe(true);
    expect(meets(c('>= 1'), Number.NaN)).toBe(false);
    expect(meets(c('== "ok"'), 'ok')).toBe(true);
    expect(meets(c('!= "down"'), 'down')).toBe(false);
    expect(meets(c('< 1'), 'ok')).toBe(false);
    expect(parseCondition('< "x"')).toEqual({ error: `'< "x"': a text can only be compared with == or !=` });
  });

  it('holds every series of a Prometheus answer to the condition; empty or NaN is no data', () => {
    const check = checks(
      '- name: e\n  at: during\n  kind: prometheus\n  url: http://p\n  query: q\n  condition: < 1',
    )[0] as PrometheusCheck;
    const vector = (...values: string[]) => ({
      status: 'success',
      data: { resultType: 'vector', result: values.map((v, i) => ({ metric: { pool: `p${i}` }, value: [0, v] })) },
    });
    expect(judgeAnswer(check, vector('0.5', '0.2')).verdict).toBe('pass');
    expect(judgeAnswer(check, vector('0.5', '3'))).toMatchObject({ verdict: 'fail', value: '3' });
    expect(judgeAnswer(check, vector())).toMatchObject({ verdict: 'no-data', detail: 'the query returned no series' });
    expect(judgeAnswer(check, vector('NaN')).verdict).toBe('no-data');
    expect(judgeAnswer(check, { status: 'success', data: { resultType: 'scalar', result: [0, '0'] } }).verdict).toBe(
      'pass',
    );
    expect(judgeAnswer(check, { status: 'error', error: 'parse error' }).verdict).toBe('no-data');
    expect(judgeAnswer(check, { status: 'success', data: { resultType: 'matrix', result: [] } }).verdict).toBe(
      'no-data',
    );
  });
});

describe('faults per kind: unreachable, slow, malformed, no data never pass, and say why', () => {
  let server: http.Server;
  let base = '';
  let closed = '';
  const server1: Server = {
    id: 'app/green1',
    backend: 'app',
    name: 'green1',
    address: '127.0.0.1:1',
    host: '127.0.0.1',
    port: 1,
    weight: 0,
    admin: 'ready',
    inFlight: 0,
  } as Server;
  const context: CheckContext = {
    point: 'during',
    version: 'v2',
    step: 1,
    steps: 2,
    share: 20,
    pool: 'green',
    stablePool: 'blue',
    servers: [server1],
    stableServers: [],
  };

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url?.startsWith('/slow')) {
        setTimeout(() => res.end('{}'), 3000).unref();
        return;
      }
      if (req.url?.startsWith('/html')) return void res.end('<html>oops</html>');
      // Echoes the header it got, as some error pages do.
      if (req.url?.startsWith('/auth'))
        return void res
          .writeHead(req.headers.authorization === 'Bearer s3cret-token' ? 200 : 401)
          .end(`got ${req.headers.authorization ?? 'nothing'}`);
      if (req.url?.startsWith('/empty/api/v1/query'))
        return void res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }));
      if (req.url?.startsWith('/json')) return void res.end(JSON.stringify({ db: {} }));
      res.end('?');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    closed = `http://127.0.0.1:${await freePort()}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  const http1 = (url: string, extra = '') =>
    checks(`- name: c\n  at: during\n  kind: http\n  url: ${url}\n  timeout: 400ms${extra}`)[0] as CheckSpec;
  const prom = (url: string, extra = '') =>
    checks(
      `- name: c\n  at: during\n  kind: prometheus\n  url: ${url}\n  query: up\n  condition: == 1\n  timeout: 400ms${extra}`,
    )[0] as CheckSpec;
  const command = (run: string) =>
    checks(`- name: c\n  at: during\n  kind: command\n  run: ${JSON.stringify(run)}\n  timeout: 400ms`)[0] as CheckSpec;
  const run = (check: CheckSpec) => evaluate(check, context, undefined, new AbortController().signal);

  it.each([
    ['http unreachable', () => http1(`${closed}/`), /ECONNREFUSED/],
    ['http slow', () => http1(`${base}/slow`), /ended at its timeout 400ms: .*no answer within the check's timeout/],
    [
      'http malformed',
      () => http1(`${base}/html`, '\n  json-path: $.ok\n  condition: == true'),
      /no data within its timeout 400ms: .*answer is not JSON/,
    ],
    [
      'http no data',
      () => http1(`${base}/json`, '\n  json-path: $.db.status\n  condition: == "ok"'),
      /no data within its timeout 400ms: .*\$\.db\.status is missing/,
    ],
    ['prometheus unreachable', () => prom(closed), /no data within its timeout 400ms: .* unreachable: .*ECONNREFUSED/],
    ['prometheus slow', () => prom(`${base}/slow`), /400ms: .*no answer within the timeout/],
    [
      'prometheus malformed',
      () => prom(`${base}/html`),
      /no data within its timeout 400ms: .*answered something not JSON/,
    ],
    [
      'prometheus no data',
      () => prom(`${base}/empty`),
      /no data within its timeout 400ms: up: the query returned no series/,
    ],
    [
      'command slow',
      () => command('sleep 5'),
      /ended at its timeout 400ms: stopped \(timeout 400ms of check c: sent SIGTERM/,
    ],
    ['command malformed', () => command('no-such-tool --x'), /exited 127: .*no-such-tool: command not found/],
  ])('%s fails', async (_name, make, detail) => {
    const started = Date.now();
    const result = await run(make());
    expect(result.verdict).toBe('fail');
    expect(result.detail).toMatch(detail);
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('sends a header from a secret, and never shows the secret, even when the server echoes it', async () => {
    const auth = http1(`${base}/auth`, '\n  headers:\n    Authorization: "Bearer {secret:TOKEN}"');
    const secrets = (token: string) => ({ ...context, secrets: new Map([['TOKEN', token]]) });
    const ok = await evaluate(auth, secrets('s3cret-token'), undefined, new AbortController().signal);
    expect(ok).toMatchObject({ verdict: 'pass', value: '200' });
    const wrong = await evaluate(auth, secrets('wrong-token'), undefined, new AbortController().signal);
    expect(wrong).toMatchObject({ verdict: 'fail', detail: `${base}/auth answered 401: got Bearer ***` });
    expect(refusal('- name: a\n  at: during\n  kind: http\n  url: http://x/\n  headers: [a]')).toContain(
      'a: headers: must be a mapping of header names to values',
    );
  });

  it('passes no data only when the check says on-no-data: pass', async () => {
    const result = await run(prom(`${base}/empty`, '\n  on-no-data: pass'));
    expect(result).toMatchObject({ verdict: 'pass', detail: 'up: the query returned no series (on-no-data: pass)' });
  });

  it('gives a command the rollout context, and nothing of the action inputs', async () => {
    process.env.INPUT_LOAD_BALANCER_TOKEN = 'secret-token';
    try {
      const result = await run(
        command(
          'test "$DEPLOY_VERSION $DEPLOY_POOL $DEPLOY_STABLE_POOL $DEPLOY_WEIGHT $DEPLOY_STEP/$DEPLOY_STEPS $DEPLOY_SERVERS $DEPLOY_CHECK_POINT" = "v2 green blue 20 1/2 127.0.0.1:1 during" && test -z "${INPUT_LOAD_BALANCER_TOKEN:-}"',
        ),
      );
      expect(result).toMatchObject({ verdict: 'pass', value: 'exit 0' });
    } finally {
      delete process.env.INPUT_LOAD_BALANCER_TOKEN;
    }
  });
});
