/**
 * A TCP relay in front of a Runtime API port, which a test can cut (refusing new connections) while the target keeps
 * running, or make drop a batched command part way (the first lines reach HAProxy, the rest never do).
 */
import net from 'node:net';

export interface Relay {
  readonly port: number;
  /** Connections relayed so far. */
  readonly connections: () => number;
  /** Cut after the first connection whose request matches: that one completes, every later one is refused. */
  cutAfter(pattern: RegExp): void;
  /**
   * The first request that matches reaches the target only up to and including its `lines`-th `set server` line
   * (then the target sees the connection end), and its client gets no answer; the next `refuse` connections are
   * refused (a driver's retries); later ones are relayed again. Resolves once the target has closed that connection.
   */
  cutWithin(pattern: RegExp, lines: number, refuse: number): Promise<{ forwarded: string; dropped: string }>;
  /** Requests read from now on wait (their connections open) until the returned function is called. */
  hold(): () => void;
  close(): Promise<void>;
}

/** The request up to and including its `lines`-th `set server` line, and the rest. */
function splitAfterSetServer(request: string, lines: number): [string, string] {
  let at = 0;
  let seen = 0;
  for (const line of request.split(/(?<=\n)/)) {
    at += line.length;
    if (line.startsWith('set server ') && ++seen === lines) break;
  }
  return [request.slice(0, at), request.slice(at)];
}

export async function startRelay(targetPort: number): Promise<Relay> {
  let connections = 0;
  let trigger: RegExp | undefined;
  let cut = false;
  let partial:
    | { pattern: RegExp; lines: number; refuse: number; done: (r: { forwarded: string; dropped: string }) => void }
    | undefined;
  let refusing = 0;
  let held: (() => void)[] | undefined;
  const sockets = new Set<net.Socket>();
  // Half-open: the driver ends its side after the request and still reads the reply. The request is read whole
  // before any of it is relayed, so a cut can be placed inside it.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    if (cut) return client.destroy();
    if (refusing > 0) {
      refusing--;
      return client.destroy();
    }
    connections++;
    sockets.add(client);
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(upstream);
    const chunks: Buffer[] = [];
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    client.on('end', function relay() {
      if (held) return void held.push(relay);
      const request = Buffer.concat(chunks).toString('utf8');
      if (trigger?.test(request)) cut = true;
      const within = partial;
      if (within && within.pattern.test(request)) {
        partial = undefined;
        refusing = within.refuse;
        const [forwarded, dropped] = splitAfterSetServer(request, within.lines);
        upstream.resume();
        upstream.on('close', () => {
          client.destroy();
          within.done({ forwarded, dropped });
        });
        upstream.end(forwarded);
        return;
      }
      upstream.pipe(client);
      upstream.end(request);
    });
    const done = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', done);
    upstream.on('error', done);
    upstream.on('close', done);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return {
    port: address.port,
    connections: () => connections,
    cutAfter(pattern) {
      trigger = pattern;
    },
    cutWithin(pattern, lines, refuse) {
      return new Promise((done) => {
        partial = { pattern, lines, refuse, done };
      });
    },
    hold() {
      const waiting: (() => void)[] = [];
      held = waiting;
      return () => {
        if (held === waiting) held = undefined;
        waiting.forEach((go) => go());
      };
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
