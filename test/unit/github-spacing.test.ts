/**
 * GitHub write spacing: users' runs keep the throttling plugin's 1 s between write calls (GitHub's advice against
 * secondary rate limits); the tests turn it off with ZERO_DOWNTIME_DEPLOY_GITHUB_WRITE_SPACING_MS=0 (vitest.config.ts) because the
 * local stand-in has no such limit. Both halves are measured here against the stand-in.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startGithubApi, type GithubApi } from '../helpers/github-api.js';

let api: GithubApi;
beforeAll(async () => {
  api = await startGithubApi();
  vi.stubEnv('GITHUB_API_URL', api.url);
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await api.close();
});

/** Milliseconds between the first and the last of three deployment statuses written in a row. */
async function threeWrites(): Promise<number> {
  const { client } = await import('../../src/report/deployment.js');
  const octokit = client('ghs_test_token_123');
  const write = () =>
    octokit.rest.repos.createDeploymentStatus({ owner: 'acme', repo: 'shop', deployment_id: 1, state: 'in_progress' });
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    await write();
    times.push(Date.now());
  }
  return (times[2] ?? 0) - (times[0] ?? 0);
}

describe('GitHub write spacing', () => {
  it('reads the seam: unset, empty or malformed keeps 1000 ms; a number sets it', async () => {
    const { writeSpacingMs } = await import('../../src/report/deployment.js');
    expect(writeSpacingMs({})).toBe(1000);
    expect(writeSpacingMs({ ZERO_DOWNTIME_DEPLOY_GITHUB_WRITE_SPACING_MS: '' })).toBe(1000);
    expect(writeSpacingMs({ ZERO_DOWNTIME_DEPLOY_GITHUB_WRITE_SPACING_MS: 'fast' })).toBe(1000);
    expect(writeSpacingMs({ ZERO_DOWNTIME_DEPLOY_GITHUB_WRITE_SPACING_MS: '-5' })).toBe(1000);
    expect(writeSpacingMs({ ZERO_DOWNTIME_DEPLOY_GITHUB_WRITE_SPACING_MS: '0' })).toBe(0);
    expect(writeSpacingMs({ ZERO_DOWNTIME_DEPLOY_GITHUB_WRITE_SPACING_MS: '250' })).toBe(250);
  });

  it('spaces write calls about 1 s apart for users, and not at all in tests', async () => {
    vi.stubEnv('ZERO_DOWNTIME_DEPLOY_GITHUB_WRITE_SPACING_MS', '0');
    const unspaced = await threeWrites();
    vi.stubEnv('ZERO_DOWNTIME_DEPLOY_GITHUB_WRITE_SPACING_MS', undefined);
    const spaced = await threeWrites();
    console.log(`three deployment statuses: ${spaced} ms as users run, ${unspaced} ms in tests`);
    expect(unspaced).toBeLessThan(500);
    expect(spaced).toBeGreaterThanOrEqual(1900);
  });
});
