/**
 * The one list of load balancers: a `load-balancer` URL's scheme picks the driver module that serves it. Adding a
 * load balancer is a folder under `src/lb/` and one line here; tests register their fake the same way.
 */
import type { Driver, DriverModule, LoadBalancerUrl, Tuning } from './driver.js';
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

/** The `load-balancer` input: a URL whose scheme names the kind of load balancer and how to reach its API. */
export function parseLoadBalancer(text: string): LoadBalancerUrl | { error: string } {
  const value = text.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase();
  const example = haproxy.schemes[0]?.example;
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

export function createDriver(url: LoadBalancerUrl, options: unknown, tuning: Tuning = {}): Driver {
  return driverModule(url.kind).create(url, options, tuning);
}
