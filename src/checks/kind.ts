/** The one interface every check kind implements, and the rollout context a check is evaluated in. */
import type { CheckPoint, CheckSpec } from '../model/checks.js';
import type { Server } from '../model/server.js';

/** Where the rollout stands when a check runs: given to commands as DEPLOY_*, to templates, to POST bodies. */
export interface CheckContext {
  readonly point: CheckPoint;
  readonly version: string;
  /** 1-based step of the rollout, 0 before the first. */
  readonly step: number;
  readonly steps: number;
  /** The new version's share of traffic, in percent. */
  readonly share: number;
  readonly pool: string;
  readonly stablePool: string;
  readonly servers: readonly Server[];
  readonly stableServers: readonly Server[];
  /** check-secrets by name (a Map: never serialized with the context); only the kinds that name one read it. */
  readonly secrets?: ReadonlyMap<string, string>;
}

/** One server a per-server check (a URL with {address}) is evaluated against, and whose version it serves. */
export interface CheckTarget {
  readonly server: Server;
  readonly role: 'new' | 'stable';
}

/** What one evaluation read: a verdict on data, or no verdict (unreachable, malformed, empty: retried, then failed). */
export interface Reading {
  readonly verdict: 'pass' | 'fail' | 'no-data';
  /** The value read, as shown in reports (a status, a number, an exit code). */
  readonly value: string;
  /** Why, in a few words a user can act on. */
  readonly detail: string;
}

export interface CheckKindRunner<C extends CheckSpec = CheckSpec> {
  /** One evaluation; `signal` fires at the check's timeout or the run's cancel, and must end it. */
  evaluate(check: C, context: CheckContext, target: CheckTarget | undefined, signal: AbortSignal): Promise<Reading>;
}

/** Values a template may name: {version}, {pool}, {stable-pool}, {addresses}, {stable-addresses}, {step}, {share}. */
export function templateValues(context: CheckContext, target?: CheckTarget): Record<string, string> {
  const server = target?.server;
  return {
    version: context.version,
    pool: target?.role === 'stable' ? context.stablePool : context.pool,
    'new-pool': context.pool,
    'stable-pool': context.stablePool,
    addresses: context.servers.map((s) => s.address).join('|'),
    'stable-addresses': context.stableServers.map((s) => s.address).join('|'),
    step: String(context.step),
    share: String(Math.round(context.share * 10) / 10),
    ...(server
      ? {
          address: server.address,
          host: server.host,
          port: String(server.port),
          server: server.name,
          backend: server.backend,
        }
      : {}),
  };
}

/** Fills `{name}` placeholders; `encode` escapes each value for where it goes (a URL, a PromQL string). */
export function fill(template: string, values: Record<string, string>, encode: (v: string) => string): string {
  return template.replace(/\{([a-z-]+)\}/g, (whole, name: string) => {
    const value = values[name];
    return value === undefined ? whole : encode(value);
  });
}

/** The rollout context as JSON, for an http check's POST body. */
export function contextPayload(context: CheckContext, check: CheckSpec, target?: CheckTarget): string {
  return JSON.stringify({
    check: check.name,
    point: context.point,
    version: context.version,
    step: context.step,
    steps: context.steps,
    share: context.share,
    pool: context.pool,
    stablePool: context.stablePool,
    servers: context.servers.map((s) => ({ id: s.id, address: s.address })),
    stableServers: context.stableServers.map((s) => ({ id: s.id, address: s.address })),
    ...(target ? { target: { id: target.server.id, address: target.server.address, role: target.role } } : {}),
  });
}
