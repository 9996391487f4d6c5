/** Drivers by the kind of load balancer the `load-balancer` URL names. */
import type { Driver } from './driver.js';
import { HaproxyDriver } from './haproxy/driver.js';
import type { LoadBalancerUrl } from './url.js';

export const SUPPORTED_KINDS = ['haproxy'] as const;

/** A driver for the URL, or an input error when this release has none for its kind. */
export function createDriver(url: LoadBalancerUrl, options: { retries?: number; timeoutMs?: number } = {}): Driver | { error: string } {
  switch (url.kind) {
    case 'haproxy':
      return new HaproxyDriver({ transport: url.transport, ...options });
    default:
      return {
        error: `load-balancer: ${url.scheme}:// is not supported by this release yet; supported: haproxy://, haproxy+unix://, haproxy+ssh://`,
      };
  }
}
