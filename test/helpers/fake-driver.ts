/**
 * An in-memory load balancer behind the Driver interface, for engine tests that run in seconds and for the driver
 * conformance suite. It holds servers (`BACKEND/NAME`, address, weight, admin state, the load balancer's own check,
 * requests in flight), applies each call's changes all or nothing (like a batch that validates first), and keeps
 * cumulative counters scripted by a traffic model. Every call is numbered and logged; any call can be made to fail,
 * fail half-way, fail after it took effect, or wait (`faults`). `fakeModule` (scheme `fake://NAME`) registers it with
 * the registry the way the real drivers are listed.
 */
import type {
  Advice,
  Capabilities,
  Driver,
  DriverModule,
  LoadBalancerUrl,
  LockAttempt,
  LockHolder,
  PoolShare,
  RolloutLock,
  Transport,
} from '../../src/lb/driver.js';
import { registerDriver } from '../../src/lb/registry.js';
import { matchesSelector, NAME_PATTERN, type Selector } from '../../src/model/selectors.js';
import type { AdminState, Change, Counters, Server } from '../../src/model/server.js';

/** How a server's own health check behaves: passing (settled), failing (never settles), or no check at all. */
export type CheckScript = 'pass' | 'fail' | 'none';

export interface FakeServerSpec {
  /** `BACKEND/NAME` */
  readonly id: string;
  /** `HOST:PORT`; defaults to a distinct loopback port per server. */
  readonly address?: string;
  readonly weight?: number;
  readonly admin?: AdminState;
  readonly check?: CheckScript;
  readonly inFlight?: number;
}

export interface TrafficScript {
  /** Requests per second of the fake's clock, for the whole load balancer, accrued on each `counters()` call. */
  readonly ratePerSecond?: number;
  /** Requests accrued on each `counters()` call regardless of time (deterministic whatever the machine's speed). */
  readonly perCall?: number;
  /** Share (0..1) of a server's requests that fail. */
  readonly failureShare?: (serverId: string) => number;
}

export type Method = 'servers' | 'apply' | 'split' | 'counters';

/**
 * refuse: throw, nothing changes. partial: the first half of the changes (rounded down) take effect, then throw;
 * `{ partial: k }`: the first k changes take effect, then throw. drop-after: everything takes effect, then throw (the
 * connection was lost after the write). delay: wait, then proceed. hang: the call never reaches the load balancer
 * and never answers; hang-after: it takes effect and never answers (the process was killed before or after it).
 * For reads, partial acts like drop-after (the read happened, its answer was lost).
 */
export type Fault =
  | 'refuse'
  | 'partial'
  | 'drop-after'
  | 'hang'
  | 'hang-after'
  | { readonly partial: number }
  | { readonly delayMs: number };

export interface Call {
  /** 1, 2, 3... across all methods. */
  readonly n: number;
  readonly method: Method;
  readonly args: unknown;
  /** The fake clock when the call was sent. */
  readonly at: number;
  /** What happened: ok, or the fault injected, or the error the fake raised itself. */
  outcome: 'ok' | 'refused' | 'partial' | 'dropped' | 'hung' | 'error';
  error?: string;
}

export interface FakeOptions {
  readonly servers: readonly FakeServerSpec[];
  readonly weights?: { readonly min: number; readonly max: number };
  /** Splits traffic between pools itself (`split`), instead of by server weights. */
  readonly nativeSplit?: boolean;
  /** The fake's clock, ms (Date.now by default); traffic by rate and call times use it. */
  readonly now?: () => number;
  readonly traffic?: TrafficScript;
  /** The load balancer's lock (shared by fakes of one `fake://NAME`); false: the fake offers none. */
  readonly lock?: FakeLock | false;
}

/** An in-memory lock on the load balancer's side: one holder, taken over only by naming it. */
export class FakeLock implements RolloutLock {
  current: LockHolder | undefined;
  /** `acquire OWNER`, `release OWNER`, in order. */
  readonly log: string[] = [];
  /** Releases throw (a load balancer unreachable at the end). */
  failRelease = false;

  async acquire(owner: string, takeOver?: string): Promise<LockAttempt> {
    this.log.push(`acquire ${owner}`);
    const held = 'fake lock';
    const previous = this.current;
    if (!previous || previous.owner === owner) {
      this.current = previous ?? { owner, since: new Date() };
      return { held };
    }
    if (takeOver !== previous.owner) return { holder: previous };
    this.current = { owner, since: new Date() };
    return { held, replaced: previous };
  }

