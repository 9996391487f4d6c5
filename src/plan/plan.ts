/** What a run will do, stage by stage: built by pure functions, printed by dry-run, executed by the engine. */
import type { StrategyName } from '../settings.js';

export type Wait =
  { readonly kind: 'none' } | { readonly kind: 'duration'; readonly ms: number } | { readonly kind: 'approval' };

export type Stage =
  | {
      readonly kind: 'batch';
      readonly index: number;
      /** Server ids, or undefined when the load balancer could not be read (dry run only). */
      readonly servers: readonly string[] | undefined;
      /**
       * Entries of other backends (not targets) at the address of one of the batch's servers: the same process, so
       * they leave traffic and come back with the batch.
       */
      readonly companions: readonly string[];
      /** Addresses (processes) in the batch: what batch-size counts. */
      readonly size: number;
    }
  | { readonly kind: 'deploy-idle'; readonly pool: string; readonly servers: readonly string[] | undefined }
  | {
      readonly kind: 'shift';
      /** The new version's share asked for, in percent. */
      readonly weight: number;
      /** The share the integer weights really give (undefined when servers are unknown). */
      readonly achieved: number | undefined;
      readonly weights: ReadonlyMap<string, number> | undefined;
      readonly wait: Wait;
      /** Analysis windows at least run at this stage before it can pass. */
      readonly windows: number;
    };

export interface Plan {
  readonly strategy: StrategyName;
  readonly stages: readonly Stage[];
  /** Pools: which is live (stable) and which gets the new version. */
  readonly pools: { readonly live: string; readonly idle: string } | undefined;
  /** Worst case for a version whose health endpoint fails (direct probes). */
  readonly probeDetectMs: number;
  /** The largest share of traffic the new version has before its first verdict, in percent. */
  readonly firstExposure: number;
  /** Waits the plan holds at the least (pauses and windows), excluding deploys and drains. */
  readonly minDurationMs: number;
  readonly notes: readonly string[];
}
