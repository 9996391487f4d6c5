/**
 * Delivery to one target: its events in order, one at a time, each attempt with a timeout, a few attempts with
 * backoff (or the receiver's Retry-After, up to 5s), never an exception. Runs beside the rollout (nothing awaits it until the run ends), so a slow or failing
 * receiver never delays a traffic change. A target that failed an event gets one attempt per later event.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { NotifyTarget } from '../model/notify.js';
import { formatDuration } from '../model/durations.js';
import { sleep } from '../model/time.js';
import { failureReason } from '../probes/http.js';
import type { Envelope } from './event.js';

/** A request body and its headers, built again for every attempt (a signature carries the attempt's time). */
export type Render = (e: Envelope, now: Date) => { readonly body: string; readonly headers: Record<string, string> };

export interface DeliveryPolicy {
  readonly attempts: number;
  /** Wait before the second attempt; doubled for each later one. */
  readonly backoffMs: number;
}

export const DEFAULT_POLICY: DeliveryPolicy = { attempts: 3, backoffMs: 500 };

/** The longest a target's event can take, all attempts and waits included: what the end of the run waits at most. */
export function worstCaseMs(target: NotifyTarget, policy: DeliveryPolicy): number {
  let total = 0;
  for (let i = 0; i < policy.attempts; i++) total += target.timeoutMs + (i > 0 ? policy.backoffMs * 2 ** (i - 1) : 0);
  return total;
}

/** Status codes worth another attempt: the receiver may answer next time. */
function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** The longest Retry-After honoured (Slack answers 429 with one when a webhook gets more than about 1 message/s). */
const RETRY_AFTER_MAX_MS = 5000;

/** A Retry-After in seconds, as ms within RETRY_AFTER_MAX_MS; 0 when absent or an HTTP date (the backoff applies). */
function retryAfterMs(header: string | string[] | undefined): number {
  const seconds = Number(Array.isArray(header) ? header[0] : header);
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, RETRY_AFTER_MAX_MS) : 0;
}

/** How much of a refusal's body is read (its first words say why); the rest is never downloaded. */
const REFUSAL_BYTES = 2048;

/** The first bytes of a body, then the body destroyed: a receiver answering with gigabytes costs nothing. */
async function firstBytes(body: Dispatcher.ResponseData['body'], max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= max) break;
    }
  } catch {
    // Cut off or timed out mid-body: what arrived says enough.
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

type Attempt = { ok: true } | { ok: false; retry: boolean; why: string; waitMs: number };

/**
 * Every form a receiver (or a proxy before it) could echo the target's URL in: whole, percent-encoded, its path and
 * query alone, and each path segment and query value long enough to be a token (Slack's is the path's last segment,
 * a Teams workflow's the `sig` value). The runner masks only the whole URL, so these would reach log and summary.
 */
export function urlForms(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [url];
  }
  // Token-like: long, or with a digit (not `services`, `workflows` or `invoke`, which stay readable).
  const parts = [...parsed.pathname.split('/'), ...parsed.searchParams.values()].filter(
    (p) => p.length >= 6 && (p.length >= 16 || /\d/.test(p)),
  );
  const whole = [url, parsed.href, parsed.pathname + parsed.search, parsed.search.slice(1)];
  const forms = [...whole, ...whole.map(encodeURIComponent), ...parts, ...parts.map(encodeURIComponent)];
  return [...new Set(forms.filter((f) => f.length >= 4))].sort((a, b) => b.length - a.length);
}

/** Printable, short, without the target's URL in any form (a receiver could echo it). */
function clean(text: string, url: string): string {
  return urlForms(url)
    .reduce((t, form) => t.replaceAll(form, '***'), text)
    .replace(/\p{Cc}+/gu, ' ')
    .trim()
    .slice(0, 120);
}

export class Channel {
  private tail: Promise<void> = Promise.resolve();
  private down = false;
  private sequence = 0;
  delivered = 0;
  readonly problems: string[] = [];

