/**
 * The CLI with --github-token and GITHUB_REPOSITORY: the deployment and its statuses go to GitHub (a local API
 * server checked against GitHub's OpenAPI description) exactly as from the action, and the state file keeps no
 * rollout record; a canary paused there is promoted by a second process reading the record from GitHub.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_GREEN, cleanEnv, flags, runCli, tempDir, workflowCommandLines } from '../helpers/cli.js';
import { githubEnv } from '../helpers/github-api.js';
import { useGithubLab } from '../helpers/github-lab.js';
import { startLoad } from '../helpers/load.js';
import { poolInputs, startPools, weights } from '../helpers/pools.js';

const gh = useGithubLab();

describe('the CLI with GitHub deployments', () => {
  it('pauses on a GitHub deployment, a second process promotes it from there; the token is masked', async () => {
    const lab = (gh.lab = await startPools());
    const state = join(tempDir(), 'state.json');
    const env = cleanEnv({ ...lab.fleet.env, ...githubEnv(gh.api), ZDD_GITHUB_TOKEN: 'ghs_clitoken123' });
    const load = startLoad(lab.url, { rps: 200, maxMs: 50_000 });
    const paused = await runCli(
      [
        'deploy',
        `--state=${state}`,
        ...flags(
          poolInputs(lab, { strategy: 'canary', steps: '20% 1s, 50% approval, 100%', environment: 'production' }),
        ),
      ],
      { env },
    );
    expect(paused.code, paused.stdout + paused.stderr).toBe(4);
    expect(paused.stdout).toMatch(/result paused, live pool blue, new version at 50%, deployment 1000 \(exit 4\)/);
    expect(JSON.parse(readFileSync(state, 'utf8')).deployments).toEqual([]);
    const promoted = await runCli(
      [
        'promote',
        `--state=${state}`,
        '--environment=production',
        `--load-balancer=haproxy://127.0.0.1:${lab.haproxy.adminPort}`,
        '--pools=blue=app/blue*, green=app/green*',
      ],
      { env },
    );
    const stats = await load.stop();
    expect(promoted.code, promoted.stdout + promoted.stderr).toBe(0);
    expect(weights(await lab.haproxy.servers())).toEqual(ALL_GREEN);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    const statuses = gh.api.requests.filter((r) => r.method === 'POST' && r.operation.endsWith('/statuses'));
    expect(statuses.at(-1)?.body).toMatchObject({ state: 'success' });
    expect(gh.api.requests.filter((r) => r.method === 'POST' && r.operation.endsWith('/deployments'))).toHaveLength(1);
    const all = paused.stdout + paused.stderr + promoted.stdout + promoted.stderr;
    expect(all).not.toContain('ghs_clitoken123');
    expect(workflowCommandLines(all)).toEqual([]);
  }, 55_000);
});
