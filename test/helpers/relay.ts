/** A TCP relay in front of a port, which a test can cut (refusing new connections) while the target keeps running. */
import net from 'node:net';

export interface Relay {
  readonly port: number;
  /** Connections relayed so far. */
  readonly connections: () => number;
  /** Cut after the first connection whose request matches: that one completes, every later one is refused. */
  cutAfter(pattern: RegExp): void;
  close(): Promise<void>;
}

export async function startRelay(targetPort: number): Promise<Relay> {
  let connections = 0;
  let trigger: RegExp | undefined;
  let cut = false;
  const sockets = new Set<net.Socket>();
  // Half-open: the driver ends its side after the request and still reads the reply.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    if (cut) return client.destroy();
    connections++;
    sockets.add(client);
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(upstream);
    client.on('data', (chunk: Buffer) => {
      if (trigger?.test(chunk.toString())) cut = true;
    });
    client.pipe(upstream).pipe(client);
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
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
