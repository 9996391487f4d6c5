/**
 * Preview routing on HAProxy: a runtime map from preview keys to server names, read by the frontend lines of
 * docs/previews.md, and servers added to the preview backend at run time (`add server`, 2.6+). Map pitfalls handled here:
 * `add map` does not deduplicate, `set map` does not insert, `del map` of a missing key is an error.
 */
import type { Server } from '../../model/server.js';
import type { PreviewCheck, PreviewRouting } from '../driver.js';
import { NAME_PATTERN, type Selector } from '../../model/selectors.js';
import { refusal, type Reply, type RuntimeApi } from './runtime-api.js';
import { backoff, pollUntil } from '../../model/poll.js';

export interface HaproxyPreviewOptions {
  /** The map file as haproxy.cfg names it. */
  readonly map: string;
  readonly backend: string;
}

/** The frontend and backend lines a user adds once; docs/previews.md shows the same text. */
export function previewConfigHint(options: HaproxyPreviewOptions): string {
  return `add the preview lines of docs/previews.md ("Pull-request previews" in the documentation) to haproxy.cfg (map ${options.map}, backend ${options.backend}) and reload HAProxy once`;
}

/** `show map FILE` lines: `0x55d0c1 KEY VALUE`. */
export function parseMapEntries(text: string): [string, string][] {
  const entries: [string, string][] = [];
  for (const line of text.split('\n')) {
    const match = /^0x[0-9a-f]+ (\S+) (\S+)$/i.exec(line.trim());
    if (match) entries.push([match[1] ?? '', match[2] ?? '']);
  }
  return entries;
}

/** A read's reply is its data; an error comes with severity 0-3 (every batch starts with `set severity-output number`). */
function readError(text: string): string | undefined {
  return /^\[[0-3]\]: /.test(text) ? text.replace(/^\[\d\]: /, '') : undefined;
}

export class HaproxyPreviews implements PreviewRouting {
  readonly backend: string;
  /** The lines of docs/previews.md turn `?preview=KEY` into the cookie. */
  readonly linkSetsCookie = true;

  constructor(
    private readonly api: RuntimeApi,
    private readonly options: HaproxyPreviewOptions,
    private readonly lb: { servers(selectors: readonly Selector[]): Promise<Server[]>; forget(id: string): void },
  ) {
    this.backend = options.backend;
  }

  private async read(command: string): Promise<string> {
    const [reply] = await this.api.run([command]);
    const text = reply?.text ?? '';
    const error = readError(text);
    if (error) throw new Error(`HAProxy refused '${command}': ${error}`);
    return text;
  }

  private async run(commands: readonly string[]): Promise<Reply[]> {
    const replies = await this.api.run(commands);
    const refused = replies.map((r) => ({ r, why: refusal(r) })).filter((x) => x.why !== undefined);
    if (refused.length)
      throw new Error(`HAProxy refused ${refused.map((x) => `'${x.r.command}': ${x.why}`).join('; ')}`);
    return replies;
  }

  /** The server's name, when the id is one of the preview backend's. */
  private serverOf(id: string): string {
    const [backend, server] = this.idOf(id).split('/');
    if (backend !== this.backend) throw new Error(`'${id}' is not a server of the preview backend ${this.backend}`);
    return server ?? '';
  }

  /** A valid `BACKEND/SERVER`, as Runtime API commands may carry it. */
  private idOf(id: string): string {
    const [backend, server, ...rest] = id.split('/');
    if (!backend || !server || rest.length || !NAME_PATTERN.test(backend) || !NAME_PATTERN.test(server)) {
      throw new Error(`'${id}' is not a valid BACKEND/SERVER name`);
    }
    return id;
  }

  /** Closing needs the map and the backend as much as opening. */
  async check(_purpose: 'open' | 'close'): Promise<string[]> {
    const [maps, state] = await this.api.run(['show map', `show servers state ${this.options.backend}`]);
    const problems: string[] = [];
    if (!maps?.text.includes(`(${this.options.map})`)) {
      problems.push(`preview-map: HAProxy has no map ${this.options.map}; ${previewConfigHint(this.options)}`);
    }
    if (state && readError(state.text)) {
      problems.push(
        `preview-backend: HAProxy has no backend ${this.options.backend}; ${previewConfigHint(this.options)}`,
      );
    }
    return problems;
  }

