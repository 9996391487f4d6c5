/**
 * Several load balancers in front of the same servers, moved as one: an HA pair (the standby too), active-active
 * instances behind DNS or ECMP, an internal and an external one. Every change goes to every member at once and every
 * read asks them all; a read where members disagree on a server's address, weight or state is refused with what each
 * member has, so the engine never acts on one member's view while another routes differently. A backend only some
 * members have (an extra backend at the same processes) is read, moved and counted on those members alone.
 */
import type {
  Advice,
  Capabilities,
  ConnectionControl,
  Driver,
  LoadBalancerUrl,
  OpenConnections,
  PoolShare,
  RetryShield,
} from '../driver.js';
import { errorMessage, FleetError, LoadBalancerRestarted, MembersDisagree } from '../../model/errors.js';
import type { Selector } from '../../model/selectors.js';
import { describeChanges, type Change, type Counters, type Server } from '../../model/server.js';
import { describeRead, disagreements, merged, surveyed, type MemberRead } from './agreement.js';
import { FleetLock } from './lock.js';
import { FleetLatency } from './latency.js';

export interface FleetMember {
  readonly url: LoadBalancerUrl;
  readonly driver: Driver;
}

/** One change as each member took it: when it was sent and answered, in ms since the epoch (fractional). */
export interface FleetWrite {
  readonly changes: string;
  readonly members: readonly {
    readonly member: string;
    readonly sentAt: number;
    readonly doneAt: number;
    readonly error?: string;
  }[];
}

function fleetCapabilities(all: readonly Capabilities[]): Capabilities {
  return {
    weights: { min: Math.max(...all.map((c) => c.weights.min)), max: Math.min(...all.map((c) => c.weights.max)) },
    healthChecks: all.every((c) => c.healthChecks),
    // Preview routing and native splits are not moved as a fleet in this release (the registry refuses them).
    previews: false,
    nativeSplit: false,
    inFlight: all.every((c) => c.inFlight),
    lock: all.every((c) => c.lock),
    closesConnections: all.every((c) => c.closesConnections),
  };
}

/** Each server's connections summed over the members (a client holds its connection through one of them). */
function summed(lists: readonly (readonly OpenConnections[])[], ids: readonly string[]): OpenConnections[] {
  return ids.map((server) => {
    const mine = lists.flatMap((list) => list.filter((o) => o.server === server));
    return {
      server,
      webSockets: mine.reduce((n, o) => n + o.webSockets, 0),
      requests: mine.reduce((n, o) => n + o.requests, 0),
    };
  });
}

/** Epoch ms with sub-ms precision: members on loopback answer within a millisecond of each other. */
function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

function distinct(texts: readonly string[]): string {
  return [...new Set(texts.filter(Boolean))].join('; ');
}

export class FleetDriver implements Driver {
  readonly capabilities: Capabilities;
  readonly advice: Advice;
  readonly lock?: FleetLock;
  /** Present where a member logs latency: each server's answers merged over the members (judged when all do). */
  readonly latency?: FleetLatency;
  /** Every change sent, as each member took it (for the job summary and benchmarks). */
  readonly writes: FleetWrite[] = [];
  /** Per member and server (`INDEX ID`): the counters last read, and what earlier resets took off them. */
  private readonly lastCounters = new Map<string, Counters>();
  private readonly counterBase = new Map<string, Counters>();
  /** Members whose last call failed, with why: manual steps name them first. */
  private readonly unanswered = new Map<string, string>();
  readonly connections?: ConnectionControl;
  /**
   * Per backend, the members (by index) whose reads had servers of it. A backend only some members have (an extra
   * backend at the same processes) is moved and counted on those alone; one not read yet, on every member.
   */
  private readonly backendOn = new Map<string, Set<number>>();

