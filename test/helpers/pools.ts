/** Two pools behind a real HAProxy: blue1/blue2 live on v1, green1/green2 idle at weight 0 (also on v1). */
import type { ActionRun } from './action.js';
import { FAST_ROLLOUT, summaryTimeline } from './action.js';
import { startFleet, type Fleet } from './fleet.js';
import { startHaproxy, type HaproxyInstance } from './haproxy.js';

export interface PoolsLab {
  readonly fleet: Fleet;
  readonly haproxy: HaproxyInstance;
  readonly url: string;
  stop(): Promise<void>;
}

/** `appEnv`: APP_NEXT_* for the first processes, e.g. { APP_NEXT_FAIL_RATE: '0.005' } for background errors. */
/**
 * `haproxy`: further haproxy.cfg lines: `defaults`/`sections` (e.g. LATENCY_RING for per-request latency), `extra` for
 * the app backend, before its servers (e.g. another balance algorithm).
 */
export async function startPools(
  appEnv: Record<string, string> = {},
  haproxy: { readonly defaults?: string; readonly sections?: string; readonly extra?: string } = {},
): Promise<PoolsLab> {
  const fleet = await startFleet(4, 'v1', appEnv);
  const [b1, b2, g1, g2] = fleet.ports as [number, number, number, number];
  const instance = await startHaproxy({
    ...haproxy,
    servers: [
      { name: 'blue1', port: b1 },
      { name: 'blue2', port: b2 },
      { name: 'green1', port: g1, options: 'check weight 0' },
      { name: 'green2', port: g2, options: 'check weight 0' },
    ],
  });
  await instance.settled();
  return {
    fleet,
    haproxy: instance,
    url: `http://127.0.0.1:${instance.frontendPort}/`,
    async stop() {
      await instance.stop();
      fleet.stopAll();
    },
  };
}

/** Inputs for a fast pool rollout on the lab (short probes and windows). */
export function poolInputs(lab: PoolsLab, extra: Record<string, string>): Record<string, string> {
  return {
    pools: 'blue=app/blue*, green=app/green*',
    'load-balancer': `haproxy://127.0.0.1:${lab.haproxy.adminPort}`,
    'deploy-command': lab.fleet.restartCommand,
    'health-url': 'http://{address}/health',
    ...FAST_ROLLOUT,
    'min-requests': '20',
    ...extra,
  };
}

/** Inputs for a fast rolling deploy of every server of backend app on this HAProxy, restarted by the fleet's command. */
export function rollingInputs(
  fleet: Fleet,
  haproxy: HaproxyInstance,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...FAST_ROLLOUT,
    strategy: 'rolling',
    targets: 'app/*',
    'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
    'deploy-command': fleet.restartCommand,
    'health-url': 'http://{address}/health',
    ...extra,
  };
}

/** When the action's timeline says it set the weights for each share (the call had returned). */
export function shifts(run: ActionRun): { at: number; sent: number; share: string }[] {
  return summaryTimeline(run)
    .filter(([, text]) => text.startsWith('weights '))
    .map(([at, text, sent]) => ({ at, sent: sent ?? at, share: /\(([^)]*)\)$/.exec(text)?.[1] ?? '' }));
}

export function weights(servers: Map<string, { weight: number }>): Record<string, number> {
  return Object.fromEntries([...servers].map(([id, s]) => [id, s.weight]));
}
