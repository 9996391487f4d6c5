/**
 * Fleets on fake drivers: several load balancers moved as one. Parsing the list, agreement, changes and reads on
 * every member, counters summed, a member failing mid-canary, a member that disagrees, and the lock on every member.
 */
import { describe, expect, it, vi } from 'vitest';
import { withEngine } from '../../src/engine/context.js';
import { runShift } from '../../src/engine/shift.js';
import { runRolling } from '../../src/engine/rolling.js';
import { readInputs } from '../../src/inputs.js';
import type { LoadBalancerUrl } from '../../src/lb/driver.js';
import { disagreements, merged } from '../../src/lb/fleet/agreement.js';
import { FleetDriver } from '../../src/lb/fleet/driver.js';
import { FleetLock } from '../../src/lb/fleet/lock.js';
import { parseLoadBalancer } from '../../src/lb/registry.js';
import { InputError } from '../../src/model/errors.js';
import { exactSelectors } from '../../src/model/selectors.js';
import type { Server } from '../../src/model/server.js';
import { renderFleet } from '../../src/report/fleet.js';
import { BLUE_GREEN, fakeSettings, planOn, POOLS, recordingHooks, weightsOf } from '../helpers/engine-kit.js';
import { FakeDriver, FakeLock, type Call, type FakeServerSpec, type TrafficScript } from '../helpers/fake-driver.js';

vi.mock('../../src/plan/build.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/plan/build.js')>()),
  COUNTER_POLL_MS: 10,
}));

const IDS = BLUE_GREEN.map((s) => s.id);
const HEALTHY: TrafficScript = { perCall: 100 };
const GREEN_FAILS: TrafficScript = { perCall: 100, failureShare: (id) => (id.startsWith('app/green') ? 0.5 : 0) };

function url(text: string): LoadBalancerUrl {
  const parsed = parseLoadBalancer(text);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed;
}

function fleetOf(...members: FakeDriver[]): FleetDriver {
  return new FleetDriver(members.map((driver, i) => ({ url: url(`fake://lb${i + 1}`), driver })));
}

function fakes(count: number, traffic: TrafficScript = HEALTHY, servers: readonly FakeServerSpec[] = BLUE_GREEN) {
  return Array.from({ length: count }, () => new FakeDriver({ servers, traffic }));
}

function server(id: string, weight: number, admin: Server['admin'] = 'ready', passing = true): Server {
  return {
    id,
    backend: 'app',
    name: id.split('/')[1] ?? '',
    address: '10.0.0.1:80',
    host: '10.0.0.1',
    port: 80,
    weight,
    admin,
    check: { passing, settled: true, status: passing ? 'UP' : 'DOWN' },
    inFlight: 2,
  };
}

function isStepApply(call: Call): boolean {
  return (
    call.method === 'apply' &&
    (call.args as { server: string; weight?: number }[]).some((c) => c.server.includes('green') && (c.weight ?? 0) > 0)
  );
}

