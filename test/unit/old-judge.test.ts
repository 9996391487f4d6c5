import { describe, expect, it } from 'vitest';
import type { WindowData } from '../../src/analysis/window.js';
import { judgeWindow } from '../helpers/old-judge.js';

const settings = { maxErrorRate: 0.01, minRequests: 20, intervalMs: 30_000, falseRollbackRate: 0.01 };
const data = (over: Partial<WindowData>): WindowData => ({
  requests: 0,
  failures: 0,
  probesPassed: 0,
  probesFailed: 0,
  probeFailStreak: 0,
  elapsedMs: 0,
  ...over,
});

describe('judgeWindow', () => {
  it('passes at the end of a window with enough clean requests', () => {
    expect(judgeWindow(data({ requests: 100, elapsedMs: 30_000 }), settings, 30_000, 2).kind).toBe('pass');
  });

  it('waits until the window ends', () => {
    expect(judgeWindow(data({ requests: 100, elapsedMs: 10_000 }), settings, 30_000, 2).kind).toBe('wait');
  });

  it('fails early, mid-window, once min-requests were served over the limit', () => {
    const verdict = judgeWindow(data({ requests: 40, failures: 12, elapsedMs: 3000 }), settings, 30_000, 2);
    expect(verdict).toEqual({ kind: 'fail', summary: '12 of 40 requests failed (30%), over max-error-rate 1%' });
  });

  it('extends instead of passing when too few requests were served', () => {
    const verdict = judgeWindow(data({ requests: 5, elapsedMs: 31_000 }), settings, 30_000, 2);
    expect(verdict.kind).toBe('wait');
    expect(verdict.summary).toContain('only 5 of min-requests 20');
  });

  it('counts failed probes with requests, and fails on unhealthy-threshold probes in a row', () => {
    expect(
      judgeWindow(data({ requests: 100, probesFailed: 2, probeFailStreak: 2, elapsedMs: 1000 }), settings, 30_000, 2)
        .kind,
    ).toBe('fail');
    expect(
      judgeWindow(
        data({ requests: 100, probesPassed: 9, probesFailed: 1, probeFailStreak: 1, elapsedMs: 30_000 }),
        settings,
        30_000,
        2,
      ).summary,
    ).toContain('1 of 10 probes failed');
  });

  it('judges exactly at the limit as a pass (the limit is the largest accepted share)', () => {
    expect(judgeWindow(data({ requests: 100, failures: 1, elapsedMs: 30_000 }), settings, 30_000, 2).kind).toBe('pass');
  });
});
