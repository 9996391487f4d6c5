/** close-preview: remove the key's route and what `preview` registered; mark its deployments inactive. */
import * as core from '@actions/core';
import type { Driver } from '../lb/driver.js';
import { deactivateDeployments, NONE } from '../report/deployment.js';
import type { Outcome } from '../model/outcome.js';
import type { Settings } from '../settings.js';
import { NO_NOTIFY, type Notify } from '../notify/registry.js';
import { previewEnvironment, readRouting, runPreview } from './preview.js';

export async function closePreview(
  settings: Settings,
  driver: Driver,
  signal: AbortSignal,
  notify: Notify = NO_NOTIFY,
): Promise<Outcome> {
  const routing = await readRouting(driver, 'close');
  const environment = previewEnvironment(settings);
  return runPreview(
    'close',
    settings,
    driver,
    routing,
    signal,
    NONE,
    async () => {
      const changed = await deactivateDeployments(settings, environment);
      core.info(`${changed} deployment(s) of ${environment} marked inactive`);
    },
    notify,
  );
}
