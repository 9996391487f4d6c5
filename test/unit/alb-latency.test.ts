/** ALB latency from CloudWatch figures: a period's answers rebuilt from SampleCount, p50, p95 and p99 (pure). */
import { describe, expect, it } from 'vitest';
import { answersOf, spread } from '../../src/lb/aws-alb/latency.js';
import { summarize } from '../../src/model/latency.js';

describe('a period rebuilt from its CloudWatch percentiles', () => {
  it('has as many answers as SampleCount, and the same p50, p95 and p99 (ms)', () => {
    const answers = answersOf(1000, { count: 1000, p50: 0.02, p95: 0.1, p99: 0.25 });
    const s = summarize(answers);
    expect(s.count).toBe(1000);
    // Within the step of one answer's rank.
    expect(Math.abs(s.p50 - 20)).toBeLessThan(1);
    expect(Math.abs(s.p95 - 100)).toBeLessThan(1);
    expect(Math.abs(s.p99 - 250)).toBeLessThan(4);
    // The judge counts answers over a threshold: half over the median, 5% over the p95.
    expect(answers.filter((a) => a > 20).length).toBe(500);
    expect(answers.filter((a) => a > 100).length).toBe(50);
  });

  it('takes the answers counted since the last read evenly from the whole period', () => {
    const answers = answersOf(100, { count: 100, p50: 0.02, p95: 0.1, p99: 0.25 });
    for (const k of [0, 1, 7, 50, 100]) expect(spread(answers, k)).toHaveLength(k);
    const ten = spread(answers, 10);
    expect(ten.filter((a) => a > 20)).toHaveLength(5);
  });
});