  /** Notes which members have which backends, from what each read returned. */
  private learn(lists: readonly (readonly Server[])[]): void {
    lists.forEach((servers, i) => {
      for (const s of servers) {
        const on = this.backendOn.get(s.backend) ?? new Set<number>();
        on.add(i);
        this.backendOn.set(s.backend, on);
      }
    });
  }

  /** Whether member i has the server's backend (or nothing says it does not). */
  private routes(i: number, id: string): boolean {
    const on = this.backendOn.get(id.slice(0, id.indexOf('/')));
    return !on || on.has(i);
  }

  /** The member's index in the list. */
  private indexOf(member: FleetMember): number {
    return this.members.indexOf(member);
  }

  constructor(readonly members: readonly FleetMember[]) {
    this.capabilities = FleetDriver.combine(members.map((m) => m.driver.capabilities));
    this.advice = {
      outOfRotation: (pool) => distinct(members.map((m) => m.driver.advice.outOfRotation(pool))),
      healthCheck: distinct(members.map((m) => m.driver.advice.healthCheck)),
      outOfTraffic: distinct(members.map((m) => m.driver.advice.outOfTraffic)),
      zeroWeight: distinct(members.map((m) => m.driver.advice.zeroWeight)),
    };
    if (this.capabilities.lock)
      this.lock = new FleetLock(
        members.flatMap((m) => (m.driver.lock ? [{ member: m.url.display, lock: m.driver.lock }] : [])),
      );
    if (members.some((m) => m.driver.latency))
      this.latency = new FleetLatency(members.map((m) => ({ member: m.url.display, log: m.driver.latency })));
    if (this.capabilities.closesConnections) {
      this.connections = {
        open: async (ids) =>
          summed(
            await this.every(async (m) => (await m.driver.connections?.open(ids)) ?? [], 'counting connections'),
            ids,
          ),
        close: async (ids, which) =>
          summed(
            await this.every(async (m) => (await m.driver.connections?.close(ids, which)) ?? [], 'closing connections'),
            ids,
          ),
      };
    }
  }

  /** What every member can do: the fleet can do no more. */
  static combine(all: readonly Capabilities[]): Capabilities {
    return fleetCapabilities(all);
  }

  get roundTrips(): number {
    return this.members.reduce((sum, m) => sum + m.driver.roundTrips, 0);
  }

  /** Every member's answer, in list order; throws naming each member that failed and what the others answered. */
  private async every<T>(
    call: (member: FleetMember) => Promise<T>,
    what: string,
    show?: (value: T) => string,
  ): Promise<T[]> {
    const results = await Promise.allSettled(this.members.map((m) => call(m)));
    const failed = results.flatMap((r, i) =>
      r.status === 'rejected' ? [{ member: this.members[i]?.url.display ?? '', reason: r.reason as unknown }] : [],
    );
    results.forEach((r, i) => {
      const member = this.members[i]?.url.display ?? '';
      if (r.status === 'rejected') this.unanswered.set(member, errorMessage(r.reason));
      else this.unanswered.delete(member);
    });
    if (failed.length === 0) return results.map((r) => (r as PromiseFulfilledResult<T>).value);
    const restarted = failed.find((f) => f.reason instanceof LoadBalancerRestarted);
    const parts = results.map((r, i) => {
      const member = this.members[i]?.url.display ?? '';
      return r.status === 'rejected'
        ? `${member}: ${what} failed (${errorMessage(r.reason)})`
        : `${member}: ${show ? show(r.value) : 'answered'}`;
    });
    const message = `${failed.length} of ${this.members.length} load balancers failed: ${parts.join('; ')}`;
    throw restarted ? new LoadBalancerRestarted(message) : new FleetError(message);
  }

  async servers(selectors: readonly Selector[]): Promise<Server[]> {
    const lists = await this.every((m) => m.driver.servers(selectors), 'reading', describeRead);
    this.learn(lists);
    const reads: MemberRead[] = lists.map((servers, i) => ({ member: this.members[i]?.url.display ?? '', servers }));
    const differ = disagreements(reads);
    if (differ.length)
      throw new MembersDisagree(
        `the load balancers disagree (each must route the same servers the same way): ${differ.join('; ')}`,
      );
    return merged(reads);
  }

