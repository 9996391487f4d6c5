/**
 * The one place that knows every notification format, and the Notifier the use cases report to: it numbers the
 * run's events, fans each out to the targets that want it, and at the end waits a bounded time for delivery.
 */
import { randomUUID } from 'node:crypto';
import * as core from '@actions/core';
import { Agent } from 'undici';
import { EVENT_KINDS, type EventKind, type NotifyKind, type NotifyTarget } from '../model/notify.js';
import type { Settings } from '../settings.js';
import { Channel, DEFAULT_POLICY, urlForms, worstCaseMs, type DeliveryPolicy, type Render } from './deliver.js';
import { linksOf, runFacts, type Envelope, type Notification, type RunFacts } from './event.js';
import { clip, slackMessage } from './slack.js';
import { teamsMessage } from './teams.js';
import { webhookHeaders, webhookPayload } from './webhook.js';

function renderer(target: NotifyTarget): Render {
  const formats: Record<NotifyKind, Render> = {
    slack: (e) => ({ body: JSON.stringify(slackMessage(e)), headers: {} }),
    teams: (e) => ({ body: JSON.stringify(teamsMessage(e)), headers: {} }),
    webhook: (e, now) => {
      const body = JSON.stringify(webhookPayload(e));
      return { body, headers: webhookHeaders(e, body, target.secret, now) };
    },
  };
  return formats[target.kind];
}

/** Events that end a run (all but those on the way): after one, a later failure is not reported again. */
const ON_THE_WAY: readonly EventKind[] = ['started', 'promoted', 'step-passed'];
const FINAL: ReadonlySet<EventKind> = new Set(EVENT_KINDS.filter((e) => !ON_THE_WAY.includes(e)));

/**
 * The longest sentence an event carries: a verdict quotes a failing command's last 5 lines, of any length, and Teams
 * refuses a message over 28 KB (Slack's section takes 3000 characters).
 */
const VERDICT_MAX = 2000;

/** Per target: its first failure a warning (saying where later ones go), the later ones log lines. */
function onceAWarning(warn: (m: string) => void, info: (m: string) => void): (label: string) => (m: string) => void {
  return (label) => {
    let warned = false;
    return (message) => {
      if (warned) return info(message);
      warned = true;
      warn(`${message} (later failures of ${label}: in the log and the summary, not as warnings)`);
    };
  };
}

/** What use cases and engine hooks report to; `send` returns at once. */
export interface Notify {
  send(notification: Notification): void;
  /** The rollout this run continues (promote, abort): its version and strategy, not this job's inputs. */
  describe(rollout: Partial<Pick<RunFacts, 'version' | 'strategy'>>): void;
  /** An end-of-run event was sent. */
  readonly ended: boolean;
}

export interface NotifyReport {
  /** Per target label, events delivered. */
  readonly delivered: ReadonlyMap<string, number>;
  /** Every event that did not arrive, and why. */
  readonly problems: readonly string[];
}

export interface NotifierOptions {
  readonly policy?: DeliveryPolicy;
  /** Where a target's first delivery failure goes as it happens (core.warning). */
  readonly warn?: (message: string) => void;
  /** Where its later ones go (core.info): a step gets 10 warning annotations, which a down target would use up. */
  readonly info?: (message: string) => void;
  /** Secrets no message may carry (the targets' URLs and keys are added). */
  readonly secrets?: readonly string[];
}

export class Notifier implements Notify {
  private readonly channels: Channel[];
  private readonly closing = new AbortController();
  private readonly dispatcher = new Agent({ keepAliveTimeout: 1000 });
  ended = false;

  private readonly policy: DeliveryPolicy;
  /** Longest first, so a secret inside another is not left half shown. */
  private readonly secrets: readonly string[];

  constructor(
    targets: readonly NotifyTarget[],
    private facts: RunFacts,
    options: NotifierOptions = {},
  ) {
    this.policy = options.policy ?? DEFAULT_POLICY;
    const warn = onceAWarning(options.warn ?? core.warning, options.info ?? core.info);
    this.secrets = [...(options.secrets ?? []), ...targets.flatMap((t) => [...urlForms(t.url), t.secret])]
      .filter((secret) => secret.length >= 4)
      .sort((a, b) => b.length - a.length);
    this.channels = targets.map(
      (t) => new Channel(t, renderer(t), this.policy, this.dispatcher, this.closing.signal, warn(t.label)),
    );
  }

  /**
   * The runner masks secrets in the log, not in what we send: a verdict can quote a failing command's output, so the
   * action's own secrets (tokens, notification URLs and keys) are taken out of it.
   */
  private redact(text: string): string {
    return this.secrets.reduce((t, secret) => t.replaceAll(secret, '***'), text);
  }

  describe(rollout: Partial<Pick<RunFacts, 'version' | 'strategy'>>): void {
    this.facts = { ...this.facts, ...rollout };
  }

  send(notification: Notification): void {
    if (FINAL.has(notification.event)) this.ended = true;
    const wanting = this.channels.filter((c) => c.target.events.has(notification.event));
    if (!wanting.length) return;
    const envelope: Omit<Envelope, 'sequence'> = {
      ...notification,
      // Slack and Teams refuse an empty text block (an error thrown without a message would be one).
      verdict:
        clip(this.redact(notification.verdict).trim(), VERDICT_MAX) || "No details were given; the run's log has them.",
      id: randomUUID(),
      at: new Date(),
      facts: this.facts,
      links: linksOf(notification.event, this.facts),
    };
    for (const channel of wanting) channel.enqueue(envelope);
  }

  /**
   * Waits for the queued events, at most one event's worst case (every attempt timing out) from now, or `maxWaitMs`
   * if shorter; what is still queued then is dropped and reported. `cancelled` (the run's cancel or deadline) firing
   * while it waits cuts what is left of the wait to `cancelledWaitMs`. Never throws.
   */
  async close(maxWaitMs = Infinity, cancelled?: AbortSignal, cancelledWaitMs = 0): Promise<NotifyReport> {
    const worst = Math.max(0, ...this.channels.map((c) => worstCaseMs(c.target, this.policy)));
    const stop = () => this.closing.abort(new Error('notifications: the run stopped waiting'));
    const timers = [setTimeout(stop, Math.min(worst, maxWaitMs))];
    const onCancel = () => timers.push(setTimeout(stop, cancelledWaitMs));
    cancelled?.addEventListener('abort', onCancel, { once: true });
    await Promise.all(this.channels.map((c) => c.idle()));
    cancelled?.removeEventListener('abort', onCancel);
    for (const timer of timers) clearTimeout(timer);
    await this.dispatcher.destroy().catch(() => undefined);
    return {
      delivered: new Map(this.channels.map((c) => [c.target.label, c.delivered])),
      problems: this.channels.flatMap((c) => c.problems),
    };
  }
}

/** Sends nothing (no `notify` input). */
export const NO_NOTIFY: Notify = { send: () => undefined, describe: () => undefined, ended: false };

export function createNotifier(settings: Settings): Notifier | undefined {
  const targets = settings.notify ?? [];
  const secrets = [settings.githubToken, settings.loadBalancerToken];
  return targets.length ? new Notifier(targets, runFacts(settings), { secrets }) : undefined;
}
