/** The job summary: the verdict first, then the story. */
import * as core from '@actions/core';
import { errorRate } from '../analysis/window.js';
import type { RollingOutcome } from '../engine/rolling.js';
import type { ShiftOutcome } from '../engine/shift.js';
import type { Event } from '../engine/timeline.js';
import type { Advice } from '../lb/driver.js';
import { formatDuration } from '../model/durations.js';
import { formatFraction, formatPercent, formatShare } from '../model/format.js';
import { formatSummary, summarize } from '../model/latency.js';
import type { Settings } from '../settings.js';
import type { Result } from '../model/outcome.js';
import { runUrl } from './deployment.js';
import { code, md } from './markdown.js';
import { renderCheckResults } from './checks.js';

const HEADLINE: Record<Result, string> = {
  succeeded: '✅ Succeeded',
  paused: '⏸️ Paused',
  'rolled-back': '↩️ Rolled back',
  failed: '❌ Failed',
  aborted: '🛑 Aborted',
  unchanged: 'ℹ️ Unchanged',
};

export function headline(result: Result, sentence: string): string {
  return `## zero-downtime-deploy: ${HEADLINE[result]}\n\n${md(sentence)}`;
}

export function runLink(): string {
  const url = runUrl();
  return url ? `\n\n[Workflow run and logs](${url})` : '';
}

/** p50/p95/p99 and count of one pool's answers as the load balancer logged them; `-` where it gives none. */
function servedText(windows: ShiftOutcome['steps'][number]['windows'], pool: 'canary' | 'stable'): string {
  return answersText(windows.flatMap((w) => w.served?.[pool] ?? []));
}

/** p50/p95/p99 and count of answers the load balancer logged; `-` where it gives none. */
function answersText(samples: readonly number[] | undefined): string {
  return samples?.length ? formatSummary(summarize(samples)) : '-';
}

/** p50 / p95 of probe latencies, e.g. `3ms / 9ms`. */
export function latencyText(latencies: readonly number[]): string {
  if (latencies.length === 0) return '-';
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return `${at(0.5)}ms / ${at(0.95)}ms`;
}

/** A mermaid chart (GitHub renders it) of the new version's share of traffic over the run, as a step function. */
export function shareChart(points: readonly { at: Date; share: number }[], version: string): string[] {
  if (points.length < 2) return [];
  const start = points[0]?.at.getTime() ?? 0;
  const end = Math.max(points.at(-1)?.at.getTime() ?? start, start + 1000);
  const samples = 16;
  const fine = end - start < 30_000; // short runs get tenths of a second, so labels stay distinct
  const xs: string[] = [];
  const ys: number[] = [];
  for (let i = 0; i <= samples; i++) {
    const t = start + ((end - start) * i) / samples;
    const current = [...points].reverse().find((p) => p.at.getTime() <= t) ?? points[0];
    xs.push(`"${fine ? ((t - start) / 1000).toFixed(1) : Math.round((t - start) / 1000)}s"`);
    ys.push(Math.round((current?.share ?? 0) * 10) / 10);
  }
  return [
    '',
    '```mermaid',
    'xychart-beta',
    `    title "Share of traffic on ${version.replace(/"/g, '')}"`,
    `    x-axis [${xs.join(', ')}]`,
    '    y-axis "%" 0 --> 100',
    `    line [${ys.join(', ')}]`,
    '```',
  ];
}

/**
 * A mermaid chart of p95 latency per step, users' requests as the load balancer logged them: bars for the stable
 * pool, a line for the new version (xychart-beta draws no legend, so the title says which is which). None without
 * per-request latency.
 */
