/**
 * Microsoft Teams workflows ("When a Teams webhook request is received"): a message with one Adaptive Card
 * attachment. The card uses only elements of Adaptive Cards 1.0 (TextBlock, FactSet, Action.OpenUrl), which every
 * Teams client renders, and is checked in tests against the Adaptive Card JSON schema and Microsoft's own parser.
 */
import { factsOf, titleOf, type Envelope } from './event.js';

export interface AdaptiveCard {
  readonly $schema: 'http://adaptivecards.io/schemas/adaptive-card.json';
  readonly type: 'AdaptiveCard';
  readonly version: string;
  readonly body: readonly Record<string, unknown>[];
  readonly actions: readonly { type: 'Action.OpenUrl'; title: string; url: string }[];
  readonly msteams: { readonly width: 'Full' };
}

export interface TeamsMessage {
  readonly type: 'message';
  readonly attachments: readonly [
    {
      readonly contentType: 'application/vnd.microsoft.card.adaptive';
      readonly contentUrl: null;
      readonly content: AdaptiveCard;
    },
  ];
}

const COLOR: Partial<Record<Envelope['event'], string>> = {
  'rolled-back': 'attention',
  failed: 'attention',
  aborted: 'warning',
  paused: 'warning',
  succeeded: 'good',
  'step-passed': 'good',
};

/**
 * Teams renders TextBlock text and fact values as Markdown (a CommonMark subset: emphasis, lists, links). Text we
 * did not write (a version, a verdict quoting a command's output) is escaped, so `[Approve](https://evil)` shows as
 * written instead of as a link to somewhere else, and `app/green*` does not turn into italics.
 */
export function teamsEscape(text: string): string {
  return text.replace(/[\\`*_~[\]<>]/g, '\\$&');
}

export function adaptiveCard(e: Envelope): AdaptiveCard {
  const actions = (
    [
      ['Promote (run with action: promote)', e.links.promote],
      ['Abort (run with action: abort)', e.links.abort],
      ['Workflow run and logs', e.links.run],
    ] as const
  ).flatMap(([title, url]) => (url ? [{ type: 'Action.OpenUrl' as const, title, url }] : []));
  return {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body: [
      {
        type: 'TextBlock',
        text: teamsEscape(titleOf(e)),
        size: 'medium',
        weight: 'bolder',
        wrap: true,
        ...(COLOR[e.event] ? { color: COLOR[e.event] } : {}),
      },
      { type: 'TextBlock', text: teamsEscape(e.verdict), wrap: true },
      { type: 'FactSet', facts: factsOf(e).map(([title, value]) => ({ title, value: teamsEscape(value) })) },
      {
        type: 'TextBlock',
        text: teamsEscape(
          `zero-downtime-deploy · ${e.facts.loadBalancer} · event ${e.sequence} · ${e.at.toISOString()}`,
        ),
        size: 'small',
        isSubtle: true,
        wrap: true,
      },
    ],
    actions,
    msteams: { width: 'Full' },
  };
}

export function teamsMessage(e: Envelope): TeamsMessage {
  return {
    type: 'message',
    attachments: [
      { contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: adaptiveCard(e) },
    ],
  };
}
