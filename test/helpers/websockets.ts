/**
 * WebSocket clients through the load balancer to test/fixtures/app.js's /ws, as a browser app keeps them: each
 * learns its server from the first message, and reconnects 50 ms after its connection closes. Every close is kept:
 * who closed it (1001 "going away": the app, stopping; 1006, no close frame: the load balancer cut it), when, and
 * on which server. Bounded: at most `count` open at a time, and they stop by themselves after maxMs.
 */
export interface WebSocketClose {
  readonly port: number;
  readonly version: string;
  readonly code: number;
  readonly at: number;
}

export interface WebSocketClients {
  readonly closes: WebSocketClose[];
  /** Open connections per app port, right now. */
  open(): Map<number, number>;
  /** Resolves once every client has a connection open (its first message came). */
  connected(timeoutMs?: number): Promise<void>;
  stop(): void;
}

export function startWebSockets(url: string, count: number, maxMs = 60_000): WebSocketClients {
  const closes: WebSocketClose[] = [];
  const where = new Map<number, { port: number; version: string } | undefined>();
  let stopped = false;
  const sockets = new Set<WebSocket>();
  const timer = setTimeout(() => clients.stop(), maxMs);
  function connect(slot: number): void {
    if (stopped) return;
    const ws = new WebSocket(url);
    sockets.add(ws);
    where.set(slot, undefined);
    ws.onmessage = (m: MessageEvent) => {
      const [version = '', port = '0'] = String(m.data).split(' ');
      where.set(slot, { port: Number(port), version });
    };
    ws.onclose = (e: CloseEvent) => {
      sockets.delete(ws);
      const was = where.get(slot);
      where.set(slot, undefined);
      if (stopped) return;
      if (was) closes.push({ ...was, code: e.code, at: Date.now() });
      setTimeout(() => connect(slot), 50);
    };
    ws.onerror = () => undefined;
  }
  const clients: WebSocketClients = {
    closes,
    open() {
      const byPort = new Map<number, number>();
      for (const w of where.values()) if (w) byPort.set(w.port, (byPort.get(w.port) ?? 0) + 1);
      return byPort;
    },
    async connected(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while ([...where.values()].some((w) => !w) || where.size < count) {
        if (Date.now() > deadline) throw new Error(`WebSocket clients did not connect: ${where.size} of ${count}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      for (const ws of sockets) ws.close();
    },
  };
  for (let i = 0; i < count; i++) connect(i);
  return clients;
}