export function latencyChart(steps: ShiftOutcome['steps'], version: string): string[] {
  const p95 = (step: ShiftOutcome['steps'][number], pool: 'canary' | 'stable') => {
    const samples = step.windows.flatMap((w) => w.served?.[pool] ?? []);
    return samples.length ? Math.round(summarize(samples).p95) : 0;
  };
  if (!steps.some((s) => p95(s, 'canary') > 0)) return [];
  const label = (s: ShiftOutcome['steps'][number]) => `"step ${s.index} (${formatPercent(s.achieved)})"`;
  const top = Math.max(1, ...steps.flatMap((s) => [p95(s, 'canary'), p95(s, 'stable')]));
  return [
    '',
    '```mermaid',
    'xychart-beta',
    `    title "p95 latency per step, ms: bars stable, line ${version.replace(/"/g, '')}"`,
    `    x-axis [${steps.map(label).join(', ')}]`,
    `    y-axis "ms" 0 --> ${Math.ceil(top * 1.1)}`,
    `    bar [${steps.map((s) => p95(s, 'stable')).join(', ')}]`,
    `    line [${steps.map((s) => p95(s, 'canary')).join(', ')}]`,
    '```',
  ];
}

export function renderRolling(
  outcome: RollingOutcome,
  settings: Settings,
  events: readonly Event[],
  advice: Advice,
  fleet: readonly string[] = [],
): string {
  const lines = [
    headline(outcome.result, outcome.message),
    '',
    `### Batches (version ${code(settings.version)}, ${md(settings.loadBalancer.display)})`,
    '',
  ];
  lines.push(
    '| batch | servers | started | duration | requests | failed | error rate | batch: latency | old: latency | probe p50 / p95 | verdict |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const b of outcome.batches) {
    const w = b.window;
    lines.push(
      `| ${b.index} | ${md(b.servers.join(' '))} | ${b.startedAt.toISOString().slice(11, 19)} | ${formatDuration(b.durationMs)} | ${w?.requests ?? '-'} | ${w ? w.failures + w.probesFailed : '-'} | ${w ? formatFraction(errorRate(w)) : '-'} | ${answersText(b.served?.canary)} | ${answersText(b.served?.stable)} | ${latencyText(b.latencies)} | ${b.passed ? '✅' : '❌'} ${md(b.verdict)} |`,
    );
  }
  const connections = outcome.batches.flatMap((b) => b.connections ?? []);
  if (connections.length)
    lines.push(
      '',
      `Long-lived connections (drain-long-lived: ${settings.drainLongLived ?? 'wait'}): ${md(connections.join('; '))}.`,
    );
  lines.push(...renderCheckResults(outcome.checks ?? []));
  lines.push(...shareChart(outcome.shares, settings.version));
  lines.push('', '### Servers at the end', '', '| server | version | in traffic |', '|---|---|---|');
  for (const s of outcome.servers) {
    const version = s.version === 'new' ? settings.version : s.version === 'old' ? 'previous' : s.version;
    lines.push(`| ${md(s.id)} | ${md(version)} | ${s.inTraffic ? 'yes' : '**no**'} |`);
  }
  if (outcome.result !== 'succeeded') {
    lines.push(
      '',
      '### What to do next',
      '',
      `Servers marked **no** are out of traffic on the load balancer (${md(advice.outOfTraffic)}). Fix the version and deploy again; the rollout starts from the first target. The error message says how to put a server back by hand.`,
    );
  }
  return [...lines, ...fleet, ...timelineDetails(events)].join('\n') + runLink();
}

export function timelineDetails(events: readonly Event[]): string[] {
  return [
    '',
    '<details><summary>Timeline</summary>',
    '',
    ...events.map(
      (e) =>
        `- ${e.at.toISOString()} ${md(e.text.replace(/\n/g, ' '))}${e.sent ? ` — sent ${e.sent.toISOString()}` : ''}`,
    ),
    '',
    '</details>',
  ];
}

/** A step's verdict cell: passed, failed, or held (the run stopped while the judge held it) and why. */
function stepVerdict(step: ShiftOutcome['steps'][number], last: string): string {
  if (step.held) return `⏸️ held, not passed: ${md(step.held)}`;
  if (step.cut) return `⏹️ stopped while watching: ${md(last)}`;
  return `${step.passed ? '✅' : '❌'} ${md(last)}`;
}

