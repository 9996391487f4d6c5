/** What a preview run tells people: the pull-request comment and the job summary, from one outcome. Pure. */
import type { Event } from '../engine/timeline.js';
import type { PreviewOutcome } from '../engine/preview/preview.js';
import { formatPercent, formatShare } from '../model/format.js';
import type { Settings } from '../settings.js';
import { headline, runLink, timelineDetails } from './summary.js';
import { code, md } from './markdown.js';

/** The URL that sets the preview cookie (the HAProxy lines of docs/previews.md turn `?preview=KEY` into the cookie). */
export function previewLink(siteUrl: string, key: string): string {
  if (!siteUrl) return '';
  const url = new URL(siteUrl);
  url.searchParams.set('preview', key);
  return url.toString();
}

function state(outcome: PreviewOutcome, closing: boolean): string {
  if (closing) return 'closed';
  if (outcome.result === 'rolled-back') return 'live, but it failed as a canary on real traffic';
  return outcome.result === 'succeeded' ? 'live' : 'the new build failed its checks';
}

function canaryText(canary: NonNullable<PreviewOutcome['canary']>): string {
  return (
    `${formatPercent(canary.share, 'fixed')} of ${md(canary.backend)}'s traffic, ${canary.windows} window(s): ${canary.failures} of ${canary.requests} failed (${formatShare(canary.failures, canary.requests)}; ` +
    `stable ${formatShare(canary.stableFailures, canary.stableRequests)} of ${canary.stableRequests}); ${canary.passed ? 'passed' : `**failed**: ${md(canary.verdict)}`}; taken out of real traffic again`
  );
}

function howToReach(settings: Settings, key: string, linkSetsCookie = true): string[] {
  const site = settings.environmentUrl || 'https://your-site.example/';
  const link = previewLink(settings.environmentUrl, key);
  return [
    `Requests that carry the header \`X-Preview: ${key}\` or the cookie \`preview=${key}\` reach this build; everyone else's traffic is unchanged.`,
    '',
    '```sh',
    `curl -H 'X-Preview: ${key}' ${site}`,
    '```',
    '',
    link && linkSetsCookie
      ? `In a browser, open ${link}: it sets the \`preview\` cookie, so the pages you click next come from this build too. Delete the cookie to leave.`
      : link
        ? `In a browser, open ${link} for one page of this build; for the pages you click next, set the cookie \`preview=${key}\` for the site (this load balancer cannot set it).`
        : `In a browser, set the cookie \`preview=${key}\` for the site${linkSetsCookie ? ' (give `environment-url` to get a link that sets it)' : ''}.`,
  ];
}

function table(outcome: PreviewOutcome, settings: Settings, closing: boolean, at: Date): string[] {
  const server = outcome.routedTo;
  const rows: [string, string][] = [
    ['status', state(outcome, closing)],
    ['version', closing ? '-' : `${code(settings.version)}${outcome.current ? '' : ' (not serving)'}`],
    [
      'server',
      server ? `${code(server.id)} at ${code(server.address)}${outcome.current ? '' : ' (the previous build)'}` : '-',
    ],
    ['health', server ? healthText(server, settings, outcome) : md(outcome.failure ?? '-')],
    ...(outcome.canary ? [['canary', canaryText(outcome.canary)] as [string, string]] : []),
    ['updated', `${at.toISOString().replace(/\.\d+Z$/, 'Z')}`],
  ];
  return ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`)];
}

function healthText(
  server: NonNullable<PreviewOutcome['routedTo']>,
  settings: Settings,
  outcome: PreviewOutcome,
): string {
  const parts = [server.check ? `load balancer check: ${md(server.check.status)}` : 'no load balancer check'];
  if (settings.probe.healthUrl && outcome.current)
    parts.push(`health-url passed ${settings.probe.healthyThreshold} probes in a row`);
  if (outcome.failure) parts.push(`new build: ${md(outcome.failure)}`);
  return parts.join('; ');
}

/** The pull-request comment, edited in place on every run. */
export function renderPreviewComment(
  outcome: PreviewOutcome,
  settings: Settings,
  closing: boolean,
  at: Date,
  runUrl: string | undefined,
): string {
  const key = outcome.key;
  const lines = [`### Preview \`${key}\`: ${state(outcome, closing)}`, ''];
  if (closing) {
    lines.push(
      `Removed from the load balancer${outcome.removed.length ? ` (${outcome.removed.map((id) => code(id)).join(', ')})` : ''}. Requests that carry \`${key}\` get the normal site again.`,
    );
  } else if (outcome.result !== 'succeeded') {
    lines.push(md(outcome.message), '');
    if (outcome.routedTo) lines.push(...howToReach(settings, key, outcome.linkSetsCookie));
  } else {
    lines.push(...howToReach(settings, key, outcome.linkSetsCookie));
  }
  lines.push('', ...table(outcome, settings, closing, at));
  if (runUrl) lines.push('', `[Workflow run and logs](${runUrl})`);
  return lines.join('\n');
}

/** The job summary of a preview or close-preview run. */
export function renderPreviewSummary(
  outcome: PreviewOutcome,
  settings: Settings,
  closing: boolean,
  events: readonly Event[],
): string {
  const lines = [
    headline(outcome.result, outcome.message),
    '',
    `### Preview ${code(outcome.key)} (${md(settings.loadBalancer.display)})`,
    '',
  ];
  if (!closing && outcome.routedTo) lines.push(...howToReach(settings, outcome.key, outcome.linkSetsCookie), '');
  lines.push(...table(outcome, settings, closing, events.at(-1)?.at ?? new Date()));
  return [...lines, ...timelineDetails(events)].join('\n') + runLink();
}
