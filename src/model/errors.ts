/** Errors every layer may throw. */
import { redactUrlPasswords } from './credentials.js';

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
