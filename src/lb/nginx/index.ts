/** Open-source nginx: the driver owns an upstreams file, on this machine or on the load balancer's host over ssh. */
import type { DriverModule } from '../driver.js';
import { localPath, sshPath } from '../url.js';
import { NginxDriver, nginxCapabilities } from './driver.js';
import { hostFor } from './host.js';

export interface NginxModuleOptions {
  readonly testCommand: string;
  readonly reloadCommand: string;
  readonly pidFile: string;
  /** JSON access log with "upstream" ($upstream_addr) and "status" ($upstream_status); empty: no counters. */
  readonly accessLog: string;
}

const INPUTS = {
  'nginx-test-command': 'nginx -t',
  'nginx-reload-command': 'nginx -s reload',
  'nginx-pid-file': '/run/nginx.pid',
  'nginx-access-log': '',
} as const;

export const nginx: DriverModule<NginxModuleOptions> = {
  kind: 'nginx',
  schemes: [
    {
      scheme: 'nginx+file',
      example: 'nginx+file:///etc/nginx/conf.d/upstreams.conf',
      parse: (u) => localPath(u, 'nginx+file:///PATH/TO/UPSTREAMS.conf', 'file'),
    },
    {
      scheme: 'nginx+ssh',
      example: 'nginx+ssh://deploy@lb1/etc/nginx/conf.d/upstreams.conf',
      parse: (u) => sshPath(u, 'nginx+ssh://USER@HOST/PATH/TO/UPSTREAMS.conf'),
    },
  ],
  capabilities: nginxCapabilities,
  inputs: INPUTS,
  options(read, context) {
    const value = (name: keyof typeof INPUTS) => read(name) || INPUTS[name];
    const options: NginxModuleOptions = {
      testCommand: value('nginx-test-command'),
      reloadCommand: value('nginx-reload-command'),
      pidFile: value('nginx-pid-file'),
      accessLog: value('nginx-access-log'),
    };
    const errors: string[] = [];
    if (!options.pidFile.startsWith('/')) errors.push(`nginx-pid-file: '${options.pidFile}' is not an absolute path`);
    if (options.accessLog && !options.accessLog.startsWith('/'))
      errors.push(`nginx-access-log: '${options.accessLog}' is not an absolute path`);
    if (context.action === 'deploy' && !context.dryRun && !options.accessLog && context.minRequests > 0) {
      errors.push(
        'nginx-access-log: open-source nginx counts no errors per server, so the action reads them from a JSON access log (see docs/nginx.md); give its path, or set min-requests: 0 to judge by health-url and check-url probes alone',
      );
    }
    return errors.length ? { errors } : { options };
  },
  create(url, options, tuning) {
    const host = hostFor(url.transport);
    if ('error' in host) throw new Error(host.error);
    const path = 'path' in url.transport ? url.transport.path : '';
    return new NginxDriver({ host, path, ...options, signal: tuning.signal });
  },
};
