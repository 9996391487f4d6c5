/**
 * The judge counts what users felt, on real nginx under keep-alive load (issue 25), from the JSON access log: an
 * attempt whose `$upstream_status` is 502/504 or none (the connection died without an answer) is a failure of that
 * server, even when nginx then retried the request elsewhere and the client got its answer.
 */
import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { errors, FAST_ROLLOUT, runAction, summaryTimeline } from '../helpers/action.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { requestsExactly, feltLatency, startLoad, type LoadStats } from '../helpers/load.js';
import { documentedLines } from '../helpers/docs.js';
import { startNginx, type NginxExtra, type NginxInstance } from '../helpers/nginx.js';

let nginx: NginxInstance | undefined;
let fleet: Fleet | undefined;
afterEach(async () => {
  await nginx?.stop();
  fleet?.stopAll();
  nginx = undefined;
  fleet = undefined;
});

/** blue1/blue2 live on v1, green1/green2 idle (down). */
async function startPools(
  appEnv: Record<string, string> = {},
  extra: NginxExtra = {},
): Promise<{ fleet: Fleet; nginx: NginxInstance; url: string }> {
  const pools = await startFleet(4, 'v1', appEnv);
  const [b1, b2, g1, g2] = pools.ports as [number, number, number, number];
  const instance = await startNginx(
    [
      { name: 'blue1', port: b1 },
      { name: 'blue2', port: b2 },
      { name: 'green1', port: g1, down: true },
      { name: 'green2', port: g2, down: true },
    ],
    extra,
  );
  return { fleet: pools, nginx: instance, url: `http://127.0.0.1:${instance.port}/` };
}

export function canaryInputs(lab: { fleet: Fleet; nginx: NginxInstance }, steps: string): Record<string, string> {
  return {
    ...FAST_ROLLOUT,
    ...lab.nginx.inputs,
    'health-url': 'http://{address}/health',
    strategy: 'canary',
    steps,
    pools: 'blue=app/blue*, green=app/green*',
    'deploy-command': lab.fleet.restartCommand,
  };
}

describe('the judge on nginx counts what users felt', () => {
  it('rolls back a canary dropping 5% of its connections within its first step, counting every failed attempt', async () => {
    const lab = await startPools();
    ({ fleet, nginx } = lab);
    // A reload closes idle keep-alive client connections (LB-NOTES): the client retries those resets, as HTTP
    // clients do, and they are counted apart. nginx itself retries a GET whose upstream died on another server
    // (proxy_next_upstream) and, after a failure, takes that server out for fail_timeout (10 s), so about 2 failures come per 10 s: a 30 s step.
    const load = startLoad(lab.url, { rps: 200, maxMs: 40_000, retryResets: true });
    const run = await runAction(canaryInputs(lab, '20% 30s, 100%'), {
      env: { ...lab.fleet.env, APP_NEXT_DROP_RATE: '0.05' },
    });
    const stats = await load.stop();
    expect(run.outputs.result).toBe('rolled-back');
    const timeline = summaryTimeline(run);
    const at = (text: string) => timeline.find(([, t]) => t.includes(text))?.[0] ?? 0;
    const message = errors(run).join('\n');
    const counted = /new version [\d.]+% failed \((\d+) of (\d+)\)/.exec(message);
    expect(counted, message).not.toBeNull();
    const log = readFileSync(lab.nginx.accessLog, 'utf8').trim().split('\n');
    // Attempts without an answer (502/504 or none), each one: a request may have failed on both new servers.
    const dead = log
      .flatMap((l) => String((JSON.parse(l) as { status?: string }).status ?? '').split(/\s*,\s*|\s+:\s+/))
      .filter((status) => ['502', '504', '', '-'].includes(status)).length;
    const felt = stats.requests.filter((r) => r.status === 0 || r.status >= 500).length;
    console.log(
      `nginx, 5% dropping canary: rolled back ${at('rollback: all traffic back on') - at('weights ')}ms into its 30s step; the verdict counted ${counted?.[1]} failed of ${counted?.[2]}; the access log has ${dead} attempts without an answer; clients saw ${felt} fail (nginx retries a GET elsewhere) of ${stats.sent}, ${stats.resets} resets at reloads retried`,
    );
    expect(at('rollback: all traffic back on') - at('weights ')).toBeLessThan(30_000);
    expect(Number(counted?.[1])).toBeGreaterThan(0);
    expect(Number(counted?.[1])).toBeGreaterThanOrEqual(felt);
    expect(Number(counted?.[1])).toBeLessThanOrEqual(dead);
    expect(stats.requests.filter((r) => r.status !== 200 && r.version === 'v1')).toEqual([]);
  }, 90_000);
});

