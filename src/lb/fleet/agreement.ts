/**
 * Whether the members of a fleet see the same servers the same way, and the one view the engine works with. Pure:
 * no load balancer is called here.
 */
import type { Server } from '../../model/server.js';

export interface MemberRead {
  /** The member's `load-balancer` URL, for messages. */
  readonly member: string;
  readonly servers: readonly Server[];
}

/** What the action sets on a server: members must agree on it. Health and in-flight counts may differ. */
function setting(server: Server): string {
  return `${server.address} weight ${server.weight} ${server.admin}`;
}

/** Whether the member's read has any server of the backend: a member without it does not route it at all. */
function hasBackend(read: MemberRead, backend: string): boolean {
  return read.servers.some((s) => s.backend === backend);
}

/**
 * Each server on which members differ, with what each has: `app/web1: weight 100 ready on haproxy://a,
 * weight 0 maint on haproxy://b, missing on nginx+file:///u.conf`. Empty when they all agree. A member that has no
 * server of the server's backend does not route that backend (one member's extra backend at the same processes, as
 * `api` beside `app`): it is left out, not counted as missing; one that has the backend must have the server too.
 */
export function disagreements(reads: readonly MemberRead[]): string[] {
  const ids = [...new Set(reads.flatMap((r) => r.servers.map((s) => s.id)))];
  return ids.flatMap((id) => {
    const backend = id.slice(0, id.indexOf('/'));
    const seen = reads
      .filter((r) => hasBackend(r, backend))
      .map((r) => {
        const server = r.servers.find((s) => s.id === id);
        return { member: r.member, value: server ? setting(server) : 'missing' };
      });
    if (new Set(seen.map((s) => s.value)).size <= 1) return [];
    return [`${id}: ${seen.map((s) => `${s.value} on ${s.member}`).join(', ')}`];
  });
}

/**
 * The servers as one load balancer would show them, from members that agree (each server from the members that have
 * it, in the first member's order, then the others'): a server's own check passes only when it passes on every
 * member that checks it (and is settled only when settled on all); in-flight requests add up.
 */
export function merged(reads: readonly MemberRead[]): Server[] {
  const firsts = new Map<string, Server>();
  for (const read of reads)
    for (const server of read.servers) if (!firsts.has(server.id)) firsts.set(server.id, server);
  return [...firsts.values()].map((server) => {
    const same = reads.flatMap((r) => r.servers.filter((s) => s.id === server.id));
    const checks = same.flatMap((s) => (s.check ? [s.check] : []));
    const failing = checks.filter((c) => !c.passing);
    return {
      ...server,
      inFlight: same.reduce((sum, s) => sum + s.inFlight, 0),
      check:
        checks.length === 0
          ? undefined
          : {
              passing: failing.length === 0,
              settled: checks.every((c) => c.settled),
              status: [...new Set((failing.length ? failing : checks).map((c) => c.status))].join(' / '),
            },
    };
  });
}

/**
 * Every server any member has, for a survey of whole load balancers (other backends, entries sharing an address):
 * members need not agree there, since the action moves only the servers it names, which are read strictly. Where
 * they differ, the view most in traffic counts (ready over drain over maint, then the larger weight), so checks that
 * keep traffic flowing (a backend left serving, a process still in traffic elsewhere) err on the safe side.
 */
export function surveyed(reads: readonly MemberRead[]): Server[] {
  const rank = (s: Server) => (s.admin === 'ready' ? 2 : s.admin === 'drain' ? 1 : 0) * 1e6 + s.weight;
  const byId = new Map<string, Server>();
  for (const read of reads)
    for (const server of read.servers) {
      const seen = byId.get(server.id);
      if (!seen || rank(server) > rank(seen)) byId.set(server.id, server);
    }
  return [...byId.values()];
}

/** `app/web1 weight 0 maint, app/web2 weight 100 ready` */
export function describeRead(servers: readonly Server[]): string {
  return servers.length ? servers.map((s) => `${s.id} weight ${s.weight} ${s.admin}`).join(', ') : 'no servers';
}