describe('load-balancer with several URLs', () => {
  it('one per line or comma-separated is one fleet, of any schemes', () => {
    const fleet = url('haproxy://127.0.0.1:9999\n  nginx+file:///etc/nginx/upstreams.conf ,haproxy+unix:///run/h.sock');
    expect(fleet.kind).toBe('fleet');
    expect(fleet.transport.type === 'fleet' && fleet.transport.members.map((m) => m.kind)).toEqual([
      'haproxy',
      'nginx',
      'haproxy',
    ]);
    expect(fleet.display).toBe(
      'haproxy://127.0.0.1:9999, nginx+file:///etc/nginx/upstreams.conf, haproxy+unix:///run/h.sock',
    );
    // The display is what the checkpoint and records keep: it reads back as the same fleet.
    expect(url(fleet.display)).toEqual(fleet);
    expect(url('haproxy://127.0.0.1:9999,').kind).toBe('haproxy');
  });

  it('refuses a bad member, naming which, and the same load balancer twice', () => {
    expect(parseLoadBalancer('haproxy://127.0.0.1:9999, haproxy://lb2')).toEqual({
      error: 'URL 2 of 2: haproxy:// needs a port: haproxy://HOST:PORT',
    });
    expect(parseLoadBalancer('haproxy://127.0.0.1:9999\nhaproxy://127.0.0.1:9999/')).toMatchObject({
      error: expect.stringMatching(/^URL 2 of 2: haproxy:\/\/127\.0\.0\.1:9999\/ is listed twice$/),
    });
    // One endpoint spelled two ways would count every request twice.
    for (const [one, two] of [
      ['haproxy://127.0.0.1:9999', 'haproxy://LOCALHOST:9999'],
      ['haproxy+ssh://deploy@lb1/run/h.sock', 'haproxy+ssh://deploy@LB1:22/run//h.sock'],
      ['nginx+file:///etc/nginx/u.conf', 'nginx+file:///etc/nginx/./u.conf'],
    ])
      expect(parseLoadBalancer(`${one}\n${two}`)).toMatchObject({ error: expect.stringMatching(/is listed twice$/) });
    expect(parseLoadBalancer('haproxy+ssh://deploy@lb1/run/h.sock\nhaproxy+ssh://deploy@lb2/run/h.sock')).toMatchObject(
      {
        kind: 'fleet',
      },
    );
  });

  it('takes the inputs of every kind in the fleet; a fleet cannot route previews (both named, nothing read)', () => {
    const read = (inputs: Record<string, string>) => () =>
      readInputs((n) => inputs[n] ?? '', { sha: 'abc1234', pullRequestNumber: undefined });
    const lb = 'haproxy://127.0.0.1:9999, nginx+file:///etc/nginx/u.conf';
    const settings = read({
      'load-balancer': lb,
      strategy: 'rolling',
      targets: 'app/*',
      'nginx-reload-command': 'sudo nginx -s reload',
      'nginx-access-log': '/var/log/nginx/zdd.json',
    })();
    expect(settings.loadBalancer.kind).toBe('fleet');
    expect(Object.keys(settings.driverOptions as object).sort()).toEqual(['haproxy', 'nginx']);
    expect(
      read({ 'load-balancer': lb, action: 'preview', 'preview-key': 'pr-1', 'preview-address': '10.0.0.9:80' }),
    ).toThrow(
      /load-balancer: action preview needs a load balancer that routes previews \(.*\); a fleet of several load balancers cannot/,
    );
    expect(() =>
      read({
        'load-balancer': 'haproxy://127.0.0.1:9999, fake://lb',
        strategy: 'rolling',
        targets: 'app/*',
        'nginx-reload-command': 'x',
      })(),
    ).toThrow(InputError);
  });
});

describe('agreement between members', () => {
  it('names each server where members differ, with what each has; health and in-flight may differ', () => {
    const a = [server('app/web1', 100), server('app/web2', 0, 'maint')];
    const b = [server('app/web1', 100, 'ready', false), server('app/web2', 0, 'ready')];
    const c = [server('app/web1', 100)];
    expect(
      disagreements([
        { member: 'A', servers: a },
        { member: 'B', servers: a },
      ]),
    ).toEqual([]);
    expect(
      disagreements([
        { member: 'A', servers: a },
        { member: 'B', servers: b },
        { member: 'C', servers: c },
      ]),
    ).toEqual(['app/web2: 10.0.0.1:80 weight 0 maint on A, 10.0.0.1:80 weight 0 ready on B, missing on C']);
  });

  it('merges agreeing members: a check passes only where it passes on every member; in-flight requests add up', () => {
    const a = [server('app/web1', 100), server('app/web2', 100)];
    const b = [server('app/web1', 100, 'ready', false), server('app/web2', 100)];
    const [web1, web2] = merged([
      { member: 'A', servers: a },
      { member: 'B', servers: b },
    ]);
    expect(web1).toMatchObject({ id: 'app/web1', inFlight: 4, check: { passing: false, status: 'DOWN' } });
    expect(web2).toMatchObject({ id: 'app/web2', inFlight: 4, check: { passing: true, status: 'UP' } });
  });
});

