/**
 * GitHub reporting through the bundle: deployment calls checked against GitHub's OpenAPI description, the job
 * summary, and the post step restoring traffic after the main step was killed mid-canary.
 */
import { describe, expect, it } from 'vitest';
import { errors, runAction, type ActionRun } from '../helpers/action.js';
import { useGithubLab } from '../helpers/github-lab.js';
import { startLoad } from '../helpers/load.js';
import { poolInputs, startPools, weights, type PoolsLab } from '../helpers/pools.js';

const gh = useGithubLab();

const RUN_URL = 'https://github.example.com/acme/shop/actions/runs/4242';

function withEnvironment(extra: Record<string, string>) {
  return poolInputs(gh.lab as PoolsLab, {
    environment: 'production',
    'environment-url': 'https://shop.example.com',
    'production-environment': 'true',
    'github-token': 'ghs_test_token_123',
    ...extra,
  });
}

/** The deployment calls in order: `list` (the one-rollout-at-a-time check), `create`, and each status's state. */
function calls(): string[] {
  return gh.api.requests.map((r) =>
    r.operation === 'GET /repos/{owner}/{repo}/deployments'
      ? 'list'
      : r.operation === 'POST /repos/{owner}/{repo}/deployments'
        ? 'create'
        : String(r.body?.state),
  );
}

function statuses() {
  return gh.api.requests.filter((r) => r.operation.endsWith('/statuses')).map((r) => r.body ?? {});
}

