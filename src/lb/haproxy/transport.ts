/** Byte transports to an HAProxy Runtime API socket: TCP, a unix socket, or ssh to a socket on another host. */
import net from 'node:net';
import type { Transport } from '../driver.js';
import { TransportError } from '../../model/errors.js';
import { abortReason } from '../../model/poll.js';
import { remotePath, runSsh, type SshTarget } from '../ssh.js';
import { describeTransport } from '../url.js';

function overSocket(
  connect: () => net.Socket,
  request: string,
  timeoutMs: number,
  where: string,
  signal: AbortSignal | undefined,
): Promise<string> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new TransportError(`gave up on ${where}: ${abortReason(signal)}`, false));
    const chunks: Buffer[] = [];
    const socket = connect();
    const onAbort = () => {
      clearTimeout(timer);
      socket.destroy();
      reject(new TransportError(`gave up waiting for ${where}: ${abortReason(signal)}`, false));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(new TransportError(`no complete answer from ${where} within ${timeoutMs}ms`, true));
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => socket.end(request));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      reject(new TransportError(`cannot talk to ${where}: ${error.code ?? error.message}`, true));
    });
    socket.on('close', (hadError) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

async function overSsh(target: SshTarget, request: string, timeoutMs: number): Promise<string> {
  // The ssh runner's own failures are TransportErrors already, retryable or not.
  const path = remotePath(target.path);
  // socat waits (-t) for HAProxy to close after `quit`; nc -U reads until the far side closes.
  const remote = `if command -v socat >/dev/null 2>&1; then exec socat -t 30 - UNIX-CONNECT:${path}; else exec nc -U ${path}; fi`;
  const result = await runSsh(target, remote, request, timeoutMs);
  if (result.code === 0) return result.stdout;
  const stderr = result.stderr.trim().split('\n').slice(-2).join(' ');
  throw new TransportError(
    `ssh to ${describeTransport(target)} exited ${result.code}: ${stderr || 'no message'}`,
    false,
  );
}

/**
 * Sends the request text and returns everything the far side wrote before closing. `signal` gives the call up (the
 * socket is closed; a request already sent may still have been carried out).
 */
export function exchange(
  transport: Transport,
  request: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string> {
  const where = describeTransport(transport);
  switch (transport.type) {
    case 'tcp':
      return overSocket(
        () => net.connect({ host: transport.host, port: transport.port }),
        request,
        timeoutMs,
        where,
        signal,
      );
    case 'unix':
      return overSocket(() => net.connect({ path: transport.path }), request, timeoutMs, where, signal);
    case 'ssh':
      return overSsh(transport, request, timeoutMs);
    default:
      return Promise.reject(new TransportError(`the HAProxy driver cannot use a ${transport.type} transport`, false));
  }
}
