/**
 * Steady keep-alive load through the load balancer, bounded in requests and time. Counts every failure a user
 * would see (non-2xx, resets, timeouts) and which version answered.
 */
import http from 'node:http';
import { summarize, type LatencySummary } from '../../src/model/latency.js';

export interface LoadStats {
  readonly sent: number;
  readonly ok: number;
  readonly failed: number;
  /** Connections reset under a request before any response, which was then retried once (retryResets). */
  readonly resets: number;
  readonly failures: Record<string, number>;
  readonly versions: Record<string, number>;
  /** Every request: when it started and ended (epoch ms), the version that answered and the status (0: no answer). */
  readonly requests: readonly Sample[];
}

export interface Sample {
  readonly start: number;
  readonly end: number;
  readonly version: string;
  readonly status: number;
}

export interface Load {
  stop(): Promise<LoadStats>;
  /** Stats so far, without stopping. */
  snapshot(): LoadStats;
  /**
   * Resolves once `count` requests that started after `after` (epoch ms, default now) have ended: "let some traffic
   * through after this" without a sleep that a busy machine fills with fewer requests.
   */
  through(count: number, after?: number): Promise<void>;
}

export interface LoadOptions {
  readonly rps: number;
  readonly connections?: number;
  readonly maxRequests?: number;
  readonly maxMs?: number;
  readonly headers?: Record<string, string>;
  /** Retry a GET once when its connection was reset before any response, as HTTP clients do for idempotent requests. */
  readonly retryResets?: boolean;
  /** POST a small body instead of GET (a request no load balancer may retry); never retried here either. */
  readonly post?: boolean;
}

export function startLoad(url: string, options: LoadOptions): Load {
  const connections = options.connections ?? 16;
  // Idle connections are dropped after 10 s, well before the labs' keep-alive timeouts (HAProxy `timeout client`
  // and nginx `keepalive_timeout` 30 s, the ALB stand-in 60 s). A client that keeps an idle connection until the far
  // end closes it races its next request onto a socket being closed and gets ECONNRESET: that is the client's own
  // keep-alive race, not a deploy's, and on a busy machine (bursts reach connections idle for 30 s at the bottom of
  // the agent's LIFO pool) it failed requests in parallel test runs. CONTRIBUTING's "The keep-alive race" has the
  // experiment (bench/keepalive.ts).
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, timeout: 10_000 });
  const maxRequests = options.maxRequests ?? 20_000;
  const maxMs = options.maxMs ?? 90_000;
  const started = Date.now();
  const stats = {
    sent: 0,
    ok: 0,
    failed: 0,
    resets: 0,
    failures: {} as Record<string, number>,
    versions: {} as Record<string, number>,
    requests: [] as Sample[],
  };
  const inFlight = new Set<Promise<void>>();
  let running = true;
  const fail = (why: string, start: number) => {
    stats.failed++;
    stats.failures[why] = (stats.failures[why] ?? 0) + 1;
    if (!why.startsWith('status')) stats.requests.push({ start, end: Date.now(), version: 'none', status: 0 });
  };
  const one = (retry = false) =>
    new Promise<void>((resolve) => {
      if (!retry) stats.sent++;
      // The request's start is when it leaves for the wire, not when it waits in this client for a free connection.
      let start = Date.now();
      // A retry goes out on a new connection, as browsers and HTTP libraries do: another pooled one may be stale too.
      const method = options.post ? 'POST' : 'GET';
      const body = options.post ? '{"order":1}' : undefined;
      const headers = {
        ...options.headers,
        ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}),
      };
      const req = http.request(url, { method, agent: retry ? false : agent, timeout: 5000, headers }, (res) => {
        const version = String(res.headers['x-version'] ?? 'none');
        res.resume();
        res.on('end', () => {
          stats.requests.push({ start, end: Date.now(), version, status: res.statusCode ?? 0 });
          if (res.statusCode && res.statusCode < 400) {
            stats.ok++;
            stats.versions[version] = (stats.versions[version] ?? 0) + 1;
          } else fail(`status ${res.statusCode}`, start);
          resolve();
        });
        res.on('error', (e: NodeJS.ErrnoException) => {
          fail(`${e.code ?? e.message} during the response`, start);
          resolve();
        });
      });
      req.on('finish', () => (start = Date.now()));
      req.end(body);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => {
        // Only an error before any response lands here (errors after it are on the response).
        if (options.retryResets && !options.post && !retry && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) {
          stats.resets++;
          void one(true).then(resolve);
          return;
        }
        fail(retry ? `${e.code ?? e.message} on the retry` : (e.code ?? e.message), start);
        resolve();
      });
    });
  const interval = 1000 / options.rps;
  let next = Date.now();
  const tick = () => {
    if (!running) return;
    const now = Date.now();
    while (next <= now && running) {
      if (stats.sent >= maxRequests || now - started > maxMs) {
        running = false;
        break;
      }
      const p = one();
      inFlight.add(p);
      void p.then(() => inFlight.delete(p));
      next += interval;
    }
    if (running) setTimeout(tick, Math.max(1, next - Date.now()));
  };
  tick();
  const snapshot = (): LoadStats => ({
    ...stats,
    failures: { ...stats.failures },
    versions: { ...stats.versions },
    requests: [...stats.requests],
  });
  return {
    snapshot,
    async through(count, after = Date.now()) {
      const deadline = Date.now() + 20_000;
      while (stats.requests.filter((r) => r.start > after).length < count) {
        if (Date.now() > deadline || !running)
          throw new Error(
            `only ${stats.requests.filter((r) => r.start > after).length} of ${count} requests went through`,
          );
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      running = false;
      await Promise.all(inFlight);
      agent.destroy();
      return snapshot();
    },
  };
}

/** Exactly `count` requests at a steady 400/s with these headers (POSTs with `post`); resolves with what answered. */
export async function requestsExactly(
  url: string,
  count: number,
  headers: Record<string, string>,
  post = false,
): Promise<LoadStats> {
  const load = startLoad(url, { rps: 400, maxRequests: count, headers, post });
  for (;;) {
    const s = load.snapshot();
    if (s.ok + s.failed >= count) return load.stop();
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What the clients felt from one version between two moments (epoch ms): p50, p95, p99 of its requests' times. */
export function feltLatency(stats: LoadStats, version: string, from: number, to: number): LatencySummary {
  return summarize(
    stats.requests.filter((r) => r.version === version && r.start >= from && r.end <= to).map((r) => r.end - r.start),
  );
}
