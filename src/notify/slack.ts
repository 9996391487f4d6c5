/**
 * Slack incoming webhooks: a Block Kit message (header, the verdict, the facts, links as buttons), typed by Slack's
 * own `@slack/types`, with `text` as the notification's fallback. Slack's limits are kept: header 150 characters,
 * section text 3000, at most 10 fields of 2000, button labels 75.
 */
import type { ActionsBlock, ContextBlock, HeaderBlock, KnownBlock, SectionBlock } from '@slack/types';
import { factsOf, titleOf, type Envelope } from './event.js';

/** The body an incoming webhook takes: https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks */
export interface SlackMessage {
  readonly text: string;
  readonly blocks: KnownBlock[];
}

/**
 * Slack's mrkdwn needs only &, < and > escaped (https://docs.slack.dev/messaging/formatting-message-text); the text
 * objects are also `verbatim`, so Slack does not turn a plain `@here`, `#channel` or URL in text we did not write
 * into a mention or a link ("certain mentions will be automatically parsed" otherwise).
 */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** At most `max` UTF-16 units, never half a character (a lone surrogate, which a JSON reader may refuse). */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 2)) ? max - 2 : max - 1;
  return `${text.slice(0, end)}…`;
}

function linkButtons(e: Envelope): ActionsBlock | undefined {
  const buttons: [string, string | undefined, 'primary' | 'danger' | undefined][] = [
    ['Promote (run with action: promote)', e.links.promote, 'primary'],
    ['Abort (run with action: abort)', e.links.abort, 'danger'],
    ['Workflow run and logs', e.links.run, undefined],
  ];
  const elements = buttons.flatMap(([label, url, style], i) =>
    url
      ? [
          {
            type: 'button' as const,
            text: { type: 'plain_text' as const, text: clip(label, 75) },
            url,
            action_id: `zdd-link-${i}`,
            ...(style ? { style } : {}),
          },
        ]
      : [],
  );
  return elements.length ? { type: 'actions', elements } : undefined;
}

export function slackMessage(e: Envelope): SlackMessage {
  const header: HeaderBlock = {
    type: 'header',
    text: { type: 'plain_text', text: clip(titleOf(e), 150), emoji: true },
  };
  const verdict: SectionBlock = {
    type: 'section',
    text: { type: 'mrkdwn', text: clip(slackEscape(e.verdict), 3000), verbatim: true },
  };
  const facts: SectionBlock = {
    type: 'section',
    fields: factsOf(e)
      .slice(0, 10)
      .map(([label, value]) => ({
        type: 'mrkdwn' as const,
        text: clip(`*${label}*\n${slackEscape(value)}`, 2000),
        verbatim: true,
      })),
  };
  const context: ContextBlock = {
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: clip(
          slackEscape(`zero-downtime-deploy · ${e.facts.loadBalancer} · event ${e.sequence} · ${e.at.toISOString()}`),
          3000,
        ),
        verbatim: true,
      },
    ],
  };
  const links = linkButtons(e);
  return {
    text: clip(slackEscape(`${titleOf(e)}: ${e.verdict}`), 3000),
    blocks: [header, verdict, facts, ...(links ? [links] : []), context],
  };
}
