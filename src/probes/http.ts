/** HTTP probes: one request with a timeout, judged by status and body; no keep-alive so a restart is seen at once. */
import { Agent, request } from 'undici';
import { formatDuration } from '../model/durations.js';
import type { Server } from '../model/server.js';
import type { ProbeSettings } from '../settings.js';

export interface ProbeResult {
  readonly ok: boolean;
  readonly latencyMs: number;
  /** Why it failed, in words. */
  readonly reason: string;
}

/** Fills a health-url template for one server. */
export function probeUrl(template: string, server: Server, pool = ''): string {
  return template
    .replaceAll('{address}', server.address)
    .replaceAll('{host}', server.host)
    .replaceAll('{port}', String(server.port))
    .replaceAll('{server}', encodeURIComponent(server.name))
    .replaceAll('{backend}', encodeURIComponent(server.backend))
    .replaceAll('{pool}', encodeURIComponent(pool));
}

function accepted(status: number, settings: ProbeSettings): boolean {
  return settings.expectStatus.some(([low, high]) => status >= low && status <= high);
}

/** Why a request got no answer, in words ("connection refused", "no answer within 2s"), never a bare code. */
export function failureReason(error: unknown, timeoutMs: number): string {
  const seen = new Set<unknown>();
  // undici wraps the socket's error in `cause`.
  for (let e = error; e && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const { code, name } = e as { code?: unknown; name?: unknown };
    const text = typeof code === 'string' ? code : typeof name === 'string' ? name : '';
    switch (text) {
      case 'ECONNREFUSED':
        return 'connection refused';
      case 'ECONNRESET':
        return 'connection reset';
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return 'host unreachable';
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return 'host name not found';
      case 'UND_ERR_CONNECT_TIMEOUT':
        return `no connection within ${formatDuration(timeoutMs)}`;
      case 'UND_ERR_HEADERS_TIMEOUT':
      case 'UND_ERR_BODY_TIMEOUT':
      case 'TimeoutError':
      case 'AbortError':
        return `no answer within ${formatDuration(timeoutMs)}`;
      case 'UND_ERR_SOCKET':
      case 'UND_ERR_CLOSED':
        return 'connection closed before an answer';
      case 'HPE_INVALID_CONSTANT':
      case 'HPE_INVALID_VERSION':
        return 'not an HTTP answer';
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  return message || 'no answer';
}

export class Prober {
  private readonly dispatcher: Agent;

  constructor(private readonly settings: ProbeSettings) {
    this.dispatcher = new Agent({ connect: { timeout: settings.timeoutMs }, pipelining: 0 });
  }

  async probe(url: string): Promise<ProbeResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const response = await request(url, {
        dispatcher: this.dispatcher,
        headersTimeout: this.settings.timeoutMs,
        bodyTimeout: this.settings.timeoutMs,
        signal: AbortSignal.timeout(this.settings.timeoutMs),
        reset: true,
        headers: { 'user-agent': 'zero-downtime-deploy-probe' },
      });
      const body = await response.body.text();
      if (!accepted(response.statusCode, this.settings))
        return { ok: false, latencyMs: elapsed(), reason: `status ${response.statusCode}` };
      if (this.settings.expectBody && !body.includes(this.settings.expectBody)) {
        return { ok: false, latencyMs: elapsed(), reason: `body lacks '${this.settings.expectBody}'` };
      }
      return { ok: true, latencyMs: elapsed(), reason: `status ${response.statusCode}` };
    } catch (error) {
      return { ok: false, latencyMs: elapsed(), reason: failureReason(error, this.settings.timeoutMs) };
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
