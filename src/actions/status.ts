/** status: where the environment's latest rollout stands on the load balancer; changes nothing. */
import * as core from '@actions/core';
import type { Driver } from '../lb/driver.js';
import { formatPercent } from '../model/format.js';
import { locate } from '../plan/record.js';
import { deploymentIdText, isActive, latestRollout } from '../report/deployment.js';
import type { Outcome } from '../model/outcome.js';
import { headline, writeSummary } from '../report/summary.js';
import { md } from '../report/markdown.js';
import type { Settings } from '../settings.js';
import { describeRollout } from './rollout.js';

export async function status(settings: Settings, driver: Driver): Promise<Outcome> {
  const rollout = await latestRollout(settings);
  const servers = await driver.servers((settings.pools ?? []).flatMap((p) => p.selectors));
  const weights = servers.map(
    (s) => `| ${md(s.id)} | ${s.weight} | ${s.admin} | ${md(s.check?.status ?? 'no check')} |`,
  );
  const lines = ['', '| server | weight | state | health |', '|---|---|---|---|', ...weights];
  if (!rollout) {
    const text = `No rollout is recorded for environment ${settings.environment}.`;
    await writeSummary(`${headline('unchanged', text)}\n${lines.join('\n')}`);
    core.info(text);
    return { result: 'unchanged' };
  }
  const position = locate(rollout.record, servers);
  const step = position.kind === 'step' ? rollout.record.steps?.[position.index] : undefined;
  const where =
    position.kind === 'step'
      ? `${formatPercent(step?.achieved ?? 0)} of traffic on ${rollout.record.pools?.idle} (step ${position.index + 1}/${rollout.record.steps?.length}${step?.pause === 'approval' && isActive(rollout) ? ', waiting for approval: promote or abort' : ''})`
      : position.kind === 'stable'
        ? `all traffic on ${rollout.record.pools?.live}`
        : `weights that match no step of it (${position.detail})`;
  const text = `Latest ${describeRollout(rollout)}: the load balancer has ${where}.`;
  await writeSummary(`${headline('unchanged', text)}\n${lines.join('\n')}`);
  core.info(text);
  const live =
    position.kind === 'step' && (step?.achieved ?? 0) >= 100 ? rollout.record.pools?.idle : rollout.record.pools?.live;
  return {
    result: 'unchanged',
    livePool: live,
    weight: step?.achieved ?? 0,
    deploymentId: deploymentIdText(rollout.deployment),
  };
}