describe('a fleet moved as one', () => {
  it('a canary: every change on every member, read back on all, counters summed; the summary shows each member', async () => {
    const [a, b, standby] = fakes(3) as [FakeDriver, FakeDriver, FakeDriver];
    standby.traffic = {};
    const lb = fleetOf(a, b, standby);
    const settings = fakeSettings({ strategy: 'canary', pools: POOLS, steps: '25% 50ms, 100%' });
    const { plan, roles } = await planOn(settings, lb as unknown as FakeDriver);
    const outcome = await withEngine(settings, lb, new AbortController().signal, recordingHooks().hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    );
    expect(outcome.result, outcome.message).toBe('succeeded');
    for (const member of [a, b, standby])
      expect(weightsOf(member, IDS)).toBe('app/blue1=0 app/blue2=0 app/green1=256 app/green2=256');
    // Each member saw the same changes in the same order.
    const applied = (d: FakeDriver) => d.callsOf('apply').map((c) => JSON.stringify(c.args));
    expect(applied(b)).toEqual(applied(a));
    expect(applied(standby)).toEqual(applied(a));
    expect(lb.writes.length).toBe(applied(a).length);
    // Counters: two members with traffic, each 100 requests a read: the fleet counts both.
    const counts = await lb.counters(IDS);
    const direct = await a.counters(IDS);
    const sum = (m: Map<string, { requests: number }>) => [...m.values()].reduce((n, c) => n + c.requests, 0);
    expect(sum(counts)).toBeGreaterThan(sum(direct));
    const summary = renderFleet(lb).join('\n');
    expect(summary).toContain('### Load balancers (3, moved as one)');
    expect(summary).toContain('| # | sent (UTC) | change | fake://lb1 | fake://lb2 | fake://lb3 | skew |');
    expect(summary).toMatch(
      /\| 1 \| \d\d:\d\d:\d\d\.\d{3} \| app\/green1 .*\| \+\d+ms \| \+\d+ms \| \+\d+ms \| \d+ms \|/,
    );
  });

  it('a bad canary is rolled back on every member', async () => {
    const [a, b] = fakes(2, GREEN_FAILS) as [FakeDriver, FakeDriver];
    const lb = fleetOf(a, b);
    const settings = fakeSettings({ strategy: 'canary', pools: POOLS, steps: '25% 200ms, 100%' });
    const { plan, roles } = await planOn(settings, lb as unknown as FakeDriver);
    const outcome = await withEngine(settings, lb, new AbortController().signal, recordingHooks().hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    );
    expect(outcome.result, outcome.message).toBe('rolled-back');
    for (const member of [a, b])
      expect(weightsOf(member, IDS)).toBe('app/blue1=100 app/blue2=100 app/green1=0 app/green2=0');
  });

  it('members that disagree at the start: refused with each member’s view, nothing changed on either', async () => {
    const [a, b] = fakes(2) as [FakeDriver, FakeDriver];
    b.set('app/green1', { weight: 50 });
    const lb = fleetOf(a, b);
    const before = [a.snapshot(), b.snapshot()];
    await expect(lb.servers(exactSelectors(IDS))).rejects.toThrow(
      'the load balancers disagree (each must route the same servers the same way): app/green1: 127.0.0.1:20003 weight 0 ready on fake://lb1, 127.0.0.1:20003 weight 50 ready on fake://lb2',
    );
    expect(a.callsOf('apply')).toEqual([]);
    expect(b.callsOf('apply')).toEqual([]);
    expect([a.snapshot(), b.snapshot()]).toEqual(before);
  });

  it('members may differ outside the pools (an internal and an external load balancer): the deploy goes on; inside them it is refused', async () => {
    vi.stubEnv('GITHUB_STEP_SUMMARY', '');
    vi.stubEnv('GITHUB_STATE', '');
    vi.stubEnv('GITHUB_OUTPUT', '');
    const { deploy } = await import('../../src/actions/deploy.js');
    const settings = fakeSettings({ strategy: 'canary', pools: POOLS, steps: '25% 50ms, 100%' });
    const signal = new AbortController().signal;
    const a = new FakeDriver({
      servers: [...BLUE_GREEN, { id: 'admin/x', weight: 5, address: '10.9.9.9:80' }],
      traffic: HEALTHY,
    });
    const b = new FakeDriver({
      servers: [...BLUE_GREEN, { id: 'admin/x', weight: 9, address: '10.9.9.9:80' }, { id: 'public/y' }],
      traffic: HEALTHY,
    });
    const outcome = await deploy(settings, fleetOf(a, b), signal);
    expect(outcome.result).toBe('succeeded');
    for (const m of [a, b]) expect(weightsOf(m, IDS)).toBe('app/blue1=0 app/blue2=0 app/green1=256 app/green2=256');
    expect(b.state('public/y').weight).toBe(100);

    const [c, d] = fakes(2) as [FakeDriver, FakeDriver];
    d.set('app/blue2', { weight: 50 });
    await expect(deploy(settings, fleetOf(c, d), signal)).rejects.toThrow(/the load balancers disagree .*app\/blue2/);
    expect([...c.callsOf('apply'), ...d.callsOf('apply')]).toEqual([]);
    // The dry run refuses what the deploy refuses.
    const { dryRun } = await import('../../src/actions/dry-run.js');
    const refused = await dryRun({ ...settings, dryRun: true }, fleetOf(c, d)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InputError);
    expect((refused as InputError).problems).toEqual([
      expect.stringMatching(/^load-balancer: the load balancers disagree .*app\/blue2/),
    ]);
  });

  it('a rolling deploy: targets are not their own companions, and a difference in their backend is refused before anything moves', async () => {
    vi.stubEnv('GITHUB_STEP_SUMMARY', '');
    vi.stubEnv('GITHUB_STATE', '');
    vi.stubEnv('GITHUB_OUTPUT', '');
    const { deploy } = await import('../../src/actions/deploy.js');
    const settings = fakeSettings({ strategy: 'rolling', targets: 'app/a app/b' });
    const signal = new AbortController().signal;
    const servers = [{ id: 'app/a' }, { id: 'app/b' }, { id: 'app/c' }];
    const [a, b] = [new FakeDriver({ servers, traffic: HEALTHY }), new FakeDriver({ servers, traffic: HEALTHY })];
    expect((await deploy(settings, fleetOf(a, b), signal)).result).toBe('succeeded');
    for (const call of a.callsOf('apply')) {
      const ids = (call.args as { server: string }[]).map((c) => c.server);
      expect(ids).toEqual([...new Set(ids)]);
    }
    const [c, d] = [new FakeDriver({ servers, traffic: HEALTHY }), new FakeDriver({ servers, traffic: HEALTHY })];
    d.set('app/c', { admin: 'maint' });
    await expect(deploy(settings, fleetOf(c, d), signal)).rejects.toThrow(/the load balancers disagree .*app\/c/);
    expect([...c.callsOf('apply'), ...d.callsOf('apply')]).toEqual([]);
  });

  it('a rolling deploy with extra backends on one member at the same processes: moved there with their process, never sent to the other', async () => {
    vi.stubEnv('GITHUB_STEP_SUMMARY', '');
    vi.stubEnv('GITHUB_STATE', '');
    vi.stubEnv('GITHUB_OUTPUT', '');
    const { deploy } = await import('../../src/actions/deploy.js');
    const settings = fakeSettings({ strategy: 'rolling', targets: 'app/a app/b' });
    const signal = new AbortController().signal;
    const app = [
      { id: 'app/a', address: '10.0.0.1:80' },
      { id: 'app/b', address: '10.0.0.2:80' },
    ];
    const api = [
      { id: 'api/a', address: '10.0.0.1:80' },
      { id: 'api/b', address: '10.0.0.2:80' },
    ];
    const a = new FakeDriver({ servers: [...app, ...api], traffic: HEALTHY });
    const b = new FakeDriver({ servers: app, traffic: HEALTHY });
    expect((await deploy(settings, fleetOf(a, b), signal)).result).toBe('succeeded');
    const sent = (d: FakeDriver) =>
      d.callsOf('apply').flatMap((c) => (c.args as { server: string }[]).map((x) => x.server));
    expect(sent(a)).toContain('api/a');
    expect(sent(b).filter((id) => id.startsWith('api/'))).toEqual([]);
    expect(a.state('api/a')).toMatchObject({ weight: 100, admin: 'ready' });
    // Where a member has the backend, a missing entry is still a disagreement.
    const c = new FakeDriver({ servers: [...app, ...api], traffic: HEALTHY });
    const d = new FakeDriver({ servers: [...app, { id: 'api/z', address: '10.0.0.9:80' }], traffic: HEALTHY });
    await expect(deploy(settings, fleetOf(c, d), signal)).rejects.toThrow(
      /disagree .*api\/a: .* missing on fake:\/\/lb2/,
    );
    expect([...c.callsOf('apply'), ...d.callsOf('apply')]).toEqual([]);
  });

  it('a member whose API is cut mid-canary: the rollout stops, the other is back on stable, the message has both', async () => {
    const [a, b] = fakes(2) as [FakeDriver, FakeDriver];
    const lb = fleetOf(a, b);
    // From the first step on, member 2 refuses everything: its API is gone.
    let cut = false;
    b.faults.when((call) => (cut ||= isStepApply(call)), 'refuse', 1000);
    const settings = fakeSettings({ strategy: 'canary', pools: POOLS, steps: '25% 100ms, 100%' });
    const { plan, roles } = await planOn(settings, lb as unknown as FakeDriver);
    const outcome = await withEngine(settings, lb, new AbortController().signal, recordingHooks().hooks, (ctx) =>
      runShift(ctx, plan, roles!),
    );
    expect(outcome.result).toBe('failed');
    expect(weightsOf(a, IDS)).toBe('app/blue1=100 app/blue2=100 app/green1=0 app/green2=0');
    // Member 2 never took the step: no traffic reached the new version through it.
    expect(weightsOf(b, IDS)).toBe('app/blue1=100 app/blue2=100 app/green1=0 app/green2=0');
    expect(outcome.message).toMatch(
      /1 of 2 load balancers failed: fake:\/\/lb1: .*; fake:\/\/lb2: (the change|reading) failed/,
    );
    // Each member's state as re-read (lb1 back on stable), and how to restore the one that did not answer, first.
    expect(outcome.message).toContain(
      'as read: 1 of 2 load balancers failed: fake://lb1: app/blue1 weight 100 ready, app/blue2 weight 100 ready, app/green1 weight 0 ready, app/green2 weight 0 ready; fake://lb2: reading failed',
    );
    expect(outcome.message).toMatch(
      /Restore it on fake:\/\/lb2 \(it did not answer: fake: call \d+ \(servers\) refused: connection refused\): on the fake load balancer: set app\/blue1 weight 100; .*; and on fake:\/\/lb1 \(it answered\): /,
    );
  });

  it('a rolling deploy drains a server on every member before its deploy', async () => {
    const servers = [{ id: 'app/web1' }, { id: 'app/web2' }, { id: 'app/web3' }];
    const [a, b] = fakes(2, HEALTHY, servers) as [FakeDriver, FakeDriver];
    const lb = fleetOf(a, b);
    const settings = fakeSettings({ strategy: 'rolling', targets: 'app/*', 'deploy-command': 'true' });
    const { plan, servers: read } = await planOn(settings, lb as unknown as FakeDriver);
    const outcome = await withEngine(settings, lb, new AbortController().signal, recordingHooks().hooks, (ctx) =>
      runRolling(ctx, plan, read, read),
    );
    expect(outcome.result, outcome.message).toBe('succeeded');
    const drains = (d: FakeDriver) =>
      d.callsOf('apply').filter((c) => (c.args as { admin?: string }[]).some((x) => x.admin === 'maint')).length;
    expect(drains(a)).toBe(3);
    expect(drains(b)).toBe(3);
    expect(a.snapshot()).toBe(b.snapshot());
  });
});

