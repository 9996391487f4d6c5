/**
 * The generic JSON webhook: a documented, versioned payload (docs/notifications.md), optionally signed.
 * Signature: `X-ZDD-Signature: v1=HEX(HMAC-SHA256(secret, TIMESTAMP + "." + BODY))` with `X-ZDD-Timestamp` (Unix
 * seconds, the attempt's own), so a receiver verifies the body and rejects an old or replayed delivery.
 */
import { createHmac } from 'node:crypto';
import type { Envelope } from './event.js';

export const WEBHOOK_SCHEMA = 1;

export interface WebhookPayload {
  readonly schema: typeof WEBHOOK_SCHEMA;
  readonly id: string;
  readonly sequence: number;
  readonly event: Envelope['event'];
  readonly at: string;
  readonly verdict: string;
  readonly action: string;
  readonly strategy: string | null;
  readonly version: string;
  readonly environment: string | null;
  readonly loadBalancer: string;
  readonly step: { readonly index: number; readonly of: number } | null;
  readonly weights: { readonly new: number; readonly stable: number } | null;
  readonly pools: { readonly stable: string; readonly new: string } | null;
  readonly counts: { readonly requests: number; readonly failed: number } | null;
  readonly preview: { readonly key: string } | null;
  readonly links: { readonly run: string | null; readonly promote: string | null; readonly abort: string | null };
}

/** Shares in percent to 0.01 (85 of 341 weight is 24.93%). */
const hundredths = (percent: number) => Math.round(percent * 100) / 100;

export function webhookPayload(e: Envelope): WebhookPayload {
  return {
    schema: WEBHOOK_SCHEMA,
    id: e.id,
    sequence: e.sequence,
    event: e.event,
    at: e.at.toISOString(),
    verdict: e.verdict,
    action: e.facts.action,
    strategy: e.facts.strategy ?? null,
    version: e.facts.version,
    environment: e.facts.environment ?? null,
    loadBalancer: e.facts.loadBalancer,
    step: e.step ?? null,
    weights: e.share === undefined ? null : { new: hundredths(e.share), stable: hundredths(100 - e.share) },
    pools: e.pools ?? null,
    counts: e.counts ?? null,
    preview: e.previewKey ? { key: e.previewKey } : null,
    links: { run: e.links.run ?? null, promote: e.links.promote ?? null, abort: e.links.abort ?? null },
  };
}

/** The signature header's value for one attempt: `v1=` and the hex HMAC-SHA256 of `TIMESTAMP.BODY`. */
export function signature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Headers every webhook delivery carries; the signature ones only with a secret. */
export function webhookHeaders(e: Envelope, body: string, secret: string, now: Date): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    'x-zdd-event': e.event,
    'x-zdd-delivery': e.id,
    'x-zdd-timestamp': String(timestamp),
    ...(secret ? { 'x-zdd-signature': signature(secret, timestamp, body) } : {}),
  };
}
