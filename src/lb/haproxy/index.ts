/** HAProxy through its Runtime API: over TCP, a unix socket, or ssh to the socket on the load balancer's host. */
import type { DriverModule } from '../driver.js';
import { NAME_PATTERN } from '../../model/selectors.js';
import { hostPort, localPath, sshPath } from '../url.js';
import { HaproxyDriver, haproxyCapabilities } from './driver.js';
import type { HaproxyPreviewOptions } from './previews.js';

export interface HaproxyModuleOptions {
  readonly previews: HaproxyPreviewOptions;
}

const INPUTS = { 'preview-map': '/etc/haproxy/previews.map', 'preview-backend': 'previews' } as const;

export const haproxy: DriverModule<HaproxyModuleOptions> = {
  kind: 'haproxy',
  schemes: [
    { scheme: 'haproxy', example: 'haproxy://127.0.0.1:9999', parse: (u) => hostPort(u, 'haproxy://HOST:PORT') },
    {
      scheme: 'haproxy+unix',
      example: 'haproxy+unix:///run/haproxy/admin.sock',
      parse: (u) => localPath(u, 'haproxy+unix:///PATH/TO/SOCKET', 'unix'),
    },
    {
      scheme: 'haproxy+ssh',
      example: 'haproxy+ssh://deploy@lb1/run/haproxy/admin.sock',
      parse: (u) => sshPath(u, 'haproxy+ssh://USER@HOST/PATH/TO/SOCKET'),
    },
  ],
  capabilities: haproxyCapabilities,
  inputs: INPUTS,
  options(read, context) {
    const errors: string[] = [];
    const map = read('preview-map') || INPUTS['preview-map'];
    const backend = read('preview-backend') || INPUTS['preview-backend'];
    if (!map.startsWith('/') || /\s/.test(map))
      errors.push(`preview-map: '${map}' is not an absolute path without spaces (as written in haproxy.cfg)`);
    if (!NAME_PATTERN.test(backend))
      errors.push(`preview-backend: '${backend}' is not a backend name (letters, digits, '-', '_', '.', ':')`);
    const previewing = context.action === 'preview' || context.action === 'close-preview';
    for (const name of ['preview-map', 'preview-backend'] as const) {
      if (!previewing && (read(name) || INPUTS[name]) !== INPUTS[name])
        errors.push(`${name}: only used by action preview and close-preview`);
    }
    if (read('preview-canary').trim().split(/\s+/)[0] === backend) {
      errors.push(
        'preview-canary: names the preview backend; give the backend that serves your real traffic (e.g. app 5% 10m)',
      );
    }
    return errors.length ? { errors } : { options: { previews: { map, backend } } };
  },
  create: (url, options, tuning) =>
    new HaproxyDriver({ transport: url.transport, ...tuning, previews: options.previews }),
};
