/** The one ssh runner of every driver: the system ssh in batch mode, host keys checked, bounded in time. */
import { spawn } from 'node:child_process';
import { childEnv } from '../model/env.js';
import { TransportError } from '../model/errors.js';
import type { Transport } from './driver.js';

export type SshTarget = Extract<Transport, { type: 'ssh' }>;

export interface SshResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Paths pasted into a remote shell command must be plain. */
export const SAFE_REMOTE_PATH = /^\/?[A-Za-z0-9/_.@+-]+$/;

export function remotePath(path: string): string {
  if (!SAFE_REMOTE_PATH.test(path))
    throw new TransportError(`load-balancer: path '${path}' has characters a remote shell would interpret`, false);
  return path;
}

export function sshWhere(target: SshTarget): string {
  return `${target.user}@${target.host}`;
}

/** Runs `remote` on the host with `input` on its stdin; rejects only when ssh cannot run, fails itself, or times out. */
export function runSsh(target: SshTarget, remote: string, input: string, timeoutMs: number): Promise<SshResult> {
  const args = ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes'];
  args.push('-o', `ConnectTimeout=${Math.max(1, Math.ceil(timeoutMs / 1000))}`);
  if (target.port) args.push('-p', String(target.port));
  args.push('-l', target.user, '--', target.host, remote);
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'], env: childEnv() });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new TransportError(`no complete answer over ssh from ${sshWhere(target)} within ${timeoutMs}ms`, true));
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new TransportError(`cannot run ssh: ${error.message}`, false));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      // 255 is ssh's own failure (network, host key, auth); other codes come from the remote command.
      if (code === 255) {
        const why = stderr.trim().split('\n').slice(-2).join(' ') || 'no message';
        return reject(new TransportError(`ssh to ${sshWhere(target)} failed: ${why}`, true));
      }
      resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}
