/** A fleet's latency log: each server's answers merged over the members; judged only when every member logs. */
import { describe, expect, it } from 'vitest';
import type { LatencyLog } from '../../src/lb/driver.js';
import { FleetLatency } from '../../src/lb/fleet/latency.js';

/** A member's log that hands out the answers given, once. */
function log(answers: Record<string, number[]>, missing?: string): LatencyLog {
  let left: Record<string, number[]> = answers;
  return {
    source: '%Ta per request',
    missing: () => Promise.resolve(missing),
    read: (ids) => {
      const out = new Map(ids.map((id) => [id, left[id] ?? []]));
      left = {};
      return Promise.resolve(out);
    },
  };
}

describe('a fleet latency log', () => {
  it("merges each server's answers over the members", async () => {
    const fleet = new FleetLatency([
      { member: 'haproxy://a', log: log({ 'app/green1': [400, 410] }) },
      { member: 'haproxy://b', log: log({ 'app/green1': [420], 'app/blue1': [20] }) },
    ]);
    expect(fleet.source).toBe('%Ta per request, merged over the 2 load balancers');
    expect(await fleet.missing()).toBeUndefined();
    expect(await fleet.read(['app/green1', 'app/blue1'])).toEqual(
      new Map([
        ['app/green1', [400, 410, 420]],
        ['app/blue1', [20]],
      ]),
    );
    expect(await fleet.read(['app/green1'])).toEqual(new Map([['app/green1', []]]));
  });

  it('names each member that gives no latency or lacks its configuration', async () => {
    const fleet = new FleetLatency([
      { member: 'haproxy://a', log: log({}, "HAProxy has no ring 'zdd'") },
      { member: 'nginx+file:///etc/nginx/x.conf', log: undefined },
      { member: 'haproxy://c', log: log({}) },
    ]);
    expect(await fleet.missing()).toBe(
      "haproxy://a: HAProxy has no ring 'zdd'; nginx+file:///etc/nginx/x.conf: this load balancer gives no per-request latency",
    );
  });
});
