import { describe, expect, it } from 'vitest';
import { statCounts, UnansweredCounter } from '../../src/lb/haproxy/counting.js';

const row = (cells: Record<string, number>) =>
  Object.fromEntries(Object.entries(cells).map(([k, v]) => [k, String(v)]));

describe('HAProxy counters: every failed request counts', () => {
  it('counts requests that got no status (stot - scur - answered) as failures', () => {
    // The numbers of LB-NOTES: 11,153 sessions, 10,570 answered with 2xx, 583 reset with nothing counted.
    const r = row({ stot: 11_153, scur: 0, hrsp_2xx: 10_570, hrsp_5xx: 0, eresp: 29, econ: 0 });
    expect(statCounts(r)).toMatchObject({ answered: 10_570, unanswered: 583 });
    expect(new UnansweredCounter().counters('app/g1', r)).toEqual({ requests: 11_153, failures: 583 });
  });

  it('adds the 5xx the server answered, and leaves out sessions still running', () => {
    const r = row({ stot: 120, scur: 5, hrsp_2xx: 90, hrsp_5xx: 10, hrsp_4xx: 3 });
    expect(new UnansweredCounter().counters('app/g1', r)).toEqual({ requests: 115, failures: 22 });
  });

  it('counts the attempts HAProxy retried on another server or the same one: the users got answers, the server failed', () => {
    // Measured on HAProxy 2.6.12: a canary failing 30% at 20% of 200 requests/s, clients saw 0 failures.
    // retry-on all-retryable-errors, retries 3, option redispatch: each failed attempt moves wretr and wredis.
    const redispatched = row({ stot: 154, scur: 0, hrsp_2xx: 97, hrsp_5xx: 0, wretr: 57, wredis: 57 });
    expect(new UnansweredCounter().counters('app/g1', redispatched)).toEqual({ requests: 154, failures: 57 });
    // Without option redispatch the retries go to the same server, and wretr counts each failed attempt twice.
    const retried = row({ stot: 293, scur: 0, hrsp_2xx: 181, hrsp_5xx: 0, wretr: 224, wredis: 0 });
    expect(new UnansweredCounter().counters('app/g1', retried)).toEqual({ requests: 293, failures: 112 });
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
