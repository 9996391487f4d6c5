/** Errors every layer may throw. */

/** Bad input: every problem, each naming its input. Nothing was changed when it is thrown. */
export class InputError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(
      `${problems.length === 1 ? 'Invalid input' : `${problems.length} invalid inputs`}:\n- ${problems.join('\n- ')}`,
    );
    this.name = 'InputError';
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The load balancer lost its run-time state under a rollout (a reload or a restart): changes no longer hold. */
export class LoadBalancerRestarted extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoadBalancerRestarted';
  }
}
