/** The job summary's account of notifications: what arrived where, and every event that did not. */
import { md } from '../report/markdown.js';
import type { NotifyReport } from './registry.js';

export function renderNotifications(report: NotifyReport): string {
  const delivered = [...report.delivered].map(([label, n]) => `${md(label)}: ${n} event${n === 1 ? '' : 's'}`);
  const lines = ['', '### Notifications', '', `Delivered: ${delivered.join('; ')}.`];
  if (report.problems.length) {
    lines.push(
      '',
      `⚠️ ${report.problems.length} not delivered (warnings only: the rollout and its result were not affected):`,
      '',
      ...report.problems.map((p) => `- ${md(p)}`),
    );
  }
  return lines.join('\n');
}
