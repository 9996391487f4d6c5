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

export interface Driver {
  /** Servers matching the selectors, in the load balancer's order. */
  servers(selectors: readonly Selector[]): Promise<Server[]>;
  /** Applies every change in one round trip where the API allows; throws when any change was refused. */
  apply(changes: readonly Change[]): Promise<void>;
  /** Cumulative counters per server id. */
  counters(ids: readonly string[]): Promise<Map<string, Counters>>;
  /** How a person applies these changes by hand, in this load balancer's own terms (for error messages). */
  manualSteps(changes: readonly Change[]): string;
  /** Round trips to the load balancer's API so far (for logs and benchmarks). */
  readonly roundTrips: number;
  close(): Promise<void>;
}
