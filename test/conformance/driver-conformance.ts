/**
 * What every driver must do, as vitest cases: reading servers by exact and glob selectors, applying weight and state
 * changes that read back, refusing bad changes without changing anything, cumulative counters that grow with
 * traffic, manual steps that name every server, and capabilities that match the methods present. A test file calls
 * `driverConformance(name, setup)` once per driver; the driver is made through the registry, as the action makes it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Driver } from '../../src/lb/driver.js';
import { createDriver, driverModule, parseLoadBalancer } from '../../src/lb/registry.js';
import { parseSelector, type Selector } from '../../src/model/selectors.js';
import type { AdminState, Change, Counters } from '../../src/model/server.js';

/** A server as the load balancer holds it when the suite starts. */
export interface ExpectedServer {
  readonly id: string;
  readonly address: string;
  readonly weight: number;
  readonly admin: AdminState;
}

export interface ConformanceSubject {
  readonly driver: Driver;
  /**
   * Backend `app`: web1 and web2 in traffic at weight 100, spare at weight 0 (all ready). More servers may exist,
   * in other backends.
   */
  readonly servers: readonly ExpectedServer[];
  /** Sends `count` requests through the load balancer's frontend (or serves them, for the fake). */
  traffic(count: number): Promise<void>;
}

export interface ConformanceSetup {
  start(): Promise<ConformanceSubject>;
  stop(): Promise<void>;
  /**
   * Known deviations, each with why: the case is declared `it.fails` (it must keep failing until the driver is
   * fixed; then remove the entry).
   */
  readonly known?: {
    /** A batch with one refused change still applies the others. */
    readonly partialBatch?: string;
    /** A weight outside capabilities.weights (or not a whole number) is written instead of refused. */
    readonly weightRange?: string;
  };
}

/** Inputs for a driver module's own options, as `readInputs` would pass them. */
export function driverFromUrl(text: string, inputs: Readonly<Record<string, string>> = {}): Driver {
  const url = parseLoadBalancer(text);
  if ('error' in url) throw new Error(url.error);
  const module = driverModule(url.kind);
  const options = module.options((name) => inputs[name] ?? '', { action: 'deploy', dryRun: false, minRequests: 0 });
  if ('errors' in options) throw new Error(options.errors.join('; '));
  return createDriver(url, options.options, { retries: 1, timeoutMs: 5000 });
}

export function selectors(...texts: string[]): Selector[] {
  return texts.map((text) => {
    const selector = parseSelector(text);
    if ('error' in selector) throw new Error(selector.error);
    return selector;
  });
}

const APP = selectors('app/*');

function view(servers: readonly { id: string; weight: number; admin: AdminState }[]): string[] {
  return servers.map((s) => `${s.id} ${s.weight} ${s.admin}`);
}

function sum(counters: Map<string, Counters>): number {
  return [...counters.values()].reduce((n, c) => n + c.requests, 0);
}

