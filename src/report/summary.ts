/** The job summary: the verdict first, then the story. */
import * as core from '@actions/core';
import { errorRate } from '../analysis/window.js';
import type { RollingOutcome } from '../engine/rolling.js';
import type { ShiftOutcome } from '../engine/shift.js';
import type { Event } from '../engine/timeline.js';
import { formatDuration } from '../plan/durations.js';
import type { Settings } from '../settings.js';
import type { Result } from './outputs.js';

const HEADLINE: Record<Result, string> = {
  succeeded: '✅ Succeeded',
  paused: '⏸️ Paused',
  'rolled-back': '↩️ Rolled back',
  failed: '❌ Failed',
  aborted: '🛑 Aborted',
  unchanged: 'ℹ️ Unchanged',
};

export function headline(result: Result, sentence: string): string {
  return `## zero-downtime-deploy: ${HEADLINE[result]}\n\n${sentence}`;
}

function runLink(): string {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run } = process.env;
  return server && repo && run ? `\n\n[Workflow run](${server}/${repo}/actions/runs/${run})` : '';
}

export function renderRolling(outcome: RollingOutcome, settings: Settings, events: readonly Event[]): string {
  const lines = [headline(outcome.result, outcome.message), '', `### Batches (version \`${settings.version}\`, ${settings.loadBalancer.display})`, ''];
  lines.push('| batch | servers | started | duration | requests | failed | error rate | verdict |', '|---|---|---|---|---|---|---|---|');
  for (const b of outcome.batches) {
    const w = b.window;
    lines.push(
      `| ${b.index} | ${b.servers.join(' ')} | ${b.startedAt.toISOString().slice(11, 19)} | ${formatDuration(b.durationMs)} | ${w?.requests ?? '-'} | ${w ? w.failures + w.probesFailed : '-'} | ${w ? `${Math.round(errorRate(w) * 1000) / 10}%` : '-'} | ${b.passed ? '✅' : '❌'} ${b.verdict.replace(/\|/g, '\\|')} |`,
    );
  }
  lines.push('', '### Servers at the end', '', '| server | version | in traffic |', '|---|---|---|');
  for (const s of outcome.servers) {
    const version = s.version === 'new' ? settings.version : s.version === 'old' ? 'previous' : s.version;
    lines.push(`| ${s.id} | ${version} | ${s.inTraffic ? 'yes' : '**no**'} |`);
  }
  if (outcome.result !== 'succeeded') {
    lines.push('', '### What to do next', '', 'Servers marked **no** are in maintenance on the load balancer. Fix the version and deploy again; the rollout starts from the first target. To put a server back by hand on HAProxy: `set server BACKEND/SERVER state ready`.');
  }
  return [...lines, ...timelineDetails(events)].join('\n') + runLink();
}

function timelineDetails(events: readonly Event[]): string[] {
  return ['', '<details><summary>Timeline</summary>', '', ...events.map((e) => `- ${e.at.toISOString()} ${e.text.replace(/\n/g, ' ')}`), '', '</details>'];
}

function rate(requests: number, failures: number): string {
  return requests ? `${Math.round((1000 * failures) / requests) / 10}%` : '-';
}

export function renderShift(outcome: ShiftOutcome, settings: Settings, events: readonly Event[]): string {
  const strategy = settings.strategy?.name ?? 'canary';
  const lines = [headline(outcome.result, outcome.message), '', `### Steps (${strategy} of version \`${settings.version}\`, ${settings.loadBalancer.display})`, ''];
  lines.push('| step | started | duration | share on new | new: requests | new: failed | new: error rate | stable: requests | stable: error rate | verdict |', '|---|---|---|---|---|---|---|---|---|---|');
  for (const step of outcome.steps) {
    const req = step.windows.reduce((n, w) => n + w.data.requests, 0);
    const fail = step.windows.reduce((n, w) => n + w.data.failures + w.data.probesFailed, 0);
    const sreq = step.windows.reduce((n, w) => n + (w.stable?.requests ?? 0), 0);
    const sfail = step.windows.reduce((n, w) => n + (w.stable?.failures ?? 0), 0);
    const last = step.windows.at(-1)?.verdict ?? '';
    lines.push(
      `| ${step.index} | ${step.startedAt.toISOString().slice(11, 19)} | ${formatDuration(step.durationMs)} | ${Math.round(step.achieved * 10) / 10}% | ${req} | ${fail} | ${rate(req, fail)} | ${sreq || '-'} | ${rate(sreq, sfail)} | ${step.passed ? '✅' : '❌'} ${last.replace(/\|/g, '\\|')} |`,
    );
  }
  if (outcome.newShare && outcome.newShare.total > 0) {
    const { requests, total } = outcome.newShare;
    lines.push('', `The new version answered ${requests} of ${total} requests (${Math.round((1000 * requests) / total) / 10}%) from the first shift to the end.`);
  }
  lines.push('', '### Servers at the end', '', '| server | pool | version | weight |', '|---|---|---|---|');
  for (const s of outcome.servers) {
    const version = s.version === 'new' ? settings.version : s.version === 'old' ? 'previous' : s.version;
    lines.push(`| ${s.id} | ${s.pool} | ${version} | ${s.weight} |`);
  }
  if (outcome.result !== 'succeeded') {
    lines.push('', '### What to do next', '', `Pool **${outcome.livePool}** serves the traffic. Fix the version and deploy again: it goes to the idle pool as before.`);
  } else {
    lines.push('', '### What to do next', '', `To switch back at once, deploy the previous version: it goes to the now idle pool. By hand on HAProxy: set the weights of **${outcome.livePool}** to 0 and the other pool's back.`);
  }
  return [...lines, ...timelineDetails(events)].join('\n') + runLink();
}

export async function writeSummary(markdown: string): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  await core.summary.addRaw(markdown, true).write();
}
