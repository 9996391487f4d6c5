/** Byte transports to an HAProxy Runtime API socket: TCP, a unix socket, or ssh to a socket on another host. */
import { spawn } from 'node:child_process';
import net from 'node:net';
import type { Transport } from '../url.js';

export class TransportError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

const SAFE_REMOTE_PATH = /^[A-Za-z0-9/_.@+-]+$/;

function describe(transport: Transport): string {
  switch (transport.type) {
    case 'tcp':
      return `${transport.host}:${transport.port}`;
    case 'unix':
    case 'file':
      return transport.path;
    case 'ssh':
      return `${transport.user}@${transport.host}:${transport.path}`;
    case 'http':
      return transport.url;
  }
}

function overSocket(connect: () => net.Socket, request: string, timeoutMs: number, where: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TransportError(`no complete answer from ${where} within ${timeoutMs}ms`, true));
    }, timeoutMs);
    socket.on('connect', () => socket.end(request));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new TransportError(`cannot talk to ${where}: ${error.code ?? error.message}`, true));
    });
    socket.on('close', (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

function overSsh(transport: Extract<Transport, { type: 'ssh' }>, request: string, timeoutMs: number): Promise<string> {
  if (!SAFE_REMOTE_PATH.test(transport.path)) {
    return Promise.reject(
      new TransportError(
        `load-balancer: socket path '${transport.path}' has characters a remote shell would interpret`,
        false,
      ),
    );
  }
  const path = transport.path;
  // socat waits (-t) for HAProxy to close after `quit`; nc -U reads until the far side closes.
  const remote = `if command -v socat >/dev/null 2>&1; then exec socat -t 30 - UNIX-CONNECT:${path}; else exec nc -U ${path}; fi`;
  const args = [
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `ConnectTimeout=${Math.max(1, Math.ceil(timeoutMs / 1000))}`,
  ];
  if (transport.port) args.push('-p', String(transport.port));
  args.push('-l', transport.user, '--', transport.host, remote);
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new TransportError(`no complete answer over ssh from ${describe(transport)} within ${timeoutMs}ms`, true));
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new TransportError(`cannot run ssh: ${error.message}`, false));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) return resolve(Buffer.concat(out).toString('utf8'));
      const stderr = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-2).join(' ');
      // 255 is ssh's own failure (network, host key, auth); other codes come from the remote command.
      reject(
        new TransportError(`ssh to ${describe(transport)} exited ${code}: ${stderr || 'no message'}`, code === 255),
      );
    });
    child.stdin.end(request);
  });
}

/** Sends the request text and returns everything the far side wrote before closing. */
export function exchange(transport: Transport, request: string, timeoutMs: number): Promise<string> {
  const where = describe(transport);
  switch (transport.type) {
    case 'tcp':
      return overSocket(() => net.connect({ host: transport.host, port: transport.port }), request, timeoutMs, where);
    case 'unix':
      return overSocket(() => net.connect({ path: transport.path }), request, timeoutMs, where);
    case 'ssh':
      return overSsh(transport, request, timeoutMs);
    default:
      return Promise.reject(new TransportError(`the HAProxy driver cannot use a ${transport.type} transport`, false));
  }
}

export { describe as describeTransport };