describe('counters of a fleet', () => {
  it('sums the members; one member’s reset never goes backwards nor counts the others’ history again', async () => {
    const [a, b] = fakes(2, { perCall: 100 }) as [FakeDriver, FakeDriver];
    const lb = fleetOf(a, b);
    const total = async () => [...(await lb.counters(IDS)).values()].reduce((n, c) => n + c.requests, 0);
    const first = await total();
    expect(first).toBe(200);
    const second = await total();
    expect(second - first).toBe(200);
    b.resetCounters();
    const third = await total();
    // b counts on from where it was (its 100 new requests), a adds its own 100: 200 new, never a drop.
    expect(third - second).toBe(200);
    expect(await total()).toBe(third + 200);
  });
});

describe('a member that does not answer', () => {
  it('manual steps name it first, saying why; the members that answered follow', async () => {
    const [a, b] = fakes(2) as [FakeDriver, FakeDriver];
    const lb = fleetOf(a, b);
    b.faults.when(() => true, 'refuse', 10);
    await expect(lb.servers(exactSelectors(IDS))).rejects.toThrow(
      /^1 of 2 load balancers failed: fake:\/\/lb1: app\/blue1 weight 100 ready, .*; fake:\/\/lb2: reading failed \(fake: call 1 \(servers\) refused: connection refused\)$/,
    );
    expect(lb.manualSteps([{ server: 'app/green1', weight: 0 }])).toBe(
      'on fake://lb2 (it did not answer: fake: call 1 (servers) refused: connection refused): on the fake load balancer: set app/green1 weight 0; and on fake://lb1 (it answered): on the fake load balancer: set app/green1 weight 0',
    );
    b.faults.clear();
    await lb.servers(exactSelectors(IDS));
    expect(lb.manualSteps([{ server: 'app/green1', weight: 0 }])).toBe(
      'on fake://lb1: on the fake load balancer: set app/green1 weight 0; and on fake://lb2: on the fake load balancer: set app/green1 weight 0',
    );
  });

  it('a change reaches every member that answers, and the error says which took it', async () => {
    const [a, b] = fakes(2) as [FakeDriver, FakeDriver];
    const lb = fleetOf(a, b);
    b.faults.when((c) => c.method === 'apply', 'refuse');
    await expect(lb.apply([{ server: 'app/green1', weight: 7 }])).rejects.toThrow(
      '1 of 2 load balancers failed: fake://lb1: took the change; fake://lb2: the change failed (fake: call 1 (apply) refused: connection refused)',
    );
    expect(a.state('app/green1').weight).toBe(7);
    expect(b.state('app/green1').weight).toBe(0);
    const [write] = lb.writes;
    expect(write?.members.map((m) => [m.member, m.error ?? 'ok'])).toEqual([
      ['fake://lb1', 'ok'],
      ['fake://lb2', 'fake: call 1 (apply) refused: connection refused'],
    ]);
  });
});

