import { describe, expect, it } from 'vitest';
import { statCounts, UnansweredCounter } from '../../src/lb/haproxy/counting.js';

const row = (cells: Record<string, number>) =>
  Object.fromEntries(Object.entries(cells).map(([k, v]) => [k, String(v)]));

describe('HAProxy counters: every failed request counts', () => {
  it('counts requests that got no status (stot - scur - answered - wretr - wredis) as failures', () => {
    // The numbers of LB-NOTES: 11,153 sessions, 10,570 answered with 2xx, 583 reset with nothing counted.
    const r = row({ stot: 11_153, scur: 0, hrsp_2xx: 10_570, hrsp_5xx: 0, eresp: 29, econ: 0 });
    expect(statCounts(r)).toMatchObject({ answered: 10_570, unanswered: 583 });
    expect(new UnansweredCounter().counters('app/g1', r)).toEqual({ requests: 11_153, failures: 583 });
  });

  it('adds the 5xx the server answered, and leaves out sessions running, retried or redispatched', () => {
    const r = row({ stot: 120, scur: 5, hrsp_2xx: 90, hrsp_5xx: 10, hrsp_4xx: 3, wretr: 2, wredis: 4 });
    expect(new UnansweredCounter().counters('app/g1', r)).toEqual({ requests: 109, failures: 16 });
  });

  it('never goes backwards when a response being sent is counted in hrsp and scur at once', () => {
    const c = new UnansweredCounter();
    expect(c.counters('a/s', row({ stot: 100, scur: 0, hrsp_2xx: 95 }))).toEqual({ requests: 100, failures: 5 });
    // 3 answers counted while their sessions still run: the formula reads 2, the counter keeps 5.
    expect(c.counters('a/s', row({ stot: 110, scur: 6, hrsp_2xx: 102 }))).toEqual({ requests: 107, failures: 5 });
    expect(c.counters('a/s', row({ stot: 110, scur: 0, hrsp_2xx: 105 }))).toEqual({ requests: 110, failures: 5 });
    // New counters (a reload): they count from there.
    expect(c.counters('a/s', row({ stot: 10, scur: 0, hrsp_2xx: 9 }))).toEqual({ requests: 10, failures: 1 });
  });
});
