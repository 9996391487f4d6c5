/** The team's checks in the job summary: the plan's list (dry run) and each check's last result per stage. */
import type { CheckRecord } from '../checks/runner.js';
import { CHECK_POINT_TEXT, describeCheck, type CheckSpec } from '../model/checks.js';
import { formatDuration } from '../model/durations.js';
import { code, md } from './markdown.js';

function short(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** Each check's last result at each stage: value, verdict, time, and how many of its runs failed there. */
export function renderCheckResults(records: readonly CheckRecord[], heading = 'Checks'): string[] {
  if (records.length === 0) return [];
  return [
    '',
    `### ${heading}`,
    '',
    '| check | stage | against | last value | verdict | took | runs (failed) | detail |',
    '|---|---|---|---|---|---|---|---|',
    ...records.map(
      (r) =>
        `| ${md(r.name)} | ${md(r.stage)} | ${md(r.target ? `${r.target}${r.role === 'stable' ? ' (stable)' : ''}` : '-')} | ${code(r.value)} | ${r.passed ? '✅ pass' : '❌ fail'} | ${formatDuration(r.ms)} | ${r.runs} (${r.failures}) | ${md(short(r.detail))} |`,
    ),
  ];
}

/** The checks the rollout would run, with the point each runs at (dry run: none is run). */
export function renderCheckPlan(checks: readonly CheckSpec[]): string {
  if (checks.length === 0) return '';
  return [
    '',
    '### Checks',
    '',
    '| check | runs | kind | what | timeout |',
    '|---|---|---|---|---|',
    ...checks.map(
      (c) =>
        `| ${md(c.name)} | ${md(CHECK_POINT_TEXT[c.at])}${c.at === 'during' ? `, every ${formatDuration(c.intervalMs)}` : ''} | ${c.kind} | ${code(short(describeCheck(c)))} | ${formatDuration(c.timeoutMs)} |`,
    ),
  ].join('\n');
}

/** dry-run: checks: what each check read when tried once, and the ones not tried (they may change things). */
export function renderCheckTrial(
  records: readonly CheckRecord[],
  skipped: readonly { readonly name: string; readonly why: string }[],
): string {
  const failed = records.filter((r) => !r.passed).length;
  return [
    ...renderCheckResults(records, 'Checks tried once'),
    ...(records.length
      ? [
          '',
          failed
            ? `${failed} of ${records.length} failed: the rollout would not pass them as they are now.`
            : `All ${records.length} passed.`,
        ]
      : []),
    ...(skipped.length ? ['', ...skipped.map((s) => `- ${md(s.name)}: ${s.why}`)] : []),
  ].join('\n');
}
