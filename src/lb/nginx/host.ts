/**
 * Where nginx runs: this machine, or another one reached through the system ssh (batch mode, host keys checked).
 * The nginx driver needs only these operations; each is one round trip.
 */
import { execFile, spawn } from 'node:child_process';
import {
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  openSync,
  readSync,
  closeSync,
} from 'node:fs';
import type { Transport } from '../url.js';

export interface CommandResult {
  readonly code: number;
  readonly output: string;
}

export interface Host {
  readonly where: string;
  read(path: string): Promise<string>;
  /** Replaces the file in one step (written beside it, then renamed), so nginx never reads half a file. */
  write(path: string, text: string): Promise<void>;
  run(command: string): Promise<CommandResult>;
  /** The live master process in the pid file and its worker processes. */
  workers(pidFile: string): Promise<{ master: number; workers: Set<number> }>;
  /** Which of these processes are still running. */
  alive(pids: readonly number[]): Promise<Set<number>>;
  /** The file's bytes from offset on (none when offset is undefined), and its size (undefined: no such file). */
  readFrom(path: string, offset: number | undefined): Promise<{ text: string; size: number | undefined }>;
}

function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2);
  } catch {
    return undefined;
  }
}

export class LocalHost implements Host {
  readonly where = 'this machine';

  async read(path: string): Promise<string> {
    return readFileSync(path, 'utf8');
  }

  async write(path: string, text: string): Promise<void> {
    writeFileSync(`${path}.zdd-tmp`, text);
    renameSync(`${path}.zdd-tmp`, path);
  }

  run(command: string): Promise<CommandResult> {
    return new Promise((resolve) => {
      execFile('sh', ['-c', command], { timeout: 30_000 }, (error, stdout, stderr) => {
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
          output: `${stdout}${stderr}`.trim(),
        });
      });
    });
  }

  async workers(pidFile: string): Promise<{ master: number; workers: Set<number> }> {
    const master = Number(readFileSync(pidFile, 'utf8').trim());
    const state = processState(master);
    if (!master || !state || state.startsWith('Z'))
      throw new Error(`nginx is not running: no live master process in ${pidFile} (input nginx-pid-file)`);
    const workers = new Set<number>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const fields = processState(Number(entry))?.split(' ');
      if (fields && Number(fields[1]) === master && fields[0] !== 'Z') workers.add(Number(entry));
    }
    return { master, workers };
  }

  async alive(pids: readonly number[]): Promise<Set<number>> {
    return new Set(pids.filter((pid) => processState(pid)?.[0] !== undefined && processState(pid)?.[0] !== 'Z'));
  }

  async readFrom(path: string, offset: number | undefined): Promise<{ text: string; size: number | undefined }> {
    if (!existsSync(path)) return { text: '', size: undefined };
    const size = statSync(path).size;
    if (offset === undefined || size <= offset) return { text: '', size };
    const buffer = Buffer.alloc(size - offset);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, offset);
    } finally {
      closeSync(fd);
    }
    return { text: buffer.toString('utf8'), size };
  }
}

const SAFE_PATH = /^\/[A-Za-z0-9/_.@+-]+$/;

function quotePath(path: string): string {
  if (!SAFE_PATH.test(path))
    throw new Error(`load-balancer: path '${path}' has characters a remote shell would interpret`);
  return path;
}

export class SshHost implements Host {
  readonly where: string;

  constructor(private readonly transport: Extract<Transport, { type: 'ssh' }>) {
    this.where = `${transport.user}@${transport.host}`;
  }

  private ssh(remote: string, input = ''): Promise<CommandResult> {
    const args = ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=10'];
    if (this.transport.port) args.push('-p', String(this.transport.port));
    args.push('-l', this.transport.user, '--', this.transport.host, remote);
    return new Promise((resolve, reject) => {
      const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => out.push(c));
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`cannot run ssh: ${error.message}`));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        // Raw: a log read must see whether its last line is complete.
        const output = Buffer.concat(out).toString('utf8');
        if (code === 255)
          reject(new Error(`ssh to ${this.where} failed: ${output.trim().split('\n').slice(-2).join(' ')}`));
        else resolve({ code: code ?? 1, output });
      });
      child.stdin.end(input);
    });
  }

  private async must(remote: string, what: string, input = ''): Promise<string> {
    const result = await this.ssh(remote, input);
    if (result.code !== 0)
      throw new Error(`${what} on ${this.where} failed (exit ${result.code}): ${result.output.trim()}`);
    return result.output;
  }

  read(path: string): Promise<string> {
    return this.must(`cat ${quotePath(path)}`, `reading ${path}`);
  }

  async write(path: string, text: string): Promise<void> {
    const p = quotePath(path);
    await this.must(`cat > ${p}.zdd-tmp && mv ${p}.zdd-tmp ${p}`, `writing ${path}`, text);
  }

  async run(command: string): Promise<CommandResult> {
    const result = await this.ssh(command);
    return { code: result.code, output: result.output.trim() };
  }

  async workers(pidFile: string): Promise<{ master: number; workers: Set<number> }> {
    const p = quotePath(pidFile);
    const output = await this.must(
      `m=$(cat ${p}) && ps -o pid= -p "$m" >/dev/null && echo "$m" && ps -o pid= --ppid "$m"`,
      `finding nginx from ${pidFile} (input nginx-pid-file)`,
    );
    const [master, ...workers] = output.split(/\s+/).filter(Boolean).map(Number);
    if (!master) throw new Error(`nginx is not running on ${this.where}: no live master process in ${pidFile}`);
    return { master, workers: new Set(workers) };
  }

  async alive(pids: readonly number[]): Promise<Set<number>> {
    if (pids.length === 0) return new Set();
    const result = await this.ssh(`ps -o pid= -p ${pids.map((p) => String(Math.trunc(p))).join(',')}`);
    return new Set(result.output.split(/\s+/).filter(Boolean).map(Number));
  }

  async readFrom(path: string, offset: number | undefined): Promise<{ text: string; size: number | undefined }> {
    const p = quotePath(path);
    // The size first, then the bytes after offset: one round trip.
    const tail = offset === undefined ? '' : `; tail -c +${Math.trunc(offset) + 1} ${p}`;
    const result = await this.ssh(`[ -f ${p} ] || exit 3; wc -c < ${p}${tail}`);
    if (result.code === 3) return { text: '', size: undefined };
    if (result.code !== 0) throw new Error(`reading ${path} on ${this.where} failed: ${result.output}`);
    const newline = result.output.indexOf('\n');
    const size = Number((newline < 0 ? result.output : result.output.slice(0, newline)).trim());
    return { text: newline < 0 ? '' : result.output.slice(newline + 1), size };
  }
}

export function hostFor(transport: Transport): Host | { error: string } {
  if (transport.type === 'file') return new LocalHost();
  if (transport.type === 'ssh') return new SshHost(transport);
  return { error: `load-balancer: nginx cannot be reached over ${transport.type}` };
}
