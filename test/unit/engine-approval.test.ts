/**
 * A canary paused at an approval step, continued by the promote and abort use cases, on the fake driver. The
 * rollout record lives on a GitHub deployment: the local GitHub API stands in for it (checked against GitHub's
 * OpenAPI description). The same fake serves the deploy and the later job, as one load balancer would. Each test
 * takes seconds: the GitHub client spaces its writes (deployment statuses) about a second apart.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Outcome } from '../../src/model/outcome.js';
import { ReportedFailure } from '../../src/model/errors.js';
import { exactSelectors } from '../../src/model/selectors.js';
import type { Change } from '../../src/model/server.js';
import { BLUE_GREEN, fakeSettings, POOLS } from '../helpers/engine-kit.js';
import { FakeDriver, type Call } from '../helpers/fake-driver.js';
import { githubEnv, startGithubApi, type GithubApi } from '../helpers/github-api.js';

vi.mock('../../src/plan/build.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/plan/build.js')>()),
  COUNTER_POLL_MS: 10,
}));

type UseCases = {
  deploy: typeof import('../../src/actions/deploy.js').deploy;
  promote: typeof import('../../src/actions/promote.js').promote;
  abort: typeof import('../../src/actions/abort.js').abort;
};

let api: GithubApi;
let use: UseCases;
beforeAll(async () => {
  api = await startGithubApi();
  // @actions/github takes its API URL from the environment when it is first loaded.
  process.env.GITHUB_API_URL = api.url;
  use = {
    deploy: (await import('../../src/actions/deploy.js')).deploy,
    promote: (await import('../../src/actions/promote.js')).promote,
    abort: (await import('../../src/actions/abort.js')).abort,
  };
});
afterAll(() => api.close());

beforeEach(() => {
  api.reset();
  for (const [name, value] of Object.entries(githubEnv(api))) vi.stubEnv(name, value);
  vi.stubEnv('GITHUB_STEP_SUMMARY', '');
  vi.stubEnv('GITHUB_STATE', '');
  vi.stubEnv('GITHUB_OUTPUT', '');
});

const IDS = BLUE_GREEN.map((s) => s.id);
const GREEN = ['app/green1', 'app/green2'];
const signal = () => new AbortController().signal;
const settings = (action: string) =>
  fakeSettings({
    action,
    ...(action === 'deploy' ? { strategy: 'canary', steps: '25% 50ms, 50% approval, 100%' } : {}),
    pools: POOLS,
    environment: 'production',
    'github-token': 'ghs_approval',
  });

/** An apply that gives green weight (weights only). */
const isStepApply = (call: Call) =>
  call.method === 'apply' &&
  (call.args as Change[]).every((c) => c.admin === undefined) &&
  (call.args as Change[]).some((c) => GREEN.includes(c.server) && (c.weight ?? 0) > 0);

/** The servers as a later job reads them from the load balancer: `id=weight admin`. */
async function readBack(lb: FakeDriver): Promise<string> {
  const read = await lb.servers(exactSelectors(IDS));
  return read.map((s) => `${s.id}=${s.weight} ${s.admin}`).join(', ');
}

/** Deploys the canary up to its approval step (50%); returns the fake and the weights it paused at. */
async function pausedCanary(): Promise<{ lb: FakeDriver; paused: string }> {
  const lb = new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 } });
  const outcome: Outcome = await use.deploy(settings('deploy'), lb, signal());
  expect(outcome).toMatchObject({ result: 'paused', livePool: 'blue', deploymentId: '1000' });
  expect(outcome.weight).toBeCloseTo(50, 0);
  const paused = await readBack(lb);
  expect(paused).toBe('app/blue1=256 ready, app/blue2=256 ready, app/green1=256 ready, app/green2=256 ready');
  return { lb, paused };
}

describe('a driver whose weights go past 256', () => {
  it('promote finds and finishes a rollout whose recorded weights are up to 999 (the rollout record caps no range)', async () => {
    const lb = new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 }, weights: { min: 0, max: 999 } });
    const paused = await use.deploy(settings('deploy'), lb, signal());
    expect(paused.result).toBe('paused');
    expect(await readBack(lb)).toBe(
      'app/blue1=999 ready, app/blue2=999 ready, app/green1=999 ready, app/green2=999 ready',
    );
    const outcome = await use.promote(settings('promote'), lb, signal());
    expect(outcome).toEqual({ result: 'succeeded', livePool: 'green', weight: 100, deploymentId: '1000' });
    expect(await readBack(lb)).toBe('app/blue1=0 ready, app/blue2=0 ready, app/green1=999 ready, app/green2=999 ready');
  });
});

describe('a canary paused at an approval step', () => {
  it('abort mid-step: all traffic back on the stable pool in one call, read back, the deployment made inactive', async () => {
    const { lb } = await pausedCanary();
    const before = lb.calls.length;
    const outcome = await use.abort(settings('abort'), lb);
    expect(outcome).toEqual({ result: 'aborted', livePool: 'blue', weight: 0, deploymentId: '1000' });
    // One apply, with blue's own weights back and green at 0, then read back by the use case.
    const applies = lb.callsOf('apply').filter((c) => c.n > before);
    expect(applies.map((c) => c.args)).toEqual([
      [
        { server: 'app/blue1', weight: 100 },
        { server: 'app/blue2', weight: 100 },
        { server: 'app/green1', weight: 0 },
        { server: 'app/green2', weight: 0 },
      ],
    ]);
    expect(lb.calls.at(-1)?.method).toBe('servers');
    expect(await readBack(lb)).toBe('app/blue1=100 ready, app/blue2=100 ready, app/green1=0 ready, app/green2=0 ready');
    // Green gets no traffic any more.
    expect(GREEN.map((id) => lb.trafficShares().get(id))).toEqual([0, 0]);
    expect(api.deployments()[0]?.states[0]).toBe('inactive');
    expect(api.violations).toEqual([]);
  });

  it('promote refuses to move traffic onto an idle server that went into maint during the pause, and rolls back', async () => {
    const { lb } = await pausedCanary();
    // Someone puts green2 in maint while the rollout waits for approval (its weight is untouched).
    lb.set('app/green2', { admin: 'maint' });
    const before = lb.calls.length;
    const error = await use.promote(settings('promote'), lb, signal()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReportedFailure);
    const failure = error as ReportedFailure;
    expect(failure.outcome).toEqual({ result: 'rolled-back', livePool: 'blue', weight: 0, deploymentId: '1000' });
    expect(failure.message).toBe(
      'Rolled back at 50% on green: refusing to move traffic onto green: app/green2 is maint. All traffic is back on blue.',
    );
    // No call after the pause gave green weight; all traffic is on blue again.
    expect(lb.callsOf('apply').filter((c) => c.n > before && isStepApply(c))).toEqual([]);
    expect(await readBack(lb)).toBe('app/blue1=100 ready, app/blue2=100 ready, app/green1=0 ready, app/green2=0 maint');
    expect(api.violations).toEqual([]);
  });
});
