/** The `load-balancer` input: a URL whose scheme names the kind of load balancer and how to reach its API. */

export type Transport =
  | { readonly type: 'tcp'; readonly host: string; readonly port: number }
  | { readonly type: 'unix'; readonly path: string }
  | {
      readonly type: 'ssh';
      readonly user: string;
      readonly host: string;
      readonly port: number | undefined;
      readonly path: string;
    }
  | { readonly type: 'file'; readonly path: string }
  | { readonly type: 'http'; readonly url: string };

export interface LoadBalancerUrl {
  /** The scheme as written, e.g. `haproxy+unix`. */
  readonly scheme: string;
  /** The family of load balancer, e.g. `haproxy`. */
  readonly kind: 'haproxy' | 'nginx' | 'nginx-plus';
  readonly transport: Transport;
  /** The URL for logs and reports (it never holds a secret: credentials go in load-balancer-token). */
  readonly display: string;
}

type Parser = (url: URL) => Transport | string;

function hostPort(url: URL, what: string): Transport | string {
  if (!url.hostname) return `needs a host: ${what}`;
  const port = Number(url.port);
  if (!url.port || !Number.isInteger(port) || port < 1 || port > 65535) return `needs a port: ${what}`;
  if (url.pathname && url.pathname !== '/' && url.pathname !== '') return `takes no path: ${what}`;
  return { type: 'tcp', host: url.hostname.replace(/^\[|\]$/g, ''), port };
}

function localPath(url: URL, what: string): Transport | string {
  if (url.hostname) return `needs three slashes and an absolute path: ${what}`;
  if (!url.pathname || url.pathname === '/') return `needs a path: ${what}`;
  return { type: 'unix', path: decodeURIComponent(url.pathname) };
}

function sshPath(url: URL, what: string): Transport | string {
  if (!url.username || !url.hostname) return `needs a user and a host: ${what}`;
  if (url.password) return 'must not hold a password: use an ssh key loaded in ssh-agent';
  if (!url.pathname || url.pathname === '/') return `needs the path of the socket or file on the host: ${what}`;
  const port = url.port ? Number(url.port) : undefined;
  return {
    type: 'ssh',
    user: decodeURIComponent(url.username),
    host: url.hostname,
    port,
    path: decodeURIComponent(url.pathname),
  };
}

const SCHEMES: Record<string, { kind: LoadBalancerUrl['kind']; example: string; parse: Parser }> = {
  haproxy: { kind: 'haproxy', example: 'haproxy://127.0.0.1:9999', parse: (u) => hostPort(u, 'haproxy://HOST:PORT') },
  'haproxy+unix': {
    kind: 'haproxy',
    example: 'haproxy+unix:///run/haproxy/admin.sock',
    parse: (u) => localPath(u, 'haproxy+unix:///PATH/TO/SOCKET'),
  },
  'haproxy+ssh': {
    kind: 'haproxy',
    example: 'haproxy+ssh://deploy@lb1/run/haproxy/admin.sock',
    parse: (u) => sshPath(u, 'haproxy+ssh://USER@HOST/PATH/TO/SOCKET'),
  },
  'nginx+file': {
    kind: 'nginx',
    example: 'nginx+file:///etc/nginx/conf.d/upstreams.conf',
    parse: (u) => {
      const t = localPath(u, 'nginx+file:///PATH/TO/UPSTREAMS.conf');
      return typeof t === 'string' ? t : { type: 'file', path: (t as { path: string }).path };
    },
  },
  'nginx+ssh': {
    kind: 'nginx',
    example: 'nginx+ssh://deploy@lb1/etc/nginx/conf.d/upstreams.conf',
    parse: (u) => sshPath(u, 'nginx+ssh://USER@HOST/PATH/TO/UPSTREAMS.conf'),
  },
  'nginx-plus': {
    kind: 'nginx-plus',
    example: 'nginx-plus://127.0.0.1:8080/api/9',
    parse: (u) => {
      if (!u.hostname || !u.port) return 'needs HOST:PORT: nginx-plus://HOST:PORT/api/9';
      if (!/^\/api\/\d+$/.test(u.pathname)) return 'needs the API path with its version, e.g. /api/9';
      return { type: 'http', url: `http://${u.host}${u.pathname}` };
    },
  },
};

export const KNOWN_SCHEMES = Object.keys(SCHEMES);

export function parseLoadBalancerUrl(text: string): LoadBalancerUrl | { error: string } {
  const value = text.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (!scheme) return { error: `'${value}' is not a URL; expected e.g. ${SCHEMES['haproxy']?.example}` };
  const entry = SCHEMES[scheme];
  if (!entry) return { error: `unknown scheme '${scheme}', expected ${KNOWN_SCHEMES.join(', ')}` };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { error: `'${value}' is not a valid URL; expected e.g. ${entry.example}` };
  }
  if (url.search || url.hash) return { error: `'${value}' must not have a query or fragment` };
  const transport = entry.parse(url);
  if (typeof transport === 'string') return { error: `${scheme}:// ${transport}` };
  return { scheme, kind: entry.kind, transport, display: value };
}
