/** preview: route one preview key to the new build's server, without moving anyone else's traffic. */
import * as core from '@actions/core';
import { withEngine } from '../engine/context.js';
import { closePreview, openPreview, previewRouting, type PreviewOutcome } from '../engine/preview/preview.js';
import type { Driver, PreviewRouting } from '../lb/driver.js';
import { RECORD_TOOL } from '../plan/record.js';
import {
  deactivateDeployments,
  deploymentIdText,
  runUrl,
  startDeployment,
  type Deployment,
} from '../report/deployment.js';
import { ReportedFailure } from '../model/errors.js';
import type { Outcome } from '../model/outcome.js';
import { previewLink, renderPreviewComment, renderPreviewSummary } from '../report/preview.js';
import { upsertComment } from '../report/pull-request.js';
import { writeSummary } from '../report/summary.js';
import type { Settings } from '../settings.js';
import { NO_NOTIFY, type Notify } from '../notify/registry.js';
import { engineHooks, reportingFailure } from './github.js';

/** A preview's own GitHub environment: previews of different pull requests never touch each other's deployments. */
export function previewEnvironment(settings: Settings): string {
  return `${settings.environment || 'preview'}/${settings.previewKey}`;
}

/** What the load balancer routes previews with; refuses (changing nothing) when it lacks what previews need. */
export function readRouting(driver: Driver, purpose: 'open' | 'close'): Promise<PreviewRouting> {
  return core.group('Read the load balancer', () => previewRouting(driver, purpose));
}

/** Opens or closes the key's preview, then the summary, `report` (deployments) and the pull-request comment. */
export async function runPreview(
  step: 'open' | 'close',
  settings: Settings,
  driver: Driver,
  routing: PreviewRouting,
  signal: AbortSignal,
  deployment: Deployment,
  report: (outcome: PreviewOutcome) => Promise<void>,
  notify: Notify = NO_NOTIFY,
): Promise<Outcome> {
  const closing = step === 'close';
  const key = settings.previewKey;
  return reportingFailure(deployment, async () => {
    await deployment.status('in_progress', `preview ${key} of ${settings.version} started`);
    return withEngine(settings, driver, signal, engineHooks(settings, deployment), async (ctx) => {
      const outcome: PreviewOutcome = {
        ...(await core.group(closing ? `Close preview ${key}` : `Preview ${key}`, () =>
          closing ? closePreview(ctx, routing) : openPreview(ctx, routing),
        )),
        linkSetsCookie: routing.linkSetsCookie,
      };
      const event = outcome.result !== 'succeeded' ? outcome.result : closing ? 'preview-closed' : 'preview-opened';
      notify.send({ event, verdict: outcome.message, previewKey: key });
      await writeSummary(renderPreviewSummary(outcome, settings, closing, ctx.timeline.events));
      await core.group('Report to GitHub', async () => {
        await report(outcome);
        await upsertComment(settings, key, renderPreviewComment(outcome, settings, closing, new Date(), runUrl()));
      });
      const result: Outcome = { result: outcome.result, weight: 0, deploymentId: deploymentIdText(deployment) };
      if (outcome.result !== 'succeeded') throw new ReportedFailure(outcome.message, result);
      core.info(outcome.message);
      return result;
    });
  });
}

export async function preview(
  settings: Settings,
  driver: Driver,
  signal: AbortSignal,
  notify: Notify = NO_NOTIFY,
): Promise<Outcome> {
  const key = settings.previewKey;
  const routing = await readRouting(driver, 'open');
  const environment = previewEnvironment(settings);
  const deployment = await startDeployment(
    settings,
    `preview ${key} of ${settings.version}`,
    { tool: RECORD_TOOL, kind: 'preview', key, version: settings.version, loadBalancer: settings.loadBalancer.display },
    { environment, transient: true },
  );
  return runPreview(
    'open',
    settings,
    driver,
    routing,
    signal,
    deployment,
    async (outcome) => {
      if (outcome.result === 'failed') return deployment.status('failure', outcome.message);
      // A failed canary leaves the preview itself live: the deployment succeeded, the step reports the canary.
      await deployment.status('success', outcome.message, previewLink(settings.environmentUrl, key) || undefined);
      // Transient deployments are not made inactive by GitHub when a newer one succeeds.
      await deactivateDeployments(settings, environment, deployment.id);
    },
    notify,
  );
}