describe('the lock of a fleet', () => {
  it('its holder as the members that answer say; none answering throws', async () => {
    const [l1, l2] = [new FakeLock(), new FakeLock()];
    const lock = new FleetLock([
      { member: 'A', lock: l1 },
      { member: 'B', lock: l2 },
    ]);
    await lock.acquire('me');
    l2.holder = () => Promise.reject(new Error('connection refused'));
    expect((await lock.holder())?.owner).toBe('me');
    l1.holder = () => Promise.reject(new Error('timed out'));
    await expect(lock.holder()).rejects.toThrow('no load balancer answered: A: timed out; B: connection refused');
  });

  it('taken on every member in order; a holder on any member stops the run, which keeps none', async () => {
    const [l1, l2] = [new FakeLock(), new FakeLock()];
    const lock = new FleetLock([
      { member: 'A', lock: l1 },
      { member: 'B', lock: l2 },
    ]);
    await l2.acquire('other.run');
    expect(await lock.acquire('me')).toEqual({ holder: expect.objectContaining({ owner: 'other.run' }) });
    expect(l1.current).toBeUndefined();
    // A run killed between members holds some and not others: still that run's lock, which it can release.
    expect((await lock.holder())?.owner).toBe('other.run');
    expect(await lock.acquire('me', 'other.run')).toMatchObject({ held: 'fake lock; fake lock' });
    expect([l1.current?.owner, l2.current?.owner]).toEqual(['me', 'me']);
    expect((await lock.holder())?.owner).toBe('me');
    await lock.release('me');
    expect(await lock.holder()).toBeUndefined();
  });

  it('a take-over replaces the named holder only when no member is held by another run; nothing is replaced otherwise', async () => {
    const [l1, l2] = [new FakeLock(), new FakeLock()];
    const lock = new FleetLock([
      { member: 'A', lock: l1 },
      { member: 'B', lock: l2 },
    ]);
    await l1.acquire('dead.run');
    await l2.acquire('live.run');
    expect(await lock.holder()).toEqual({ owner: 'dead.run on A, live.run on B', since: undefined });
    expect(await lock.acquire('me', 'dead.run')).toEqual({ holder: expect.objectContaining({ owner: 'live.run' }) });
    expect([l1.current?.owner, l2.current?.owner]).toEqual(['dead.run', 'live.run']);
  });

  it('a member whose acquire failed after taking the lock is released too; others are left as they were', async () => {
    const [l1, l2] = [new FakeLock(), new FakeLock()];
    const lock = new FleetLock([
      { member: 'A', lock: l1 },
      { member: 'B', lock: l2 },
    ]);
    const acquire = l2.acquire.bind(l2);
    l2.acquire = async (owner, takeOver) => {
      await acquire(owner, takeOver);
      throw new Error('the answer was lost');
    };
    await expect(lock.acquire('me')).rejects.toThrow('taking the lock on B failed: the answer was lost');
    expect([l1.current, l2.current]).toEqual([undefined, undefined]);
  });
});

