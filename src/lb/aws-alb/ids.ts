/**
 * Server ids on ALB, pure: a server is `GROUP/ID:PORT` (a target group's name, then a target), and a target `ID:PORT`
 * (an IP address or an instance id, then its port). One place parses them.
 */

/** The target group's name of a server id `GROUP/ID:PORT`. */
export function groupName(serverId: string): string {
  return serverId.slice(0, serverId.indexOf('/'));
}

/** The target `ID:PORT` of a server id `GROUP/ID:PORT`. */
export function targetOf(serverId: string): string {
  return serverId.slice(serverId.indexOf('/') + 1);
}

/** ALB's TargetDescription for a target `ID:PORT` (the port after the last ':', so IPv6-like ids keep theirs). */
export function targetDescription(target: string): { Id: string; Port: number } {
  const at = target.lastIndexOf(':');
  return { Id: target.slice(0, at), Port: Number(target.slice(at + 1)) };
}

/** A target `ID:PORT` from what DescribeTargetHealth reports. */
export function targetIdOf(t: { Target?: { Id?: string; Port?: number } }): string {
  return `${t.Target?.Id ?? '?'}:${t.Target?.Port ?? 0}`;
}
