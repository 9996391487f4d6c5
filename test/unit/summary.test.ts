/** The job summary's advice comes from the driver: it names no load balancer of its own. */
import { describe, expect, it } from 'vitest';
import type { RollingOutcome } from '../../src/engine/rolling.js';
import type { ShiftOutcome } from '../../src/engine/shift.js';
import { HAPROXY_ADVICE } from '../../src/lb/haproxy/driver.js';
import { NGINX_ADVICE } from '../../src/lb/nginx/driver.js';
import { latencyChart, renderRolling, renderShift } from '../../src/report/summary.js';
import { FakeDriver } from '../helpers/fake-driver.js';
import { fakeSettings, POOLS } from '../helpers/engine-kit.js';

const FAKE = new FakeDriver({ servers: [] }).advice;

const rolling: RollingOutcome = {
  result: 'failed',
  message: 'batch 1 failed',
  weight: 0,
  shares: [],
  batches: [],
  servers: [{ id: 'app/a', version: 'new', inTraffic: false }],
};

const shift: ShiftOutcome = {
  result: 'succeeded',
  message: 'All traffic is on green',
  livePool: 'green',
  weight: 100,
  steps: [],
  shares: [],
  servers: [],
  newShare: undefined,
};

describe('job summary advice', () => {
  it("a failed rolling deploy says how a server out of traffic shows, in the driver's terms", () => {
    const settings = fakeSettings({ strategy: 'rolling', targets: 'app/*' });
    const text = (advice: typeof FAKE) => renderRolling(rolling, settings, [], advice);
    expect(text(FAKE)).toContain('Servers marked **no** are out of traffic on the load balancer (maint on the fake).');
    expect(text(HAPROXY_ADVICE)).toContain('out of traffic on the load balancer (maint on HAProxy).');
    expect(text(NGINX_ADVICE)).toContain('out of traffic on the load balancer (down on nginx).');
    expect(text(FAKE)).not.toMatch(/haproxy|nginx/i);
  });

  it('a finished shift says how to switch back by hand, naming no other load balancer', () => {
    const settings = fakeSettings({ strategy: 'blue-green', pools: POOLS });
    const text = (advice: typeof FAKE) => renderShift(shift, settings, [], advice);
    expect(text(FAKE)).toContain("By hand: set the weights of **green** to 0 and the other pool's back.");
    expect(text(HAPROXY_ADVICE)).toContain("set the weights of **green** to 0 and the other pool's back.");
    expect(text(NGINX_ADVICE)).toContain(
      "set the weights of **green** to 0 (down on nginx) and the other pool's back.",
    );
    expect(text(FAKE)).not.toMatch(/haproxy|nginx/i);
  });
});

describe('the latency chart of the job summary', () => {
  const step = (index: number, achieved: number, canary: number[], stable: number[]) => ({
    index,
    achieved,
    windows: [{ served: { canary, stable } }],
  });
  it('draws each step p95 of the users requests, stable as bars and the new version as a line', () => {
    const fast = Array.from({ length: 100 }, (_, i) => 10 + (i % 20));
    const slow = fast.map((ms) => ms + 400);
    const steps = [step(1, 20, slow, fast), step(2, 50, fast, fast)] as unknown as ShiftOutcome['steps'];
    expect(latencyChart(steps, 'v2').join('\n')).toBe(
      [
        '',
        '```mermaid',
        'xychart-beta',
        '    title "p95 latency per step, ms: bars stable, line v2"',
        '    x-axis ["step 1 (20%)", "step 2 (50%)"]',
        '    y-axis "ms" 0 --> 471',
        '    bar [28, 28]',
        '    line [428, 28]',
        '```',
      ].join('\n'),
    );
  });

  it('is left out without per-request latency', () => {
    expect(latencyChart([step(1, 20, [], [])] as unknown as ShiftOutcome['steps'], 'v2')).toEqual([]);
  });
});

describe('rolling batches in the job summary', () => {
  it("has each batch's latency and the old servers' beside it, as the load balancer logged them; - where it gives none", () => {
    const settings = fakeSettings({ strategy: 'rolling', targets: 'app/*' });
    const batch = {
      index: 1,
      servers: ['app/a'],
      startedAt: new Date('2026-12-08T00:00:00Z'),
      durationMs: 3000,
      verdict: 'passed',
      window: undefined,
      latencies: [],
      passed: true,
    };
    const served = { canary: [20, 21, 22, 430], stable: [20, 20, 21, 21, 22] };
    const text = renderRolling(
      {
        ...rolling,
        batches: [
          { ...batch, served },
          { ...batch, index: 2 },
        ],
      },
      settings,
      [],
      FAKE,
    );
    expect(text).toContain(
      '| batch | servers | started | duration | requests | failed | error rate | batch: latency | old: latency |',
    );
    expect(text).toContain(
      '| 1 | app/a | 00:00:00 | 3s | - | - | - | p50 21ms p95 430ms p99 430ms (n=4) | p50 21ms p95 22ms p99 22ms (n=5) | - |',
    );
    expect(text).toContain('| 2 | app/a | 00:00:00 | 3s | - | - | - | - | - | - |');
  });
});