  async release(owner: string): Promise<void> {
    this.log.push(`release ${owner}`);
    if (this.failRelease) throw new FakeError('fake: the lock could not be released: connection refused');
    if (this.current?.owner === owner) this.current = undefined;
  }

  async holder(): Promise<LockHolder | undefined> {
    return this.current;
  }
}

interface FakeServer {
  readonly id: string;
  readonly backend: string;
  readonly name: string;
  readonly address: string;
  weight: number;
  admin: AdminState;
  check: CheckScript;
  inFlight: number;
  /** Exact cumulative amounts; counters report their floors. */
  requests: number;
  failures: number;
}

interface ScheduledFault {
  readonly matches: (call: Call) => boolean;
  readonly fault: Fault;
  remaining: number;
}

/** Faults to inject, by call number or by a predicate on the call. */
export class Faults {
  private readonly scheduled: ScheduledFault[] = [];

  /** The call numbered n (1-based, across all methods). */
  at(n: number, fault: Fault): this {
    this.scheduled.push({ matches: (c) => c.n === n, fault, remaining: 1 });
    return this;
  }

  /** The next `times` calls for which `matches` holds (e.g. the next apply that moves weight back). */
  when(matches: (call: Call) => boolean, fault: Fault, times = 1): this {
    this.scheduled.push({ matches, fault, remaining: times });
    return this;
  }

  clear(): void {
    this.scheduled.length = 0;
  }

  /** The fault for this call, if any (used once). */
  take(call: Call): Fault | undefined {
    const found = this.scheduled.find((s) => s.remaining > 0 && s.matches(call));
    if (!found) return undefined;
    found.remaining--;
    return found.fault;
  }
}

export class FakeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FakeError';
  }
}

const FAKE_ADVICE: Advice = {
  outOfRotation: (pool) => `fake: weight 0 on the servers of ${pool}`,
  healthCheck: 'on the fake give the server a check',
  outOfTraffic: 'maint on the fake',
  zeroWeight: '',
};

const ADMIN_STATES: readonly AdminState[] = ['ready', 'drain', 'maint'];

function splitId(id: string): [string, string] | undefined {
  const [backend, name, ...rest] = id.split('/');
  if (!backend || !name || rest.length || !NAME_PATTERN.test(backend) || !NAME_PATTERN.test(name)) return undefined;
  return [backend, name];
}

export class FakeDriver implements Driver {
  readonly capabilities: Capabilities;
  readonly advice = FAKE_ADVICE;
  readonly faults = new Faults();
  readonly calls: Call[] = [];
  /** Pool shares as last split (nativeSplit only), in the order given. */
  poolShares: readonly PoolShare[] | undefined;
  /** Every split the fake took, in order. */
  readonly splits: (readonly PoolShare[])[] = [];
  readonly split?: (shares: readonly PoolShare[]) => Promise<void>;
  traffic: TrafficScript;
  closed = false;
  readonly lock: FakeLock | undefined;
  private readonly list: FakeServer[];
  private readonly now: () => number;
  private lastAccrual: number;
  /** Called after every call is logged (before it runs): a test's tap, e.g. to abort at a chosen moment. */
  private readonly taps: ((call: Call) => void)[] = [];

  constructor(options: FakeOptions) {
    this.capabilities = {
      weights: options.weights ?? { min: 0, max: 256 },
      healthChecks: true,
      previews: false,
      nativeSplit: options.nativeSplit ?? false,
      inFlight: true,
      lock: options.lock !== false,
    };
    this.lock = options.lock === false ? undefined : (options.lock ?? new FakeLock());
    if (options.nativeSplit) this.split = (shares) => this.doSplit(shares);
    this.now = options.now ?? Date.now;
    this.lastAccrual = this.now();
    this.traffic = options.traffic ?? {};
    this.list = options.servers.map((spec, i) => {
      const parts = splitId(spec.id);
      if (!parts) throw new Error(`fake: '${spec.id}' is not BACKEND/NAME`);
      return {
        id: spec.id,
        backend: parts[0],
        name: parts[1],
        address: spec.address ?? `127.0.0.1:${20001 + i}`,
        weight: spec.weight ?? 100,
        admin: spec.admin ?? 'ready',
        check: spec.check ?? 'pass',
        inFlight: spec.inFlight ?? 0,
        requests: 0,
        failures: 0,
      };
    });
  }

