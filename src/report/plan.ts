/** The plan as text: the same Markdown goes to the job summary and, flattened, to the log. */
import { formatDuration } from '../model/durations.js';
import type { Plan, Stage, Wait } from '../plan/plan.js';
import type { Settings } from '../settings.js';
import { formatPercent } from '../model/format.js';
import { code, md } from './markdown.js';

function waitText(wait: Wait): string {
  switch (wait.kind) {
    case 'none':
      return '-';
    case 'duration':
      return formatDuration(wait.ms);
    case 'approval':
      return 'approval (run ends paused; continue with action: promote)';
  }
}

function weightsText(weights: ReadonlyMap<string, number> | undefined): string {
  if (!weights) return 'at run time';
  return [...weights].map(([id, w]) => `${id}=${w}`).join(' ');
}

function stageRow(stage: Stage, i: number, settings: Settings): string {
  const window = formatDuration(settings.analysis.intervalMs);
  switch (stage.kind) {
    case 'batch':
      return `| ${i} | batch ${stage.index}: drain, deploy, probe, back in traffic | ${stage.servers?.join(' ') ?? `${stage.size} servers`} | - | 1 window of ${window} |`;
    case 'deploy-idle':
      return `| ${i} | deploy to idle pool ${stage.pool}, probe each server directly | ${stage.servers?.join(' ') ?? 'at run time'} | 0% | - |`;
    case 'shift': {
      const share =
        stage.achieved === undefined || Math.abs(stage.achieved - stage.weight) < 0.05
          ? formatPercent(stage.weight)
          : `${formatPercent(stage.weight)} (weights give ${formatPercent(stage.achieved)})`;
      return `| ${i} | shift traffic, wait ${waitText(stage.wait)} | ${weightsText(stage.weights)} | ${share} | ${stage.windows} window${stage.windows === 1 ? '' : 's'} of ${window} |`;
    }
  }
}

export function renderPlan(plan: Plan, settings: Settings): string {
  const lines: string[] = [];
  lines.push(
    `### Plan: ${plan.strategy} of version ${code(settings.version)} through ${code(settings.loadBalancer.display)}`,
  );
  if (plan.pools)
    lines.push(
      '',
      `Live pool **${md(plan.pools.live)}** keeps serving; the new version goes to idle pool **${md(plan.pools.idle)}**.`,
    );
  lines.push('', "| # | stage | servers / weights | new version's share | analysis |", '|---|---|---|---|---|');
  plan.stages.forEach((stage, i) => lines.push(stageRow(stage, i + 1, settings)));
  const minRequests = settings.analysis.minRequests;
  lines.push(
    '',
    `- **Worst case to detect a failing version:** ${formatDuration(plan.detectMs)} after its first failed response ` +
      `(one analysis window plus one counter poll, when it serves at least ${minRequests} requests per window; fewer extends the window).`,
    plan.strategy === 'rolling'
      ? `- **A version that never passes its probes** gets no traffic: the batch stays out after startup-timeout (${formatDuration(plan.probeDetectMs)}).`
      : settings.probe.healthUrl
        ? `- **A version whose probes fail** gets no traffic before the first shift; once shifted, ${settings.probe.unhealthyThreshold} failed probes in a row (${formatDuration(plan.probeDetectMs)}) roll it back.`
        : "- **No health-url:** the idle pool is checked by the load balancer's own health checks only, and judged by its counters once it takes traffic.",
    `- **Largest share of traffic on the new version before its first verdict:** ${formatPercent(plan.firstExposure)}` +
      (plan.strategy === 'rolling' ? ' (one batch).' : '.'),
    `- **Waits at least:** ${formatDuration(plan.minDurationMs)} of pauses and windows (timeout ${formatDuration(settings.timeoutMs)}).`,
  );
  for (const note of plan.notes) lines.push(`- ${note}`);
  return lines.join('\n');
}

/** Markdown table rows and emphasis stripped for the log. */
export function markdownToLog(markdown: string): string {
  return markdown
    .split('\n')
    .filter((line) => !/^\|[-| ]+\|$/.test(line))
    .map((line) =>
      line
        .replace(/\*\*/g, '')
        .replace(/`/g, '')
        .replace(/^### /, '')
        .replace(/^\| (.*) \|$/, '  $1')
        .replace(/ \| /g, ' | '),
    )
    .join('\n');
}
