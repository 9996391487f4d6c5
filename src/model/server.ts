/** The neutral model every layer speaks: servers as a load balancer sees them, and changes to them. */

export type AdminState = 'ready' | 'drain' | 'maint';

export interface Server {
  /** `BACKEND/SERVER` */
  readonly id: string;
  readonly backend: string;
  readonly name: string;
  /** `HOST:PORT` as the load balancer sends traffic to it. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly admin: AdminState;
  /** The load balancer's own health check: absent when the server has none. */
  readonly check: { readonly passing: boolean; readonly settled: boolean; readonly status: string } | undefined;
  /** Requests in flight on the server right now (0 where the load balancer cannot tell). */
  readonly inFlight: number;
}

/** Cumulative counters; the engine judges deltas. */
export interface Counters {
  readonly requests: number;
  /**
   * HTTP 5xx answered by the server, plus every request that got no answer (a connection that died or was refused,
   * a truncated answer, the load balancer's own 502/504): what the users felt, whatever the load balancer logged.
   */
  readonly failures: number;
}

export interface Change {
  readonly server: string;
  readonly weight?: number;
  readonly admin?: AdminState;
}

/**
 * A server out of traffic whose version is not yet verified, and what it goes back to once it passes its check:
 * the load balancer's own, or `probe` (its health-url) where the load balancer has none.
 */
export interface PendingRestore {
  readonly server: string;
  readonly weight: number;
  readonly admin: AdminState;
  readonly probe?: string;
}

/** A human-readable list of changes, e.g. `app/web1 weight 0 maint, app/web2 drain`. */
export function describeChanges(changes: readonly Change[]): string {
  return changes
    .map((c) => `${c.server}${c.weight !== undefined ? ` weight ${c.weight}` : ''}${c.admin ? ` ${c.admin}` : ''}`)
    .join(', ');
}

/** `app/web1 weight 0 maint`, as read back. */
export function describeServers(servers: readonly Server[]): string {
  return servers.map((s) => `${s.id} weight ${s.weight} ${s.admin}`).join(', ');
}
