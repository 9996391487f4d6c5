/** Vitest hooks for a file of tests that each start a pools lab and talk to the local GitHub API. */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { githubEnv, startGithubApi, type GithubApi } from './github-api.js';
import type { PoolsLab } from './pools.js';

export interface GithubLab {
  api: GithubApi;
  /** The test's lab, stopped after each test. */
  lab: PoolsLab | undefined;
  /** The runner's environment for the action: the fleet's variables and the GitHub ones. */
  env(): Record<string, string>;
}

export function useGithubLab(): GithubLab {
  const state: GithubLab = {
    api: undefined as unknown as GithubApi,
    lab: undefined,
    env: () => ({ ...(state.lab?.fleet.env ?? {}), ...githubEnv(state.api) }),
  };
  beforeAll(async () => {
    state.api = await startGithubApi();
  });
  afterAll(() => state.api.close());
  afterEach(async () => {
    await state.lab?.stop();
    state.lab = undefined;
    state.api.reset();
  });
  return state;
}
