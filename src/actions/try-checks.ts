/**
 * `dry-run: checks`: each check that only reads tried once, against the pools as they are now (the idle pool's
 * servers as the new ones), and reported with the plan. Nothing on the load balancer changes; a `command` or a POST
 * check may change things of its own, so neither is tried.
 */
import type { CheckContext } from '../checks/kind.js';
import { Checks, type CheckRecord } from '../checks/runner.js';
import type { CheckSpec } from '../model/checks.js';
import type { Server } from '../model/server.js';
import type { Plan } from '../plan/plan.js';
import { assignPools } from '../plan/pools.js';
import type { Settings } from '../settings.js';

/** Why a check is not tried from a dry run, or undefined when it only reads. */
export function notTried(check: CheckSpec): string | undefined {
  if (check.kind === 'command') return 'a command may change things: not run by a dry run';
  if (check.kind === 'http' && check.method === 'POST') return 'a POST may change things: not sent by a dry run';
  return undefined;
}

function poolServers(settings: Settings, plan: Plan, servers: readonly Server[], nativeSplit: boolean) {
  const pools = settings.strategy?.name === 'rolling' ? undefined : settings.strategy?.pools;
  const states = pools ? assignPools(pools, servers, nativeSplit) : undefined;
  if (!states || 'error' in states) return { idle: [], live: [] };
  const of = (name: string | undefined) => states.find((s) => s.name === name)?.servers ?? [];
  return { idle: of(plan.pools?.idle), live: of(plan.pools?.live) };
}

export interface Tried {
  readonly records: readonly CheckRecord[];
  readonly skipped: readonly { readonly name: string; readonly why: string }[];
}

export async function tryChecks(
  settings: Settings,
  plan: Plan,
  servers: readonly Server[],
  nativeSplit: boolean,
  signal: AbortSignal,
): Promise<Tried> {
  const specs = settings.checks ?? [];
  const { idle, live } = poolServers(settings, plan, servers, nativeSplit);
  const checks = new Checks(specs.filter((c) => !notTried(c)));
  const context = (check: CheckSpec): CheckContext => ({
    point: check.at,
    version: settings.version,
    step: 0,
    steps: plan.stages.filter((s) => s.kind === 'shift').length,
    share: 0,
    pool: plan.pools?.idle ?? '',
    stablePool: plan.pools?.live ?? '',
    servers: idle,
    stableServers: live,
    ...(settings.checkSecrets ? { secrets: settings.checkSecrets } : {}),
  });
  // Each point's checks together, as the rollout runs them; every one is tried whatever the others found.
  for (const point of new Set(checks.specs.map((c) => c.at))) {
    const first = checks.at(point)[0];
    if (first) await checks.runPoint(point, 'dry run', context(first), signal);
  }
  return {
    records: checks.results,
    skipped: specs.flatMap((c) => {
      const why = notTried(c);
      return why ? [{ name: c.name, why }] : [];
    }),
  };
}