  constructor(
    readonly target: NotifyTarget,
    private readonly render: Render,
    private readonly policy: DeliveryPolicy,
    private readonly dispatcher: Agent,
    /** Aborted when the run stops waiting: attempts in flight end, queued events are dropped. */
    private readonly closing: AbortSignal,
    private readonly warn: (message: string) => void,
  ) {}

  /** Queues the event behind the target's earlier ones, numbered among them; returns at once. */
  enqueue(event: Omit<Envelope, 'sequence'>): void {
    const e: Envelope = { ...event, sequence: ++this.sequence };
    // A fault of ours (a format that throws) loses this event only: never the later ones, the run's end or result.
    this.tail = this.tail.then(() => this.deliver(e)).catch((error: unknown) => this.fault(e, error));
  }

  private fault(e: Envelope, error: unknown): void {
    const why = clean(error instanceof Error ? error.message : String(error), this.target.url);
    const problem = `${this.target.label}: event ${e.sequence} (${e.event}) not delivered: internal error (${why})`;
    this.problems.push(problem);
    this.warn(`notify: ${problem}; the rollout is not affected`);
  }

  /** Resolves when every queued event was delivered, failed, or dropped (never rejects). */
  idle(): Promise<void> {
    return this.tail;
  }

  private async deliver(e: Envelope): Promise<void> {
    const attempts = this.down ? 1 : this.policy.attempts;
    let why = 'not sent';
    let waitMs = 0;
    let tried = 0;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.closing.aborted) {
        // Tried already: why stays what the last attempt met (the run stopped waiting for it).
        if (tried === 0) why = 'the run ended before it could be sent';
        break;
      }
      if (attempt > 1) {
        const backoff = this.policy.backoffMs * 2 ** (attempt - 2);
        await sleep(Math.max(backoff, waitMs), this.closing).catch(() => undefined);
        if (this.closing.aborted) break;
      }
      const result = await this.attempt(e);
      tried++;
      if (result.ok) {
        this.delivered++;
        this.down = false;
        return;
      }
      why = result.why;
      waitMs = result.waitMs;
      if (!result.retry) break;
    }
    this.down = true;
    // The attempts made, not those allowed: a refusal not worth repeating (a 4xx, a redirect) was tried once.
    const tries = this.closing.aborted ? '' : ` after ${tried} attempt${tried === 1 ? '' : 's'}`;
    const problem = `${this.target.label}: event ${e.sequence} (${e.event}) not delivered${tries}: ${why}`;
    this.problems.push(problem);
    this.warn(`notify: ${problem}; the rollout is not affected`);
  }

  private async attempt(e: Envelope): Promise<Attempt> {
    const { url, timeoutMs } = this.target;
    const { body, headers } = this.render(e, new Date());
    try {
      const response = await request(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'user-agent': 'zero-downtime-deploy', ...headers },
        dispatcher: this.dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.closing]),
      });
      if (response.statusCode >= 200 && response.statusCode < 300) {
        // Taken: the status says so. Its body is not waited for (one that drips or breaks off is still taken, and
        // retrying it would deliver the event twice); a little of it is drained so the connection can be reused.
        response.body.dump({ limit: REFUSAL_BYTES }).catch(() => undefined);
        return { ok: true };
      }
      const said = clean(await firstBytes(response.body, REFUSAL_BYTES), url);
      return {
        ok: false,
        retry: retryable(response.statusCode),
        why: `HTTP ${response.statusCode}${said ? ` (${said})` : ''}`,
        waitMs: retryAfterMs(response.headers['retry-after']),
      };
    } catch (error) {
      const why = this.closing.aborted ? 'the run stopped waiting for it' : clean(failureReason(error, timeoutMs), url);
      return { ok: false, retry: true, why: why || `no answer within ${formatDuration(timeoutMs)}`, waitMs: 0 };
    }
  }
}
