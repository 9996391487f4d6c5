/**
 * The seam between the engine and a load balancer, in domain words only: no HAProxy commands, nginx config or cloud
 * calls cross it. Each load balancer is one folder under `src/lb/` whose `index.ts` exports a `DriverModule`; the
 * registry lists them. A capability a load balancer lacks is declared, never pretended.
 */
import type { Change, Counters, Server } from '../model/server.js';
import type { Selector } from '../model/selectors.js';

/** How the action reaches a load balancer's API, as parsed from the `load-balancer` URL. */
export type Transport =
  | { readonly type: 'tcp'; readonly host: string; readonly port: number }
  | { readonly type: 'unix'; readonly path: string }
  | {
      readonly type: 'ssh';
      readonly user: string;
      readonly host: string;
      readonly port: number | undefined;
      readonly path: string;
    }
  | { readonly type: 'file'; readonly path: string }
  /** Several load balancers moved as one (`load-balancer` lists more than one URL). */
  | { readonly type: 'fleet'; readonly members: readonly LoadBalancerUrl[] }
  /** A cloud load balancer named by its resource id (an AWS ARN). */
  | { readonly type: 'cloud'; readonly id: string };

export interface LoadBalancerUrl {
  /** The scheme as written, e.g. `haproxy+unix`. */
  readonly scheme: string;
  /** The driver that serves it, e.g. `haproxy`. */
  readonly kind: string;
  readonly transport: Transport;
  /** The URL for logs and reports (it never holds a secret). */
  readonly display: string;
}

export interface Capabilities {
  /** Integer weights a server may take. */
  readonly weights: { readonly min: number; readonly max: number };
  /** The load balancer runs health checks of its own, which the engine waits on before traffic returns. */
  readonly healthChecks: boolean;
  /** Requests carrying a preview key can be routed to one server (`Driver.previews`). */
  readonly previews: boolean;
  /** Traffic is split between pools by the load balancer itself (`Driver.split`), not by server weights. */
  readonly nativeSplit: boolean;
  /** Requests in flight per server are known, so a drain can wait for them to finish. */
  readonly inFlight: boolean;
  /** One rollout at a time is enforced by a lock held on the load balancer itself (`Driver.lock`). */
  readonly lock?: boolean;
  /** Counters move in steps of this period (ALB: CloudWatch's 60 s); absent where they count each request at once. */
  readonly countsPerMs?: number;
  /** A server's open connections can be counted and closed on purpose (`Driver.connections`, drain-long-lived). */
  readonly closesConnections?: boolean;
}

/** What is still open to one server while it drains: upgraded connections (WebSocket) and requests in flight. */
export interface OpenConnections {
  readonly server: string;
  /** Connections the server upgraded (HTTP 101: WebSocket), which never end on their own. */
  readonly webSockets: number;
  /** Requests still in flight: slow answers, server-sent events, long polls. */
  readonly requests: number;
}

/**
 * Optional capability: the connections still open to servers, counted and closed on purpose, so a drain does not
 * leave long-lived ones (WebSocket, server-sent events, long polls) to die uncounted when deploy-command restarts the
 * process (drain-long-lived).
 */
export interface ConnectionControl {
  /** What each server still has open, read now; servers with nothing open are listed with zeros. Reads only. */
  open(ids: readonly string[]): Promise<OpenConnections[]>;
  /**
   * Closes the connections still open to the servers (the clients see them end): only the upgraded ones
   * (`webSockets`: requests in flight finish) or `all`. Returns what it closed, counted just before.
   */
  close(ids: readonly string[], which: 'webSockets' | 'all'): Promise<OpenConnections[]>;
}

/** One pool's share of a backend's traffic, for load balancers that split between pools natively. */
export interface PoolShare {
  readonly pool: string;
  /** Server ids of the pool. */
  readonly servers: readonly string[];
  /** Percent of traffic, 0-100; the shares of one split add up to 100. */
  readonly percent: number;
  /** The pool's part in the rollout: the stable one traffic goes back to, or the new version's. */
  readonly role?: 'stable' | 'new';
}

