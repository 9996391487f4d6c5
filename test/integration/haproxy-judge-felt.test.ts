/**
 * The judge counts what users felt, on real HAProxy under keep-alive load (issue 25): a canary that drops
 * connections without an answer (a crash mid-request) is rolled back within its first step, and the failures the
 * verdict counts are the ones the clients saw (clients do not retry).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { errors, runAction, summaryTimeline } from '../helpers/action.js';
import { documentedLines } from '../helpers/docs.js';
import { requestsExactly, feltLatency, startLoad, type LoadStats } from '../helpers/load.js';
import { poolInputs, startPools, weights, type PoolsLab } from '../helpers/pools.js';
import { LATENCY_RING } from '../helpers/haproxy.js';

let lab: PoolsLab | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

/** When the summary's timeline says the weights of a step, or the rollback, were sent. */
function sentAt(run: Awaited<ReturnType<typeof runAction>>, text: string): number[] {
  return summaryTimeline(run)
    .filter(([, t]) => t.includes(text))
    .map(([at, , sent]) => sent ?? at);
}

describe('the judge on HAProxy counts what users felt', () => {
  it('rolls back a canary dropping 5% of its connections within its first step, counting the failures clients saw', async () => {
    lab = await startPools();
    const load = startLoad(lab.url, { rps: 200, maxMs: 40_000 });
    const run = await runAction(poolInputs(lab, { strategy: 'canary', steps: '20% 10s, 100%' }), {
      env: { ...lab.fleet.env, APP_NEXT_DROP_RATE: '0.05' },
    });
    await load.through(50);
    const stats = await load.stop();
    expect(run.outputs.result).toBe('rolled-back');
    const [stepSent = 0] = sentAt(run, 'weights ');
    const [rollback = 0] = sentAt(run, 'rollback: all traffic back on');
    const message = errors(run).join('\n');
    const counted = /new version [\d.]+% failed \((\d+) of (\d+)\)/.exec(message);
    expect(counted, message).not.toBeNull();
    const judged = Number(counted?.[1]);
    const felt = stats.requests.filter((r) => r.status === 0 || r.status >= 500);
    const feltBefore = felt.filter((r) => r.end <= rollback).length;
    console.log(
      `5% dropping canary: rolled back ${rollback - stepSent}ms into its 10s step; the verdict counted ${judged} failed of ${counted?.[2]} requests; clients saw ${feltBefore} fail before the rollback was sent, ${felt.length} in all (${JSON.stringify(stats.failures)}) of ${stats.sent}`,
    );
    expect(rollback - stepSent).toBeLessThan(10_000);
    // Every failure the verdict counted is one a client saw, and it missed at most those of the last poll (1 s).
    expect(judged).toBeLessThanOrEqual(felt.length);
    expect(judged).toBeGreaterThanOrEqual(felt.filter((r) => r.end <= rollback - 1200).length);
    expect(judged).toBeGreaterThan(0);
    // The stable version failed nothing: every failure was on the new version's connections.
    expect(stats.requests.filter((r) => r.status !== 200 && r.version === 'v1')).toEqual([]);
    expect(weights(await lab.haproxy.servers())).toMatchObject({ 'app/green1': 0, 'app/green2': 0 });
  }, 90_000);
});

/** Both versions answer in about 20 ms, a fifth of their answers in 70-270 ms (the same sequence on every server). */
const HEAVY_TAIL = { APP_NEXT_TAIL: '1' };

