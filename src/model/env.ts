/** The environment a child process gets: the runner's, without the action's own INPUT_* variables (tokens among them). */
export function childEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && !key.toUpperCase().startsWith('INPUT_')) result[key] = value;
  }
  return result;
}