export function driverConformance(name: string, setup: ConformanceSetup): void {
  describe(`driver conformance: ${name}`, () => {
    let subject: ConformanceSubject;
    let driver: Driver;
    const initial = () => subject.servers.filter((s) => s.id.startsWith('app/'));
    const restore = (): Change[] => initial().map((s) => ({ server: s.id, weight: s.weight, admin: s.admin }));
    const known = setup.known ?? {};
    const deviating = (reason: string | undefined) => (reason ? it.fails : it);

    beforeAll(async () => {
      subject = await setup.start();
      driver = subject.driver;
    });
    afterAll(async () => {
      await driver?.close();
      await setup.stop();
    });
    afterEach(async () => {
      // Every case starts from the same state, whatever the one before left.
      await driver.apply(restore());
    });

    it('servers(): a glob selector returns every matching server in order, with address, weight and state', async () => {
      const found = await driver.servers(APP);
      expect(found.map((s) => s.id)).toEqual(initial().map((s) => s.id));
      for (const expected of initial()) {
        const server = found.find((s) => s.id === expected.id);
        expect(server, expected.id).toMatchObject({
          address: expected.address,
          weight: expected.weight,
          admin: expected.admin,
        });
        const [backend, serverName] = expected.id.split('/');
        expect(server).toMatchObject({ backend, name: serverName });
        expect(`${server?.host}:${server?.port}`).toBe(expected.address);
        expect(server?.inFlight).toBeGreaterThanOrEqual(0);
      }
    });

    it('servers(): exact and partial-glob selectors, several at once, and a selector matching nothing', async () => {
      expect((await driver.servers(selectors('app/web1'))).map((s) => s.id)).toEqual(['app/web1']);
      expect((await driver.servers(selectors('app/web*'))).map((s) => s.id)).toEqual(['app/web1', 'app/web2']);
      expect((await driver.servers(selectors('app/spare', 'app/web2'))).map((s) => s.id).sort()).toEqual([
        'app/spare',
        'app/web2',
      ]);
      expect(await driver.servers(selectors('app/nothing*'))).toEqual([]);
      // The same server read twice (once by name, once by glob) reads the same.
      const [byName] = await driver.servers(selectors('app/web2'));
      const byGlob = (await driver.servers(APP)).find((s) => s.id === 'app/web2');
      expect(view(byName ? [byName] : [])).toEqual(view(byGlob ? [byGlob] : []));
    });

    it('apply(): weight and state changes to several servers in one call read back by servers()', async () => {
      const { min, max } = driver.capabilities.weights;
      const pick = (n: number) => Math.min(max, Math.max(min, n));
      await driver.apply([
        { server: 'app/web1', weight: pick(37) },
        { server: 'app/web2', admin: 'drain' },
        { server: 'app/spare', weight: pick(5), admin: 'maint' },
      ]);
      const web2 = initial().find((s) => s.id === 'app/web2')?.weight;
      expect(view(await driver.servers(APP))).toEqual([
        `app/web1 ${pick(37)} ready`,
        `app/web2 ${web2} drain`,
        `app/spare ${pick(5)} maint`,
      ]);
      // A change of state alone keeps the weight; a change of weight alone keeps the state.
      await driver.apply([{ server: 'app/spare', admin: 'ready' }]);
      await driver.apply([{ server: 'app/web2', weight: pick(12) }]);
      expect(view(await driver.servers(selectors('app/web2', 'app/spare'))).sort()).toEqual([
        `app/spare ${pick(5)} ready`,
        `app/web2 ${pick(12)} drain`,
      ]);
    });

    it('apply(): the ends of the weight range are accepted', async () => {
      const { min, max } = driver.capabilities.weights;
      await driver.apply([
        { server: 'app/web1', weight: max },
        { server: 'app/web2', weight: min },
      ]);
      const found = await driver.servers(selectors('app/web1', 'app/web2'));
      expect(found.map((s) => `${s.id} ${s.weight}`).sort()).toEqual([`app/web1 ${max}`, `app/web2 ${min}`]);
    });

    it('apply(): no changes is no error and changes nothing', async () => {
      const before = view(await driver.servers(APP));
      await driver.apply([]);
      expect(view(await driver.servers(APP))).toEqual(before);
    });

    it('apply(): a change to an unknown server throws and changes nothing', async () => {
      const before = view(await driver.servers(APP));
      await expect(driver.apply([{ server: 'app/nope', weight: 1 }])).rejects.toThrow(/app\/nope/);
      expect(view(await driver.servers(APP))).toEqual(before);
    });

    it('apply(): a name that could inject a command throws and changes nothing', async () => {
      const before = view(await driver.servers(APP));
      await expect(driver.apply([{ server: 'app/web1;set server app/web2 weight 1', weight: 3 }])).rejects.toThrow();
      await expect(driver.apply([{ server: 'app/web1 weight=1', weight: 3 }])).rejects.toThrow();
      expect(view(await driver.servers(APP))).toEqual(before);
    });

    deviating(known.weightRange)(
      `apply(): a weight above capabilities.weights.max, below min or not whole throws and changes nothing${known.weightRange ? ` (known: ${known.weightRange})` : ''}`,
      async () => {
        const { min, max } = driver.capabilities.weights;
        const before = view(await driver.servers(APP));
        for (const weight of [max + 1, min - 1, 2.5]) {
          await expect(driver.apply([{ server: 'app/web1', weight }]), `weight ${weight}`).rejects.toThrow();
          expect(view(await driver.servers(APP)), `after weight ${weight}`).toEqual(before);
        }
      },
    );

    deviating(known.partialBatch)(
      `apply(): a batch with one refused change throws and changes none of the others${known.partialBatch ? ` (known: ${known.partialBatch})` : ''}`,
      async () => {
        const before = view(await driver.servers(APP));
        await expect(
          driver.apply([
            { server: 'app/web1', weight: 10, admin: 'drain' },
            { server: 'app/nope', admin: 'drain' },
          ]),
        ).rejects.toThrow(/app\/nope/);
        expect(view(await driver.servers(APP))).toEqual(before);
      },
    );

    it('counters(): cumulative, never decreasing, for every known id; requests grow with traffic', async () => {
      const ids = initial().map((s) => s.id);
      const first = await driver.counters(ids);
      expect([...first.keys()].sort()).toEqual([...ids].sort());
      for (const c of first.values()) {
        expect(Number.isInteger(c.requests) && c.requests >= 0).toBe(true);
        expect(c.failures).toBeGreaterThanOrEqual(0);
        expect(c.failures).toBeLessThanOrEqual(c.requests);
      }
      await subject.traffic(20);
      // Counters may land a moment after the responses: wait for them (bounded), never assert on timing.
      let latest = await driver.counters(ids);
      for (let tries = 0; sum(latest) < sum(first) + 20 && tries < 50; tries++) {
        await new Promise((r) => setTimeout(r, 100));
        latest = await driver.counters(ids);
      }
      expect(sum(latest)).toBeGreaterThanOrEqual(sum(first) + 20);
      for (const id of ids) {
        expect(latest.get(id)?.requests, id).toBeGreaterThanOrEqual(first.get(id)?.requests ?? 0);
        expect(latest.get(id)?.failures, id).toBeGreaterThanOrEqual(first.get(id)?.failures ?? 0);
      }
      // Both servers in traffic took some; the spare at weight 0 took none.
      expect(latest.get('app/web1')?.requests).toBeGreaterThan(first.get('app/web1')?.requests ?? 0);
      expect(latest.get('app/web2')?.requests).toBeGreaterThan(first.get('app/web2')?.requests ?? 0);
      expect(latest.get('app/spare')?.requests).toBe(first.get('app/spare')?.requests);
      const snapshot = JSON.stringify([...latest]);
      await subject.traffic(20);
      const again = await driver.counters(ids);
      for (const id of ids) expect(again.get(id)?.requests).toBeGreaterThanOrEqual(latest.get(id)?.requests ?? 0);
      // A reading is a snapshot: the engine takes deltas between two readings, so later traffic must not change one.
      expect(JSON.stringify([...latest]), 'an earlier counters() result changed afterwards').toBe(snapshot);
    });

    it('manualSteps(): names every server of the changes', () => {
      const changes: Change[] = [
        { server: 'app/web1', weight: 0, admin: 'maint' },
        { server: 'app/web2', weight: 256 },
        { server: 'app/spare', admin: 'drain' },
      ];
      const text = driver.manualSteps(changes);
      expect(typeof text).toBe('string');
      for (const c of changes) expect(text).toContain(c.server);
    });

    it('capabilities: consistent with the methods present', () => {
      const caps = driver.capabilities;
      expect(Number.isInteger(caps.weights.min) && Number.isInteger(caps.weights.max)).toBe(true);
      expect(caps.weights.min).toBeGreaterThanOrEqual(0);
      expect(caps.weights.max).toBeGreaterThan(caps.weights.min);
      expect(typeof driver.split === 'function').toBe(caps.nativeSplit);
      expect(driver.previews !== undefined).toBe(caps.previews);
      expect(typeof driver.advice.outOfRotation('green')).toBe('string');
      expect(driver.advice.outOfRotation('green')).toContain('green');
      expect(driver.advice.healthCheck === '').toBe(!caps.healthChecks);
      // The job summary names how a server out of traffic shows; every driver says it in its own terms.
      expect(driver.advice.outOfTraffic).toMatch(/\S/);
      expect(typeof driver.advice.zeroWeight).toBe('string');
    });

    it('roundTrips: counts every call, and only grows', async () => {
      const before = driver.roundTrips;
      await driver.servers(APP);
      const afterRead = driver.roundTrips;
      expect(afterRead).toBeGreaterThan(before);
      await driver.counters(['app/web1']);
      expect(driver.roundTrips).toBeGreaterThan(afterRead);
    });
  });
}
