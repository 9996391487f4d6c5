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
