/** The CLI's exit codes (docs/cli.md lists them): one per way a run can end, so a pipeline can branch on them. */
import type { Result } from '../model/outcome.js';

export const EXIT = {
  /** Done: succeeded, and also aborted or unchanged (promote, abort, status, restore did what was asked). */
  ok: 0,
  /** Failed: something went wrong; the message says what state the load balancer was left in. */
  failed: 1,
  /** Bad input: a flag, variable, config key or value refused before anything on the load balancer changed. */
  badInput: 2,
  /** The new version was judged bad (or failed its checks) and traffic went back to the stable version. */
  rolledBack: 3,
  /** Paused at an approval step: run promote (or abort) to go on. */
  paused: 4,
  /** Cancelled by SIGINT (Ctrl-C) after traffic was made safe, as a cancelled GitHub job. */
  sigint: 130,
  /** Cancelled by SIGTERM after traffic was made safe. */
  sigterm: 143,
} as const;

export function exitCodeOf(result: Result | undefined): number {
  switch (result) {
    case 'succeeded':
    case 'aborted':
    case 'unchanged':
      return EXIT.ok;
    case 'paused':
      return EXIT.paused;
    case 'rolled-back':
      return EXIT.rolledBack;
    default:
      return EXIT.failed;
  }
}
