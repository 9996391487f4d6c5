import { describe, expect, it } from 'vitest';
import { readInputs } from '../../src/inputs.js';
import { InputError } from '../../src/model/errors.js';
import { BAD_INPUTS, CANARY, ROLLING } from '../fixtures/bad-inputs.js';

const LB = { 'load-balancer': 'haproxy://127.0.0.1:9999' };

function read(
  inputs: Record<string, string>,
  context = { sha: '0123456789abcdef', pullRequestNumber: undefined as number | undefined },
) {
  return readInputs((name: string) => inputs[name] ?? '', context);
}

function problems(inputs: Record<string, string>): string[] {
  try {
    read(inputs);
  } catch (error) {
    if (error instanceof InputError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('readInputs', () => {
  it('applies the documented defaults', () => {
    const settings = read({ ...LB, ...CANARY });
    expect(settings.action).toBe('deploy');
    expect(settings.version).toBe('0123456');
    expect(settings.strategy).toMatchObject({
      name: 'canary',
      steps: [
        { weight: 10, pause: { kind: 'duration', ms: 60_000 } },
        { weight: 50, pause: { kind: 'duration', ms: 60_000 } },
        { weight: 100, pause: { kind: 'none' } },
      ],
    });
    expect(settings.probe).toMatchObject({
      expectStatus: [[200, 399]],
      intervalMs: 2000,
      timeoutMs: 2000,
      healthyThreshold: 2,
      unhealthyThreshold: 2,
    });
    expect(settings.analysis).toEqual({
      maxErrorRate: 0.01,
      minRequests: 20,
      intervalMs: 30_000,
      falseRollbackRate: 0.01,
      // max-latency-increase 50% and 50ms, no max-latency.
      latency: { tolerance: { fraction: 0.5, ms: 50 }, limit: undefined },
    });
    expect(settings.dryRun).toBe(false);
  });

  it('reads pools and selectors separated by commas, spaces and newlines', () => {
    const settings = read({ ...LB, strategy: 'blue-green', pools: 'blue=app/blue1 app/blue2\ngreen=app/green*' });
    expect(settings.strategy).toMatchObject({
      name: 'blue-green',
      pools: [
        { name: 'blue', selectors: [{ text: 'app/blue1' }, { text: 'app/blue2' }] },
        { name: 'green', selectors: [{ text: 'app/green*' }] },
      ],
    });
  });

  it('reads approval steps, percentages for batch-size and status lists', () => {
    expect(read({ ...LB, ...CANARY, environment: 'prod', steps: '20% 3s, 50% approval, 100%' }).strategy).toMatchObject(
      {
        steps: [{ weight: 20 }, { weight: 50, pause: { kind: 'approval' } }, { weight: 100 }],
      },
    );
    expect(read({ ...LB, ...ROLLING, 'batch-size': '25%' }).strategy).toMatchObject({
      batchSize: { kind: 'percent', percent: 25 },
    });
    expect(read({ ...LB, ...ROLLING, 'expect-status': '200, 204, 300-302' }).probe.expectStatus).toEqual([
      [200, 200],
      [204, 204],
      [300, 302],
    ]);
  });

  it('takes the preview key from the pull request', () => {
    const settings = readInputs((name) => ({ action: 'close-preview', ...LB })[name as string] ?? '', {
      sha: 'abc',
      pullRequestNumber: 42,
    });
    expect(settings.previewKey).toBe('pr-42');
  });

  it('parses every load-balancer transport', () => {
    expect(
      read({ ...ROLLING, 'load-balancer': 'haproxy+unix:///run/haproxy/admin.sock' }).loadBalancer.transport,
    ).toEqual({ type: 'unix', path: '/run/haproxy/admin.sock' });
    expect(
      read({ ...ROLLING, 'load-balancer': 'haproxy+ssh://deploy@lb1:2222/run/haproxy.sock' }).loadBalancer.transport,
    ).toEqual({
      type: 'ssh',
      user: 'deploy',
      host: 'lb1',
      port: 2222,
      path: '/run/haproxy.sock',
    });
    expect(read({ ...ROLLING, 'load-balancer': 'haproxy://[::1]:9999' }).loadBalancer.transport).toEqual({
      type: 'tcp',
      host: '::1',
      port: 9999,
    });
  });

  it(`rejects ${BAD_INPUTS.length} malformed inputs, each naming its input`, () => {
    expect(BAD_INPUTS.length).toBeGreaterThanOrEqual(100);
    for (const bad of BAD_INPUTS) {
      const found = problems({ ...LB, ...bad.inputs });
      const named = found.filter((p) => p.startsWith(`${bad.input}: `));
      expect(named.length, `${bad.why}: got ${JSON.stringify(found)}`).toBeGreaterThan(0);
      expect(named.join('\n'), bad.why).toMatch(bad.message);
    }
  });

  it('reports every problem at once', () => {
    const found = problems({ ...LB, ...ROLLING, 'probe-interval': 'soon', 'max-error-rate': '2', version: 'a b' });
    expect(found.map((p) => p.split(':')[0])).toEqual(['probe-interval', 'max-error-rate', 'version']);
  });
});

describe('drain-long-lived', () => {
  it('is wait by default and takes a close policy on HAProxy and on a fleet of HAProxys', () => {
    expect(read({ ...LB, ...ROLLING }).drainLongLived).toBe('wait');
    expect(read({ ...LB, ...ROLLING, 'drain-long-lived': 'close-at-start' }).drainLongLived).toBe('close-at-start');
    const pair = { 'load-balancer': 'haproxy://127.0.0.1:9999\nhaproxy+unix:///run/h.sock' };
    expect(read({ ...pair, ...ROLLING, 'drain-long-lived': 'close-at-deadline' }).drainLongLived).toBe(
      'close-at-deadline',
    );
  });

  it('refuses a close policy on a fleet with an nginx member, naming nginx alone', () => {
    const mixed = { 'load-balancer': 'haproxy://127.0.0.1:9999\nnginx+file:///etc/nginx/upstreams.conf' };
    const found = problems({ ...mixed, ...ROLLING, 'min-requests': '0', 'drain-long-lived': 'close-at-start' });
    expect(found).toEqual([
      "drain-long-lived: close-at-start needs a load balancer that closes a server's connections (haproxy); nginx cannot close one server's connections: a reload leaves them on the old workers until they end or worker_shutdown_timeout passes (docs/strategies.md#long-lived-connections); use wait",
    ]);
  });
});
