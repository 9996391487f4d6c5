/** ALB's apply, planned without the stand-in: which weights, registrations, tags and waits a change list makes. */
import { describe, expect, it } from 'vitest';
import { planApply, type TargetState } from '../../src/lb/aws-alb/apply-plan.js';

const WHERE = 'rule R';
const GROUPS = [
  { arn: 'arn:blue', name: 'shop-blue' },
  { arn: 'arn:green', name: 'shop-green' },
];
const state = (health: string | undefined, out?: 'drain' | 'maint'): TargetState => ({
  health: health ? { TargetHealth: { State: health as 'healthy' } } : undefined,
  out,
});
const TARGETS = new Map([
  ['arn:blue', new Map([['10.0.0.1:80', state('healthy')]])],
  [
    'arn:green',
    new Map([
      ['10.0.0.2:80', state(undefined, 'maint')],
      ['10.0.0.3:80', state('draining', 'drain')],
    ]),
  ],
]);
const plan = (
  changes: Parameters<typeof planApply>[0],
  forward = new Map([
    ['arn:blue', 100],
    ['arn:green', 0],
  ]),
) => planApply(changes, GROUPS, forward, TARGETS, WHERE);

describe('ALB apply plan (pure)', () => {
  it('a canary step: one weight write for the groups whose weight differs, no target call', () => {
    const p = plan([
      { server: 'shop-blue/10.0.0.1:80', weight: 80 },
      { server: 'shop-green/10.0.0.2:80', weight: 20 },
      { server: 'shop-green/10.0.0.3:80', weight: 20 },
    ]);
    expect([...p.weights]).toEqual([
      ['arn:blue', 80],
      ['arn:green', 20],
    ]);
    expect([p.register.size, p.deregister.size, p.retag.size, p.drain.size]).toEqual([0, 0, 0, 0]);
    expect(plan([{ server: 'shop-blue/10.0.0.1:80', weight: 100 }]).weights.size).toBe(0);
  });

  it('ready registers what is not registered (a draining target too); maint on a group in traffic waits for the drain', () => {
    const p = plan([
      { server: 'shop-green/10.0.0.2:80', admin: 'ready' },
      { server: 'shop-green/10.0.0.3:80', admin: 'ready' },
      { server: 'shop-blue/10.0.0.1:80', admin: 'ready' },
    ]);
    expect([...p.register]).toEqual([['arn:green', ['10.0.0.2:80', '10.0.0.3:80']]]);
    const out = plan([{ server: 'shop-blue/10.0.0.1:80', admin: 'maint' }]);
    expect([...out.deregister]).toEqual([['arn:blue', [{ id: '10.0.0.1:80', admin: 'maint' }]]]);
    expect([...out.drain]).toEqual([['arn:blue', ['10.0.0.1:80']]]);
  });

  it('a target already out is only retagged when its tag differs; no drain wait on a group without traffic', () => {
    const p = plan([
      { server: 'shop-green/10.0.0.2:80', admin: 'maint' },
      { server: 'shop-green/10.0.0.3:80', admin: 'maint' },
    ]);
    expect([...p.deregister]).toEqual([]);
    expect([...p.retag]).toEqual([['arn:green', [{ id: '10.0.0.3:80', admin: 'maint' }]]]);
    expect(p.drain.size).toBe(0);
  });

  it('refuses two weights for one group, and a server of a group outside the forward action, naming them', () => {
    expect(() =>
      plan([
        { server: 'shop-blue/10.0.0.1:80', weight: 80 },
        { server: 'shop-blue/10.0.0.9:80', weight: 20 },
      ]),
    ).toThrow('ALB weighs target groups, not targets: shop-blue cannot take weights 80 and 20 at once');
    expect(() => plan([{ server: 'shop-old/10.0.0.1:80', weight: 0 }])).toThrow(
      'shop-old/10.0.0.1:80: its target group is not in the forward action of rule R',
    );
  });
});
