/**
 * The one list of load balancers: a `load-balancer` URL's scheme picks the driver module that serves it. Adding a
 * load balancer is a folder under `src/lb/` and one line here; tests register their fake the same way.
 */
import { posix } from 'node:path';
import type { Capabilities, Driver, DriverModule, LoadBalancerUrl, OptionsContext, Tuning } from './driver.js';
import { FleetDriver } from './fleet/driver.js';
import { urlPasswords } from '../model/credentials.js';
import { haproxy } from './haproxy/index.js';
import { nginx } from './nginx/index.js';
import { awsAlb } from './aws-alb/index.js';

/** A module whose options type is erased: they travel opaquely through Settings and the checkpoint. */
type AnyDriverModule = DriverModule<never>;

const BUILT_IN: readonly AnyDriverModule[] = [
  haproxy as AnyDriverModule,
  nginx as AnyDriverModule,
  awsAlb as AnyDriverModule,
];
const modules: AnyDriverModule[] = [...BUILT_IN];

/** Adds a driver module (tests register their fake driver here). */
export function registerDriver<O>(module: DriverModule<O>): void {
  if (!modules.some((m) => m.kind === module.kind)) modules.push(module as unknown as AnyDriverModule);
}

export function driverModule(kind: string): DriverModule<unknown> {
  const found = modules.find((m) => m.kind === kind);
  if (!found) throw new Error(`internal: no driver for ${kind}`);
  return found as DriverModule<unknown>;
}

/** Every built-in driver's own inputs with their defaults (action.yml declares them all). */
export function driverInputs(): Record<string, string> {
  return Object.assign({}, ...BUILT_IN.map((m) => m.inputs)) as Record<string, string>;
}

/** Each driver module with the inputs it owns, to refuse one driver's inputs given to another. */
export function inputOwners(): { kind: string; schemes: string[]; inputs: Readonly<Record<string, string>> }[] {
  return BUILT_IN.map((m) => ({ kind: m.kind, schemes: m.schemes.map((s) => s.scheme), inputs: m.inputs }));
}

/** The schemes of every driver, or of those with a capability, e.g. `haproxy, haproxy+unix`. */
export function schemesWith(capability?: 'previews' | 'nativeSplit'): string {
  return modules
    .filter((m) => !capability || m.capabilities[capability])
    .flatMap((m) => m.schemes.map((s) => s.scheme))
    .join(', ');
}

/** A `load-balancer` URL to show as an example: the first built-in driver's first scheme. */
export function exampleUrl(): string {
  return BUILT_IN[0]?.schemes[0]?.example ?? '';
}

/**
 * The `load-balancer` input: a URL whose scheme names the kind of load balancer and how to reach its API, or several
 * (one per line or separated by commas), which are one fleet moved together.
 */
export function parseLoadBalancer(text: string): LoadBalancerUrl | { error: string } {
  const entries = text
    .split(/[\n,]/)
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length <= 1) return parseOne(entries[0] ?? text);
  const members: LoadBalancerUrl[] = [];
  const errors: string[] = [];
  for (const [i, entry] of entries.entries()) {
    const url = parseOne(entry);
    if ('error' in url) {
      errors.push(`URL ${i + 1} of ${entries.length}: ${url.error}`);
      continue;
    }
    const module = driverModule(url.kind);
    if (module.capabilities.nativeSplit)
      errors.push(
        `URL ${i + 1} of ${entries.length}: ${url.scheme}:// splits traffic natively and cannot be moved as part of a fleet in this release; give it alone`,
      );
    if (members.some((m) => m.display === url.display || sameEndpoint(m, url)))
      errors.push(`URL ${i + 1} of ${entries.length}: ${url.display} is listed twice`);
    members.push(url);
  }
  if (errors.length) return { error: errors.join('; ') };
  return {
    scheme: 'fleet',
    kind: 'fleet',
    transport: { type: 'fleet', members },
    display: members.map((m) => m.display).join(', '),
  };
}

