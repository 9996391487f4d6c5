/**
 * The HAProxy Runtime API protocol: many commands in one connection (one round trip), replies split per command.
 * Prompt mode ends every reply with "\n> ", even errors that lack a blank-line terminator.
 */
import { TransportError } from '../../model/errors.js';
import { exchange } from './transport.js';
import type { Transport } from '../driver.js';
import { backoff, CallBudget, retry } from '../../model/poll.js';

export interface Reply {
  readonly command: string;
  readonly text: string;
}

export interface RuntimeApiOptions {
  readonly transport: Transport;
  readonly timeoutMs: number;
  /** Further attempts after a connection failure (commands we send are idempotent: absolute weights and states). */
  readonly retries: number;
  readonly retryDelayMs: number;
  /** The run's cancel: retries stop and a command in flight is given up (see Tuning.signal). */
  readonly signal?: AbortSignal;
}

/** Runtime API commands take names we validated; a newline or ';' would split a command, so refuse them outright. */
function assertSafe(command: string): void {
  if (/[\n\r;]/.test(command))
    throw new Error(`refusing to send a Runtime API command with a newline or ';': ${JSON.stringify(command)}`);
}

export function splitReplies(text: string, commands: readonly string[]): Reply[] {
  const parts = text.split('\n> ');
  // parts: [after prompt, after severity-output, ...one per command, trailing after quit]
  const expected = commands.length + 2;
  if (parts.length < expected) {
    throw new TransportError(
      `HAProxy closed the connection after ${Math.max(0, parts.length - 3)} of ${commands.length} replies`,
      true,
    );
  }
  return commands.map((command, i) => ({ command, text: (parts[i + 2] ?? '').replace(/\n+$/, '') }));
}

/** How long a read carried on an earlier round trip answers the same read (see RuntimeApi.run's `then`). */
export const FOLD_MS = 250;

/** A command that changes HAProxy's state: it makes every read carried before it stale. */
function isWrite(command: string): boolean {
  return /^(set|add|del|enable|disable|clear|commit|new|shutdown)\b/.test(command);
}

export class RuntimeApi {
  roundTrips = 0;
  /** Round trips that carried a write so far: a read taken at an older count may be stale. */
  writes = 0;
  private readonly budget: CallBudget;
  /** Reads carried on a round trip, by their command text: answered once more, within FOLD_MS, without one. */
  private readonly folded = new Map<string, { at: number; replies: Reply[] }>();

  constructor(private readonly options: RuntimeApiOptions) {
    this.budget = new CallBudget(options.signal);
  }

  /** The run's cancel, for the driver's own waits. */
  get signal(): AbortSignal | undefined {
    return this.budget.signal();
  }

  /**
   * Runs the commands in order on one connection and returns each one's reply. `then`: reads the caller will make
   * next (a write's read-back, a lock check), sent after the commands on the same connection; the first run of
   * exactly one of them within FOLD_MS is answered from there, with no round trip of its own. A read carried so is
   * what a separate read would have seen a moment later; any write in between makes it stale.
   */
  async run(commands: readonly string[], then: readonly (readonly string[])[] = []): Promise<Reply[]> {
    const key = commands.join('\n');
    const carried = this.folded.get(key);
    this.folded.delete(key);
    // (What this read would carry is in the map already: the round trip that carried it carried those too.)
    if (carried && Date.now() - carried.at <= FOLD_MS && !commands.some(isWrite)) return carried.replies;
    if (commands.some(isWrite)) {
      this.folded.clear();
      this.writes++;
    }
    const all = [...commands, ...then.flat()];
    const replies = await this.send(all);
    let at = commands.length;
    for (const read of then) {
      this.folded.set(read.join('\n'), { at: Date.now(), replies: replies.slice(at, at + read.length) });
      at += read.length;
    }
    return replies.slice(0, commands.length);
  }

  private async send(commands: readonly string[]): Promise<Reply[]> {
    commands.forEach(assertSafe);
    const request = `prompt\nset severity-output number\n${commands.join('\n')}\nquit\n`;
    let attempts = 0;
    let stopped = '';
    const signal = this.budget.signal();
    try {
      return await retry(
        async () => {
          this.roundTrips++;
          attempts++;
          return splitReplies(
            await exchange(this.options.transport, request, this.options.timeoutMs, signal),
            commands,
          );
        },
        (error) => error instanceof TransportError && error.retryable,
        {
          pause: backoff(this.options.retryDelayMs, Number.MAX_SAFE_INTEGER),
          attempts: this.options.retries + 1,
          signal,
          gaveUp: (ended) => (stopped = ended === 'aborted' ? '; no more attempts: the run was cancelled' : ''),
        },
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
      throw new Error(`HAProxy Runtime API failed after ${tries}: ${reason}${stopped}`, { cause: error });
    }
  }
}

/**
 * A reply that carries an error: HAProxy answers a successful `set` with nothing at all, and some successes with a
 * message of severity warning or below (`[6]: New server registered.`).
 */
export function refusal(reply: Reply): string | undefined {
  const text = reply.text.trim();
  if (text === '' || /^\[[4-7]\]: /.test(text)) return undefined;
  return text.replace(/^\[\d\]: /, '').split('\n')[0];
}
