/**
 * Where nginx runs: this machine, or another one reached through the system ssh (batch mode, host keys checked).
 * The nginx driver needs only these operations; each is one round trip.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  realpathSync,
  unlinkSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  openSync,
  linkSync,
  readSync,
  closeSync,
} from 'node:fs';
import { childEnv } from '../../model/env.js';
import { abortReason } from '../../model/poll.js';
import type { Transport } from '../driver.js';
import { remotePath, runSsh, sshWhere, type SshTarget } from '../ssh.js';

export interface CommandResult {
  readonly code: number;
  readonly output: string;
  /** Set when the command was stopped before it ended (the run's cancel, or 30 s): why. */
  readonly stopped?: string;
}

/** The longest a test or reload command may run. */
const COMMAND_MS = 30_000;

export interface Host {
  readonly where: string;
  read(path: string): Promise<string>;
  /**
   * Replaces the file in one step (written beside it, then renamed), so nginx never reads half a file; through a
   * symlink it replaces the target, and the file keeps its mode and owner.
   */
  write(path: string, text: string): Promise<void>;
  /** Runs a shell command; `signal` stops it (its whole process group on this machine). */
  run(command: string, signal?: AbortSignal): Promise<CommandResult>;
  /** The live master process in the pid file and its worker processes. */
  workers(pidFile: string): Promise<{ master: number; workers: Set<number> }>;
  /** Which of these processes are still running. */
  alive(pids: readonly number[]): Promise<Set<number>>;
  /** The file's bytes from offset on (none when offset is undefined), and its size (undefined: no such file). */
  readFrom(path: string, offset: number | undefined): Promise<{ text: string; size: number | undefined }>;
  /**
   * Creates the file, whole, only if there is none: undefined when created, else the existing file's text. A reader
   * never sees it empty.
   */
  createExclusive(path: string, text: string): Promise<string | undefined>;
  /**
   * Removes the file if its first line is `firstLine`; another's file is left untouched. Ours is renamed aside
   * first, so one remover wins, and put back when it turned out to be another's meanwhile. True when removed.
   */
  removeIfFirstLine(path: string, firstLine: string): Promise<boolean>;
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
    // Through a symlink, the file it points to is replaced (the link stays), with the file's mode and owner.
    const target = realpathSync(path);
    const { mode, uid, gid } = statSync(target);
    const temporary = `${target}.zdd-tmp`;
    writeFileSync(temporary, text, { mode: mode & 0o7777 });
    chmodSync(temporary, mode & 0o7777);
    try {
      if (uid !== process.getuid?.() || gid !== process.getgid?.()) chownSync(temporary, uid, gid);
    } catch {
      // Not allowed to give it the owner: write the file in place instead, which keeps owner and mode.
      unlinkSync(temporary);
      writeFileSync(target, text);
      return;
    }
    renameSync(temporary, target);
  }

  run(command: string, signal?: AbortSignal): Promise<CommandResult> {
    return new Promise((resolve) => {
      // A process group of its own, so a stop reaches whatever the shell started.
      const child = spawn('sh', ['-c', command], {
        env: childEnv(),
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      let stopped: string | undefined;
      const collect = (chunk: Buffer) => void (output += chunk.toString('utf8'));
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      const stop = (why: string) => {
        stopped ??= why;
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
        } catch {
          // gone already
        }
      };
      const timer = setTimeout(() => stop(`it ran past ${COMMAND_MS / 1000} s`), COMMAND_MS);
      const onAbort = () => stop(abortReason(signal));
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      const end = (code: number, extra = '') => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve({ code, output: `${output}${extra}`.trim(), ...(stopped ? { stopped } : {}) });
      };
      child.on('error', (error) => end(1, error.message));
      child.on('close', (code) => end(code ?? 1));
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

  async createExclusive(path: string, text: string): Promise<string | undefined> {
    // Written whole beside it, then hard-linked into place: link fails when the file exists, and a reader never
    // sees the file before its text.
    const draft = `${path}.zdd-new.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(draft, text, { flag: 'wx' });
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          linkSync(draft, path);
          return undefined;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        try {
          return readFileSync(path, 'utf8');
        } catch (error) {
          // Removed between the link and the read: try again.
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
      throw new Error(
        `creating ${path} failed: it kept appearing and disappearing (another run taking and releasing it)`,
      );
    } finally {
      unlinkSync(draft);
    }
  }

  async removeIfFirstLine(path: string, firstLine: string): Promise<boolean> {
    // Another's file is never moved, not even for a moment: only one whose first line is ours is renamed aside.
    let current: string;
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      return false;
    }
    if (current.split('\n')[0] !== firstLine) return false;
    const aside = `${path}.zdd-removing.${process.pid}`;
    try {
      renameSync(path, aside);
    } catch {
      return false;
    }
    const ours = readFileSync(aside, 'utf8').split('\n')[0] === firstLine;
    try {
      if (!ours) linkSync(aside, path);
    } catch {
      // Another lock was created meanwhile: it stays, the one we moved aside was stale.
    }
    unlinkSync(aside);
    return ours;
  }
}

export class SshHost implements Host {
  readonly where: string;

  constructor(private readonly target: SshTarget) {
    this.where = sshWhere(target);
  }

  /** A remote command's exit code with its output (stdout, then stderr); ssh's own failures reject. */
  private async ssh(remote: string, input = ''): Promise<CommandResult> {
    const result = await runSsh(this.target, remote, input, 30_000);
    return { code: result.code, output: `${result.stdout}${result.stderr}` };
  }

  /** The remote command's stdout; a non-zero exit throws with its stderr. */
  private async must(remote: string, what: string, input = ''): Promise<string> {
    const result = await runSsh(this.target, remote, input, 30_000);
    if (result.code !== 0)
      throw new Error(`${what} on ${this.where} failed (exit ${result.code}): ${result.stderr.trim()}`);
    return result.stdout;
  }

  read(path: string): Promise<string> {
    return this.must(`cat ${remotePath(path)}`, `reading ${path}`);
  }

  async write(path: string, text: string): Promise<void> {
    const p = remotePath(path);
    // Through a symlink, the file it points to (readlink -f), keeping its mode and owner; when the owner cannot be
    // given to the new file, it is written in place instead.
    const script =
      `t=$(readlink -f ${p}) && cat > "$t.zdd-tmp" && chmod --reference="$t" "$t.zdd-tmp" && ` +
      `if chown --reference="$t" "$t.zdd-tmp" 2>/dev/null; then mv "$t.zdd-tmp" "$t"; else cat "$t.zdd-tmp" > "$t" && rm -f "$t.zdd-tmp"; fi`;
    await this.must(script, `writing ${path}`, text);
  }

  async run(command: string): Promise<CommandResult> {
    const result = await this.ssh(command);
    return { code: result.code, output: result.output.trim() };
  }

  async workers(pidFile: string): Promise<{ master: number; workers: Set<number> }> {
    const p = remotePath(pidFile);
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
    const p = remotePath(path);
    // The size first, then the bytes after offset: one round trip.
    const tail = offset === undefined ? '' : `; tail -c +${Math.trunc(offset) + 1} ${p}`;
    // Raw stdout only: a log read must see whether its last line is complete.
    const result = await runSsh(this.target, `[ -f ${p} ] || exit 3; wc -c < ${p}${tail}`, '', 30_000);
    if (result.code === 3) return { text: '', size: undefined };
    if (result.code !== 0) throw new Error(`reading ${path} on ${this.where} failed: ${result.stderr.trim()}`);
    const newline = result.stdout.indexOf('\n');
    const size = Number((newline < 0 ? result.stdout : result.stdout.slice(0, newline)).trim());
    return { text: newline < 0 ? '' : result.stdout.slice(newline + 1), size };
  }

  async createExclusive(path: string, text: string): Promise<string | undefined> {
    const p = remotePath(path);
    // Written whole beside it, then hard-linked into place (ln fails when the file exists); exit 3: the file exists,
    // its text follows.
    const result = await runSsh(
      this.target,
      `t=${p}.zdd-new.$$; cat > "$t" || exit 4; i=0; while [ $i -lt 5 ]; do ` +
        `if ln "$t" ${p} 2>/dev/null; then rm -f "$t"; exit 0; fi; ` +
        `if [ -f ${p} ] && cat ${p} 2>/dev/null; then rm -f "$t"; exit 3; fi; i=$((i+1)); done; ` +
        `rm -f "$t"; echo "cannot create ${p}" >&2; exit 4`,
      text,
      30_000,
    );
    if (result.code === 0) return undefined;
    if (result.code === 3) return result.stdout;
    throw new Error(`creating ${path} on ${this.where} failed (exit ${result.code}): ${result.stderr.trim()}`);
  }

  async removeIfFirstLine(path: string, firstLine: string): Promise<boolean> {
    const p = remotePath(path);
    const aside = `${p}.zdd-removing.$$`;
    // The expected first line comes on stdin, never pasted into the command. Another's file is never moved.
    const result = await runSsh(
      this.target,
      `want=$(cat); [ "$(head -n 1 ${p} 2>/dev/null)" = "$want" ] || exit 6; mv ${p} ${aside} 2>/dev/null || exit 5; ` +
        `if [ "$(head -n 1 ${aside})" = "$want" ]; then rm -f ${aside}; exit 0; fi; ln ${aside} ${p} 2>/dev/null; rm -f ${aside}; exit 6`,
      firstLine,
      30_000,
    );
    if (result.code === 0) return true;
    if (result.code === 5 || result.code === 6) return false;
    throw new Error(`removing ${path} on ${this.where} failed (exit ${result.code}): ${result.stderr.trim()}`);
  }
}

export function hostFor(transport: Transport): Host | { error: string } {
  if (transport.type === 'file') return new LocalHost();
  if (transport.type === 'ssh') return new SshHost(transport);
  return { error: `load-balancer: nginx cannot be reached over ${transport.type}` };
}
