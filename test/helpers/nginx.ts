/** A real nginx on loopback, started by the test with its own prefix, config, upstreams file and JSON access log. */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';

export interface NginxInstance {
  readonly port: number;
  readonly prefix: string;
  readonly upstreams: string;
  readonly accessLog: string;
  readonly pidFile: string;
  readonly conf: string;
  /** The inputs that point the action at this nginx. */
  readonly inputs: Record<string, string>;
  /** Moves the include of the upstreams file into the server block, as a user might by mistake (not reloaded). */
  misplaceInclude(): void;
  stop(): Promise<void>;
}

export interface NginxServer {
  readonly name: string;
  readonly port: number;
  readonly weight?: number;
  readonly down?: boolean;
}

/** Lines a test adds to the configuration: in the http block, the upstream block and the location. */
export interface NginxExtra {
  readonly http?: string;
  readonly upstream?: string;
  readonly location?: string;
}

/** The upstreams file as a user would write it first. */
export function upstreamsFile(servers: readonly NginxServer[], extra: NginxExtra = {}): string {
  return [
    'upstream app {',
    ...(extra.upstream ? [extra.upstream] : []),
    ...servers.map(
      (s) => `    server 127.0.0.1:${s.port} weight=${s.weight ?? 100}${s.down ? ' down' : ''}; # name=${s.name}`,
    ),
    '    keepalive 16;',
    '}',
    '',
  ].join('\n');
}

export async function startNginx(servers: readonly NginxServer[], extra: NginxExtra = {}): Promise<NginxInstance> {
  const prefix = mkdtempSync(join(tmpdir(), 'zdd-nginx-'));
  mkdirSync(join(prefix, 'tmp'));
  mkdirSync(join(prefix, 'logs'));
  const port = await freePort();
  const upstreams = join(prefix, 'upstreams.conf');
  const accessLog = join(prefix, 'access.json');
  const pidFile = join(prefix, 'nginx.pid');
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(upstreams, upstreamsFile(servers, extra));
  const include = `include ${upstreams};`;
  // With the include in the server block (a user's mistake), nginx -t refuses the configuration.
  const writeConf = (includeInServer: boolean) =>
    writeFileSync(
      conf,
      `user root;
worker_processes 1;
pid ${pidFile};
error_log ${join(prefix, 'error.log')};
events { worker_connections 1024; }
http {
  log_format zdd escape=json '{"upstream":"$upstream_addr","status":"$upstream_status","upstream_time":"$upstream_response_time","request_time":"$request_time"}';
  access_log off;
  client_body_temp_path ${prefix}/tmp; proxy_temp_path ${prefix}/tmp; fastcgi_temp_path ${prefix}/tmp; uwsgi_temp_path ${prefix}/tmp; scgi_temp_path ${prefix}/tmp;
  keepalive_timeout 30s;
  ${extra.http ?? ''}
  ${includeInServer ? '' : include}
  server {
    listen 127.0.0.1:${port};
    ${includeInServer ? include : ''}
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      access_log ${accessLog} zdd;
      ${extra.location ?? ''}
    }
  }
}
`,
    );
  writeConf(false);
  const base = `nginx -p ${prefix} -c ${conf}`;
  execFileSync('nginx', ['-p', prefix, '-c', conf]);
  await waitForPort(port);
  return {
    port,
    prefix,
    upstreams,
    accessLog,
    pidFile,
    conf,
    inputs: {
      'load-balancer': `nginx+file://${upstreams}`,
      'nginx-test-command': `${base} -t`,
      'nginx-reload-command': `${base} -s reload`,
      'nginx-pid-file': pidFile,
      'nginx-access-log': accessLog,
    },
    misplaceInclude: () => writeConf(true),
    async stop() {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
      } catch {
        // not running
      }
      await new Promise((r) => setTimeout(r, 200));
      spawn('sh', ['-c', `pkill -f "nginx: .* ${prefix}" || true`]);
    },
  };
}
