/** The action's outputs (../shared/CONTRACT.md); every path through main ends here exactly once. */
import * as core from '@actions/core';

export type Result = 'succeeded' | 'paused' | 'rolled-back' | 'failed' | 'aborted' | 'unchanged';

export interface Outcome {
  readonly result: Result;
  readonly livePool?: string;
  readonly weight?: number;
  readonly deploymentId?: string;
}

export function writeOutputs(outcome: Outcome): void {
  core.setOutput('result', outcome.result);
  core.setOutput('live-pool', outcome.livePool ?? '');
  core.setOutput('weight', String(Math.round(outcome.weight ?? 0)));
  core.setOutput('deployment-id', outcome.deploymentId ?? '');
}

/** A run that ended red after its summary and deployment status were written: main sets its outputs and fails. */
export class ReportedFailure extends Error {
  constructor(
    message: string,
    readonly outcome: Outcome,
  ) {
    super(message);
    this.name = 'ReportedFailure';
  }
}