  private toRoutes(mapText: string): Map<string, string[]> {
    const routes = new Map<string, string[]>();
    for (const [key, server] of parseMapEntries(mapText))
      routes.set(key, [...(routes.get(key) ?? []), `${this.backend}/${server}`]);
    return routes;
  }

  async routes(): Promise<Map<string, string[]>> {
    return this.toRoutes(await this.read(`show map ${this.options.map}`));
  }

  servers(): Promise<Server[]> {
    return this.lb.servers([{ text: `${this.backend}/*`, backend: this.backend, server: '*' }]);
  }

  async register(serverId: string, address: string, check: PreviewCheck): Promise<void> {
    const id = this.idOf(serverId);
    const backend = id.split('/')[0] ?? '';
    const input = backend === this.backend ? 'preview-backend' : 'preview-canary';
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(address)) throw new Error(`'${address}' is not HOST:PORT`);
    // Dynamic servers inherit nothing from default-server: weight 0 keeps them out of load balancing (only the
    // key's use-server rule reaches them, so a preview that is down answers 503 rather than another preview).
    this.lb.forget(id);
    const options = `check inter ${Math.max(100, Math.round(check.intervalMs))} rise ${check.rise} fall ${check.fall} weight 0`;
    try {
      await this.run([`add server ${id} ${address} ${options}`, `enable health ${id}`]);
    } catch (error) {
      const message = (error as Error).message;
      if (/dynamic load.?balancing/i.test(message)) {
        throw new Error(
          `${input}: backend ${backend} must use a dynamic algorithm (e.g. balance roundrobin) for servers added at run time: ${message}`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  async route(key: string, serverId: string): Promise<void> {
    const server = this.serverOf(serverId);
    const existing = (await this.routes()).get(key);
    // `set map` changes every entry of the key at once; `add map` only for a key with none (it would duplicate).
    // The map is read back in the same round trip to prove the change.
    const change = existing
      ? `set map ${this.options.map} ${key} ${server}`
      : `add map ${this.options.map} ${key} ${server}`;
    const [changed, shown] = await this.api.run([change, `show map ${this.options.map}`]);
    const why = changed ? refusal(changed) : undefined;
    if (why) throw new Error(`HAProxy refused '${change}': ${why}`);
    const after = this.toRoutes(shown?.text ?? '').get(key) ?? [];
    if (after.length === 0 || after.some((id) => id !== serverId)) {
      throw new Error(
        `HAProxy's map ${this.options.map} routes ${key} to ${after.join(', ') || 'nothing'} after the change, not ${serverId}`,
      );
    }
  }

  async unroute(key: string): Promise<void> {
    const [reply] = await this.api.run([`del map ${this.options.map} ${key}`]);
    const why = reply ? refusal(reply) : undefined;
    // A key with no entry is what close-preview wants anyway.
    if (why && !/key not found/i.test(why))
      throw new Error(`HAProxy refused 'del map ${this.options.map} ${key}': ${why}`);
  }

  async unregister(serverId: string, timeoutMs: number): Promise<void> {
    const id = this.idOf(serverId);
    // Idle or in-flight connections block the delete for a moment after maint.
    const blocked = (why: string | undefined) => why !== undefined && /connection|queue/i.test(why);
    const attempt = async () => {
      const [reply] = await this.api.run([`del server ${id}`]);
      return reply ? refusal(reply) : undefined;
    };
    const { value: why } = await pollUntil(attempt, (why) => !blocked(why), {
      pause: backoff(100, 1000),
      deadline: Date.now() + timeoutMs,
      signal: this.api.signal,
    });
    if (why) throw new Error(`HAProxy refused 'del server ${id}': ${why}`);
    this.lb.forget(id);
  }
}
