/** The dry run's warning when a canary step cannot reach min-requests at the traffic it read. */
import { describe, expect, it } from 'vitest';
import type { Plan, Stage } from '../../src/plan/plan.js';
import { quietSteps } from '../../src/plan/traffic.js';

const shift = (weight: number): Stage =>
  ({ kind: 'shift', weight, achieved: weight, weights: undefined, wait: { kind: 'none' }, windows: 1 }) as Stage;
const plan = { stages: [shift(10), shift(50), shift(100)] } as unknown as Plan;
const analysis = { maxErrorRate: 0.01, minRequests: 20, intervalMs: 30_000, falseRollbackRate: 0.01 };

describe('quietSteps', () => {
  it('names each step whose share of the traffic read gets fewer than min-requests in a window', () => {
    // 2 requests/s: 6 at 10% and 30 at 50% in 30 s.
    expect(quietSteps(plan, analysis, 2, 1_800_000)).toBe(
      'min-requests: at the traffic read (2 requests/s) the new version would get about 6 at 10% per 30s analysis window, fewer than min-requests 20, so those steps would be held until timeout (30m) and rolled back; lower min-requests, lengthen analysis-interval, or deploy when there is more traffic',
    );
    expect(quietSteps(plan, analysis, 0.5, 1_800_000)).toMatch(/about 1 at 10%, about 7 at 50% per 30s/);
  });

  it('says nothing when every step reaches it, or min-requests is 0', () => {
    expect(quietSteps(plan, analysis, 10, 1_800_000)).toBeUndefined();
    expect(quietSteps(plan, { ...analysis, minRequests: 0 }, 0.1, 1_800_000)).toBeUndefined();
  });
});
