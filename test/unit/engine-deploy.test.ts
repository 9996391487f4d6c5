/**
 * The deploy use case on the fake driver, called directly (no environment, so no GitHub calls): the Outcome it
 * returns, the ReportedFailure it throws for a red result, and inputs it refuses before anything moves.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { deploy } from '../../src/actions/deploy.js';
import { InputError } from '../../src/model/errors.js';
import { ReportedFailure } from '../../src/model/errors.js';
import { FakeDriver } from '../helpers/fake-driver.js';
import { BLUE_GREEN, fakeSettings, POOLS } from '../helpers/engine-kit.js';

vi.mock('../../src/plan/build.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/plan/build.js')>()),
  COUNTER_POLL_MS: 10,
}));

beforeEach(() => {
  // No job summary file and no step-state file: nothing is written outside the test.
  vi.stubEnv('GITHUB_STEP_SUMMARY', '');
  vi.stubEnv('GITHUB_STATE', '');
  vi.stubEnv('GITHUB_OUTPUT', '');
});

const signal = () => new AbortController().signal;

describe('deploy use case on the fake driver', () => {
  it('a canary that passes returns succeeded with green live at 100%', async () => {
    const settings = fakeSettings({ strategy: 'canary', pools: POOLS, steps: '25% 50ms, 100%' });
    const lb = new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 } });
    const outcome = await deploy(settings, lb, signal());
    expect(outcome).toEqual({ result: 'succeeded', livePool: 'green', weight: 100, deploymentId: undefined });
    expect(lb.snapshot()).toBe('app/blue1=0 ready, app/blue2=0 ready, app/green1=256 ready, app/green2=256 ready');
  });

  it('a canary that fails its window throws a ReportedFailure carrying the rolled-back outcome', async () => {
    const settings = fakeSettings({ strategy: 'canary', pools: POOLS, steps: '25% 50ms, 100%' });
    const lb = new FakeDriver({
      servers: BLUE_GREEN,
      traffic: { perCall: 100, failureShare: (id) => (id.startsWith('app/green') ? 0.3 : 0) },
    });
    const error = await deploy(settings, lb, signal()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReportedFailure);
    const failure = error as ReportedFailure;
    expect(failure.outcome).toEqual({ result: 'rolled-back', livePool: 'blue', weight: 0, deploymentId: undefined });
    expect(failure.message).toMatch(/^Rolled back at 2\d(\.\d)?% on green: .*All traffic is back on blue\.$/);
    expect(lb.snapshot()).toBe('app/blue1=100 ready, app/blue2=100 ready, app/green1=0 ready, app/green2=0 ready');
  });

  it('a rolling deploy returns succeeded at 100%', async () => {
    const settings = fakeSettings({ strategy: 'rolling', targets: 'app/*', 'batch-size': '50%' });
    const lb = new FakeDriver({
      servers: ['app/a', 'app/b', 'app/c', 'app/d'].map((id) => ({ id })),
      traffic: { perCall: 100 },
    });
    const outcome = await deploy(settings, lb, signal());
    expect(outcome).toMatchObject({ result: 'succeeded', weight: 100 });
    expect(lb.callsOf('apply')).toHaveLength(8);
  });

  it('refuses pools that both carry traffic before changing anything', async () => {
    const settings = fakeSettings({ strategy: 'blue-green', pools: POOLS });
    const lb = new FakeDriver({ servers: BLUE_GREEN.map((s) => ({ ...s, weight: 100 })) });
    const error = await deploy(settings, lb, signal()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).problems).toEqual([
      "pools: both blue and green carry traffic, so neither can be the idle pool to deploy to; give one pool's servers their weight and take the other's out of rotation (fake: weight 0 on the servers of green)",
    ]);
    expect(lb.callsOf('apply')).toEqual([]);
  });

  it('refuses pools whose idle server is the same process as a server in traffic in another backend', async () => {
    const settings = fakeSettings({ strategy: 'blue-green', pools: POOLS });
    const lb = new FakeDriver({
      servers: [
        ...BLUE_GREEN.map((s, i) => ({ ...s, address: `10.0.0.${i + 1}:80` })),
        { id: 'api/x', weight: 100, address: '10.0.0.3:80' },
        // The same process, out of traffic in its other backend: no reason to refuse.
        { id: 'api/y', weight: 0, address: '10.0.0.4:80' },
      ],
    });
    const error = await deploy(settings, lb, signal()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).problems).toEqual([
      'pools: idle pool green cannot be deployed without touching live traffic: app/green1 is the same process as api/x (10.0.0.3:80), which is in traffic. Take those servers out of traffic first, add them to pool green, or deploy with strategy: rolling, which drains every entry of a process before deploying it',
    ]);
    expect(lb.callsOf('apply')).toEqual([]);
  });

  it("a preview's canary in a backend of real traffic is never a rolling target", async () => {
    const settings = fakeSettings({ strategy: 'rolling', targets: 'app/*' });
    const lb = new FakeDriver({
      servers: [{ id: 'app/a' }, { id: 'app/b' }, { id: 'app/pr-7:v2.zdd-canary', weight: 10 }],
      traffic: { perCall: 100 },
    });
    await deploy(settings, lb, signal());
    const touched = new Set(lb.callsOf('apply').flatMap((c) => (c.args as { server: string }[]).map((x) => x.server)));
    expect([...touched].sort()).toEqual(['app/a', 'app/b']);
  });

  it("refuses rolling targets without the load balancer's check or a health-url", async () => {
    const settings = fakeSettings({ strategy: 'rolling', targets: 'app/*' });
    const lb = new FakeDriver({
      servers: [
        { id: 'app/a', check: 'none' },
        { id: 'app/b', check: 'none' },
      ],
    });
    await expect(deploy(settings, lb, signal())).rejects.toThrow(
      /health-url: app\/a, app\/b have no health check on the load balancer.*or on the fake give the server a check/,
    );
    expect(lb.callsOf('apply')).toEqual([]);
  });

  it('a load balancer that cannot be read fails the run with its error before anything is created or changed', async () => {
    const settings = fakeSettings({ strategy: 'rolling', targets: 'app/*' });
    const lb = new FakeDriver({ servers: [{ id: 'app/a' }] });
    lb.faults.at(1, 'refuse');
    // Raised before a deployment exists: main reports it as it is.
    await expect(deploy(settings, lb, signal())).rejects.toThrow('fake: call 1 (servers) refused: connection refused');
    expect(lb.calls.map((c) => `${c.n} ${c.method} ${c.outcome}`)).toEqual(['1 servers refused']);
  });
});