describe('the latency judge on HAProxy, from a log ring read with show events (default inputs)', () => {
  it('rolls back a canary answering 400 ms slower (200 OK) before its second step, with 0 failed requests', async () => {
    lab = await startPools(HEAVY_TAIL, LATENCY_RING);
    const load = startLoad(lab.url, { rps: 150, connections: 64, maxMs: 40_000 });
    const run = await runAction(poolInputs(lab, { strategy: 'canary', steps: '20% 5s, 50% 5s, 100%' }), {
      env: { ...lab.fleet.env, APP_NEXT_EXTRA_MS: '400' },
    });
    const stats = await load.stop();
    const message = errors(run).join('\n');
    const [stepSent = 0] = sentAt(run, 'weights ');
    const [rollback = 0] = sentAt(run, 'rollback: all traffic back on');
    const firstSlow = stats.requests.filter((r) => r.version === 'v2').sort((a, b) => a.end - b.end)[0]?.end ?? 0;
    console.log(
      `HAProxy, 400 ms slower canary: ${run.outputs.result} ${rollback - stepSent}ms into its first step, ${rollback - firstSlow}ms after its first slow answer; ${stats.failed} of ${stats.sent} failed; ${message}`,
    );
    expect(run.outputs.result).toBe('rolled-back');
    expect(message).toMatch(
      /^Rolled back at 20% on green: .*Slower than stable: v2 answered \d+ ms slower at p(50|95) than stable/,
    );
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(weights(await lab.haproxy.servers())).toMatchObject({ 'app/green1': 0, 'app/green2': 0 });
    // The summary draws each step's p95 of users' requests for both versions.
    expect(run.summary).toMatch(
      /title "p95 latency per step, ms: bars stable, line v2"\n {4}x-axis \["step 1 \(20%\)"\]/,
    );
  }, 90_000);

  it('rolls back a canary 2x slower at p95 only (median unchanged) with max-latency-increase 20%, with 0 failed requests', async () => {
    // Both versions answer in about 100 ms (well above a busy machine's jitter); the canary's slowest fifth takes
    // 100 ms more: its p95 about 2x, its p50 and p80 the same.
    lab = await startPools({ APP_NEXT_DELAY_MS: '100' }, LATENCY_RING);
    const load = startLoad(lab.url, { rps: 150, connections: 64, maxMs: 40_000 });
    const run = await runAction(
      poolInputs(lab, { strategy: 'canary', steps: '20% 10s, 100%', 'max-latency-increase': '20%' }),
      { env: { ...lab.fleet.env, APP_NEXT_SLOW_SHARE: '0.2', APP_NEXT_SLOW_MS: '100' } },
    );
    const stats = await load.stop();
    const message = errors(run).join('\n');
    const [stepSent = 0] = sentAt(run, 'weights ');
    const [rollback = 0] = sentAt(run, 'rollback: all traffic back on');
    // What the clients felt from each version, over the step.
    const [v1, v2] = [feltLatency(stats, 'v1', stepSent, rollback), feltLatency(stats, 'v2', stepSent, rollback)];
    console.log(
      `HAProxy, canary 2x slower at p95 only: ${run.outputs.result} ${rollback - stepSent}ms into its 10s step; clients felt v1 p50 ${v1.p50} p95 ${v1.p95} ms (n=${v1.count}), v2 p50 ${v2.p50} p95 ${v2.p95} ms (n=${v2.count}); ${stats.failed} of ${stats.sent} failed; ${message}`,
    );
    expect(run.outputs.result).toBe('rolled-back');
    expect(message).toMatch(
      /^Rolled back at 20% on green: .*Slower than stable: v2 answered \d+ ms slower at p95 than stable/,
    );
    expect(rollback - stepSent).toBeLessThan(10_000);
    // The median the clients felt did not move; the p95 did.
    expect(Math.abs(v2.p50 - v1.p50)).toBeLessThanOrEqual(10);
    expect(v2.p95).toBeGreaterThan(v1.p95 * 1.5);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(weights(await lab.haproxy.servers())).toMatchObject({ 'app/green1': 0, 'app/green2': 0 });
  }, 90_000);

  it('promotes a healthy canary with the same heavy-tailed latency as stable, with 0 failed requests', async () => {
    lab = await startPools(HEAVY_TAIL, LATENCY_RING);
    const load = startLoad(lab.url, { rps: 150, connections: 64, maxMs: 40_000 });
    const run = await runAction(poolInputs(lab, { strategy: 'canary', steps: '20% 3s, 50% 3s, 100%' }), {
      env: lab.fleet.env,
    });
    const stats = await load.stop();
    console.log(`HAProxy, healthy heavy-tailed canary: ${run.outputs.result}; ${stats.failed} of ${stats.sent} failed`);
    expect(errors(run)).toEqual([]);
    expect(run.outputs.result).toBe('succeeded');
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
  }, 90_000);
});

