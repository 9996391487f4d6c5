/** The job summary's advice comes from the driver: it names no load balancer of its own. */
import { describe, expect, it } from 'vitest';
import type { RollingOutcome } from '../../src/engine/rolling.js';
import type { ShiftOutcome } from '../../src/engine/shift.js';
import { HAPROXY_ADVICE } from '../../src/lb/haproxy/driver.js';
import { NGINX_ADVICE } from '../../src/lb/nginx/driver.js';
import { renderRolling, renderShift } from '../../src/report/summary.js';
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
