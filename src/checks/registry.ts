/** The one switch that knows every check kind, and which servers a check runs against. */
import type { CheckSpec } from '../model/checks.js';
import { commandKind } from './command.js';
import { httpKind } from './http.js';
import type { CheckContext, CheckKindRunner, CheckTarget, Reading } from './kind.js';
import { prometheusKind } from './prometheus.js';

const PER_SERVER = /\{(address|host|port|server|backend)\}/;

/** The kinds that call a provider's API, loaded only by runs that use them (ncc puts each in a chunk of its own). */
const cloudwatch = () => import('./cloudwatch.js').then((m) => m.cloudwatchKind);
const datadog = () => import('./datadog.js').then((m) => m.datadogKind);

export async function evaluateOnce(
  check: CheckSpec,
  context: CheckContext,
  target: CheckTarget | undefined,
  signal: AbortSignal,
): Promise<Reading> {
  switch (check.kind) {
    case 'command':
      return commandKind.evaluate(check, context, target, signal);
    case 'http':
      return httpKind.evaluate(check, context, target, signal);
    case 'prometheus':
      return prometheusKind.evaluate(check, context, target, signal);
    case 'cloudwatch':
      return (await cloudwatch()).evaluate(check, context, target, signal);
    case 'datadog':
      return (await datadog()).evaluate(check, context, target, signal);
  }
}

/** Whether a check runs once per server (an http URL naming a server) rather than once for the stage. */
export function perServer(check: CheckSpec): boolean {
  return check.kind === 'http' && PER_SERVER.test(check.url);
}

/**
 * What a check runs against: each new server, and each stable one for comparison while `compare` (during a step
 * with stable traffic); a check for the stage as a whole runs once.
 */
export function targetsOf(check: CheckSpec, context: CheckContext, compare: boolean): (CheckTarget | undefined)[] {
  if (!perServer(check)) return [undefined];
  return [
    ...context.servers.map((server) => ({ server, role: 'new' as const })),
    ...(compare ? context.stableServers.map((server) => ({ server, role: 'stable' as const })) : []),
  ];
}

export type { CheckKindRunner };
