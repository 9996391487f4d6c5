/** The seam between the engine and a load balancer: domain words only, no HAProxy commands or nginx config. */
import type { Selector } from '../plan/selectors.js';

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
  /** Requests in flight on the server right now. */
  readonly inFlight: number;
}

/** Cumulative counters; the engine judges deltas. */
export interface Counters {
  readonly requests: number;
  /** HTTP 5xx answered by the server, plus responses and connections that failed at the load balancer. */
  readonly failures: number;
}

export interface Change {
  readonly server: string;
  readonly weight?: number;
  readonly admin?: AdminState;
}

/** How the load balancer checks a server it registers for a preview. */
export interface PreviewCheck {
  readonly intervalMs: number;
  readonly rise: number;
  readonly fall: number;
}

/**
 * Optional capability: requests that carry a preview key (header or cookie) go to one server; nobody else's traffic
 * moves. Servers can be registered and removed at run time.
 */
export interface PreviewRouting {
  /** Where preview servers live, in the load balancer's terms (for logs and the summary). */
  readonly backend: string;
  /** What the load balancer lacks for previews, each problem naming the input or config to fix. Changes nothing. */
  check(): Promise<string[]>;
  /** Every key's route: key -> server ids (more than one only after hand edits). */
  routes(): Promise<Map<string, string[]>>;
  /** The servers of the preview backend. */
  servers(): Promise<Server[]>;
  /**
   * Registers a server `BACKEND/NAME` (the preview backend, or a backend of real traffic for a preview's canary)
   * out of traffic (maint, weight 0), health checks armed: they run once it leaves maint.
   */
  register(serverId: string, address: string, check: PreviewCheck): Promise<void>;
  /** Routes the key to the server, replacing the key's earlier route in one step (no moment without a route). */
  route(key: string, serverId: string): Promise<void>;
  /** Removes the key's route; nothing happens when it has none. */
  unroute(key: string): Promise<void>;
  /** Removes a registered server, which must be in maint; waits up to timeoutMs for its connections to close. */
  unregister(serverId: string, timeoutMs: number): Promise<void>;
}

export interface Driver {
  /** Servers matching the selectors, in the load balancer's order. */
  servers(selectors: readonly Selector[]): Promise<Server[]>;
  /** Applies every change in one round trip where the API allows; throws when any change was refused. */
  apply(changes: readonly Change[]): Promise<void>;
  /** Cumulative counters per server id. */
  counters(ids: readonly string[]): Promise<Map<string, Counters>>;
  /** How a person applies these changes by hand, in this load balancer's own terms (for error messages). */
  manualSteps(changes: readonly Change[]): string;
  /** Present when the load balancer can route previews. */
  readonly previews?: PreviewRouting;
  /** Round trips to the load balancer's API so far (for logs and benchmarks). */
  readonly roundTrips: number;
  close(): Promise<void>;
}