/**
 * Where a URL's API is, spelled one way: host names in lower case, loopback as 127.0.0.1, ssh's default port, paths
 * without `//` or `/./`. Two members at one endpoint would count every request twice.
 */
function endpoint(url: LoadBalancerUrl): string {
  const t = url.transport;
  const host = (h: string) => (['localhost', '::1', '[::1]'].includes(h.toLowerCase()) ? '127.0.0.1' : h.toLowerCase());
  const path = (p: string) => posix.normalize(p);
  switch (t.type) {
    case 'tcp':
      return `${url.kind} tcp ${host(t.host)}:${t.port}`;
    case 'unix':
    case 'file':
      return `${url.kind} ${t.type} ${path(t.path)}`;
    case 'ssh':
      return `${url.kind} ssh ${t.user}@${host(t.host)}:${t.port ?? 22}${path(t.path)}`;
    default:
      return `${url.kind} ${JSON.stringify(t)}`;
  }
}

function sameEndpoint(a: LoadBalancerUrl, b: LoadBalancerUrl): boolean {
  return endpoint(a) === endpoint(b);
}

function parseOne(text: string): LoadBalancerUrl | { error: string } {
  const value = text.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase();
  const example = exampleUrl();
  if (!scheme) return { error: `'${value}' is not a URL; expected e.g. ${example}` };
  if (urlPasswords(value).length)
    return {
      error: `${scheme}:// URL holds a password (shown here as ***): credentials never go in a URL, which is printed in logs, the job summary and the deployment; use an ssh key for ${schemesWith()
        .split(', ')
        .filter((s) => s.endsWith('+ssh'))
        .map((s) => `${s}://`)
        .join(' and ')}, or load-balancer-token (masked) where a load balancer takes one`,
    };
  for (const module of modules) {
    const entry = module.schemes.find((s) => s.scheme === scheme);
    if (!entry) continue;
    const transport = entry.parse(value);
    if (typeof transport === 'string') return { error: `${scheme}:// ${transport}` };
    return { scheme, kind: module.kind, transport, display: value };
  }
  return { error: `unknown scheme '${scheme}', expected ${schemesWith()}` };
}

/** The members of a fleet, or the one load balancer. */
export function membersOf(url: LoadBalancerUrl): readonly LoadBalancerUrl[] {
  return url.transport.type === 'fleet' ? url.transport.members : [url];
}

/** The kinds of driver a `load-balancer` value uses (several for a mixed fleet). */
export function kindsOf(url: LoadBalancerUrl): string[] {
  return [...new Set(membersOf(url).map((m) => m.kind))];
}

/** What the load balancer (or every member of the fleet) can do. */
export function capabilitiesOf(url: LoadBalancerUrl): Capabilities {
  if (url.transport.type !== 'fleet') return driverModule(url.kind).capabilities;
  return FleetDriver.combine(kindsOf(url).map((k) => driverModule(k).capabilities));
}

/**
 * Each driver's options from its own inputs, problems naming the input: for a fleet, one set per kind of member,
 * keyed by kind (JSON-safe, as they travel through the checkpoint).
 */
export function driverOptions(
  url: LoadBalancerUrl,
  read: (name: string) => string,
  context: OptionsContext,
): { options: unknown } | { errors: string[] } {
  if (url.transport.type !== 'fleet') return driverModule(url.kind).options(read, context);
  const options: Record<string, unknown> = {};
  const errors: string[] = [];
  for (const kind of kindsOf(url)) {
    const result = driverModule(kind).options(read, context);
    if ('errors' in result) errors.push(...result.errors);
    else options[kind] = result.options;
  }
  return errors.length ? { errors } : { options };
}

export function createDriver(url: LoadBalancerUrl, options: unknown, tuning: Tuning = {}): Driver {
  if (url.transport.type !== 'fleet') return driverModule(url.kind).create(url, options, tuning);
  const byKind = (options ?? {}) as Record<string, unknown>;
  return new FleetDriver(
    url.transport.members.map((member) => ({
      url: member,
      driver: driverModule(member.kind).create(member, byKind[member.kind], tuning),
    })),
  );
}
