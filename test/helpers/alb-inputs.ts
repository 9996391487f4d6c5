/** The ALB lab's parts and the inputs of a fast rollout on it (no vitest here: the ALB bench uses it too). */
import { FAST_ROLLOUT } from './action.js';
import { RULE_ARN, type AlbStandIn } from './aws-alb.js';
import type { Fleet } from './fleet.js';

export interface AlbLab {
  readonly alb: AlbStandIn;
  readonly fleet: Fleet;
}

/** Inputs for a fast rollout on the lab: blue-green/canary pools unless `extra` has a strategy of rolling. */
export function albInputs(l: AlbLab, extra: Record<string, string>): Record<string, string> {
  return {
    'load-balancer': `aws-alb:${RULE_ARN}`,
    ...(extra.strategy === 'rolling' ? {} : { pools: 'blue=shop-blue/*, green=shop-green/*' }),
    'deploy-command': l.fleet.restartCommand,
    'health-url': 'http://{address}/health',
    ...FAST_ROLLOUT,
    // CloudWatch periods are 60 s: short windows judge by probes (counters count as they arrive).
    'min-requests': '0',
    'check-url': l.alb.trafficUrl,
    ...extra,
  };
}
