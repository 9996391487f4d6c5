/** Errors every layer may throw. */
import { redactUrlPasswords } from './credentials.js';
import type { Outcome } from './outcome.js';
import { describeServers, type Server } from './server.js';

/** Bad input: every problem, each naming its input. Nothing was changed when it is thrown. */
export class InputError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    // A rejected URL is echoed without its password.
    problems = problems.map(redactUrlPasswords);
    super(
      `${problems.length === 1 ? 'Invalid input' : `${problems.length} invalid inputs`}:\n- ${problems.join('\n- ')}`,
    );
    this.problems = problems;
    this.name = 'InputError';
  }
}

export function errorMessage(error: unknown): string {
  return redactUrlPasswords(error instanceof Error ? error.message : String(error));
}

/** The load balancer lost its run-time state under a rollout (a reload or a restart): changes no longer hold. */
export class LoadBalancerRestarted extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoadBalancerRestarted';
  }
}

/**
 * This run no longer holds the load balancer's lock (a reload dropped it and another run took it, or it was taken
 * over): another run may be moving the same servers, so this one touches nothing more.
 */
export class LockLost extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LockLost';
  }
}

/**
 * The way to a load balancer failed (a socket, or ssh to its host): nothing is known about the request. `retryable`:
 * worth another try (a time-out, a refused connection, ssh's own failure), not a remote command's or a bad path's.
 */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/** A write that did not take, or took only in part; `read` is the touched servers as read back (when readable). */
export class UnconfirmedChange extends Error {
  constructor(
    /** What went wrong, without the state read back. */
    readonly reason: string,
    readonly read: readonly Server[] | undefined,
    /** The load balancer answered the change without an error; only reading it back failed. */
    readonly acknowledged = false,
    /** Why it could not be read back (for a fleet: what each member answered). */
    unread?: string,
  ) {
    super(
      acknowledged
        ? reason
        : `${reason} (${read ? `read back: ${describeServers(read)}` : `the load balancer could not be read back${unread ? `: ${unread}` : ''}`})`,
    );
    this.name = 'UnconfirmedChange';
  }
}

/** A rolling batch's servers failed their checks or the batch could not go on safely; the message says which and why. */
export class BatchFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatchFailure';
  }
}

/** A run that ended red after its summary and deployment status were written: main sets its outputs and fails. */
export class ReportedFailure extends Error {
  constructor(
    message: string,
    readonly outcome: Outcome,
  ) {
    super(message);
    this.name = 'ReportedFailure';
  }
}

/** A read or write that failed on some members of a fleet: each member's part, as read or as it failed. */
export class FleetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FleetError';
  }
}

/** The members of a fleet do not route the servers the action reads the same way: a state the user must fix. */
export class MembersDisagree extends FleetError {
  constructor(message: string) {
    super(message);
    this.name = 'MembersDisagree';
  }
}
