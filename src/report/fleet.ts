/** The fleet in the job summary: its members, and when each took each change. */
import type { Driver } from '../lb/driver.js';
import { FleetDriver, type FleetWrite } from '../lb/fleet/driver.js';
import { md } from './markdown.js';

/** Rows shown before the rest are counted only (a long canary sends many changes). */
const MAX_ROWS = 40;

/** From the first member's write answered to the last's: how long members routed differently. */
export function skewMs(write: FleetWrite): number | undefined {
  const done = write.members.filter((m) => !m.error).map((m) => m.doneAt);
  return done.length === write.members.length && done.length ? Math.max(...done) - Math.min(...done) : undefined;
}

export function renderFleet(driver: Driver): string[] {
  if (!(driver instanceof FleetDriver)) return [];
  const members = driver.members.map((m) => m.url.display);
  const lines = [
    '',
    `### Load balancers (${members.length}, moved as one)`,
    '',
    'Each change was sent to every load balancer at once and read back on all of them before the rollout went on. Per load balancer: when it answered, after the change was sent; skew: from the first answer to the last.',
    '',
    `| # | sent (UTC) | change | ${members.map(md).join(' | ')} | skew |`,
    `|---|---|---|${members.map(() => '---').join('|')}|---|`,
  ];
  driver.writes.slice(0, MAX_ROWS).forEach((write, i) => {
    const sent = Math.min(...write.members.map((m) => m.sentAt));
    const cells = members.map((member) => {
      const done = write.members.find((m) => m.member === member);
      if (!done) return '-';
      return done.error ? `❌ ${md(done.error)}` : `+${Math.round(done.doneAt - sent)}ms`;
    });
    const skew = skewMs(write);
    const at = new Date(sent).toISOString().slice(11, 23);
    lines.push(
      `| ${i + 1} | ${at} | ${md(write.changes)} | ${cells.join(' | ')} | ${skew === undefined ? '-' : `${Math.round(skew)}ms`} |`,
    );
  });
  if (driver.writes.length > MAX_ROWS) lines.push('', `${driver.writes.length - MAX_ROWS} more changes not shown.`);
  return lines;
}
