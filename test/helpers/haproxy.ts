/** A real HAProxy on loopback, started by the test with its own config and free ports. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';

export interface HaproxyServerLine {
  readonly name: string;
  readonly port: number;
  /** Extra words after the address, e.g. `check weight 0`. */
  readonly options?: string;
}

export interface HaproxyInstance {
  readonly frontendPort: number;
  readonly adminPort: number;
  readonly operatorPort: number;
  readonly socketPath: string;
  readonly dir: string;
  /** Sends Runtime API commands (`;`-separated) and returns the raw answer. */
  cli(commands: string): Promise<string>;
  /** `backend/server` -> current weight and status, from show stat. */
  servers(): Promise<Map<string, { weight: number; status: string; adminState: number }>>;
  /**
   * Resolves once every server with a health check has had one and is in no transition ("UP 1/2"): what a fixed
   * sleep after start waited for. Servers whose app is down settle as DOWN.
   */
  settled(timeoutMs?: number): Promise<void>;
  /** Reloads the configuration as `systemctl reload haproxy` does (SIGUSR2 to the master); runtime changes are lost. */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

export async function cli(port: number, commands: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.end(`${commands}\n`));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString()));
  });
}

/** `show stat` CSV as one record per row, by column name. */
export function statRows(csv: string): Record<string, string>[] {
  const lines = csv.trim().split('\n');
  const header = (lines[0] ?? '').replace(/^# /, '').split(',');
  return lines.slice(1).map((line) => {
    const cells = line.split(',');
    return Object.fromEntries(header.map((col, i) => [col, cells[i] ?? '']));
  });
}

export interface HaproxySetup {
  readonly name?: string;
  readonly servers: readonly HaproxyServerLine[];
  /** Lines for the app backend, before its servers. */
  readonly extra?: string;
  /** Lines for the frontend, before its default_backend. */
  readonly frontend?: string;
  /** Further sections, after the app backend. */
  readonly sections?: string;
  /** Lines for the defaults section, after the lab's own. */
  readonly defaults?: string;
}

/** The haproxy.cfg lines docs/haproxy.md gives for per-request latency: a ring the log line writes to. */
export const LATENCY_RING = {
  defaults: '    log ring@zdd local0 info\n    log-format "%rt %b/%s %ST %Ta"',
  sections: 'ring zdd\n    format raw\n    size 1048576',
} as const;

export async function startHaproxy(backend: HaproxySetup): Promise<HaproxyInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'zdd-haproxy-'));
  const [frontendPort, adminPort, operatorPort] = [await freePort(), await freePort(), await freePort()];
  const socketPath = join(dir, 'admin.sock');
  const name = backend.name ?? 'app';
  const config = `global
    stats socket ipv4@127.0.0.1:${adminPort} level admin
    stats socket ipv4@127.0.0.1:${operatorPort} level operator
    stats socket ${socketPath} mode 600 level admin
    stats timeout 2m
defaults
    mode http
    retries 2
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    option idle-close-on-response
    default-server inter 300ms fall 2 rise 2 weight 100
${backend.defaults ?? ''}
frontend fe_http
    bind 127.0.0.1:${frontendPort}
${backend.frontend ?? ''}
    default_backend ${name}
    http-response set-header X-Served-By %b/%s
backend ${name}
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health
    http-check expect status 200
${backend.extra ?? ''}
${backend.servers.map((s) => `    server ${s.name} 127.0.0.1:${s.port} ${s.options ?? 'check'}`).join('\n')}
${backend.sections ?? ''}
`;
  const configPath = join(dir, 'haproxy.cfg');
  writeFileSync(configPath, config);
  // Master-worker, in the foreground: a reload is SIGUSR2 to this process, as systemd does it.
  const child: ChildProcess = spawn('haproxy', ['-W', '-db', '-f', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    await waitForPort(adminPort, 10_000);
    await waitForPort(frontendPort, 10_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`HAProxy did not start: ${(error as Error).message}\n${stderr}`, { cause: error });
  }
  const instance: HaproxyInstance = {
    frontendPort,
    adminPort,
    operatorPort,
    socketPath,
    dir,
    cli: (commands) => cli(adminPort, commands),
    async settled(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const rows = statRows(await cli(adminPort, 'show stat -1 4 -1'));
        const checked = rows.filter((r) => r.check_status !== '');
        const pending = checked.filter(
          (r) => /^(\* )?INI/.test(r.check_status ?? '') || (r.status ?? '').includes('/'),
        );
        if (!pending.length) return;
        if (Date.now() > deadline)
          throw new Error(
            `HAProxy checks did not settle: ${pending.map((r) => `${r.pxname}/${r.svname} ${r.status} ${r.check_status}`).join(', ')}`,
          );
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async servers() {
      const stat = await cli(adminPort, `show stat ${name} 4 -1;show servers state ${name}`);
      const [csv = '', state = ''] = stat.split('\n\n');
      const lines = csv.trim().split('\n');
      const header = (lines[0] ?? '').slice(2).split(',');
      const result = new Map<string, { weight: number; status: string; adminState: number }>();
      const adminStates = new Map<string, number>();
      for (const line of state.trim().split('\n').slice(2)) {
        const cells = line.split(' ');
        adminStates.set(`${cells[1]}/${cells[3]}`, Number(cells[6]));
      }
      for (const line of lines.slice(1)) {
        const cells = line.split(',');
        const get = (col: string) => cells[header.indexOf(col)] ?? '';
        const id = `${get('pxname')}/${get('svname')}`;
        result.set(id, { weight: Number(get('weight')), status: get('status'), adminState: adminStates.get(id) ?? -1 });
      }
      return result;
    },
    async reload() {
      const before = await cli(adminPort, 'show info');
      const pid = /^Pid: (\d+)/m.exec(before)?.[1];
      child.kill('SIGUSR2');
      const deadline = Date.now() + 10_000;
      for (;;) {
        const info = await cli(adminPort, 'show info').catch(() => '');
        const now = /^Pid: (\d+)/m.exec(info)?.[1];
        if (now && now !== pid) return;
        if (Date.now() > deadline) throw new Error(`HAProxy did not reload: worker ${pid} still answers\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      child.kill('SIGKILL');
    },
  };
  return instance;
}
