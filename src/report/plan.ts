/** The plan as text: the same Markdown goes to the job summary and, flattened, to the log. */
import { formatDuration } from '../model/durations.js';
import type { Plan, Stage, Wait } from '../plan/plan.js';
import type { Settings } from '../settings.js';
import { formatPercent } from '../model/format.js';
import { code, md } from './markdown.js';
import { describeGuarantees } from '../analysis/guarantees.js';
import { COUNTER_POLL_MS } from '../plan/build.js';
import { judgeSettings } from '../analysis/judge.js';
import { latencyDetectionMs } from '../analysis/latency-plan.js';
import { describeLimit, describeTolerance } from '../model/latency.js';

/** Used where the load balancer's traffic was not measured (the plan a deploy prints before it starts). */
export const ASSUMED_TRAFFIC: Traffic = {
  requestsPerSecond: 100,
  failureShare: 0.005,
  source: 'assumed, not measured',
};

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

/** Requests per second through the new and stable servers and their failure share, measured or assumed. */
export interface Traffic {
  readonly requestsPerSecond: number;
  readonly failureShare: number;
  /** How the figures were found, e.g. 'measured over 1s on the load balancer' or 'assumed'. */
  readonly source: string;
}

/** What the plan's steps look like to the judge: the new version's share (0..1) and how long each step lasts. */
function judgedSteps(plan: Plan, settings: Settings): { share: number; durationMs: number }[] {
  const windowMs = settings.analysis.intervalMs;
  const batches = plan.stages.filter((s) => s.kind === 'batch');
  const targets = batches.reduce((n, s) => n + s.size, 0);
  return plan.stages.flatMap((stage) => {
    if (stage.kind === 'batch') return [{ share: targets ? stage.size / targets : 1, durationMs: windowMs }];
    if (stage.kind !== 'shift') return [];
    const pauseMs = stage.wait.kind === 'duration' ? stage.wait.ms : 0;
    return [{ share: (stage.achieved ?? stage.weight) / 100, durationMs: Math.max(pauseMs, windowMs) }];
  });
}

/** The judge's promises for this plan: the false-rollback bound and how fast 2x, 5x and 30x regressions are caught. */
function judgeLines(plan: Plan, settings: Settings, traffic: Traffic): string[] {
  const input = {
    falseRollbackRate: settings.analysis.falseRollbackRate,
    maxErrorRate: settings.analysis.maxErrorRate,
    steps: judgedSteps(plan, settings),
    requestsPerSecond: traffic.requestsPerSecond,
    baselineFailure: traffic.failureShare,
    pollMs: COUNTER_POLL_MS,
  };
  const [bound, assumption, ...detections] = describeGuarantees(input);
  if (input.steps.length === 0) {
    return [
      `- **False rollbacks:** ${bound}`,
      '- **Time to catch a worse version:** depends on the batches, known once the load balancer is read.',
    ];
  }
  return [
    `- **False rollbacks:** ${bound}`,
    `- **Time to catch a worse version** (${traffic.source}): ${assumption}`,
    ...detections.map((d) => `  ${d}`),
    `- **A step passes** only after its duration, with at least min-requests ${settings.analysis.minRequests} served and its failure share within max-error-rate; fewer requests hold it (up to timeout).`,
  ];
}

/**
 * The dry run's latency lines: which latency this load balancer gives (`signal`: its source, or why none), and how
 * long a version 2x and 10x slower (log-normal answers, stable median 100 ms) takes to be caught at this traffic.
 */
export function latencyLines(
  plan: Plan,
  settings: Settings,
  traffic: Traffic,
  signal: { source?: string; missing?: string; periodMs?: number },
): string[] {
  const l = settings.analysis.latency;
  if (!l || (!l.tolerance && !l.limit))
    return ['- **Latency:** not judged (max-latency-increase off, no max-latency).'];
  if (!signal.source)
    return [
      `- **Latency:** not judged: ${signal.missing ?? 'this load balancer gives no per-request latency'}; errors only.`,
    ];
  const judge = { ...judgeSettings(settings, true), minRequests: 0 };
  const input = {
    settings: judge,
    steps: judgedSteps(plan, settings),
    requestsPerSecond: traffic.requestsPerSecond,
    // Answers that show per period are judged once per period, a period late (CloudWatch publishes after it ends).
    pollMs: signal.periodMs ?? COUNTER_POLL_MS,
    medianMs: 100,
  };
  const late = signal.periodMs ?? 0;
  const granularity = signal.periodMs
    ? [
        `  - latency shows per ${formatDuration(signal.periodMs)} period (this load balancer's granularity), each published about ${formatDuration(signal.periodMs)} after it ends: the times below count both`,
      ]
    : [];
  const what = [
    ...(l.tolerance ? [`max-latency-increase ${describeTolerance(l.tolerance)} against stable`] : []),
    ...(l.limit ? [`max-latency ${describeLimit(l.limit)} serving alone`] : []),
  ];
  return [
    `- **Latency:** judged from ${signal.source}: ${what.join(', ')}, within the same false-rollback-rate.`,
    ...granularity,
    ...[2, 10].map((k) => {
      const caught = latencyDetectionMs(input, k);
      const ms = caught === undefined ? undefined : caught + late;
      return ms === undefined
        ? `  - a version ${k}x slower (stable median 100 ms, at ${traffic.requestsPerSecond} requests/s): likely not caught before the plan ends`
        : `  - a version ${k}x slower (stable median 100 ms, at ${traffic.requestsPerSecond} requests/s): rolled back after about ${formatDuration(ms)}`;
    }),
  ];
}

export function renderPlan(plan: Plan, settings: Settings, traffic: Traffic = ASSUMED_TRAFFIC): string {
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
  lines.push('', ...judgeLines(plan, settings, traffic));
  lines.push(
    plan.strategy === 'rolling'
      ? `- **A version that never passes its probes** gets no traffic: the batch stays out after startup-timeout (${formatDuration(plan.probeDetectMs)}).`
      : settings.probe.healthUrl
        ? `- **A version whose probes fail** gets no traffic before the first shift; once shifted, ${settings.probe.unhealthyThreshold} failed probes in a row (${formatDuration(plan.probeDetectMs)}) roll it back.`
        : "- **No health-url:** the idle pool is checked by the load balancer's own health checks only, and judged by its counters once it takes traffic.",
    `- **Largest share of traffic on the new version before its first verdict:** ${formatPercent(plan.firstExposure)}` +
      (plan.strategy === 'rolling' ? ' (one batch).' : '.'),
    `- **Waits at least:** ${formatDuration(plan.minDurationMs)} of pauses and windows (timeout ${formatDuration(settings.timeoutMs)}).`,
  );
  if (settings.oneVersionPerUser && plan.strategy !== 'rolling')
    lines.push(
      "- **One version per user:** the load balancer hashes each request on the user's cookie and the weights only grow on the new version and shrink on the stable one, so a user who got the new version keeps it and one who got the old keeps it; promotion or rollback moves everyone at once. The share of users on the new version follows each step's weight.",
    );
  const lb = settings.loadBalancer.transport;
  if (lb.type === 'fleet')
    lines.push(
      `- **${lb.members.length} load balancers moved as one** (${lb.members.map((m) => code(m.display)).join(', ')}): each change is sent to all at once and read back on all before the rollout goes on; they must agree on every server's address, weight and state, or nothing moves (and a rollout under way stops, putting the stable state back on every one it can reach).`,
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