/** Both versions answer in about 20 ms, a fifth of their answers in 70-270 ms (the same sequence on every server). */
const HEAVY_TAIL = { APP_NEXT_TAIL: '1' };

describe('the latency judge on nginx (default inputs)', () => {
  it('rolls back a canary answering 400 ms slower (200 OK) before its second step, with 0 failed requests', async () => {
    const lab = await startPools(HEAVY_TAIL);
    ({ fleet, nginx } = lab);
    const load = startLoad(lab.url, { rps: 150, connections: 64, maxMs: 40_000, retryResets: true });
    const run = await runAction(canaryInputs(lab, '20% 5s, 50% 5s, 100%'), {
      env: { ...lab.fleet.env, APP_NEXT_EXTRA_MS: '400' },
    });
    const stats = await load.stop();
    const message = errors(run).join('\n');
    const timeline = summaryTimeline(run);
    const stepAt = timeline.find(([, t]) => t.startsWith('weights '))?.[0] ?? 0;
    const firstSlow = stats.requests.find((r) => r.version === 'v2')?.end ?? 0;
    const rollback = timeline.find(([, t]) => t.includes('rollback: all traffic back on'))?.[0] ?? 0;
    console.log(
      `nginx, 400 ms slower canary: ${run.outputs.result} ${rollback - stepAt}ms into its first step, ${rollback - firstSlow}ms after its first answer; ${stats.failed} of ${stats.sent} failed (${stats.resets} resets at reloads retried); ${message}`,
    );
    expect(run.outputs.result).toBe('rolled-back');
    expect(message).toMatch(
      /^Rolled back at 20% on green: .*Slower than stable: v2 answered \d+ ms slower at p(50|95) than stable/,
    );
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
  }, 90_000);

  it('rolls back a canary 2x slower at p95 only (median unchanged) with max-latency-increase 20%, with 0 failed requests', async () => {
    // Both versions answer in about 100 ms; the canary's slowest fifth takes 100 ms more (p95 about 2x, p50 the same).
    const lab = await startPools({ APP_NEXT_DELAY_MS: '100' });
    ({ fleet, nginx } = lab);
    const load = startLoad(lab.url, { rps: 150, connections: 64, maxMs: 40_000, retryResets: true });
    const run = await runAction(
      { ...canaryInputs(lab, '20% 10s, 100%'), 'max-latency-increase': '20%' },
      { env: { ...lab.fleet.env, APP_NEXT_DELAY_MS: '100', APP_NEXT_SLOW_SHARE: '0.2', APP_NEXT_SLOW_MS: '100' } },
    );
    const stats = await load.stop();
    const message = errors(run).join('\n');
    const timeline = summaryTimeline(run);
    const stepAt = timeline.find(([, t]) => t.startsWith('weights '))?.[0] ?? 0;
    const rollback = timeline.find(([, t]) => t.includes('rollback: all traffic back on'))?.[0] ?? 0;
    // What the clients felt from each version, over the step.
    const [v1, v2] = [feltLatency(stats, 'v1', stepAt, rollback), feltLatency(stats, 'v2', stepAt, rollback)];
    console.log(
      `nginx, canary 2x slower at p95 only: ${run.outputs.result} ${rollback - stepAt}ms into its 10s step; clients felt v1 p50 ${v1.p50} p95 ${v1.p95} ms (n=${v1.count}), v2 p50 ${v2.p50} p95 ${v2.p95} ms (n=${v2.count}); ${stats.failed} of ${stats.sent} failed; ${message}`,
    );
    expect(run.outputs.result).toBe('rolled-back');
    expect(message).toMatch(
      /^Rolled back at 20% on green: .*Slower than stable: v2 answered \d+ ms slower at p95 than stable/,
    );
    expect(rollback - stepAt).toBeLessThan(10_000);
    expect(Math.abs(v2.p50 - v1.p50)).toBeLessThanOrEqual(10);
    expect(v2.p95).toBeGreaterThan(v1.p95 * 1.5);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
  }, 90_000);

  it('promotes a healthy canary with the same heavy-tailed latency as stable, with 0 failed requests', async () => {
    const lab = await startPools(HEAVY_TAIL);
    ({ fleet, nginx } = lab);
    const load = startLoad(lab.url, { rps: 150, connections: 64, maxMs: 40_000, retryResets: true });
    const run = await runAction(canaryInputs(lab, '20% 3s, 50% 3s, 100%'), { env: lab.fleet.env });
    const stats = await load.stop();
    console.log(
      `nginx, healthy heavy-tailed canary: ${run.outputs.result}; ${stats.failed} of ${stats.sent} failed (${stats.resets} resets retried)`,
    );
    expect(errors(run)).toEqual([]);
    expect(run.outputs.result).toBe('succeeded');
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
  }, 90_000);
});

