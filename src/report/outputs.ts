/** The action's outputs (../shared/CONTRACT.md); every path through main ends here exactly once. */
import * as core from '@actions/core';
import type { Outcome } from '../model/outcome.js';

export function writeOutputs(outcome: Outcome): void {
  core.setOutput('result', outcome.result);
  core.setOutput('live-pool', outcome.livePool ?? '');
  core.setOutput('weight', String(Math.round(outcome.weight ?? 0)));
  core.setOutput('deployment-id', outcome.deploymentId ?? '');
}
