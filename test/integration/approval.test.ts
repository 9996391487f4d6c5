/**
 * Approval gates across jobs: a deploy pauses at an approval step; separate processes (fresh runners, no files
 * from the first) promote, abort or ask for status using only environment, load-balancer and pools. The record
 * lives on the GitHub deployment (a local API server checked against GitHub's OpenAPI description).
 */
import { describe, expect, it } from 'vitest';
import { errors, runAction } from '../helpers/action.js';
import { githubEnv } from '../helpers/github-api.js';
import { useGithubLab } from '../helpers/github-lab.js';
import { requestsExactly, startLoad } from '../helpers/load.js';
import { poolInputs, startPools, weights, type PoolsLab } from '../helpers/pools.js';

const gh = useGithubLab();

const POOLS = 'blue=app/blue*, green=app/green*';
const STABLE = { 'app/blue1': 100, 'app/blue2': 100, 'app/green1': 0, 'app/green2': 0 };

/** Only what identifies the rollout: no steps, no commands, no probes. */
function control(action: string): Record<string, string> {
  return {
    action,
    environment: 'production',
    'load-balancer': `haproxy://127.0.0.1:${gh.lab?.haproxy.adminPort}`,
    pools: POOLS,
    'github-token': 'ghs_approval',
  };
}

async function deployAndPause() {
  gh.lab = await startPools();
  const load = startLoad(gh.lab.url, { rps: 200, maxMs: 60_000 });
  const run = await runAction(
    poolInputs(gh.lab, {
      strategy: 'canary',
      steps: '20% 3s, 50% approval, 100%',
      environment: 'production',
      'github-token': 'ghs_approval',
    }),
    { env: gh.env() },
  );
  await load.stop();
  expect(errors(run)).toEqual([]);
  expect(run.code).toBe(0);
  expect(run.outputs).toMatchObject({ result: 'paused', weight: '50', 'live-pool': 'blue', 'deployment-id': '1000' });
  return run;
}

function lastStatus() {
  return gh.api.requests.filter((r) => r.operation.endsWith('/statuses') && r.method === 'POST').at(-1)?.body ?? {};
}

describe('approval gates', () => {
  it('pauses at 50% (split measured), and a separate promote reaches 100%; promoting again is a no-op', async () => {
    const paused = await deployAndPause();
    expect(paused.summary).toContain('⏸️ Paused');
    expect(paused.summary).toContain('action: promote');
    // After creating its deployment, a deploy lists the environment's again (two deploys started together).
    // A paused run: the deployment stays in progress, its last status saying what waits for approval.
    expect(
      gh.api.requests.map((r) =>
        r.method === 'GET' ? 'list' : r.operation.endsWith('/statuses') ? String(r.body?.state) : 'create',
      ),
    ).toEqual(['list', 'create', 'list', 'in_progress', 'in_progress', 'in_progress', 'in_progress', 'in_progress']);
    expect(String(lastStatus().description)).toMatch(/^Paused at 50% on green \(step 2\/3\), waiting for approval/);
    // The split while paused, over 1000 requests.
    const split = await requestsExactly((gh.lab as PoolsLab).url, 1000, {});
    const share = (100 * (split.versions.v2 ?? 0)) / split.ok;
    console.log(`paused split: ${share.toFixed(1)}% on the new version over ${split.ok} requests`);
    expect(split.ok).toBe(1000);
    expect(Math.abs(share - 50)).toBeLessThanOrEqual(2);

    const load = startLoad((gh.lab as PoolsLab).url, { rps: 200, maxMs: 60_000 });
    const promoted = await runAction(control('promote'), { env: githubEnv(gh.api) });
    const stats = await load.stop();
    expect(errors(promoted)).toEqual([]);
    expect(promoted.outputs).toMatchObject({
      result: 'succeeded',
      weight: '100',
      'live-pool': 'green',
      'deployment-id': '1000',
    });
    expect(weights(await (gh.lab as PoolsLab).haproxy.servers())).toEqual({
      'app/blue1': 0,
      'app/blue2': 0,
      'app/green1': 256,
      'app/green2': 256,
    });
    expect(lastStatus()).toMatchObject({ state: 'success' });
    expect(stats.failed).toBe(0);
    expect(gh.api.violations).toEqual([]);

    const again = await runAction(control('promote'), { env: githubEnv(gh.api) });
    expect(again.code).toBe(0);
    expect(again.outputs.result).toBe('unchanged');
    expect(again.stdout).toMatch(/Nothing to promote: the latest rollout of v2 \(deployment 1000, success/);
    expect(weights(await (gh.lab as PoolsLab).haproxy.servers())).toEqual({
      'app/blue1': 0,
      'app/blue2': 0,
      'app/green1': 256,
      'app/green2': 256,
    });
  });

  it('abort sends all traffic back to the stable pool and marks the deployment inactive; aborting again is a no-op', async () => {
    await deployAndPause();
    const status = await runAction(control('status'), { env: githubEnv(gh.api) });
    expect(status.outputs).toMatchObject({ result: 'unchanged', weight: '50' });
    expect(status.summary).toMatch(
      /the load balancer has 50% of traffic on green \(step 2\/3, waiting for approval: promote or abort\)/,
    );

    const aborted = await runAction(control('abort'), { env: githubEnv(gh.api) });
    expect(errors(aborted)).toEqual([]);
    expect(aborted.outputs).toMatchObject({ result: 'aborted', weight: '0', 'live-pool': 'blue' });
    expect(weights(await (gh.lab as PoolsLab).haproxy.servers())).toEqual(STABLE);
    expect(lastStatus()).toMatchObject({ state: 'inactive', description: 'Aborted: all traffic back on blue' });

    const again = await runAction(control('abort'), { env: githubEnv(gh.api) });
    expect(again.outputs.result).toBe('unchanged');
    expect(again.stdout).toContain('Nothing to abort');
    expect(gh.api.violations).toEqual([]);
  });

  it('refuses a second deploy while the first is paused, without touching HAProxy', async () => {
    await deployAndPause();
    const before = await (gh.lab as PoolsLab).haproxy.servers();
    const run = await runAction(
      poolInputs(gh.lab as PoolsLab, {
        strategy: 'canary',
        steps: '10% 1s, 100%',
        environment: 'production',
        'github-token': 'ghs_approval',
        version: 'v3',
      }),
      { env: gh.env() },
    );
    expect(run.code).toBe(1);
    expect(run.outputs.result).toBe('failed');
    expect(errors(run).join('\n')).toMatch(
      /environment: production already has a rollout in progress: v2 \(deployment 1000: Paused at 50% on green.*Continue it with action: promote or undo it with action: abort/,
    );
    expect(await (gh.lab as PoolsLab).haproxy.servers()).toEqual(before);
  });

  it('refuses to promote after the weights were changed by hand, without touching HAProxy', async () => {
    await deployAndPause();
    await (gh.lab as PoolsLab).haproxy.cli('set server app/green1 weight 10');
    const before = await (gh.lab as PoolsLab).haproxy.servers();
    const run = await runAction(control('promote'), { env: githubEnv(gh.api) });
    expect(run.code).toBe(1);
    expect(errors(run).join('\n')).toMatch(
      /Refusing to promote the rollout of v2 \(deployment 1000.*app\/green1=10.*which is no step of this rollout.*nothing was changed/,
    );
    expect(await (gh.lab as PoolsLab).haproxy.servers()).toEqual(before);
  });
});