describe('long-lived connections on a fleet', () => {
  /** A fake member that counts `webSockets` on app/web1 and one request on each server, and logs each close. */
  function closing(name: string, webSockets: number, log: string[]): FakeDriver {
    const driver = new FakeDriver({ servers: [{ id: 'app/web1' }, { id: 'app/web2' }] });
    const open = (ids: readonly string[]) =>
      ids.map((server) => ({ server, webSockets: server === 'app/web1' ? webSockets : 0, requests: 1 }));
    return Object.assign(driver, {
      capabilities: { ...driver.capabilities, closesConnections: true },
      connections: {
        open: async (ids: readonly string[]) => open(ids),
        close: async (ids: readonly string[], which: string) => {
          log.push(`${name} ${which} ${ids.join(' ')}`);
          return open(ids);
        },
      },
    });
  }

  it("sums each server's connections over the members and closes them on every member", async () => {
    const log: string[] = [];
    const fleet = fleetOf(closing('lb1', 3, log), closing('lb2', 2, log));
    expect(fleet.capabilities.closesConnections).toBe(true);
    expect(await fleet.connections?.close(['app/web1', 'app/web2'], 'webSockets')).toEqual([
      { server: 'app/web1', webSockets: 5, requests: 2 },
      { server: 'app/web2', webSockets: 0, requests: 2 },
    ]);
    expect(log).toEqual(['lb1 webSockets app/web1 app/web2', 'lb2 webSockets app/web1 app/web2']);
  });

  it('cannot close them when one member cannot', () => {
    const fleet = fleetOf(closing('lb1', 3, []), new FakeDriver({ servers: [{ id: 'app/web1' }] }));
    expect(fleet.capabilities.closesConnections).toBe(false);
    expect(fleet.connections).toBeUndefined();
  });
});
