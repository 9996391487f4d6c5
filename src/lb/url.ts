/** URL forms shared by the drivers' schemes: HOST:PORT, a local path, or USER@HOST plus a path over ssh. */
import type { Transport } from './driver.js';
import { SAFE_REMOTE_PATH } from './ssh.js';

function parse(text: string): URL | string {
  try {
    const url = new URL(text);
    if (url.search || url.hash) return 'must not have a query or fragment';
    return url;
  } catch {
    return 'is not a valid URL';
  }
}

export function hostPort(text: string, form: string): Transport | string {
  const url = parse(text);
  if (typeof url === 'string') return `${url}: ${form}`;
  if (!url.hostname) return `needs a host: ${form}`;
  const port = Number(url.port);
  if (!url.port || !Number.isInteger(port) || port < 1 || port > 65535) return `needs a port: ${form}`;
  if (url.pathname && url.pathname !== '/' && url.pathname !== '') return `takes no path: ${form}`;
  return { type: 'tcp', host: url.hostname.replace(/^\[|\]$/g, ''), port };
}

export function localPath(text: string, form: string, type: 'unix' | 'file'): Transport | string {
  const url = parse(text);
  if (typeof url === 'string') return `${url}: ${form}`;
  if (url.hostname) return `needs three slashes and an absolute path: ${form}`;
  if (!url.pathname || url.pathname === '/') return `needs a path: ${form}`;
  return { type, path: decodeURIComponent(url.pathname) };
}

export function sshPath(text: string, form: string): Transport | string {
  const url = parse(text);
  if (typeof url === 'string') return `${url}: ${form}`;
  if (!url.username || !url.hostname) return `needs a user and a host: ${form}`;
  if (url.password) return 'must not hold a password: use an ssh key loaded in ssh-agent';
  if (!url.pathname || url.pathname === '/') return `needs the path of the socket or file on the host: ${form}`;
  const path = decodeURIComponent(url.pathname);
  if (!SAFE_REMOTE_PATH.test(path))
    return `path '${path}' has characters a remote shell would interpret (use letters, digits and / _ . @ + -)`;
  const port = url.port ? Number(url.port) : undefined;
  return {
    type: 'ssh',
    user: decodeURIComponent(url.username),
    host: url.hostname,
    port,
    path,
  };
}

export function describeTransport(transport: Transport): string {
  switch (transport.type) {
    case 'tcp':
      return `${transport.host}:${transport.port}`;
    case 'unix':
    case 'file':
      return transport.path;
    case 'ssh':
      return `${transport.user}@${transport.host}:${transport.path}`;
    case 'fleet':
      return transport.members.map((m) => describeTransport(m.transport)).join(', ');
    case 'cloud':
      return transport.id;
  }
}
