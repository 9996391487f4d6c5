/**
 * Blue-green and canary through a real HAProxy in front of real app processes, under steady keep-alive load:
 * blue1/blue2 serve v1 and carry the traffic, green1/green2 are idle at weight 0 and get the new version.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { errors, runAction, summaryTimeline } from '../helpers/action.js';
import { startLoad, type Sample } from '../helpers/load.js';
import { poolInputs, shifts, startPools, weights, type PoolsLab } from '../helpers/pools.js';
import { startRelay } from '../helpers/relay.js';

let lab: PoolsLab | undefined;

afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

async function setup(): Promise<PoolsLab> {
  lab = await startPools();
  return lab;
}

describe('canary on HAProxy', () => {
  it('moves 20%, 50%, 100% to the new version with 0 failed requests; each step within 2 points over 1000+ requests', async () => {
    const lab = await setup();
    const { fleet, haproxy, url } = lab;
    const load = startLoad(url, { rps: 300, maxMs: 90_000 });
    const run = await runAction(poolInputs(lab, { strategy: 'canary', steps: '20% 4s, 50% 4s, 100%' }), {
      env: fleet.env,
    });
    const stats = await load.stop();
    expect(errors(run)).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'green', weight: '100' });
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    const after = await haproxy.servers();
    expect(weights(after)).toEqual({ 'app/blue1': 0, 'app/blue2': 0, 'app/green1': 256, 'app/green2': 256 });
    expect(after.get('app/blue1')?.status).toBe('UP'); // the old pool stays warm
    expect(after.get('app/blue2')?.status).toBe('UP');

    const steps = shifts(run);
    expect(steps.map((s) => s.share)).toEqual(['20% on green', '50% on green', '100% on green']);
    const measured: string[] = [];
    for (const [i, step] of steps.entries()) {
      const end = steps[i + 1]?.at ?? Date.now();
      const window = stats.requests.filter((r: Sample) => r.start > step.at && r.start < end);
      const onNew = window.filter((r) => r.version === 'v2').length;
      const share = (100 * onNew) / window.length;
      const firstHalf = window.slice(0, window.length / 2);
      measured.push(
        `${step.share}: ${share.toFixed(1)}% of ${window.length} (first half ${((100 * firstHalf.filter((r) => r.version === 'v2').length) / firstHalf.length).toFixed(1)}%)`,
      );
      if (i < 2) expect(window.length).toBeGreaterThanOrEqual(1000);
      expect(Math.abs(share - [20, 50, 100][i]!), measured.join('; ')).toBeLessThanOrEqual(2);
    }
    console.log(`canary split measured: ${measured.join('; ')}; ${stats.sent} requests, ${stats.failed} failed`);
    expect(run.summary).toContain('### Steps (canary of version `v2`');
  });

  it('rolls back a version that fails 30% of its requests within two analysis windows of the first failure', async () => {
    const lab = await setup();
    const { fleet, haproxy, url } = lab;
    const load = startLoad(url, { rps: 300, maxMs: 60_000 });
    const run = await runAction(
      poolInputs(lab, { strategy: 'canary', steps: '20% 10s, 50% 10s, 100%', 'analysis-interval': '3s' }),
      {
        env: { ...fleet.env, APP_NEXT_FAIL_RATE: '0.3' },
      },
    );
    await new Promise((r) => setTimeout(r, 1500));
    const stats = await load.stop();
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({ result: 'rolled-back', 'live-pool': 'blue', weight: '0' });
    const message = errors(run).join('\n');
    expect(message).toMatch(
      /Rolled back at 20% on green: green \(new\) against blue \(stable\): (Worse than stable: new version [\d.]+% failed \(\d+ of \d+\), stable [\d.]+% \(\d+ of \d+\)|Hard ceiling: \d+ of the last \d+ requests to the new version failed)/,
    );

    const rollback = summaryTimeline(run).find(([, text]) => text.includes('rollback: all traffic back on blue'));
    expect(rollback).toBeDefined();
    const rolledBackAt = rollback?.[0] ?? 0;
    const firstFailure = stats.requests.filter((r) => r.status >= 500).sort((a, b) => a.end - b.end)[0];
    expect(firstFailure).toBeDefined();
    const detectMs = rolledBackAt - (firstFailure?.end ?? 0);
    const afterRollback = stats.requests.filter((r) => r.start > rolledBackAt);
    const badShare = (100 * stats.requests.filter((r) => r.version === 'v2').length) / stats.requests.length;
    console.log(
      `bad canary: first failed response to rollback complete ${detectMs}ms; the bad version answered ${badShare.toFixed(1)}% of ${stats.requests.length} requests; ` +
        `${stats.failed} failed in all, ${afterRollback.filter((r) => r.status !== 200).length} of ${afterRollback.length} after the rollback call returned`,
    );
    expect(detectMs).toBeLessThanOrEqual(2 * 3000);
    expect(afterRollback.length).toBeGreaterThan(100);
    expect(afterRollback.filter((r) => r.status !== 200)).toEqual([]);
    expect(afterRollback.filter((r) => r.version !== 'v1')).toEqual([]);
    expect(weights(await haproxy.servers())).toEqual({
      'app/blue1': 100,
      'app/blue2': 100,
      'app/green1': 0,
      'app/green2': 0,
    });
    expect(run.summary).toMatch(
      /The new version answered \d+ of \d+ requests \([\d.]+%\) from the first shift to the end\./,
    );
    expect(run.summary).toContain('❌');
  });

  it('says how traffic was left when the Runtime API becomes unreachable mid-canary; no request fails', async () => {
    const lab = await setup();
    const { fleet, haproxy, url } = lab;
    const relay = await startRelay(haproxy.adminPort);
    relay.cutAfter(/weight 64/);
    const load = startLoad(url, { rps: 200, maxMs: 60_000 });
    const run = await runAction(
      poolInputs(lab, {
        strategy: 'canary',
        steps: '20% 4s, 100%',
        'load-balancer': `haproxy://127.0.0.1:${relay.port}`,
      }),
      { env: fleet.env },
    );
    const stats = await load.stop();
    await relay.close();
    expect(run.code).toBe(1);
    expect(run.outputs.result).toBe('failed');
    const message = errors(run).join('\n');
    // The change was read back on its own round trip; the next call (the lock's re-check or the window's first
    // read) found the API gone.
    expect(message).toMatch(/Stopped at 20% on green: HAProxy Runtime API failed after 4 attempts/);
    expect(message).toContain(
      'traffic may be left split: unknown: the load balancer could not be read back (last known app/blue1=256 app/blue2=256 app/green1=64 app/green2=64)',
    );
    expect(message).toContain(
      'Restore it on the HAProxy Runtime API: set server app/blue1 weight 100; set server app/blue2 weight 100; set server app/green1 weight 0; set server app/green2 weight 0',
    );
    const left = weights(await haproxy.servers());
    // Traffic is left to restore: the lock's servers (maint, no traffic) stay for the post step, and the log says so.
    expect(Object.keys(left).filter((id) => id.startsWith('app/zdd-'))).toHaveLength(2);
    expect(run.stdout).toMatch(
      /::warning::load-balancer: keeping the lock on .* for the post step, which restores safe traffic first/,
    );
    expect(Object.fromEntries(Object.entries(left).filter(([id]) => !id.startsWith('app/zdd-')))).toEqual({
      'app/blue1': 256,
      'app/blue2': 256,
      'app/green1': 64,
      'app/green2': 64,
    });
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
  });
  it('a batch cut after 2 of its 4 set server lines mid-canary: the message gives the weights read back, all traffic goes back to blue, no request fails', async () => {
    const lab = await setup();
    const { fleet, haproxy, url } = lab;
    const relay = await startRelay(haproxy.adminPort);
    // The 100% step's batch (green up first, then blue down): only its first 2 lines reach HAProxy, and the driver's
    // 3 retries of it are refused; then the Runtime API answers again.
    const cut = relay.cutWithin(/set server app\/blue1 weight 0\n/, 2, 3);
    const load = startLoad(url, { rps: 200, maxMs: 60_000 });
    const run = await runAction(
      poolInputs(lab, {
        strategy: 'canary',
        steps: '20% 3s, 100%',
        'load-balancer': `haproxy://127.0.0.1:${relay.port}`,
      }),
      { env: fleet.env },
    );
    await new Promise((r) => setTimeout(r, 300));
    const stats = await load.stop();
    await relay.close();
    const { forwarded, dropped } = await cut;
    expect(forwarded.match(/^set server .*$/gm)).toEqual([
      'set server app/green1 weight 256',
      'set server app/green2 weight 256',
    ]);
    expect(dropped.match(/^set server .*$/gm)).toEqual([
      'set server app/blue1 weight 0',
      'set server app/blue2 weight 0',
    ]);
    expect(run.code).toBe(1);
    expect(run.outputs.result).toBe('failed');
    const message = errors(run).join('\n');
    console.log(`partial batch: ${message}`);
    // What HAProxy held after the cut, as read back: both green at 256 (half the traffic), blue untouched at 256.
    expect(message).toMatch(/HAProxy Runtime API failed after 4 attempts/);
    expect(message).toMatch(
      /read back: (?=.*app\/green1 weight 256 ready)(?=.*app\/green2 weight 256 ready)(?=.*app\/blue1 weight 256 ready)(?=.*app\/blue2 weight 256 ready)/,
    );
    expect(message).not.toMatch(/100% on green|All traffic is on green/);
    expect(message).toMatch(/All traffic was moved back to blue/);
    const left = weights(await haproxy.servers());
    expect(Object.fromEntries(Object.entries(left).filter(([id]) => !id.startsWith('app/zdd-')))).toEqual({
      'app/blue1': 100,
      'app/blue2': 100,
      'app/green1': 0,
      'app/green2': 0,
    });
    expect(run.outputs.weight).toBe('0');
    const restoredAt = summaryTimeline(run).find(([, text]) => text.includes('stopped: all traffic back on blue'))?.[0];
    expect(restoredAt).toBeDefined();
    const after = stats.requests.filter((r) => r.start > (restoredAt ?? 0));
    console.log(
      `partial batch: ${stats.sent} requests, ${stats.failed} failed; ${after.length} after the restore, ${after.filter((r) => r.version !== 'v1').length} of them not on blue`,
    );
    expect(after.length).toBeGreaterThan(20);
    expect(after.filter((r) => r.version !== 'v1')).toEqual([]);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
  });
});

describe('blue-green on HAProxy', () => {
  it('switches all traffic at once with 0 failed requests, no old answer after the switch, and alternates pools', async () => {
    const lab = await setup();
    const { fleet, haproxy, url } = lab;
    const load = startLoad(url, { rps: 300, maxMs: 90_000 });
    const first = await runAction(poolInputs(lab, { strategy: 'blue-green' }), { env: fleet.env });
    expect(errors(first)).toEqual([]);
    expect(first.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'green', weight: '100' });
    const second = await runAction(poolInputs(lab, { strategy: 'blue-green', version: 'v3' }), { env: fleet.env });
    await new Promise((r) => setTimeout(r, 500));
    const stats = await load.stop();
    expect(errors(second)).toEqual([]);
    expect(second.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'blue', weight: '100' });
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);

    const [switch1] = shifts(first);
    const [switch2] = shifts(second);
    // Between the first switch's return and the moment the second switch was sent, only v2 may answer.
    const stale1 = stats.requests.filter(
      (r) => r.start > (switch1?.at ?? 0) && r.start < (switch2?.sent ?? 0) && r.version !== 'v2',
    );
    const stale2 = stats.requests.filter((r) => r.start > (switch2?.at ?? 0) && r.version !== 'v3');
    const newFirst = stats.requests.filter((r) => r.version === 'v2').sort((a, b) => a.end - b.end)[0];
    const oldLast = stats.requests.filter((r) => r.version === 'v1').sort((a, b) => b.end - a.end)[0];
    console.log(
      `blue-green: ${stats.sent} requests, ${stats.failed} failed; mixed-version window ${(oldLast?.end ?? 0) - (newFirst?.end ?? 0)}ms`,
    );
    expect(stale1).toEqual([]);
    expect(stale2).toEqual([]);
    expect(weights(await haproxy.servers())).toEqual({
      'app/blue1': 256,
      'app/blue2': 256,
      'app/green1': 0,
      'app/green2': 0,
    });
  });

  it('refuses an ambiguous starting state without touching HAProxy', async () => {
    const lab = await setup();
    const { fleet, haproxy } = lab;
    await haproxy.cli('set server app/green1 weight 10');
    const before = weights(await haproxy.servers());
    const run = await runAction(poolInputs(lab, { strategy: 'blue-green' }), { env: fleet.env });
    expect(run.code).toBe(1);
    expect(errors(run).join('\n')).toMatch(
      /pools: both blue and green carry traffic, so neither can be the idle pool to deploy to; give one pool's servers their weight and take the other's out of rotation/,
    );
    expect(weights(await haproxy.servers())).toEqual(before);
  });
});
