/** HTTP probes: one request with a timeout, judged by status and body; no keep-alive so a restart is seen at once. */
import { Agent, request } from 'undici';
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
      const code = (error as { code?: string }).code;
      const reason = code ?? (error instanceof Error ? error.name : 'error');
      return {
        ok: false,
        latencyMs: elapsed(),
        reason:
          reason === 'TimeoutError' || reason === 'AbortError' ? `no answer in ${this.settings.timeoutMs}ms` : reason,
      };
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
