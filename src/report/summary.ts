/** The job summary: the verdict first, then the story. */
import * as core from '@actions/core';
import { errorRate } from '../analysis/window.js';
import type { RollingOutcome } from '../engine/rolling.js';
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
  lines.push('', '<details><summary>Timeline</summary>', '', ...events.map((e) => `- ${e.at.toISOString().slice(11, 23)} ${e.text}`), '', '</details>');
  return lines.join('\n') + runLink();
}

export async function writeSummary(markdown: string): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  await core.summary.addRaw(markdown, true).write();
}
