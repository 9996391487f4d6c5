/**
 * A prometheus check against a real Prometheus (Debian's package) scraping the apps' /metrics every 250ms: the
 * load balancer sees only 200s, so the check alone decides. An error counter that rises rolls the canary back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { errors, runAction } from '../helpers/action.js';
import { startLoad } from '../helpers/load.js';
import { poolInputs, startPools, weights, type PoolsLab } from '../helpers/pools.js';
import { startPrometheus, type PrometheusInstance } from '../helpers/prometheus.js';

let lab: PoolsLab | undefined;
let prometheus: PrometheusInstance | undefined;

afterEach(async () => {
  await prometheus?.stop();
  await lab?.stop();
  lab = prometheus = undefined;
});

const STABLE = { 'app/blue1': 100, 'app/blue2': 100, 'app/green1': 0, 'app/green2': 0 };

function errorCheck(url: string, query = 'sum(app_errors_total{version="{version}"})'): string {
  return `- name: errors\n  at: during\n  kind: prometheus\n  url: ${url}\n  query: ${query}\n  condition: == 0\n  interval: 250ms\n  timeout: 3s`;
}

async function setup(): Promise<{ lab: PoolsLab; prometheus: PrometheusInstance }> {
  lab = await startPools();
  prometheus = await startPrometheus(lab.fleet.ports.map((p) => `127.0.0.1:${p}`));
  // Scraped already: the stable version's series are there before the rollout starts.
  for (;;) {
    const answer = await prometheus.query('count(app_errors_total{version="v1"})');
    if (answer.data?.result?.[0]?.value[1] === '4') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { lab, prometheus };
}

describe('prometheus checks', () => {
  it('rolls back a canary whose error counter rises, on the Prometheus check alone; 0 failed requests', async () => {
    const { lab, prometheus } = await setup();
    const load = startLoad(lab.url, { rps: 150, maxMs: 60_000 });
    const run = await runAction(
      poolInputs(lab, { strategy: 'canary', steps: '20% 10s, 100%', checks: errorCheck(prometheus.url) }),
      { env: { ...lab.fleet.env, APP_NEXT_ERROR_BODY: 'ERROR: database unavailable' } },
    );
    const stats = await load.stop();
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({ result: 'rolled-back', 'live-pool': 'blue', weight: '0' });
    expect(errors(run).join('\n')).toMatch(
      /Rolled back at 20% on green: .*Check errors failed: sum\(app_errors_total\{version="v2"\}\): \d+; wanted == 0/,
    );
    expect(weights(await lab.haproxy.servers())).toEqual(STABLE);
    // The load balancer saw no failure: every answer was a 200.
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(run.summary).toMatch(/\| errors \| step 1\/2 \| - \| `\d+` \| ❌ fail \|/);
  });

  it('promotes a healthy canary whose error counter stays at 0', async () => {
    const { lab, prometheus } = await setup();
    const load = startLoad(lab.url, { rps: 150, maxMs: 60_000 });
    const run = await runAction(
      poolInputs(lab, { strategy: 'canary', steps: '20% 2s, 100%', checks: errorCheck(prometheus.url) }),
      { env: lab.fleet.env },
    );
    const stats = await load.stop();
    expect(errors(run)).toEqual([]);
    expect(run.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'green', weight: '100' });
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(run.summary).toMatch(/\| errors \| step 1\/2 \| - \| `0` \| ✅ pass \|/);
    expect(run.summary).toMatch(/\| errors \| step 2\/2 \| - \| `0` \| ✅ pass \|/);
  });

  it('never promotes on no data: a series that does not exist fails at the timeout and says why', async () => {
    const { lab, prometheus } = await setup();
    const run = await runAction(
      poolInputs(lab, {
        strategy: 'canary',
        steps: '20% 1s, 100%',
        'min-requests': '0',
        checks: errorCheck(prometheus.url, 'sum(app_erors_total{version="{version}"})'),
      }),
      { env: lab.fleet.env },
    );
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({ result: 'rolled-back', weight: '0' });
    const message = errors(run).join('\n');
    expect(message).toContain(
      'Check errors failed: no data within its timeout 3s: sum(app_erors_total{version="v2"}): the query returned no series',
    );
    // Held until then: the judge alone would have passed the step.
    expect(run.summary).toContain('Held: waiting for check errors to pass in this step.');
    expect(run.summary).toMatch(/\| errors \| step 1\/2 \| - \| `no data` \| ❌ fail \| [\d.]+s \| 1 \(1\) \|/);
    expect(weights(await lab.haproxy.servers())).toEqual(STABLE);
  });
});
