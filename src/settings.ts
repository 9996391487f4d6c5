/** The typed settings every later stage works from; built once by inputs.ts. */
import type { Selector } from './model/selectors.js';
import type { LoadBalancerUrl } from './lb/driver.js';
import type { NotifyTarget } from './model/notify.js';
import type { CheckSpec } from './model/checks.js';
import type { LatencySettings } from './model/latency.js';

export const ACTIONS = ['deploy', 'promote', 'abort', 'status', 'preview', 'close-preview'] as const;
export type ActionName = (typeof ACTIONS)[number];

export const STRATEGIES = ['rolling', 'blue-green', 'canary'] as const;

/** What a drain does with long-lived connections (WebSocket, server-sent events, long polls): drain-long-lived. */
export const DRAIN_LONG_LIVED = ['wait', 'close-at-start', 'close-at-deadline'] as const;
export type DrainLongLived = (typeof DRAIN_LONG_LIVED)[number];
export type StrategyName = (typeof STRATEGIES)[number];

export interface PoolSpec {
  readonly name: string;
  readonly selectors: readonly Selector[];
}

/** A canary step: the new version's share of traffic and what happens before the next step. */
export interface CanaryStep {
  readonly weight: number;
  readonly pause:
    { readonly kind: 'none' } | { readonly kind: 'duration'; readonly ms: number } | { readonly kind: 'approval' };
}

export type BatchSize =
  { readonly kind: 'count'; readonly count: number } | { readonly kind: 'percent'; readonly percent: number };

export type Strategy =
  | { readonly name: 'rolling'; readonly targets: readonly Selector[]; readonly batchSize: BatchSize }
  | { readonly name: 'blue-green'; readonly pools: readonly [PoolSpec, PoolSpec] }
  | { readonly name: 'canary'; readonly pools: readonly [PoolSpec, PoolSpec]; readonly steps: readonly CanaryStep[] };

/** A preview's canary: `percent` of `backend`'s real traffic for `durationMs`, then it is pulled out. */
export interface PreviewCanary {
  readonly backend: string;
  readonly percent: number;
  readonly durationMs: number;
}

/** Inclusive ranges of accepted HTTP status codes. */
export type StatusRanges = readonly (readonly [number, number])[];

export interface ProbeSettings {
  readonly healthUrl: string;
  readonly checkUrl: string;
  readonly expectStatus: StatusRanges;
  readonly expectBody: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
}

export interface AnalysisSettings {
  /** Largest accepted failure share, 0..1. */
  readonly maxErrorRate: number;
  readonly minRequests: number;
  readonly intervalMs: number;
  /** The judge's bound on the chance of rolling back a good version, 0..1 (alpha), for errors and latency together. */
  readonly falseRollbackRate: number;
  /** max-latency-increase and max-latency (judged where the load balancer gives per-request latency). */
  readonly latency?: LatencySettings;
}

export interface Settings {
  readonly action: ActionName;
  readonly strategy: Strategy | undefined;
  /** The pools input, also for promote, abort and status, which take no strategy. */
  readonly pools: readonly [PoolSpec, PoolSpec] | undefined;
  readonly loadBalancer: LoadBalancerUrl;
  /** The driver's own options, parsed from its inputs by its module; opaque to everything but that driver. */
  readonly driverOptions: unknown;
  readonly loadBalancerToken: string;
  readonly deployCommand: string;
  readonly rollbackCommand: string;
  readonly probe: ProbeSettings;
  readonly analysis: AnalysisSettings;
  readonly drainTimeoutMs: number;
  /** Long-lived connections of a draining server: waited for up to drain-timeout, or closed at its start or end. */
  readonly drainLongLived?: DrainLongLived;
  readonly startupTimeoutMs: number;
  readonly timeoutMs: number;
  readonly version: string;
  readonly environment: string;
  readonly environmentUrl: string;
  readonly productionEnvironment: boolean;
  readonly githubToken: string;
  readonly previewKey: string;
  readonly previewAddress: string;
  /** preview: existing servers the key routes to, instead of preview-address. */
  readonly previewTargets: readonly Selector[] | undefined;
  /** preview: a share of a backend's real traffic for the preview, judged like a canary, for a while. */
  readonly previewCanary: PreviewCanary | undefined;
  /** The pull request of the triggering event, if any (for the preview comment). */
  readonly pullRequest: number | undefined;
  /** The commit deployments are created for: the pull request's head, else GITHUB_SHA. */
  readonly ref: string;
  readonly dryRun: boolean;
  /** dry-run: checks: also try each check that only reads, once. */
  readonly dryRunChecks?: boolean;
  /** The holder id of a stale lock to replace (take-over-lock); empty: never take a lock over. */
  readonly takeOverLock?: string;
  /** Where rollout events go (Slack, Teams, webhooks); URLs are secrets. */
  readonly notify?: readonly NotifyTarget[];
  /** Each user kept on one version until promotion or rollback: the load balancer hashes on a user cookie. */
  readonly oneVersionPerUser?: boolean;
  /** The team's own checks at named points of the rollout (the checks input). */
  readonly checks?: readonly CheckSpec[];
  /** check-secrets: the keys checks name (Datadog's), by name; masked, never in a command's environment. */
  readonly checkSecrets?: ReadonlyMap<string, string>;
}
