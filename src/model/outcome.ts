/** What a run of the action came to: the action's outputs (../shared/CONTRACT.md), in the action's own terms. */

export type Result = 'succeeded' | 'paused' | 'rolled-back' | 'failed' | 'aborted' | 'unchanged';

export interface Outcome {
  readonly result: Result;
  readonly livePool?: string;
  readonly weight?: number;
  readonly deploymentId?: string;
}
