/**
 * The ALB lab: four real app processes (v1) behind the ALB stand-in, blue (2 targets, all traffic) and green
 * (2 targets, weight 0) in the forward action of one rule that also holds an authenticate-oidc action and two
 * conditions; inputs for a fast rollout; and the model check every test ends with.
 */
import { afterEach, expect } from 'vitest';
import { runAction, type ActionRun } from './action.js';
import { albInputs, type AlbLab } from './alb-inputs.js';
import { startAlbStandIn, type AlbStandIn } from './aws-alb.js';

export { albInputs, type AlbLab } from './alb-inputs.js';
import { startFleet } from './fleet.js';

export const OIDC = {
  Type: 'authenticate-oidc',
  Order: 1,
  AuthenticateOidcConfig: {
    Issuer: 'https://issuer.example.com',
    AuthorizationEndpoint: 'https://issuer.example.com/authorize',
    TokenEndpoint: 'https://issuer.example.com/token',
    UserInfoEndpoint: 'https://issuer.example.com/userinfo',
    ClientId: 'shop',
    OnUnauthenticatedRequest: 'allow',
  },
};

export const CONDITIONS = [
  { Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } },
  { Field: 'host-header', HostHeaderConfig: { Values: ['127.0.0.1:*'] } },
];

/** A lab per test, stopped after it (call once at the top of a test file). */
export function useAlbLab(): () => Promise<AlbLab> {
  let lab: AlbLab | undefined;
  afterEach(async () => {
    await lab?.alb.stop();
    lab?.fleet.stopAll();
    lab = undefined;
  });
  return async () => {
    const fleet = await startFleet(4, 'v1');
    const [b1, b2, g1, g2] = fleet.ports as [number, number, number, number];
    const alb = await startAlbStandIn({
      groups: [
        { name: 'shop-blue', weight: 100, ports: [b1, b2] },
        { name: 'shop-green', weight: 0, ports: [g1, g2] },
      ],
      conditions: CONDITIONS,
      extraActions: [OIDC],
    });
    lab = { alb, fleet };
    return lab;
  };
}

export function runOnAlb(
  l: AlbLab,
  extra: Record<string, string>,
  env: Record<string, string> = {},
): Promise<ActionRun> {
  return runAction(albInputs(l, extra), { env: { ...l.fleet.env, ...l.alb.env, ...env }, timeoutMs: 80_000 });
}

/** Every request the SDK sent was valid per the model; how many there were, per operation. */
export function validated(alb: AlbStandIn): { total: number; byOperation: Record<string, number> } {
  expect(alb.calls.filter((c) => c.errors.length)).toEqual([]);
  const byOperation: Record<string, number> = {};
  for (const c of alb.calls) byOperation[c.operation] = (byOperation[c.operation] ?? 0) + 1;
  return { total: alb.calls.length, byOperation };
}
