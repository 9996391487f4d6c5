/** Drivers by the kind of load balancer the `load-balancer` URL names. */
import type { Driver } from './driver.js';
import { HaproxyDriver } from './haproxy/driver.js';
import type { LoadBalancerUrl } from './url.js';
import { NginxDriver } from './nginx/driver.js';
import { hostFor } from './nginx/host.js';
import type { Settings } from '../settings.js';

const SUPPORTED = 'haproxy://, haproxy+unix://, haproxy+ssh://, nginx+file://, nginx+ssh://';

/** A driver for the URL, or an input error when this release has none for its kind. */
export function createDriver(
  url: LoadBalancerUrl,
  nginx: Settings['nginx'],
  options: { retries?: number; timeoutMs?: number; previews?: { map: string; backend: string } } = {},
): Driver | { error: string } {
  if (url.kind === 'haproxy') return new HaproxyDriver({ transport: url.transport, ...options });
  if (url.kind === 'nginx') {
    const host = hostFor(url.transport);
    if ('error' in host) return host;
    return new NginxDriver({ host, path: 'path' in url.transport ? url.transport.path : '', ...nginx });
  }
  return { error: `load-balancer: ${url.scheme}:// is not supported by this release yet; supported: ${SUPPORTED}` };
}
