/** The fake driver itself: faults by call number, the call log, traffic by weight and by pool share. */
import { describe, expect, it } from 'vitest';
import { FakeDriver } from '../helpers/fake-driver.js';
import { selectors } from '../conformance/driver-conformance.js';

function two(options: Partial<ConstructorParameters<typeof FakeDriver>[0]> = {}): FakeDriver {
  return new FakeDriver({ servers: [{ id: 'app/a' }, { id: 'app/b', weight: 100 }], ...options });
}

describe('fake driver', () => {
  it('numbers and logs every call with its arguments and time; roundTrips counts them', async () => {
    let now = 1000;
    const lb = two({ now: () => now });
    await lb.servers(selectors('app/*'));
    now = 1500;
    await lb.apply([{ server: 'app/a', weight: 5 }]);
    await lb.counters(['app/a']);
    expect(lb.calls).toEqual([
      { n: 1, method: 'servers', args: ['app/*'], at: 1000, outcome: 'ok' },
      { n: 2, method: 'apply', args: [{ server: 'app/a', weight: 5 }], at: 1500, outcome: 'ok' },
      { n: 3, method: 'counters', args: ['app/a'], at: 1500, outcome: 'ok' },
    ]);
    expect(lb.roundTrips).toBe(3);
  });

  it('refuse: throws and changes nothing; partial: the first half, then throws; drop-after: all, then throws', async () => {
    const lb = new FakeDriver({ servers: ['app/a', 'app/b', 'app/c', 'app/d'].map((id) => ({ id })) });
    const all = (weight: number) => ['app/a', 'app/b', 'app/c', 'app/d'].map((server) => ({ server, weight }));
    lb.faults.at(1, 'refuse').at(2, 'partial').at(3, 'drop-after');
    await expect(lb.apply(all(1))).rejects.toThrow('fake: call 1 (apply) refused');
    expect(lb.snapshot()).toBe('app/a=100 ready, app/b=100 ready, app/c=100 ready, app/d=100 ready');
    await expect(lb.apply(all(2))).rejects.toThrow('fake: call 2 (apply): connection lost after the write');
    expect(lb.snapshot()).toBe('app/a=2 ready, app/b=2 ready, app/c=100 ready, app/d=100 ready');
    await expect(lb.apply(all(3))).rejects.toThrow('fake: call 3 (apply): connection lost after the write');
    expect(lb.snapshot()).toBe('app/a=3 ready, app/b=3 ready, app/c=3 ready, app/d=3 ready');
    await lb.apply(all(4));
    expect(lb.calls.map((c) => c.outcome)).toEqual(['refused', 'partial', 'dropped', 'ok']);
  });

  it('delay: waits, then proceeds; a predicate fault hits only the calls it matches', async () => {
    const lb = two();
    lb.faults.at(1, { delayMs: 50 });
    lb.faults.when((c) => c.method === 'counters', 'refuse', 2);
    const started = Date.now();
    await lb.servers(selectors('app/a'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    await expect(lb.counters(['app/a'])).rejects.toThrow();
    await lb.servers(selectors('app/a'));
    await expect(lb.counters(['app/a'])).rejects.toThrow();
    await expect(lb.counters(['app/a'])).resolves.toBeInstanceOf(Map);
  });

  it('a batch with one bad change is refused whole', async () => {
    const lb = two({ weights: { min: 0, max: 10 } });
    await expect(
      lb.apply([
        { server: 'app/a', weight: 10 },
        { server: 'app/b', weight: 11 },
      ]),
    ).rejects.toThrow('fake refused 1 of 2 changes: weight 11 for app/b is outside 0-10');
    expect(lb.snapshot()).toBe('app/a=100 ready, app/b=100 ready');
  });

  it('traffic accrues by weight among ready servers with a passing check, and failures by share', async () => {
    let now = 0;
    const lb = new FakeDriver({
      servers: [
        { id: 'app/a', weight: 300 },
        { id: 'app/b', weight: 100 },
        { id: 'app/c', weight: 100, admin: 'maint' },
        { id: 'app/d', weight: 100, check: 'fail' },
      ],
      weights: { min: 0, max: 300 },
      now: () => now,
      traffic: { ratePerSecond: 100, failureShare: (id) => (id === 'app/b' ? 0.1 : 0) },
    });
    now = 2000;
    const counters = await lb.counters(['app/a', 'app/b', 'app/c', 'app/d']);
    expect(Object.fromEntries(counters)).toEqual({
      'app/a': { requests: 150, failures: 0 },
      'app/b': { requests: 50, failures: 5 },
      'app/c': { requests: 0, failures: 0 },
      'app/d': { requests: 0, failures: 0 },
    });
  });

  it('with native split, traffic follows the pool shares', async () => {
    const lb = new FakeDriver({
      servers: [{ id: 'app/blue' }, { id: 'app/green', weight: 0 }],
      nativeSplit: true,
      traffic: { perCall: 100 },
    });
    await lb.split?.([
      { pool: 'blue', servers: ['app/blue'], percent: 75 },
      { pool: 'green', servers: ['app/green'], percent: 25 },
    ]);
    const counters = await lb.counters(['app/blue', 'app/green']);
    expect(counters.get('app/blue')?.requests).toBe(75);
    expect(counters.get('app/green')?.requests).toBe(25);
    await expect(lb.split?.([{ pool: 'blue', servers: ['app/blue'], percent: 50 }])).rejects.toThrow(
      'shares add up to 50%, not 100%',
    );
  });

  it('a closed driver refuses every call', async () => {
    const lb = two();
    await lb.close();
    await expect(lb.servers(selectors('app/*'))).rejects.toThrow('closed');
  });
});
