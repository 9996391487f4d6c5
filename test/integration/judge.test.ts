/**
 * The canary judge on real HAProxy under load (issue 15): services with background errors keep their healthy
 * canaries, a bad version is out of traffic within a second of its first failed response, a 3x regression is
 * caught within its step, and an outage of both versions is reported as one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { errors, runAction, summaryTimeline } from '../helpers/action.js';
import { startLoad, type LoadStats } from '../helpers/load.js';
import { poolInputs, startPools, weights, type PoolsLab } from '../helpers/pools.js';

let lab: PoolsLab | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

/** Failures that are not the app's own 500s: what the action, not the service, would have caused. */
function notFromApp(stats: LoadStats) {
  return stats.requests.filter((r) => r.status !== 200 && !(r.status === 500 && r.version !== 'none'));
}

/** The moment the rollback's weight change was sent, from the job summary's timeline. */
function rollbackSent(run: Awaited<ReturnType<typeof runAction>>): number {
  const event = summaryTimeline(run).find(([, text]) => text.includes('rollback: all traffic back on'));
  expect(event, 'a rollback in the timeline').toBeDefined();
  return event?.[2] ?? event?.[0] ?? 0;
}

describe('the canary judge on HAProxy', () => {
  // False rollbacks are a statistical claim: test/unit/judge.test.ts and bench/judge.ts prove the bound on seeded
  // simulations over thousands of runs. Here one healthy canary shows the judge does the same on real counters.
  it('keeps a healthy canary when both versions fail 0.5% of requests (default judge inputs)', async () => {
    lab = await startPools({ APP_NEXT_FAIL_RATE: '0.005' });
    const load = startLoad(lab.url, { rps: 150, maxMs: 60_000 });
    const run = await runAction(
      {
        ...poolInputs(lab, { strategy: 'canary', steps: '20% 2s, 50% 2s, 100%' }),
        // The judge's inputs at their defaults: max-error-rate 1%, min-requests 20, false-rollback-rate 1%.
        'min-requests': '',
      },
      { env: { ...lab.fleet.env, APP_NEXT_FAIL_RATE: '0.005' } },
    );
    const stats = await load.stop();
    expect(errors(run)).toEqual([]);
    const appFailures = stats.requests.filter((r) => r.status === 500).length;
    console.log(
      `healthy canary with background errors: ${run.outputs.result}; ${appFailures} of ${stats.sent} requests were the app's own 500s, ${notFromApp(stats).length} other failures`,
    );
    expect(`${run.outputs.result} -> ${run.outputs['live-pool']}`).toBe('succeeded -> green');
    expect(stats.versions.v2).toBeGreaterThan(0);
    expect(appFailures).toBeGreaterThan(0);
    expect(notFromApp(stats)).toEqual([]);
  }, 120_000);

  it('takes a version failing 30% of requests out of traffic within 1s of its first failed response', async () => {
    lab = await startPools();
    const load = startLoad(lab.url, { rps: 300, maxMs: 60_000 });
    const run = await runAction(
      poolInputs(lab, { strategy: 'canary', steps: '20% 30s, 100%', 'analysis-interval': '5s' }),
      { env: { ...lab.fleet.env, APP_NEXT_FAIL_RATE: '0.3' } },
    );
    await new Promise((r) => setTimeout(r, 1000));
    const stats = await load.stop();
    expect(run.outputs.result).toBe('rolled-back');
    const sent = rollbackSent(run);
    const failed = stats.requests.filter((r) => r.status >= 500).sort((a, b) => a.end - b.end);
    const first = failed[0]?.end ?? 0;
    const before = failed.filter((r) => r.end <= sent).length;
    console.log(
      `bad canary (30% failing, 20% of 300 requests/s): rollback sent ${sent - first}ms after the first failed response; ${before} failed requests reached users before it`,
    );
    expect(sent - first).toBeLessThanOrEqual(1000);
    expect(before).toBeLessThanOrEqual(20);
    expect(notFromApp(stats)).toEqual([]);
    expect(stats.requests.filter((r) => r.start > sent + 200 && r.version !== 'v1')).toEqual([]);
    expect(weights(await lab.haproxy.servers())).toMatchObject({ 'app/green1': 0, 'app/green2': 0 });
  }, 120_000);

  it('catches a version failing 3x as often as stable (1.5% against 0.5%) within its step', async () => {
    lab = await startPools({ APP_NEXT_FAIL_RATE: '0.005' });
    const load = startLoad(lab.url, { rps: 300, maxMs: 120_000 });
    const run = await runAction(
      poolInputs(lab, { strategy: 'canary', steps: '50% 60s, 100%', 'analysis-interval': '5s', 'min-requests': '' }),
      { env: { ...lab.fleet.env, APP_NEXT_FAIL_RATE: '0.015' } },
    );
    const stats = await load.stop();
    expect(run.outputs.result).toBe('rolled-back');
    const message = errors(run).join('\n');
    expect(message).toMatch(
      /Rolled back at 50% on green: green \(new\) against blue \(stable\): Worse than stable: new version [\d.]+% failed \(\d+ of \d+\), stable [\d.]+% \(\d+ of \d+\): [\d.]+x as often over the same polls\. A version as good as stable shows a difference this large less than 1 time in [\d,]+ \(rollback at 1 time in 100\)/,
    );
    const steps = summaryTimeline(run).filter(([, text]) => text.startsWith('weights '));
    const tookMs = rollbackSent(run) - (steps[0]?.[2] ?? 0);
    console.log(`3x regression at 50% of 300 requests/s: rolled back ${tookMs}ms into its 60s step`);
    expect(tookMs).toBeLessThan(60_000);
    expect(notFromApp(stats)).toEqual([]);
  }, 150_000);

  it('reports an outage of both versions (5% each) as downstream, neither rolling back nor promoting', async () => {
    lab = await startPools({ APP_NEXT_FAIL_RATE: '0.05' });
    const load = startLoad(lab.url, { rps: 200, maxMs: 60_000 });
    const run = await runAction(
      poolInputs(lab, { strategy: 'canary', steps: '20% 3s, 100%', 'analysis-interval': '2s', timeout: '8s' }),
      { env: { ...lab.fleet.env, APP_NEXT_FAIL_RATE: '0.05' } },
    );
    const stats = await load.stop();
    expect(run.outputs.result).toBe('failed');
    const message = errors(run).join('\n');
    expect(message).toMatch(
      /Stopped at step 1: timeout 8s reached; the step was held: Both versions failing \(downstream or shared outage\?\): this step new version [\d.]+% \(\d+ of \d+\), stable [\d.]+% \(\d+ of \d+\), both over max-error-rate 1%.*Not rolling back for being worse, not promoting: holding this step \(up to timeout\)\. All traffic was moved back to blue\.$/,
    );
    expect(run.summary).toMatch(/Both versions failing \(downstream or shared outage\?\)/);
    expect(run.summary).toMatch(
      /\| 1 \| .* \| ⏸️ held, not passed: Holding: both failing \(new [\d.]+% vs stable [\d.]+% failed\), over 1%; downstream\? \|\n/,
    );
    expect(weights(await lab.haproxy.servers())).toMatchObject({ 'app/green1': 0, 'app/green2': 0 });
    expect(notFromApp(stats)).toEqual([]);
  }, 120_000);
});
