/**
 * With environment set, two deploys started in the same instant both find no rollout in progress; the deployments
 * they create break the tie: the one created first goes on, the other stops before changing anything. Against the
 * local GitHub API checked against GitHub's OpenAPI description; each deploy on a load balancer of its own (the
 * lock would otherwise stop one of them first).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReportedFailure } from '../../src/model/errors.js';
import { BLUE_GREEN, fakeSettings, POOLS } from '../helpers/engine-kit.js';
import { FakeDriver } from '../helpers/fake-driver.js';
import { githubEnv, startGithubApi, type GithubApi } from '../helpers/github-api.js';

vi.mock('../../src/plan/build.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/plan/build.js')>()),
  COUNTER_POLL_MS: 10,
}));

let api: GithubApi;
let deploy: typeof import('../../src/actions/deploy.js').deploy;
beforeAll(async () => {
  api = await startGithubApi();
  // @actions/github takes its API URL from the environment when it is first loaded.
  process.env.GITHUB_API_URL = api.url;
  ({ deploy } = await import('../../src/actions/deploy.js'));
});
afterAll(() => api.close());

beforeEach(() => {
  api.reset();
  for (const [name, value] of Object.entries(githubEnv(api))) vi.stubEnv(name, value);
  vi.stubEnv('GITHUB_STEP_SUMMARY', '');
  vi.stubEnv('GITHUB_STATE', '');
  vi.stubEnv('GITHUB_OUTPUT', '');
});

const settings = () =>
  fakeSettings({
    strategy: 'canary',
    pools: POOLS,
    steps: '25% 50ms, 100%',
    environment: 'production',
    'github-token': 'ghs_race',
  });

describe('two deploys with environment started together', () => {
  it('exactly one proceeds; the other changes nothing, names the first and marks its own deployment failed', async () => {
    const lbs = [0, 1].map(() => new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 } }));
    const results = await Promise.allSettled(lbs.map((lb) => deploy(settings(), lb, new AbortController().signal)));
    const won = results.findIndex((r) => r.status === 'fulfilled');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results[1 - won] as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(ReportedFailure);
    expect((lost.reason as ReportedFailure).message).toMatch(
      /^environment: production already has a rollout in progress, started just before this one: v2 \(deployment 1000: .*\)\. Deploy again once it has finished\. Nothing was changed\.$/,
    );
    expect((lost.reason as ReportedFailure).outcome).toEqual({ result: 'failed', weight: 0, deploymentId: '1001' });
    // The loser read its load balancer but changed nothing on it.
    expect(lbs[1 - won]?.callsOf('apply')).toEqual([]);
    expect(lbs[won]?.snapshot()).toBe(
      'app/blue1=0 ready, app/blue2=0 ready, app/green1=256 ready, app/green2=256 ready',
    );
    expect(api.deployments().map((d) => [d.id, d.states[0]])).toEqual([
      [1001, 'failure'],
      [1000, 'success'],
    ]);
    expect(api.violations).toEqual([]);
  });

  it('a deploy after a lost race is still stopped by the rollout under way, not by the failed deployment', async () => {
    const slow = new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 } });
    // The first rollout is held mid-way (its weights calls wait) while two more start.
    slow.faults.when((c) => c.method === 'apply', { delayMs: 1500 }, 1);
    const first = deploy(settings(), slow, new AbortController().signal);
    await new Promise((r) => setTimeout(r, 300));
    const later = await Promise.allSettled(
      [0, 1].map(() =>
        deploy(
          settings(),
          new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 } }),
          new AbortController().signal,
        ),
      ),
    );
    expect(later.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((await first).result).toBe('succeeded');
    expect(api.violations).toEqual([]);
  });
});