/** A pool as the user gave it: its name and its selectors. */
export interface PoolSelection {
  readonly name: string;
  readonly selectors: readonly Selector[];
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
  /** The link `?preview=KEY` also sets the preview cookie, so the pages clicked next stay on the preview. */
  readonly linkSetsCookie: boolean;
  /**
   * What the load balancer lacks for previews, each problem naming the input or config to fix. Changes nothing. For
   * `close`, only what finding and removing a key's route and servers needs (a setup changed since can still close).
   */
  check(purpose: 'open' | 'close'): Promise<string[]>;
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

/** Who holds a load balancer's lock, and since when (undefined when the load balancer does not say). */
export interface LockHolder {
  /** The owner id the holder gave, e.g. `acme:shop.run123.1.k3f9`; `unknown` when the lock names no owner. */
  readonly owner: string;
  readonly since: Date | undefined;
}

/** What a re-check of a lock held found (`RolloutLock.confirm`). */
export type LockCheck =
  /** Still ours; `reclaimed` says how it was taken back when a reload had dropped it. */
  | { readonly held: true; readonly reclaimed?: string }
  /** Not ours any more: why, in the load balancer's terms (who holds it now, or that nobody does). */
  | { readonly lost: string };

/** What came of trying to take the lock. */
export type LockAttempt =
  /** Taken: where it lives, in the load balancer's terms (for logs), and the stale holder it replaced, if any. */
  | { readonly held: string; readonly replaced?: LockHolder }
  /** Someone else holds it; nothing was changed. */
  | { readonly holder: LockHolder }
  /** This load balancer's configuration has no place for a lock: why, naming what to change. */
  | { readonly unavailable: string };

/**
 * Optional capability: an exclusive lock kept on the load balancer's side, so runs on different runners exclude each
 * other. Taking it changes no traffic.
 */
export interface RolloutLock {
  /**
   * Takes the lock for `owner`. When another owner holds it and `takeOver` names exactly that owner, the stale lock
   * is replaced; any other holder is returned untouched.
   */
  acquire(owner: string, takeOver?: string): Promise<LockAttempt>;
  /** Releases the lock if `owner` still holds it; otherwise leaves it alone. */
  release(owner: string): Promise<void>;
  /** The current holder; undefined when the lock is free. */
  holder(): Promise<LockHolder | undefined>;
  /**
   * Whether `owner` still holds the lock, read now. Where a reload of the load balancer drops the lock, one dropped
   * moments ago is taken back (no other run may act on a lock that young); absent: `holder` is compared.
   */
  confirm?(owner: string): Promise<LockCheck>;
}

/** What a person should do, in the load balancer's own terms, for problems the engine finds. */
export interface Advice {
  /** How to configure a pool so it takes no traffic (for pools that are both live or both idle). */
  outOfRotation(pool: string): string;
  /** How to give servers a health check of the load balancer's own (empty when it has none). */
  readonly healthCheck: string;
  /** How a server the action took out of traffic shows on the load balancer, e.g. `maint on HAProxy`. */
  readonly outOfTraffic: string;
  /**
   * How a server set to weight 0 shows on the load balancer where that is not simply weight 0, e.g. `down on
   * nginx`; empty where it is.
   */
  readonly zeroWeight: string;
}

/**
 * Optional capability: each request's latency as the load balancer logged it (an access log, a log ring), so the
 * judge compares what users felt from each version.
 */
export interface LatencyLog {
  /** What is measured, in the load balancer's terms, e.g. `$upstream_response_time per attempt from the access log`. */
  readonly source: string;
  /**
   * Answers show in periods this long (ALB: CloudWatch's 60 s), each published about a period after it ends; absent
   * where each answer shows at once.
   */
  readonly periodMs?: number;
  /** Why it gives none now, naming the configuration to add; undefined when it does. Reads only. */
  missing(): Promise<string | undefined>;
  /** Per server id, the latencies (ms) of the answers logged since the previous read; the first read starts there. */
  read(ids: readonly string[]): Promise<Map<string, number[]>>;
}

export interface Driver {
  readonly capabilities: Capabilities;
  /** Present where the load balancer can log each request's latency. */
  readonly latency?: LatencyLog;
  readonly advice: Advice;
  /** Servers matching the selectors, in the load balancer's order. */
  servers(selectors: readonly Selector[]): Promise<Server[]>;
  /** Applies every change in one round trip where the API allows; throws when any change was refused. */
  apply(changes: readonly Change[]): Promise<void>;
  /** Present when `capabilities.nativeSplit`: moves traffic between pools in one call. */
  split?(shares: readonly PoolShare[]): Promise<void>;
  /**
   * Cumulative counters per server id, a snapshot. Throws LoadBalancerRestarted when the load balancer is noticed to
   * have lost its run-time state (a reload or restart) since the last read.
   */
  counters(ids: readonly string[]): Promise<Map<string, Counters>>;
  /**
   * Backends that cannot take the weights a pool split needs (e.g. HAProxy's static balance algorithms), each
   * naming the backend and the fix; absent where every backend can. Changes no traffic; with `readOnly` (a dry
   * run) it changes nothing at all and reports only what it can tell by reading.
   */
  weightProblems?(backends: readonly string[], readOnly?: boolean): Promise<string[]>;
  /**
   * Backends that would not keep a user on one server while weights change (one-version-per-user needs a consistent
   * hash on a user key), each naming the backend and the fix; absent where the load balancer cannot do it at all.
   * Reads only.
   */
  affinityProblems?(backends: readonly string[]): Promise<string[]>;
  /**
   * Whether the load balancer retries a failed idempotent request on another server, so that users do not see a bad
   * version's failures before its rollback (docs/strategies.md#shielded-canaries), said in its own terms for the
   * plan and the summary. The judge counts retried failures against the server that failed them either way. Reads
   * only; absent where the load balancer cannot tell.
   */
  retries?(backends: readonly string[]): Promise<RetryShield>;
  /**
   * Traffic the last split read back on something outside both pools (an ALB target group given weight during the
   * rollout), in the load balancer's own terms; undefined when none. Final messages say it instead of "all traffic".
   */
  trafficOutsidePools?(): string | undefined;
  /**
   * Present where the load balancer splits traffic between pools itself: what in its configuration the pools cannot
   * drive (e.g. ALB: a pool over two target groups, a group holding weight outside both pools), each naming `pools`
   * and the fix. Reads only; called before anything is written, the lock included.
   */
  splitProblems?(pools: readonly PoolSelection[]): Promise<string[]>;
  /** How a person applies these changes by hand, in this load balancer's own terms (for error messages). */
  manualSteps(changes: readonly Change[]): string;
  /** Present when the load balancer can route previews. */
  readonly previews?: PreviewRouting;
  /**
   * Before anything moves: whether the load balancer answers as the action needs (within a few seconds, the right
   * kind of endpoint, enough rights when `writes`). Changes nothing. Returns what is wrong, as a sentence that
   * follows `load-balancer: URL` (e.g. `did not answer within 3s; ...`), or undefined.
   */
  preflight?(writes: boolean): Promise<string | undefined>;
  /**
   * What tells this load balancer's process from any other (host name, process id, start time), so that one
   * listed twice under two spellings (`127.0.0.1:9999` and `localhost:9999`) is found; undefined where the driver
   * cannot tell. Changes nothing.
   */
  identity?(): Promise<string | undefined>;
  /**
   * A cheap read, made about once a second while a deploy-command runs: throws LoadBalancerRestarted when the load
   * balancer lost its run-time state since the last read (a reload or restart put servers back to its
   * configuration's states). Absent where a reload loses nothing of the action's (nginx keeps its changes in files).
   */
  watch?(): Promise<void>;
  /**
   * Present on a fleet: every server of every member, where members may differ outside the servers the action
   * moves, each server's view most in traffic. Without it, a survey reads every server with `servers`.
   */
  survey?(): Promise<Server[]>;
  /** Present when `capabilities.lock`: one rollout per load balancer at a time. */
  readonly lock?: RolloutLock;
  /** Present when `capabilities.closesConnections`. */
  readonly connections?: ConnectionControl;
  /**
   * Facts of this load balancer a plan must state, in its own terms (e.g. ALB: target groups and their weights, the
   * deregistration delay, how late its metrics show a failure). Reads only; absent where there is nothing to add.
   */
  describe?(): Promise<string[]>;
  /** Round trips to the load balancer's API so far (for logs and benchmarks). */
  readonly roundTrips: number;
  close(): Promise<void>;
}

export interface Scheme {
  /** e.g. `haproxy+unix` */
  readonly scheme: string;
  readonly example: string;
  /** The transport, or what is wrong with the URL (without the scheme; the caller names it). */
  parse(url: string): Transport | string;
}

/** Connection tuning the caller chooses (a dry run reads once and quickly). */
export interface Tuning {
  readonly retries?: number;
  readonly timeoutMs?: number;
  /**
   * The run's cancel. Once it fires, the driver's waits (read-backs, retries, settling, drains) end at once and a
   * call in flight is given up; calls made after it (putting traffic back, reading it) each attempt once, within
   * about 1.5 s in all (model/poll.ts CallBudget), so a cancel ends the run within 2 s.
   */
  readonly signal?: AbortSignal;
}

export interface OptionsContext {
  readonly action: string;
  readonly dryRun: boolean;
  readonly minRequests: number;
}

/** One kind of load balancer: the schemes it serves, its own inputs, what it can do, and how to make a driver. */
export interface DriverModule<Options = unknown> {
  readonly kind: string;
  readonly schemes: readonly Scheme[];
  readonly capabilities: Capabilities;
  /** Inputs only this driver reads, with their defaults; other drivers refuse them when changed. */
  readonly inputs: Readonly<Record<string, string>>;
  /** Its options from its inputs (JSON-safe: they travel through the checkpoint); problems name their input. */
  options(read: (name: string) => string, context: OptionsContext): { options: Options } | { errors: string[] };
  create(url: LoadBalancerUrl, options: Options, tuning: Tuning): Driver;
}

/** What a load balancer says of its retries: `shielded` is `partly` when some failures (e.g. 5xx answers) reach users. */
export interface RetryShield {
  readonly shielded: 'yes' | 'partly' | 'no' | 'unknown';
  readonly text: string;
}
