/**
 * Rolling deploys on the fake driver, from the source: batches that pass, a server whose check never settles, a
 * cancel while a batch drains, and a load balancer that fails under a batch.
 */
import { describe, expect, it, vi } from 'vitest';
import { withEngine } from '../../src/engine/context.js';
import { runRolling } from '../../src/engine/rolling.js';
import type { Change } from '../../src/model/server.js';
import { FakeDriver, type Call } from '../helpers/fake-driver.js';
import { fakeSettings, planOn, recordingHooks } from '../helpers/engine-kit.js';

vi.mock('../../src/plan/build.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/plan/build.js')>()),
  COUNTER_POLL_MS: 10,
}));

function fleet(count: number): FakeDriver {
  return new FakeDriver({
    servers: Array.from({ length: count }, (_, i) => ({ id: `app/web${i + 1}`, weight: 100 })),
    traffic: { perCall: 100 },
  });
}

function rolling(batchSize = '1', extra: Record<string, string> = {}) {
  return fakeSettings({ strategy: 'rolling', targets: 'app/*', 'batch-size': batchSize, ...extra });
}

function sets(call: Call, server: string, admin: string): boolean {
  return call.method === 'apply' && (call.args as Change[]).some((c) => c.server === server && c.admin === admin);
}

describe('rolling deploy on the fake driver', () => {
  it('passes batch by batch: every server back in traffic, never more than one batch out', async () => {
    const settings = rolling('2');
    const lb = fleet(4);
    const { servers, plan } = await planOn(settings, lb);
    const rec = recordingHooks();
    let mostOut = 0;
    lb.tap(() => {
      const out = servers.filter((s) => lb.state(s.id).admin !== 'ready').length;
      mostOut = Math.max(mostOut, out);
    });
    const outcome = await withEngine(settings, lb, new AbortController().signal, rec.hooks, (ctx) =>
      runRolling(ctx, plan, servers),
    );
    expect(outcome.result, outcome.message).toBe('succeeded');
    expect(outcome.message).toBe('All 4 servers run version v2 and are back in traffic.');
    expect(lb.snapshot()).toBe('app/web1=100 ready, app/web2=100 ready, app/web3=100 ready, app/web4=100 ready');
    expect(mostOut).toBe(2);
    expect(rec.stages).toEqual(['Batch 1/2: app/web1, app/web2', 'Batch 2/2: app/web3, app/web4']);
    const batch1 = [
      { server: 'app/web1', admin: 'ready', weight: 100 },
      { server: 'app/web2', admin: 'ready', weight: 100 },
    ];
    // Per batch: the original state (safe to restore), [] while deploying, the verified servers, then none.
    expect(rec.checkpoints.slice(0, 4)).toEqual([batch1, [], batch1, undefined]);
    expect(rec.checkpoints).toHaveLength(8);
    expect(rec.last()).toBeUndefined();
    // drain, maint, drain (checks resume), back in traffic: four calls per batch.
    expect(lb.callsOf('apply')).toHaveLength(8);
    expect(outcome.batches.map((b) => b.passed)).toEqual([true, true]);
    expect(outcome.servers.every((s) => s.version === 'new' && s.inTraffic)).toBe(true);
    expect(outcome.weight).toBe(100);
  });

  it("stops when a server's own check never settles: kept in maint, the message names it, the rest untouched", async () => {
    const settings = rolling('1');
    const lb = fleet(3);
    const { servers, plan } = await planOn(settings, lb);
    // The new version on web2 answers its health check with 503.
    lb.tap((call) => {
      if (sets(call, 'app/web2', 'maint')) lb.set('app/web2', { check: 'fail' });
    });
    const rec = recordingHooks();
    const outcome = await withEngine(settings, lb, new AbortController().signal, rec.hooks, (ctx) =>
      runRolling(ctx, plan, servers),
    );
    expect(outcome.result).toBe('failed');
    expect(outcome.message).toBe(
      "Rolling deploy stopped: app/web2: the load balancer's own check did not pass within startup-timeout (DOWN L7STS/503). Untouched, still on the old version: app/web3. Out of traffic now (read back): app/web2 (maint, weight 100, check DOWN L7STS/503).",
    );
    expect(lb.state('app/web2').admin).toBe('maint');
    expect(lb.state('app/web1')).toMatchObject({ admin: 'ready', weight: 100 });
    expect(lb.state('app/web3')).toMatchObject({ admin: 'ready', weight: 100 });
    expect(lb.calls.some((c) => JSON.stringify(c.args).includes('app/web3') && c.method === 'apply')).toBe(false);
    expect(outcome.batches.map((b) => b.passed)).toEqual([true, false]);
    expect(outcome.servers.find((s) => s.id === 'app/web2')?.inTraffic).toBe(false);
    expect(rec.last()).toBeUndefined();
  });

  it('stops a batch whose analysis window fails: its servers go to maint, the rest untouched', async () => {
    const settings = rolling('1');
    const lb = fleet(3);
    // web1 fails only once it runs the new version (after its deploy).
    let deployed = false;
    lb.tap((call) => {
      if (sets(call, 'app/web1', 'maint')) deployed = true;
    });
    lb.traffic = { perCall: 100, failureShare: (id) => (id === 'app/web1' && deployed ? 0.5 : 0) };
    const { servers, plan } = await planOn(settings, lb);
    const outcome = await withEngine(settings, lb, new AbortController().signal, recordingHooks().hooks, (ctx) =>
      runRolling(ctx, plan, servers),
    );
    expect(outcome.result).toBe('failed');
    expect(outcome.message).toMatch(
      /^Rolling deploy stopped: batch 1 \(app\/web1\) failed its analysis window: (Worse than stable|Hard ceiling): .*Untouched, still on the old version: app\/web2, app\/web3\. Out of traffic now \(read back\): app\/web1 \(maint, weight 100, check MAINT\)\.$/,
    );
    expect(lb.snapshot()).toBe('app/web1=100 maint, app/web2=100 ready, app/web3=100 ready');
  });

  it('cancelled while a batch drains: the batch goes back as it was and the run ends failed, saying so', async () => {
    const settings = rolling('2');
    const lb = fleet(4);
    // Requests in flight keep the drain waiting.
    lb.set('app/web1', { inFlight: 3 });
    const { servers, plan } = await planOn(settings, lb);
    const controller = new AbortController();
    lb.tap((call) => {
      if (sets(call, 'app/web1', 'drain')) controller.abort(new Error('the run was cancelled'));
    });
    const rec = recordingHooks();
    const outcome = await withEngine(settings, lb, controller.signal, rec.hooks, (ctx) =>
      runRolling(ctx, plan, servers),
    );
    expect(outcome.result).toBe('failed');
    expect(outcome.message).toMatch(/batch 1 \(app\/web1, app\/web2\) was stopped: the run was cancelled/);
    expect(lb.snapshot()).toBe('app/web1=100 ready, app/web2=100 ready, app/web3=100 ready, app/web4=100 ready');
    const last = lb.callsOf('apply').at(-1);
    expect(last?.args).toEqual([
      { server: 'app/web1', admin: 'ready', weight: 100 },
      { server: 'app/web2', admin: 'ready', weight: 100 },
    ]);
    // Nothing is left for a post step to restore: the batch is back as it was.
    expect(rec.last()).toEqual([]);
    expect(lb.calls.some((c) => c.method === 'apply' && JSON.stringify(c.args).includes('app/web3'))).toBe(false);
  });

  it('the load balancer refuses taking a batch out: the message says what was left and how to restore it', async () => {
    const settings = rolling('1');
    const lb = fleet(2);
    const { servers, plan } = await planOn(settings, lb);
    lb.faults.when((call) => sets(call, 'app/web1', 'maint'), 'refuse');
    const outcome = await withEngine(settings, lb, new AbortController().signal, recordingHooks().hooks, (ctx) =>
      runRolling(ctx, plan, servers),
    );
    expect(outcome.result).toBe('failed');
    expect(outcome.message).toMatch(
      /^Rolling deploy stopped: could not finish batch 1: fake: call \d+ \(apply\) refused: connection refused\. Once each answers its health check, put it back on the fake load balancer: set app\/web1 state ready\. Untouched, still on the old version: app\/web2\. Out of traffic now \(read back\): app\/web1 \(drain, weight 100\)\.$/,
    );
    expect(lb.state('app/web1').admin).toBe('drain');
    expect(lb.state('app/web2').admin).toBe('ready');
  });

  // User commands run under the run's cancel signal: a cancel ends a hung deploy-command (its process group).
  it('a cancel ends a running deploy-command at once', async () => {
    const settings = rolling('1', { 'deploy-command': 'sleep 3' });
    const lb = fleet(2);
    const { servers, plan } = await planOn(settings, lb);
    const controller = new AbortController();
    lb.tap((call) => {
      if (sets(call, 'app/web1', 'maint')) setTimeout(() => controller.abort(new Error('the run was cancelled')), 100);
    });
    const started = Date.now();
    await withEngine(settings, lb, controller.signal, recordingHooks().hooks, (ctx) =>
      runRolling(ctx, plan, servers),
    ).catch(() => undefined);
    // Generous: the command sleeps 3s; a cancel honoured would end the run within a second of it.
    expect(Date.now() - started).toBeLessThan(1500);
  });
});
