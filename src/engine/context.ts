/** One engine run's context: the timeline, the prober, and hooks wired to the deployment and the step state. */
import * as core from '@actions/core';
import type { Driver } from '../lb/driver.js';
import { Prober } from '../probes/http.js';
import type { Deployment } from '../report/deployment.js';
import type { Settings } from '../settings.js';
import { Timeline } from './timeline.js';
import type { UpdateContext } from './update.js';

export async function withEngine<T>(
  settings: Settings,
  driver: Driver,
  signal: AbortSignal,
  deployment: Deployment,
  run: (ctx: UpdateContext) => Promise<T>,
): Promise<T> {
  const deploymentId = deployment.id === undefined ? undefined : String(deployment.id);
  const prober = new Prober(settings.probe);
  const ctx: UpdateContext = {
    settings,
    driver,
    prober,
    timeline: new Timeline(),
    signal,
    hooks: {
      stage: (text) => deployment.status('in_progress', text),
      checkpoint: (restore) =>
        core.saveState(
          'rollout',
          restore
            ? JSON.stringify({ lb: settings.loadBalancer.display, nginx: settings.nginx, restore, deploymentId })
            : '',
        ),
    },
  };
  try {
    return await run(ctx);
  } finally {
    await prober.close();
  }
}
