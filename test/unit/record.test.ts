/** The rollout record's schema knows no load balancer's weight range: the driver's range is what holds. */
import { describe, expect, it } from 'vitest';
import { parseRecord, RECORD_TOOL } from '../../src/plan/record.js';

function record(weights: Record<string, number>) {
  return {
    tool: RECORD_TOOL,
    version: 'v2',
    strategy: 'canary',
    loadBalancer: 'fake://lb',
    pools: { live: 'blue', idle: 'green', selectors: { blue: ['app/blue*'], green: ['app/green*'] } },
    stable: { 'app/blue1': 999, 'app/green1': 0 },
    steps: [{ weight: 50, achieved: 50, pause: 'approval', windows: 1, weights }],
  };
}

describe('rollout record', () => {
  it('keeps weights above 256, for a driver whose range is wider (e.g. 0-999)', () => {
    const parsed = parseRecord(JSON.stringify(record({ 'app/blue1': 999, 'app/green1': 999 })));
    expect(parsed?.steps?.[0]?.weights).toEqual({ 'app/blue1': 999, 'app/green1': 999 });
    expect(parsed?.stable).toEqual({ 'app/blue1': 999, 'app/green1': 0 });
  });

  it('still refuses weights no load balancer takes', () => {
    expect(parseRecord(record({ 'app/blue1': -1 }))).toBeUndefined();
    expect(parseRecord(record({ 'app/blue1': 1.5 }))).toBeUndefined();
  });
});
