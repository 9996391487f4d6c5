/**
 * Long-lived connections on HAProxy: the streams of the servers asked for, found in `show sess` (one line per stream:
 * `be=app srv=web1`), each read with `show sess ID` (its answer's status: 101 for an upgraded WebSocket), so a busy
 * HAProxy's other streams are never dumped in full; closed with `shutdown session ID` (WebSockets only: requests in
 * flight finish) or `shutdown sessions server B/S` (everything still open).
 */
import type { ConnectionControl, OpenConnections } from '../driver.js';
import { refusal, type RuntimeApi, type Reply } from './runtime-api.js';

export interface Sessions {
  readonly open: OpenConnections[];
  /** Stream ids (`0x55d0c1a3e2f0`) of the upgraded connections, per server id. */
  readonly webSocketStreams: ReadonlyMap<string, readonly string[]>;
}

/** The ids of the streams on the servers asked for, from `show sess`'s one line per stream. */
export function streamsOn(text: string, ids: readonly string[]): string[] {
  const wanted = new Set(ids);
  return text.split('\n').flatMap((line) => {
    const m = /^(0x[0-9a-f]+): .*?\bbe=(\S+) srv=(\S+)/.exec(line);
    return m?.[1] && wanted.has(`${m[2]}/${m[3]}`) ? [m[1]] : [];
  });
}

/** Per server id (`BACKEND/SERVER`) asked for, what the `show sess ID` blocks detail; zeros for the rest. */
export function parseSessions(text: string, ids: readonly string[]): Sessions {
  const counts = new Map(ids.map((id) => [id, { webSockets: 0, requests: 0 }]));
  const streams = new Map<string, string[]>(ids.map((id) => [id, []]));
  // Each stream's block starts with its id at the start of a line: `0x55d0c1a3e2f0: [08/Dec/2026:...]`.
  for (const block of text.split(/^(?=0x[0-9a-f]+: )/m)) {
    const stream = /^(0x[0-9a-f]+): /.exec(block)?.[1];
    const backend = /^\s*backend=(\S+)/m.exec(block)?.[1];
    const server = /^\s*server=(\S+)/m.exec(block)?.[1];
    const id = `${backend}/${server}`;
    const count = stream && backend && server ? counts.get(id) : undefined;
    if (!count || !stream) continue;
    if (/\bstatus=101\b/.test(block)) {
      count.webSockets++;
      streams.get(id)?.push(stream);
    } else count.requests++;
  }
  return {
    open: ids.map((id) => ({ server: id, ...(counts.get(id) ?? { webSockets: 0, requests: 0 }) })),
    webSocketStreams: streams,
  };
}

function assertDone(replies: readonly Reply[], what: string, ignore?: RegExp): void {
  const refused = replies
    .map((r) => ({ r, why: refusal(r) }))
    .filter((x) => x.why !== undefined && !(ignore && ignore.test(x.why)));
  if (refused.length)
    throw new Error(`HAProxy refused to ${what}: ${refused.map((x) => `'${x.r.command}': ${x.why}`).join('; ')}`);
}

export class HaproxyConnections implements ConnectionControl {
  constructor(
    private readonly api: RuntimeApi,
    private readonly check: (id: string) => unknown,
  ) {}

  private async sessions(ids: readonly string[]): Promise<Sessions> {
    ids.forEach(this.check);
    const [list] = await this.api.run(['show sess']);
    const text = list?.text ?? '';
    // A refusal is one numbered line (`[3]: Permission denied`); a listing starts with a stream's id.
    if (list && /^\[\d\]: /.test(text)) throw new Error(`HAProxy refused 'show sess': ${refusal(list) ?? text}`);
    const streams = streamsOn(text, ids);
    // A stream that ended since it was listed answers without a block, and is not counted.
    const details = streams.length ? await this.api.run(streams.map((s) => `show sess ${s}`)) : [];
    return parseSessions(details.map((r) => r.text).join('\n'), ids);
  }

  async open(ids: readonly string[]): Promise<OpenConnections[]> {
    return (await this.sessions(ids)).open;
  }

  async close(ids: readonly string[], which: 'webSockets' | 'all'): Promise<OpenConnections[]> {
    const { open, webSocketStreams } = await this.sessions(ids);
    if (which === 'webSockets') {
      const streams = [...webSocketStreams.values()].flat();
      // A stream that ended since it was listed is gone already: HAProxy answers "No such session".
      if (streams.length)
        assertDone(await this.api.run(streams.map((s) => `shutdown session ${s}`)), 'close', /No such session/);
      return open.map((o) => ({ ...o, requests: 0 }));
    }
    const busy = open.filter((o) => o.webSockets + o.requests > 0).map((o) => o.server);
    if (busy.length) assertDone(await this.api.run(busy.map((id) => `shutdown sessions server ${id}`)), 'close');
    return open;
  }
}
