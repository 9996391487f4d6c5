/**
 * The `notify` input: where rollout events go (Slack, Microsoft Teams, a generic JSON webhook) and which ones.
 * One target per line: `KIND URL [events=E1,E2] [secret=S] [timeout=5s]`. URLs and secrets are secrets: no
 * message of this module ever repeats them.
 */
import { parseDuration } from './durations.js';

export const NOTIFY_KINDS = ['slack', 'teams', 'webhook'] as const;
export type NotifyKind = (typeof NOTIFY_KINDS)[number];

/** Every event a rollout reports, in the order a run can send them. */
export const EVENT_KINDS = [
  'started',
  'promoted',
  'step-passed',
  'paused',
  'rolled-back',
  'succeeded',
  'failed',
  'aborted',
  'preview-opened',
  'preview-closed',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface NotifyTarget {
  readonly kind: NotifyKind;
  /** `slack #1`: how the log and summary name the target (never by its URL). */
  readonly label: string;
  readonly url: string;
  readonly events: ReadonlySet<EventKind>;
  /** webhook: the HMAC-SHA256 key for the signature header; empty: unsigned. */
  readonly secret: string;
  /** Per attempt. */
  readonly timeoutMs: number;
}

export const NOTIFY_TIMEOUT_DEFAULT_MS = 5000;
const NOTIFY_TIMEOUT_MAX_MS = 30_000;

const isKind = (token: string): boolean => (NOTIFY_KINDS as readonly string[]).includes(token);
/** Letters and dashes, short: a mistyped kind, never a URL or key. */
const isWord = (token: string): boolean => /^[A-Za-z-]{1,20}$/.test(token);

/**
 * Every token of the input that could be a secret, masked before anything is parsed: whatever stands where the URL
 * goes (with or without a scheme), a first token that is not a kind (a URL given without one), `secret=` values,
 * any token holding `://`, and any token that is not a known option.
 */
export function notifySecrets(text: string): string[] {
  return text
    .split('\n')
    .map((raw) => raw.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .flatMap((line) => {
      const [kind = '', url = '', ...rest] = line.split(/\s+/);
      // The URL's place may hold an option (its secret unset): its secret= value is masked too.
      const options = [url, ...rest].flatMap((token) =>
        token.startsWith('secret=')
          ? [token.slice('secret='.length)]
          : /:\/\//.test(token) || !/^(events|timeout)=/.test(token)
            ? [token]
            : [],
      );
      return [...new Set([...(isKind(kind) || isWord(kind) ? [] : [kind]), url, ...options])];
    })
    .filter((t) => t.length > 0);
}

/** How a refusal names a token that is not a kind: as written if it is a word (a typo), else not at all. */
function shownKind(token: string): string {
  return isWord(token) ? token : 'URL';
}

function parseEvents(text: string): Set<EventKind> | { error: string } {
  if (text === 'all') return new Set(EVENT_KINDS);
  const events = new Set<EventKind>();
  for (const name of text.split(',').map((e) => e.trim())) {
    if (!(EVENT_KINDS as readonly string[]).includes(name))
      return { error: `events: '${name}' is not one of all, ${EVENT_KINDS.join(', ')}` };
    events.add(name as EventKind);
  }
  return events;
}

function checkUrl(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'the URL is not a URL (it is masked, so it is not shown here)';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return `the URL is ${url.protocol}//, not https:// or http://`;
  if (url.username || url.password) return 'the URL holds a user or password; put credentials in secret= instead';
  return undefined;
}

type Option = 'events' | 'secret' | 'timeout';

function parseLine(line: string, number: number, counts: Map<NotifyKind, number>): NotifyTarget | { error: string } {
  const where = `line ${number}`;
  const [kind = '', url = '', ...rest] = line.split(/\s+/);
  if (!isKind(kind))
    return {
      error: `${where}: '${shownKind(kind)}' is not a target kind (${NOTIFY_KINDS.join(', ')}); write e.g. slack \${{ secrets.SLACK_WEBHOOK_URL }}`,
    };
  // An option where the URL goes: the secret holding the URL is unset or empty (`${{ secrets.TYPO }}` is '').
  const missing = !url || /^(events|secret|timeout)=/.test(url);
  const problem = missing ? `${kind} needs its URL after the kind (is the secret holding it unset?)` : checkUrl(url);
  if (problem) return { error: `${where}: ${problem}` };
  const options: Partial<Record<Option, string>> = {};
  for (const token of rest) {
    const eq = token.indexOf('=');
    const name = token.slice(0, eq);
    if (eq < 0 || !['events', 'secret', 'timeout'].includes(name))
      return {
        error: `${where}: '${eq < 0 || /:\/\//.test(token) ? '(masked)' : name}' is not an option (events=, secret=, timeout=)`,
      };
    options[name as Option] = token.slice(eq + 1);
  }
  const events = options.events === undefined ? new Set(EVENT_KINDS) : parseEvents(options.events);
  if ('error' in events) return { error: `${where}: ${events.error}` };
  if (options.secret !== undefined && kind !== 'webhook')
    return { error: `${where}: secret= signs the generic webhook only; ${kind} authenticates by its URL` };
  if (options.secret === '') return { error: `${where}: secret= is empty (an unset secret?); drop it or give the key` };
  let timeoutMs = NOTIFY_TIMEOUT_DEFAULT_MS;
  if (options.timeout !== undefined) {
    const ms = parseDuration(options.timeout);
    if (typeof ms !== 'number') return { error: `${where}: timeout=${ms.error}` };
    if (ms < 100 || ms > NOTIFY_TIMEOUT_MAX_MS) return { error: `${where}: timeout= must be 100ms to 30s` };
    timeoutMs = ms;
  }
  const count = (counts.get(kind as NotifyKind) ?? 0) + 1;
  counts.set(kind as NotifyKind, count);
  return { kind: kind as NotifyKind, label: `${kind} #${count}`, url, events, secret: options.secret ?? '', timeoutMs };
}

/** The targets, one a line (blank lines and `#` comments skipped), or the first problem, naming its line. */
export function parseNotifyTargets(text: string): NotifyTarget[] | { error: string } {
  const targets: NotifyTarget[] = [];
  const counts = new Map<NotifyKind, number>();
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const target = parseLine(line, i + 1, counts);
    if ('error' in target) return target;
    targets.push(target);
  }
  if (targets.length > 10) return { error: `${targets.length} targets; give at most 10` };
  return targets;
}