export function renderShift(
  outcome: ShiftOutcome,
  settings: Settings,
  events: readonly Event[],
  advice: Advice,
  fleet: readonly string[] = [],
): string {
  const strategy = settings.strategy?.name ?? 'canary';
  const lines = [
    headline(outcome.result, outcome.message),
    '',
    `### Steps (${strategy} of version ${code(settings.version)}, ${md(settings.loadBalancer.display)})`,
    '',
  ];
  lines.push(
    '| step | started | duration | share on new | new: requests | new: failed | new: error rate | stable: requests | stable: error rate | new: latency | stable: latency | probe p50 / p95 | verdict |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const step of outcome.steps) {
    const req = step.windows.reduce((n, w) => n + w.data.requests, 0);
    const fail = step.windows.reduce((n, w) => n + w.data.failures + w.data.probesFailed, 0);
    const sreq = step.windows.reduce((n, w) => n + (w.stable?.requests ?? 0), 0);
    const sfail = step.windows.reduce((n, w) => n + (w.stable?.failures ?? 0), 0);
    const last = step.windows.at(-1)?.verdict ?? '';
    lines.push(
      `| ${step.index} | ${step.startedAt.toISOString().slice(11, 19)} | ${formatDuration(step.durationMs)} | ${formatPercent(step.achieved)} | ${req} | ${fail} | ${formatShare(fail, req)} | ${sreq || '-'} | ${formatShare(sfail, sreq)} | ${servedText(step.windows, 'canary')} | ${servedText(step.windows, 'stable')} | ${latencyText(step.windows.flatMap((w) => w.latencies))} | ${stepVerdict(step, last)} |`,
    );
  }
  lines.push(...renderCheckResults(outcome.checks ?? []));
  if (outcome.newShare && outcome.newShare.total > 0) {
    const { requests, total } = outcome.newShare;
    lines.push(
      '',
      `The new version answered ${requests} of ${total} requests (${formatShare(requests, total)}) from the first shift to the end.`,
    );
  }
  lines.push(...shareChart(outcome.shares, settings.version));
  lines.push(...latencyChart(outcome.steps, settings.version));
  lines.push('', '### Servers at the end', '', '| server | pool | version | weight |', '|---|---|---|---|');
  for (const s of outcome.servers) {
    const version = s.version === 'new' ? settings.version : s.version === 'old' ? 'previous' : s.version;
    lines.push(`| ${md(s.id)} | ${md(s.pool)} | ${md(version)} | ${s.weight} |`);
  }
  if (outcome.result === 'paused') {
    lines.push(
      '',
      '### What to do next',
      '',
      'Continue in a later job (for example one in an environment with required reviewers), with the same `environment`, `load-balancer` and `pools`:',
      '',
      '```yaml',
      '- uses: <owner>/zero-downtime-deploy@v1',
      '  with:',
      '    action: promote        # or: abort, to send all traffic back to the stable pool',
      `    environment: ${settings.environment.replace(/`/g, '')}`,
      `    load-balancer: ${settings.loadBalancer.display.replace(/`/g, '')}`,
      `    pools: ${(settings.pools ?? []).map((p) => `${p.name}=${p.selectors.map((s) => s.text).join(' ')}`).join(', ')}`,
      '```',
    );
  } else if (outcome.result !== 'succeeded') {
    lines.push(
      '',
      '### What to do next',
      '',
      `Pool **${md(outcome.livePool)}** serves the traffic. Fix the version and deploy again: it goes to the idle pool as before.`,
    );
  } else {
    lines.push(
      '',
      '### What to do next',
      '',
      `To switch back at once, deploy the previous version: it goes to the now idle pool. By hand: set the weights of **${md(outcome.livePool)}** to 0${advice.zeroWeight ? ` (${md(advice.zeroWeight)})` : ''} and the other pool's back.`,
    );
  }
  return [...lines, ...fleet, ...timelineDetails(events)].join('\n') + runLink();
}

export async function writeSummary(markdown: string): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  await core.summary.addRaw(markdown, true).write();
}