  /**
   * Every server of every member, where members may differ (an external load balancer's own backends): each
   * server's view most in traffic. For surveys only; the servers the action moves are read with `servers`.
   */
  async survey(): Promise<Server[]> {
    const every = [{ text: '*/*', backend: '*', server: '*' }];
    const lists = await this.every((m) => m.driver.servers(every), 'reading', describeRead);
    this.learn(lists);
    return surveyed(lists.map((servers, i) => ({ member: this.members[i]?.url.display ?? '', servers })));
  }

  async apply(changes: readonly Change[]): Promise<void> {
    if (changes.length === 0) return;
    const members: { member: string; sentAt: number; doneAt: number; error?: string }[] = [];
    const write: FleetWrite = { changes: describeChanges(changes), members };
    this.writes.push(write);
    await this.every(
      async (m) => {
        const member = m.url.display;
        const sentAt = preciseNow();
        // A member without a backend the changes touch (an extra backend on another member) gets the rest.
        const mine = changes.filter((c) => this.routes(this.indexOf(m), c.server));
        try {
          if (mine.length) await m.driver.apply(mine);
          members.push({ member, sentAt, doneAt: preciseNow() });
        } catch (error) {
          members.push({ member, sentAt, doneAt: preciseNow(), error: errorMessage(error) });
          throw error;
        }
      },
      'the change',
      () => 'took the change',
    );
  }

  async split(shares: readonly PoolShare[]): Promise<void> {
    throw new Error(`internal: a fleet does not split natively (asked ${shares.length} shares)`);
  }

  /**
   * Each server's counters summed over the members. A member whose counter went backwards (its counters were reset:
   * a restart the driver could not tell, a rotated log) counts on from its last value, so the sum never goes
   * backwards and one member's reset never counts the others' history again.
   */
  async counters(ids: readonly string[]): Promise<Map<string, Counters>> {
    const maps = await this.every(async (m) => {
      const mine = ids.filter((id) => this.routes(this.indexOf(m), id));
      return mine.length ? m.driver.counters(mine) : new Map<string, Counters>();
    }, 'reading counters');
    const sum = new Map<string, Counters>();
    maps.forEach((map, i) => {
      for (const [id, c] of map) {
        const key = `${i} ${id}`;
        const last = this.lastCounters.get(key);
        let base = this.counterBase.get(key) ?? { requests: 0, failures: 0 };
        if (last && (c.requests < last.requests || c.failures < last.failures)) {
          base = { requests: base.requests + last.requests, failures: base.failures + last.failures };
          this.counterBase.set(key, base);
        }
        this.lastCounters.set(key, c);
        const before = sum.get(id) ?? { requests: 0, failures: 0 };
        sum.set(id, {
          requests: before.requests + base.requests + c.requests,
          failures: before.failures + base.failures + c.failures,
        });
      }
    });
    return sum;
  }