/** The clients' failures: no answer, or a 5xx. */
const failedOf = (stats: LoadStats) => stats.requests.filter((r) => r.status === 0 || r.status >= 500);

describe('shielded canaries on nginx: retried failures still count, users see none of them', () => {
  it('behind the lines of docs/strategies.md: a canary failing 30% at 20% is rolled back, its failure rate named, 0 GETs failed, POSTs never retried', async () => {
    const lab = await startPools({}, { location: documentedLines('shielded-canaries:nginx').join('\n') });
    ({ fleet, nginx } = lab);
    const gets = startLoad(lab.url, { rps: 200, maxMs: 40_000, retryResets: true });
    const run = await runAction(canaryInputs(lab, '20% 30s, 100%'), {
      env: { ...lab.fleet.env, APP_NEXT_FAIL_RATE: '0.3' },
    });
    const got = await gets.stop();
    const message = errors(run).join('\n');
    const fromV2 = (s: LoadStats) => s.requests.filter((r) => r.version === 'v2').length;
    console.log(
      `nginx shielded canary: ${run.outputs.result}; GETs ${failedOf(got).length} of ${got.sent} failed (${fromV2(got)} answered by v2, ${got.resets} resets at reloads retried); ${message}`,
    );
    expect(run.outputs.result).toBe('rolled-back');
    expect(message).toMatch(/^Rolled back at 20% on green: .*new version [\d.]+% failed \(\d+ of \d+\)/);
    expect(failedOf(got), JSON.stringify(got.failures)).toEqual([]);
    expect(fromV2(got)).toBeGreaterThan(0);
    expect(run.stdout).toContain(
      "Users shielded from a bad version's failed requests: yes: proxy_next_upstream error timeout http_500 http_502 http_503 http_504, proxy_next_upstream_tries 3 (where nginx proxies to app): a failed idempotent request",
    );
    // The failing version at half the traffic again, by hand, never taken out for fail_timeout (max_fails=0): GETs
    // are retried on another server, POSTs never.
    const file = readFileSync(lab.nginx.upstreams, 'utf8');
    writeFileSync(lab.nginx.upstreams, file.replace(/weight=\d+ down;/g, 'weight=100 max_fails=0;'));
    execSync(lab.nginx.inputs['nginx-reload-command'] ?? '');
    const until = Date.now() + 10_000;
    while (fromV2(await requestsExactly(lab.url, 20, {})) === 0 && Date.now() < until);
    const [again, posted] = [await requestsExactly(lab.url, 200, {}), await requestsExactly(lab.url, 200, {}, true)];
    console.log(
      `then at 50% by hand: GETs ${failedOf(again).length} of 200 failed (${fromV2(again)} answered by v2); POSTs ${failedOf(posted).length} of 200 failed (${fromV2(posted)} answered by v2)`,
    );
    expect(failedOf(again)).toEqual([]);
    expect(failedOf(posted).length).toBeGreaterThan(10);
  }, 90_000);
});