describe('GitHub deployments', () => {
  it('succeeded canary: create, in_progress for each stage, success; every request valid per the OpenAPI description', async () => {
    gh.lab = await startPools();
    const load = startLoad(gh.lab.url, { rps: 150, maxMs: 60_000 });
    const run = await runAction(withEnvironment({ strategy: 'canary', steps: '50% 2s, 100%' }), { env: gh.env() });
    await load.stop();
    expect(errors(run)).toEqual([]);
    expect(gh.api.violations).toEqual([]);
    expect(calls()).toEqual([
      'list',
      'create',
      'list',
      'in_progress',
      'in_progress',
      'in_progress',
      'in_progress',
      'success',
    ]);
    const create = gh.api.requests[1];
    expect(create?.path).toBe('/repos/acme/shop/deployments');
    expect(create?.body).toMatchObject({
      ref: '0123456789abcdef0123456789abcdef01234567',
      environment: 'production',
      auto_merge: false,
      required_contexts: [],
      production_environment: true,
      transient_environment: false,
      payload: {
        tool: 'zero-downtime-deploy',
        strategy: 'canary',
        version: 'v2',
        pools: { live: 'blue', idle: 'green', selectors: { blue: ['app/blue*'], green: ['app/green*'] } },
        stable: { 'app/blue1': 100, 'app/blue2': 100, 'app/green1': 0, 'app/green2': 0 },
        steps: [
          {
            weight: 50,
            achieved: 50,
            pause: '2000ms',
            windows: 2,
            weights: { 'app/blue1': 256, 'app/blue2': 256, 'app/green1': 256, 'app/green2': 256 },
          },
          {
            weight: 100,
            achieved: 100,
            pause: 'none',
            windows: 1,
            weights: { 'app/blue1': 0, 'app/blue2': 0, 'app/green1': 256, 'app/green2': 256 },
          },
        ],
      },
    });
    expect(statuses().map((s) => s.description)).toEqual([
      'canary of v2 started',
      'Deploying v2 to idle pool green',
      'Step 1/2: 50% of traffic on green',
      'Step 2/2: 100% of traffic on green',
      'All traffic is on green, version v2; blue stays warm at weight 0 for an instant switch back.',
    ]);
    for (const status of statuses())
      expect(status).toMatchObject({ log_url: RUN_URL, environment_url: 'https://shop.example.com' });
    expect(run.outputs['deployment-id']).toBe('1000');
    // The only line holding the token is the command that tells the runner to mask it.
    expect(run.stdout.split('\n').filter((l) => l.includes('ghs_test_token_123'))).toEqual([
      '::add-mask::ghs_test_token_123',
    ]);
  });

  it('rolled-back canary: ends in failure with the numbers; the summary has the stage table, the chart and the failing numbers', async () => {
    gh.lab = await startPools();
    const load = startLoad(gh.lab.url, { rps: 300, maxMs: 60_000 });
    const run = await runAction(
      withEnvironment({ strategy: 'canary', steps: '20% 10s, 100%', 'analysis-interval': '3s' }),
      { env: { ...gh.env(), APP_NEXT_FAIL_RATE: '0.3' } },
    );
    await load.stop();
    expect(run.outputs.result).toBe('rolled-back');
    expect(gh.api.violations).toEqual([]);
    expect(calls()).toEqual(['list', 'create', 'list', 'in_progress', 'in_progress', 'in_progress', 'failure']);
    const last = statuses().at(-1);
    expect(String(last?.description)).toMatch(
      /^Rolled back at 20% on green: (Worse: new [\d.]+% vs stable [\d.]+% failed.*; if as good, <1 time in|Ceiling: \d+ of last \d+ requests failed)/,
    );
    expect(String(last?.description).length).toBeLessThanOrEqual(140);

    const summary = run.summary;
    expect(summary.indexOf('↩️ Rolled back')).toBeLessThan(summary.indexOf('### Steps'));
    expect(summary).toContain(
      '| step | started | duration | share on new | new: requests | new: failed | new: error rate | stable: requests | stable: error rate | new: latency | stable: latency | probe p50 / p95 | verdict |',
    );
    expect(summary).toMatch(
      /\| 1 \| [\d:]+ \| [\d.]+m?s \| 20% \| \d+ \| \d+ \| [\d.]+% \| \d+ \| 0% \| (-|p50 \d+ms p95 \d+ms p99 \d+ms \(n=\d+\)) \| (-|p50 \d+ms p95 \d+ms p99 \d+ms \(n=\d+\)) \| \d+ms \/ \d+ms \| ❌ green \(new\) against blue \(stable\): (Worse than stable: new version [\d.]+% failed \(\d+ of \d+\), stable [\d.]+% \(\d+ of \d+\)|Hard ceiling: \d+ of the last \d+ requests to the new version failed)/,
    );
    expect(summary).toContain('```mermaid\nxychart-beta\n    title "Share of traffic on v2"');
    expect(summary).toMatch(/line \[(0, )+(20, )+.*0\]/);
    expect(summary).toContain(`[Workflow run and logs](${RUN_URL})`);
    expect(summary).toContain('| app/green1 | green | v2 | 0 |');
  });

  it('a canary step held for want of min-requests has its row, held and why, and the run stops at timeout', async () => {
    gh.lab = await startPools();
    // No load: HAProxy counts no request, so step 1 waits for min-requests until the timeout.
    const run = await runAction(
      withEnvironment({ strategy: 'canary', steps: '20% 1s, 100%', 'min-requests': '50', timeout: '6s' }),
      { env: gh.env() },
    );
    expect(run.outputs.result).toBe('failed');
    expect(errors(run).join('\n')).toBe(
      'Stopped at step 1: timeout 6s reached; the step was held: Too little traffic: 0 of min-requests 50 served this step; waiting for more (up to timeout). All traffic was moved back to blue.',
    );
    const row = run.summary.split('\n').find((line) => line.startsWith('| 1 |'));
    expect(row).toMatch(
      /^\| 1 \| [\d:]+ \| [\d.]+m?s \| 20% \| 0 \| 0 \| .* \| ⏸️ held, not passed: too little traffic: 0 requests seen of min-requests 50 \|$/,
    );
    expect(String(statuses().at(-1)?.description)).toMatch(/^Stopped at step 1: timeout 6s reached/);
    expect(weights(await gh.lab.haproxy.servers())).toMatchObject({ 'app/green1': 0, 'app/green2': 0 });
  });

  it('failed rolling deploy: ends in failure', async () => {
    gh.lab = await startPools();
    const run = await runAction(
      { ...withEnvironment({ 'startup-timeout': '2s' }), pools: '', strategy: 'rolling', targets: 'app/blue1' },
      { env: { ...gh.env(), APP_NEXT_HEALTHY: '0' } },
    );
    expect(run.outputs.result).toBe('failed');
    expect(gh.api.violations).toEqual([]);
    expect(calls()).toEqual(['list', 'create', 'list', 'in_progress', 'in_progress', 'failure']);
    expect(String(statuses().at(-1)?.description)).toMatch(/^Rolling deploy stopped: app\/blue1: /);
  });

  it('a token without deployments: write is a warning naming the permission; the rollout still completes', async () => {
    gh.lab = await startPools();
    gh.api.forbid(true);
    const load = startLoad(gh.lab.url, { rps: 150, maxMs: 60_000 });
    const run = await runAction(withEnvironment({ strategy: 'blue-green' }), { env: gh.env() });
    await load.stop();
    expect(run.outputs.result).toBe('succeeded');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /::warning::environment: could not create a GitHub deployment: Resource not accessible by integration.*add 'deployments: write' to the job's permissions: block/,
    );
    expect(weights(await gh.lab.haproxy.servers())).toEqual({
      'app/blue1': 0,
      'app/blue2': 0,
      'app/green1': 256,
      'app/green2': 256,
    });
  });
});