  /** Every member that can tell a reload; one that reloaded throws LoadBalancerRestarted naming it. */
  async watch(): Promise<void> {
    const results = await Promise.allSettled(this.members.map(async (m) => m.driver.watch?.()));
    const restarted = results.flatMap((r, i) =>
      r.status === 'rejected' && r.reason instanceof LoadBalancerRestarted
        ? [`on ${this.members[i]?.url.display} ${errorMessage(r.reason)}`]
        : [],
    );
    if (restarted.length) throw new LoadBalancerRestarted(restarted.join('; '));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async weightProblems(backends: readonly string[], readOnly = false): Promise<string[]> {
    const lists = await this.every(
      async ({ driver: d }) => (d.weightProblems ? d.weightProblems(backends, readOnly) : []),
      'reading',
    );
    return lists.flatMap((problems, i) => problems.map((p) => `${this.members[i]?.url.display}: ${p}`));
  }

  async affinityProblems(backends: readonly string[]): Promise<string[]> {
    const lists = await this.every(
      async ({ driver: d }) =>
        d.affinityProblems ? d.affinityProblems(backends) : ['this load balancer cannot keep a user on one version'],
      'reading',
    );
    return lists.flatMap((problems, i) => problems.map((p) => `${this.members[i]?.url.display}: ${p}`));
  }

  trafficOutsidePools(): string | undefined {
    const said = this.members.flatMap((m) => {
      const outside = m.driver.trafficOutsidePools?.();
      return outside ? [`${m.url.display}: ${outside}`] : [];
    });
    return said.length ? said.join('; ') : undefined;
  }

  async retries(backends: readonly string[]): Promise<RetryShield> {
    // Not through every(): a member that cannot say is not one whose last call failed (manualSteps).
    const shields = await Promise.all(
      this.members.map(async ({ driver: d }): Promise<RetryShield> =>
        d.retries
          ? d.retries(backends).catch((e: Error) => ({ shielded: 'unknown', text: `could not be read: ${e.message}` }))
          : { shielded: 'unknown', text: 'this load balancer does not say' },
      ),
    );
    const kinds = new Set(shields.map((r) => r.shielded));
    // Members that disagree shield some users and not others.
    const shielded: RetryShield['shielded'] =
      kinds.size === 1 ? ([...kinds][0] ?? 'unknown') : kinds.has('unknown') ? 'unknown' : 'partly';
    return { shielded, text: shields.map((r, i) => `${this.members[i]?.url.display}: ${r.text}`).join('; ') };
  }

  /** Every member's steps; members whose last call failed come first, saying so (the others answered it). */
  manualSteps(changes: readonly Change[]): string {
    const failedFirst = [
      ...this.members.filter((m) => this.unanswered.has(m.url.display)),
      ...this.members.filter((m) => !this.unanswered.has(m.url.display)),
    ];
    return failedFirst
      .map((m) => {
        const why = this.unanswered.get(m.url.display);
        const note =
          why === undefined ? (this.unanswered.size ? ' (it answered)' : '') : ` (it did not answer: ${why})`;
        return `on ${m.url.display}${note}: ${m.driver.manualSteps(changes)}`;
      })
      .join('; and ');
  }

  async preflight(writes: boolean): Promise<string | undefined> {
    const problems = await Promise.all(
      this.members.map(async (m) => {
        const problem = m.driver.preflight ? await m.driver.preflight(writes) : undefined;
        return problem ? `${m.url.display}${problem.startsWith(':') ? '' : ' '}${problem}` : undefined;
      }),
    );
    const found = problems.filter((p): p is string => p !== undefined);
    if (found.length) return `: ${found.join('; ')}`;
    const twice = await this.listedTwice();
    return twice ? `: ${twice}` : undefined;
  }

  /**
   * Members that are one load balancer under two spellings (`127.0.0.1:9999` and `127.1:9999`, a name and its
   * address): every change would be applied twice and every request counted twice.
   */
  private async listedTwice(): Promise<string | undefined> {
    const identities = await Promise.all(
      this.members.map(async (m) => (m.driver.identity ? m.driver.identity() : undefined)),
    );
    const seen = new Map<string, number>();
    const pairs: string[] = [];
    identities.forEach((identity, i) => {
      if (identity === undefined) return;
      const first = seen.get(identity);
      if (first === undefined) seen.set(identity, i);
      else
        pairs.push(
          `URL ${first + 1} (${this.members[first]?.url.display}) and URL ${i + 1} (${this.members[i]?.url.display}) are the same load balancer (${identity})`,
        );
    });
    return pairs.length ? `${pairs.join('; ')}: list each load balancer once` : undefined;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.members.map((m) => m.driver.close()));
  }
}
