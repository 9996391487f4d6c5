/**
 * Rolling on ALB through `dist/index.js` against the local ALB stand-in (test/helpers/aws-alb): deregister, wait out
 * the deregistration delay, deploy, register, wait for healthy; and a listener ARN (its default action) instead of a
 * rule. Not AWS: the stand-in and the model.
 */
import { describe, expect, it } from 'vitest';
import { errors } from '../helpers/action.js';
import { OIDC, runOnAlb, useAlbLab, validated } from '../helpers/alb-lab.js';
import { LISTENER_ARN, startAlbStandIn } from '../helpers/aws-alb.js';
import { startFleet } from '../helpers/fleet.js';
import { startLoad } from '../helpers/load.js';

const setup = useAlbLab();

describe('ALB stand-in: rolling', () => {
  it('deregisters, waits out the deregistration delay, deploys, registers and waits for healthy, batch by batch, with 0 failed requests', async () => {
    const l = await setup();
    const load = startLoad(l.alb.trafficUrl, { rps: 200, maxMs: 60_000 });
    const r = await runOnAlb(l, { strategy: 'rolling', targets: 'shop-blue/*', 'batch-size': '1' });
    const stats = await load.stop();
    expect(errors(r)).toEqual([]);
    expect(r.outputs.result).toBe('succeeded');
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(stats.versions.v2 ?? 0).toBeGreaterThan(0);
    const blue = [...l.alb.groups.values()].find((g) => g.name === 'shop-blue');
    expect([...(blue?.targets.values() ?? [])].map((t) => t.state)).toEqual(['healthy', 'healthy']);
    expect([...(blue?.tags.keys() ?? [])]).toEqual([]);
    expect(r.stdout).toMatch(/ALB: shop-blue: 127\.0\.0\.1:\d+ drained in/);
    const ops = l.alb.calls.map((c) => c.operation);
    expect(ops.filter((o) => o === 'DeregisterTargets')).toHaveLength(2);
    expect(ops.filter((o) => o === 'RegisterTargets')).toHaveLength(2);
    expect(ops.filter((o) => o === 'ModifyRule')).toHaveLength(0);
    const v = validated(l.alb);
    console.log(
      `rolling: ${stats.sent} requests, ${stats.failed} failed, ${stats.versions.v2 ?? 0} answered by v2; ${v.total} AWS requests valid per the model ${JSON.stringify(v.byOperation)}`,
    );
  });

  it('refuses a drain-timeout shorter than the deregistration delay before anything changes', async () => {
    const l = await setup();
    const r = await runOnAlb(l, { strategy: 'rolling', targets: 'shop-blue/*', 'drain-timeout': '500ms' });
    expect(r.code).toBe(1);
    expect(errors(r).join('\n')).toMatch(
      /drain-timeout 500ms is shorter than the deregistration delay of shop-blue \(1 s\)/,
    );
    expect(l.alb.calls.filter((c) => /^(Modify|Register|Deregister|Add|Remove)/.test(c.operation))).toEqual([]);
  });
});

describe('ALB stand-in: a listener ARN', () => {
  it("blue-green on a listener's default action: one ModifyListener, its other action kept, 0 failed requests", async () => {
    const fleet = await startFleet(4, 'v1');
    const [b1, b2, g1, g2] = fleet.ports as [number, number, number, number];
    const alb = await startAlbStandIn({
      groups: [
        { name: 'shop-blue', weight: 100, ports: [b1, b2] },
        { name: 'shop-green', weight: 0, ports: [g1, g2] },
      ],
      forwardOn: 'listener',
      extraActions: [OIDC],
    });
    try {
      const load = startLoad(alb.trafficUrl, { rps: 200, maxMs: 60_000 });
      const r = await runOnAlb({ alb, fleet }, { strategy: 'blue-green', 'load-balancer': `aws-alb:${LISTENER_ARN}` });
      const stats = await load.stop();
      expect(errors(r)).toEqual([]);
      expect(r.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'green' });
      expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
      expect(alb.weights()).toEqual({ 'shop-blue': 0, 'shop-green': 100 });
      expect(alb.listenerActions()[0]).toEqual(OIDC);
      const ops = alb.calls.map((c) => c.operation);
      expect(ops.filter((o) => o === 'ModifyListener')).toHaveLength(1);
      expect(ops.filter((o) => o === 'ModifyRule')).toHaveLength(0);
      const v = validated(alb);
      console.log(
        `listener blue-green: ${stats.sent} requests, ${stats.failed} failed; ${v.total} AWS requests valid per the model`,
      );
    } finally {
      await alb.stop();
      fleet.stopAll();
    }
  });
});