async function killMidCanary(
  signal: 'SIGTERM' | 'SIGKILL',
): Promise<{ main: ActionRun; post: ActionRun; failed: number }> {
  gh.lab = await startPools();
  const load = startLoad(gh.lab.url, { rps: 200, maxMs: 60_000 });
  const inputs = withEnvironment({ strategy: 'canary', steps: '30% 30s, 100%' });
  let child: { kill: (s: NodeJS.Signals) => boolean } | undefined;
  const running = runAction(inputs, { env: gh.env(), onSpawn: (c) => (child = c) });
  // Wait until the canary holds traffic, then stop the main step.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && (await gh.lab.haproxy.servers()).get('app/green1')?.weight === 0)
    await new Promise((r) => setTimeout(r, 100));
  expect((await gh.lab.haproxy.servers()).get('app/green1')?.weight).toBeGreaterThan(0);
  child?.kill(signal);
  const main = await running;
  const post = await runAction(inputs, { env: gh.env(), state: { ...main.state, isPost: 'true' } });
  const stats = await load.stop();
  return { main, post, failed: stats.failed };
}

describe('safety on cancel or crash', () => {
  it('SIGTERM mid-canary, then the post step: all traffic on the stable pool, deployment marked failed, 0 failed requests', async () => {
    const { main, post, failed } = await killMidCanary('SIGTERM');
    expect(main.outputs.result).toBe('failed');
    expect(errors(main).join('\n')).toMatch(
      /Stopped at step 1: the run was cancelled \(SIGTERM\)\. All traffic was moved back to blue\./,
    );
    expect(post.code).toBe(0);
    expect(weights(await (gh.lab as PoolsLab).haproxy.servers())).toEqual({
      'app/blue1': 100,
      'app/blue2': 100,
      'app/green1': 0,
      'app/green2': 0,
    });
    expect(calls().at(-1)).toBe('failure');
    expect(gh.api.violations).toEqual([]);
    expect(failed).toBe(0);
  });

  it('SIGKILL mid-canary (a crash): the post step restores the stable pool from the checkpoint and marks the deployment failed', async () => {
    const { main, post, failed } = await killMidCanary('SIGKILL');
    expect(main.code).toBeNull();
    expect(post.code).toBe(0);
    expect(post.stdout).toContain(
      'the post step restored, read back: app/blue1 weight 100 ready, app/blue2 weight 100 ready, app/green1 weight 0 ready, app/green2 weight 0 ready',
    );
    expect(weights(await (gh.lab as PoolsLab).haproxy.servers())).toEqual({
      'app/blue1': 100,
      'app/blue2': 100,
      'app/green1': 0,
      'app/green2': 0,
    });
    expect(calls().at(-1)).toBe('failure');
    expect(String(statuses().at(-1)?.description)).toMatch(
      /^The main step stopped mid-rollout; the post step restored/,
    );
    expect(gh.api.violations).toEqual([]);
    expect(failed).toBe(0);
  });
});