  get roundTrips(): number {
    return this.calls.length;
  }

  /** Runs `fn` after each call is numbered and logged, before it takes effect. */
  tap(fn: (call: Call) => void): void {
    this.taps.push(fn);
  }

  /** The calls of one method. */
  callsOf(method: Method): Call[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** A server's state as the fake holds it now (no call is logged): for assertions. */
  state(id: string): { weight: number; admin: AdminState; check: CheckScript; inFlight: number } {
    const s = this.find(id);
    return { weight: s.weight, admin: s.admin, check: s.check, inFlight: s.inFlight };
  }

  /** Every server's `id=weight admin`, in order: one string to compare before and after. */
  snapshot(): string {
    return this.list.map((s) => `${s.id}=${s.weight} ${s.admin}`).join(', ');
  }

  /** Counters back to zero, as a restart the driver could not tell about would leave them. */
  resetCounters(): void {
    for (const s of this.list) s.requests = s.failures = 0;
  }

  /** Changes a server behind the engine's back (an operator, or the app's health changing). */
  set(id: string, patch: Partial<Pick<FakeServer, 'weight' | 'admin' | 'check' | 'inFlight'>>): void {
    Object.assign(this.find(id), patch);
  }

  private find(id: string): FakeServer {
    const s = this.list.find((x) => x.id === id);
    if (!s) throw new Error(`fake: no server ${id}`);
    return s;
  }

  private async call<T>(method: Method, args: unknown, run: (fault: Fault | undefined) => T): Promise<T> {
    if (this.closed) throw new FakeError('fake: the driver is closed');
    const call: Call = { n: this.calls.length + 1, method, args, at: this.now(), outcome: 'ok' };
    this.calls.push(call);
    this.taps.forEach((tap) => tap(call));
    let fault = this.faults.take(call);
    if (fault !== undefined && typeof fault === 'object' && 'delayMs' in fault) {
      await new Promise((r) =>
        setTimeout(r, fault && typeof fault === 'object' && 'delayMs' in fault ? fault.delayMs : 0),
      );
      fault = undefined;
    }
    if (fault === 'refuse') {
      call.outcome = 'refused';
      throw new FakeError(`fake: call ${call.n} (${method}) refused: connection refused`);
    }
    if (fault === 'hang' || fault === 'hang-after') {
      call.outcome = 'hung';
      if (fault === 'hang-after') {
        try {
          run(undefined);
        } catch {
          // Refused by the load balancer itself: the answer is lost all the same.
        }
      }
      return new Promise<T>(() => undefined);
    }
    try {
      const result = run(fault);
      if (fault === 'partial' || fault === 'drop-after' || typeof fault === 'object') {
        call.outcome = fault === 'drop-after' ? 'dropped' : 'partial';
        throw new FakeError(`fake: call ${call.n} (${method}): connection lost after the write`);
      }
      return result;
    } catch (error) {
      if (call.outcome === 'ok') {
        call.outcome = 'error';
        call.error = (error as Error).message;
      }
      throw error;
    }
  }

  servers(selectors: readonly Selector[]): Promise<Server[]> {
    return this.call(
      'servers',
      selectors.map((s) => s.text),
      () => this.list.filter((s) => selectors.some((sel) => matchesSelector(sel, s.backend, s.name))).map(toServer),
    );
  }

  /** Validates every change first; then all take effect (or the first half, for a `partial` fault). */
  apply(changes: readonly Change[]): Promise<void> {
    return this.call(
      'apply',
      changes.map((c) => ({ ...c })),
      (fault) => {
        const problems: string[] = [];
        const { min, max } = this.capabilities.weights;
        for (const c of changes) {
          if (!splitId(c.server)) problems.push(`'${c.server}' is not a valid BACKEND/SERVER name`);
          else if (!this.list.some((s) => s.id === c.server)) problems.push(`no server ${c.server}`);
          if (c.weight !== undefined && (!Number.isInteger(c.weight) || c.weight < min || c.weight > max))
            problems.push(`weight ${c.weight} for ${c.server} is outside ${min}-${max}`);
          if (c.admin !== undefined && !ADMIN_STATES.includes(c.admin))
            problems.push(`state ${String(c.admin)} for ${c.server} is not one of ${ADMIN_STATES.join(', ')}`);
        }
        if (problems.length)
          throw new FakeError(`fake refused ${problems.length} of ${changes.length} changes: ${problems.join('; ')}`);
        this.accrue();
        const effective =
          fault === 'partial'
            ? changes.slice(0, Math.floor(changes.length / 2))
            : typeof fault === 'object' && 'partial' in fault
              ? changes.slice(0, fault.partial)
              : changes;
        for (const c of effective) {
          const s = this.find(c.server);
          if (c.weight !== undefined) s.weight = c.weight;
          if (c.admin !== undefined) s.admin = c.admin;
        }
      },
    );
  }

  private doSplit(shares: readonly PoolShare[]): Promise<void> {
    return this.call(
      'split',
      shares.map((s) => ({ ...s, servers: [...s.servers] })),
      (fault) => {
        const total = shares.reduce((sum, s) => sum + s.percent, 0);
        const problems: string[] = [];
        if (Math.abs(total - 100) > 1e-9) problems.push(`shares add up to ${total}%, not 100%`);
        for (const share of shares) {
          if (share.percent < 0 || share.percent > 100) problems.push(`pool ${share.pool}: ${share.percent}%`);
          for (const id of share.servers) if (!this.list.some((s) => s.id === id)) problems.push(`no server ${id}`);
        }
        if (problems.length) throw new FakeError(`fake refused the split: ${problems.join('; ')}`);
        this.accrue();
        const taken =
          fault === 'partial'
            ? shares.slice(0, Math.floor(shares.length / 2))
            : typeof fault === 'object' && 'partial' in fault
              ? shares.slice(0, fault.partial)
              : shares;
        const next = new Map((this.poolShares ?? []).map((s) => [s.pool, s]));
        for (const share of taken) next.set(share.pool, share);
        this.poolShares = [...next.values()];
        this.splits.push(this.poolShares);
      },
    );
  }

  counters(ids: readonly string[]): Promise<Map<string, Counters>> {
    return this.call('counters', [...ids], () => {
      this.accrue();
      const perCall = this.traffic.perCall ?? 0;
      if (perCall) this.distribute(perCall);
      const result = new Map<string, Counters>();
      for (const id of ids) {
        const s = this.list.find((x) => x.id === id);
        if (s) result.set(id, { requests: Math.floor(s.requests), failures: Math.floor(s.failures) });
      }
      return result;
    });
  }

  manualSteps(changes: readonly Change[]): string {
    const lines = changes.map(
      (c) => `${c.server}${c.weight !== undefined ? ` weight ${c.weight}` : ''}${c.admin ? ` state ${c.admin}` : ''}`,
    );
    return `on the fake load balancer: set ${lines.join('; ')}`;
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Each server's share of all traffic (0..1) right now: by weight among ready servers, or by pool shares. */
  trafficShares(): Map<string, number> {
    const shares = new Map<string, number>(this.list.map((s) => [s.id, 0]));
    const serving = (s: FakeServer) => s.admin === 'ready' && s.check !== 'fail';
    const spread = (servers: readonly FakeServer[], total: number) => {
      const ready = servers.filter(serving);
      const sum = ready.reduce((n, s) => n + s.weight, 0);
      // Within a natively split pool, servers at weight 0 share the pool equally.
      ready.forEach((s) => shares.set(s.id, total * (sum > 0 ? s.weight / sum : 1 / ready.length)));
    };
    if (this.capabilities.nativeSplit && this.poolShares) {
      for (const share of this.poolShares)
        spread(
          this.list.filter((s) => share.servers.includes(s.id)),
          share.percent / 100,
        );
      return shares;
    }
    const backends = [...new Set(this.list.map((s) => s.backend))];
    const byWeight = (servers: readonly FakeServer[]) => servers.filter((s) => s.weight > 0);
    for (const backend of backends) spread(byWeight(this.list.filter((s) => s.backend === backend)), 1);
    return shares;
  }

  /** Serves `total` requests now, spread by the current shares (each backend gets `total` when split by weights). */
  serve(total: number): void {
    this.accrue();
    this.distribute(total);
  }

  private distribute(total: number): void {
    const failureShare = this.traffic.failureShare ?? (() => 0);
    for (const [id, share] of this.trafficShares()) {
      if (share <= 0) continue;
      const s = this.find(id);
      const requests = total * share;
      s.requests += requests;
      s.failures += requests * Math.min(1, Math.max(0, failureShare(id)));
    }
  }

  /** Traffic by rate: what the clock says has passed since the last accrual, at the shares in force meanwhile. */
  private accrue(): void {
    const now = this.now();
    const elapsed = Math.max(0, now - this.lastAccrual);
    this.lastAccrual = now;
    const rate = this.traffic.ratePerSecond ?? 0;
    if (rate > 0 && elapsed > 0) this.distribute((rate * elapsed) / 1000);
  }
}

function toServer(s: FakeServer): Server {
  const colon = s.address.lastIndexOf(':');
  // Checks are paused in maint, as on HAProxy; a failing check never settles.
  const check =
    s.check === 'none'
      ? undefined
      : s.check === 'pass'
        ? { passing: s.admin !== 'maint', settled: s.admin !== 'maint', status: s.admin === 'maint' ? 'MAINT' : 'UP' }
        : { passing: false, settled: false, status: 'DOWN L7STS/503' };
  return {
    id: s.id,
    backend: s.backend,
    name: s.name,
    address: s.address,
    host: colon > 0 ? s.address.slice(0, colon) : s.address,
    port: colon > 0 ? Number(s.address.slice(colon + 1)) : 0,
    weight: s.weight,
    admin: s.admin,
    check,
    inFlight: s.inFlight,
  };
}

/** Fakes a `fake://NAME` URL creates: defined by a test first, or made empty on first use. */
const instances = new Map<string, FakeDriver>();
const definitions = new Map<string, Omit<FakeOptions, 'weights'> & { weights?: FakeOptions['weights'] }>();
const locks = new Map<string, FakeLock>();

/** Declares what `fake://NAME` holds; the registry's `createDriver` builds it (a fresh fake each time). */
export function defineFake(name: string, options: FakeOptions): void {
  definitions.set(name, options);
  instances.delete(name);
  locks.delete(name);
}

/** The lock every fake of `fake://NAME` shares (made on first use). */
export function fakeLock(name: string): FakeLock {
  if (!locks.has(name)) locks.set(name, new FakeLock());
  return locks.get(name) as FakeLock;
}

/** The fake the registry last created for `fake://NAME`. */
export function createdFake(name: string): FakeDriver | undefined {
  return instances.get(name);
}

export interface FakeModuleOptions {
  /** From the fake's own input `fake-max-weight` (default 256). */
  readonly maxWeight: number;
}

const FAKE_INPUTS = { 'fake-max-weight': '256' } as const;

function parseFakeUrl(url: string): Transport | string {
  const match = /^fake:\/\/([A-Za-z0-9_.-]+)$/i.exec(url.trim());
  return match?.[1] ? { type: 'file', path: match[1] } : 'needs a name: fake://NAME';
}

export const fakeModule: DriverModule<FakeModuleOptions> = {
  kind: 'fake',
  schemes: [{ scheme: 'fake', example: 'fake://lb', parse: parseFakeUrl }],
  capabilities: {
    weights: { min: 0, max: 256 },
    healthChecks: true,
    previews: false,
    nativeSplit: false,
    inFlight: true,
    lock: true,
  },
  inputs: FAKE_INPUTS,
  options(read) {
    const text = read('fake-max-weight') || FAKE_INPUTS['fake-max-weight'];
    const max = Number(text);
    if (!/^\d+$/.test(text) || max < 1) return { errors: [`fake-max-weight: '${text}' is not a whole number above 0`] };
    return { options: { maxWeight: max } };
  },
  create(url: LoadBalancerUrl, options: FakeModuleOptions): Driver {
    const name = url.transport.type === 'file' ? url.transport.path : url.display;
    const defined = definitions.get(name) ?? { servers: [] };
    // The lock lives on the load balancer: every fake of one name shares it.
    const driver = new FakeDriver({
      ...defined,
      weights: defined.weights ?? { min: 0, max: options.maxWeight },
      lock: defined.lock ?? fakeLock(name),
    });
    instances.set(name, driver);
    return driver;
  },
};

/** Registers the fake with the registry (idempotent), as the real drivers are listed. */
export function useFakeDriver(): void {
  registerDriver(fakeModule);
}

useFakeDriver();