/** The clients' failures: no answer, or a 5xx. */
const failedOf = (stats: LoadStats) => stats.requests.filter((r) => r.status === 0 || r.status >= 500);

describe('shielded canaries on HAProxy: retried failures still count, users see none of them', () => {
  // `postsRetried`: whether HAProxy sends a failed POST again (a user's lines without disable-l7-retry do).
  const cases = [
    {
      name: 'the lines of docs/strategies.md',
      extra: documentedLines('shielded-canaries:haproxy'),
      postsRetried: false,
    },
    {
      name: "a user's own common retry lines",
      extra: ['    retry-on all-retryable-errors', '    retries 3', '    option redispatch'],
      postsRetried: true,
    },
  ];
  for (const c of cases)
    it(`behind ${c.name}: a canary failing 30% at 20% is rolled back, its failure rate named, 0 GETs failed; POSTs ${c.postsRetried ? 'retried too' : 'never retried'}`, async () => {
      lab = await startPools({}, { extra: c.extra.join('\n') });
      const gets = startLoad(lab.url, { rps: 200, maxMs: 40_000 });
      const run = await runAction(poolInputs(lab, { strategy: 'canary', steps: '20% 10s, 100%' }), {
        env: { ...lab.fleet.env, APP_NEXT_FAIL_RATE: '0.3' },
      });
      await gets.through(50);
      const got = await gets.stop();
      const message = errors(run).join('\n');
      const [stepSent = 0] = sentAt(run, 'weights ');
      const [rollback = 0] = sentAt(run, 'rollback: all traffic back on');
      const retries = summaryTimeline(run).find(([, t]) => t.startsWith('retries: '))?.[1];
      console.log(
        `shielded canary behind ${c.name}: ${run.outputs.result} ${rollback - stepSent}ms into its step; GETs ${failedOf(got).length} of ${got.sent} failed, served by v2 ${got.versions.v2 ?? 0}; ${message}; ${retries}`,
      );
      expect(run.outputs.result).toBe('rolled-back');
      expect(message).toMatch(/^Rolled back at 20% on green: .*new version [\d.]+% failed \(\d+ of \d+\)/);
      const rate = Number(/new version ([\d.]+)% failed/.exec(message)?.[1]);
      expect(rate).toBeGreaterThan(10);
      expect(failedOf(got), JSON.stringify(got.failures)).toEqual([]);
      expect(got.versions.v2 ?? 0).toBeGreaterThan(0);
      // Said once, when the judge starts: nothing was retried yet.
      expect(retries).toMatch(/^retries: backend app retried nothing since HAProxy started\. HAProxy retries/);
      expect(run.stdout).toContain("Users shielded from a bad version's failed requests: not known: backend app");
      expect(weights(await lab.haproxy.servers())).toMatchObject({ 'app/green1': 0, 'app/green2': 0 });
      // The failing version at half the traffic again, by hand: GETs are retried, POSTs only with the user's lines.
      await lab.haproxy.cli('set server app/green1 weight 100; set server app/green2 weight 100');
      const [again, posted] = [await requestsExactly(lab.url, 200, {}), await requestsExactly(lab.url, 200, {}, true)];
      const fromV2 = (s: LoadStats) => s.requests.filter((r) => r.version === 'v2').length;
      console.log(
        `then at 50% by hand: GETs ${failedOf(again).length} of 200 failed (${fromV2(again)} answered by v2); POSTs ${failedOf(posted).length} of 200 failed (${fromV2(posted)} answered by v2)`,
      );
      expect(failedOf(again)).toEqual([]);
      if (c.postsRetried) expect(failedOf(posted)).toEqual([]);
      else expect(failedOf(posted).length).toBeGreaterThan(10);
    }, 90_000);
});
