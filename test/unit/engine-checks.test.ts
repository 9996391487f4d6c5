/** The checks' points on the fake driver, from the source: where each runs, and what a failure at each does. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { withEngine } from '../../src/engine/context.js';
import { runRolling } from '../../src/engine/rolling.js';
import { runShift } from '../../src/engine/shift.js';
import type { Change } from '../../src/model/server.js';
import { FakeDriver } from '../helpers/fake-driver.js';
import { BLUE_GREEN, fakeSettings, planOn, POOLS, recordingHooks, weightsOf } from '../helpers/engine-kit.js';

vi.mock('../../src/plan/build.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/plan/build.js')>()),
  COUNTER_POLL_MS: 10,
}));

const IDS = BLUE_GREEN.map((s) => s.id);
const GREEN = ['app/green1', 'app/green2'];

function check(name: string, at: string, run: string, extra = ''): string {
  return `- name: ${name}\n  at: ${at}\n  kind: command\n  run: ${JSON.stringify(run)}\n  timeout: 2s${extra}`;
}

async function rollout(checks: string[]) {
  const log = join(mkdtempSync(join(tmpdir(), 'zdd-engine-checks-')), 'log');
  const settings = fakeSettings({
    strategy: 'canary',
    pools: POOLS,
    steps: '10% 50ms, 100%',
    checks: checks.join('\n'),
  });
  const lb = new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 } });
  const { plan, roles } = await planOn(settings, lb);
  const started = lb.calls.length;
  const outcome = await withEngine(settings, lb, new AbortController().signal, recordingHooks().hooks, (ctx) =>
    runShift(ctx, plan, roles!),
  );
  const read = () => readFileSync(log, 'utf8').trim().split('\n');
  const moved = lb
    .callsOf('apply')
    .filter((c) => c.n > started)
    .filter((c) => (c.args as Change[]).some((ch) => GREEN.includes(ch.server) && (ch.weight ?? 0) > 0 && !ch.admin));
  return { outcome, lb, log, read, moved };
}

const note = (log: string) =>
  `echo "$DEPLOY_CHECK $DEPLOY_CHECK_POINT $DEPLOY_STEP/$DEPLOY_STEPS $DEPLOY_WEIGHT" >> ${log}`;

describe('checks on the fake driver', () => {
  it('runs each point where it belongs, with the rollout context', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'zdd-engine-checks-')), 'log');
    const settings = fakeSettings({
      strategy: 'canary',
      pools: POOLS,
      steps: '10% 50ms, 100%',
      checks: [
        check('a', 'before-traffic', note(log)),
        check('b', 'during', note(log), '\n  interval: 1s'),
        check('c', 'before-promotion', note(log)),
        check('d', 'after', note(log)),
        check('e', 'rollback', note(log)),
      ].join('\n'),
    });
    const lb = new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 } });
    const { plan, roles } = await planOn(settings, lb);
    const outcome = await withEngine(settings, lb, new AbortController().signal, recordingHooks().hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    );
    expect(outcome.result, outcome.message).toBe('succeeded');
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      'a before-traffic 0/2 0',
      'b during 1/2 9.9',
      'c before-promotion 1/2 9.9',
      'b during 2/2 100',
      'd after 2/2 100',
    ]);
    expect(outcome.checks?.map((r) => `${r.name} ${r.stage} ${r.passed}`)).toEqual([
      'a before traffic true',
      'b step 1/2 true',
      'c before promotion true',
      'b step 2/2 true',
      'd after the end true',
    ]);
  });

  it('a failing before-traffic check: no traffic moves, the rollback checks run', async () => {
    const r = await rollout([check('smoke', 'before-traffic', 'exit 4'), check('tell', 'rollback', 'true')]);
    expect(r.outcome.result).toBe('failed');
    expect(r.outcome.message).toContain('before taking any traffic: check smoke failed: exited 4');
    expect(r.moved).toEqual([]);
    expect(r.outcome.checks?.map((c) => `${c.name} ${c.passed}`)).toEqual(['smoke false', 'tell true']);
  });

  it('a failing after check rolls all traffic back to the warm stable pool', async () => {
    const r = await rollout([check('late', 'after', 'exit 1')]);
    expect(r.outcome.result).toBe('rolled-back');
    expect(r.outcome.message).toMatch(
      /^Rolled back at 100% on green: check late failed: exited 1\. All traffic is back on blue\./,
    );
    expect(weightsOf(r.lb, IDS)).toBe('app/blue1=100 app/blue2=100 app/green1=0 app/green2=0');
  });

  it('a failing rollback check is named in the message, the result stays rolled-back', async () => {
    const r = await rollout([check('late', 'after', 'exit 1'), check('page-oncall', 'rollback', 'exit 2')]);
    expect(r.outcome.result).toBe('rolled-back');
    expect(r.outcome.message).toContain('On rollback, check page-oncall failed: exited 2.');
  });

  it('check-url failures count against the new version like failed requests, and the verdict says so', async () => {
    let status = 500;
    const page = http.createServer((_req, res) => res.writeHead(status).end('ERROR: database unavailable'));
    await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(page.address() as AddressInfo).port}/checkout`;
    try {
      const run = async () => {
        const settings = fakeSettings({ strategy: 'canary', pools: POOLS, steps: '10% 50ms, 100%', 'check-url': url });
        const lb = new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 2 } });
        const { plan, roles } = await planOn(settings, lb);
        return withEngine(settings, lb, new AbortController().signal, recordingHooks().hooks, (ctx) =>
          runShift(ctx, plan, roles!),
        );
      };
      const bad = await run();
      expect(bad.result).toBe('rolled-back');
      expect(bad.message).toMatch(/check-url failed \d+ time\(s\) in this window/);
      status = 200;
      expect((await run()).result).toBe('succeeded');
    } finally {
      page.close();
    }
  });

  async function rollingRun(checks: string[]) {
    const settings = fakeSettings({
      strategy: 'rolling',
      targets: 'app/*',
      'batch-size': '1',
      checks: checks.join('\n'),
    });
    const lb = new FakeDriver({
      servers: ['app/web1', 'app/web2', 'app/web3'].map((id) => ({ id, weight: 100 })),
      traffic: { perCall: 100 },
    });
    const { servers, plan } = await planOn(settings, lb);
    const outcome = await withEngine(settings, lb, new AbortController().signal, recordingHooks().hooks, (ctx) =>
      runRolling(ctx, plan, servers),
    );
    return { outcome, lb };
  }

  it('rolling: before-traffic per batch, against its servers out of traffic; a failure keeps them out', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'zdd-engine-checks-')), 'log');
    const { outcome, lb } = await rollingRun([
      check(
        'smoke',
        'before-traffic',
        `echo "$DEPLOY_STEP $DEPLOY_TARGETS" >> ${log}; test "$DEPLOY_TARGETS" != app/web2`,
      ),
      check('tell', 'rollback', `echo "rollback $DEPLOY_TARGETS" >> ${log}`),
    ]);
    expect(outcome.result).toBe('failed');
    expect(outcome.message).toContain('Rolling deploy stopped: app/web2: check smoke failed: exited 1.');
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['1 app/web1', '2 app/web2', 'rollback app/web2']);
    expect(lb.snapshot()).toBe('app/web1=100 ready, app/web2=100 maint, app/web3=100 ready');
    expect(outcome.checks?.map((r) => `${r.name} ${r.stage} ${r.passed}`)).toEqual([
      'smoke batch 1 before traffic true',
      'smoke batch 2 before traffic false',
      'tell batch 2 rollback true',
    ]);
  });

  it('rolling: during checks polled with each batch window; a failure fails the batch', async () => {
    const { outcome, lb } = await rollingRun([check('watch', 'during', 'test "$DEPLOY_STEP" != 2')]);
    expect(outcome.result).toBe('failed');
    expect(outcome.message).toMatch(
      /batch 2 \(app\/web2\) failed its analysis window: .*check watch failed: exited 1/i,
    );
    expect(lb.snapshot()).toBe('app/web1=100 ready, app/web2=100 maint, app/web3=100 ready');
    expect(outcome.checks?.map((r) => `${r.name} ${r.stage} ${r.passed}`)).toEqual([
      'watch batch 1 true',
      'watch batch 2 false',
    ]);
  });
});
