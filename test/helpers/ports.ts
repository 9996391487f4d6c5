import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Ports for test load balancers. HAProxy binds with SO_REUSEPORT, so a port handed out twice would be shared
 * silently, and test files run in parallel workers (and other runs may share the machine). So: ports below the
 * kernel's ephemeral range (no outgoing connection takes one), each claimed by a file naming this process, taken
 * with O_EXCL; a claim whose process has died is taken over.
 */
const CLAIMS = join(tmpdir(), 'zdd-test-ports');
const LOW = 20_000;
const HIGH = 32_000;
const given = new Set<number>();

/** A TCP port free on loopback right now, claimed for this process across every test worker on the machine. */
export async function freePort(): Promise<number> {
  mkdirSync(CLAIMS, { recursive: true });
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (given.has(port) || !claim(port)) continue;
    if (!(await bindable(port))) continue;
    given.add(port);
    return port;
  }
  throw new Error(`no free port between ${LOW} and ${HIGH} after 1000 tries`);
}

function claim(port: number): boolean {
  const file = join(CLAIMS, String(port));
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    let holder: number;
    try {
      holder = Number(readFileSync(file, 'utf8').trim() || '0');
    } catch {
      return false; // released meanwhile: try another
    }
    if (!holder || holder === process.pid || alive(holder)) return false; // empty: being written
    try {
      unlinkSync(file);
    } catch {
      // Another process reclaimed it first.
    }
    return false;
  }
}

function alive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.on('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Resolves once something accepts connections on the port. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP listener that counts connections: proves that nothing was opened. */
export async function connectionCounter(): Promise<{ port: number; count: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server = net.createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return {
    port: address.port,
    count: () => count,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
