/**
 * The upstreams file the nginx driver owns: `upstream NAME { server ADDR [params]; ... }` blocks, read and written
 * back. nginx has no weight 0 and no drain, so a server out of traffic is written `down`, and the state nginx cannot
 * hold (its intended weight, ready/drain/maint) rides in a trailing comment: `# name=green1 weight=0 state=ready`.
 * Pure: text in, text out.
 */
import type { AdminState } from '../../model/server.js';

export interface UpstreamServer {
  readonly backend: string;
  readonly name: string;
  readonly address: string;
  readonly weight: number;
  readonly admin: AdminState;
  /** Other parameters as written (max_fails=3, backup, ...), kept as they are. */
  readonly params: readonly string[];
}

/** Lines of the file: text kept as written, or a server line the driver manages. */
export type UpstreamLine = { readonly text: string } | { readonly server: UpstreamServer };

const SERVER = /^(\s*)server\s+([^\s;#]+)((?:\s+[^;#\s]+)*)\s*;\s*(?:#\s*(.*))?$/;

function comment(text: string | undefined): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const token of (text ?? '').split(/\s+/)) {
    const [key, value] = token.split('=');
    if (key && value !== undefined) fields[key] = value;
  }
  return fields;
}

/** One directive on its own line (`keepalive 16;`, `zone app 64k;`), optionally followed by a comment. */
const DIRECTIVE = /^\s*[a-z_]+(?:\s+[^;#{}\s]+)*\s*;\s*(?:#.*)?$/;

/**
 * Reads the file. Inside an upstream block every line must be one the driver understands (blank, a comment, one
 * directive ending with ';'): a directive spread over lines or two on one line would otherwise be skipped silently,
 * and the action would report servers it never saw. Such a file is refused with its line number.
 */
export function parseUpstreams(text: string): UpstreamLine[] | { error: string } {
  const lines: UpstreamLine[] = [];
  let backend: string | undefined;
  for (const [i, line] of text.split('\n').entries()) {
    const open = /^\s*upstream\s+([A-Za-z0-9_.:-]+)\s*\{\s*(#.*)?$/.exec(line);
    if (open) {
      if (backend) return { error: `line ${i + 1}: upstream ${open[1]} starts inside upstream ${backend}` };
      backend = open[1];
      lines.push({ text: line });
      continue;
    }
    if (!backend && /^\s*upstream\b/.test(line)) {
      return {
        error: `line ${i + 1}: '${line.trim()}' is an upstream block the action cannot read; write 'upstream NAME {' on a line of its own, then one directive per line`,
      };
    }
    if (/^\s*\}\s*(#.*)?$/.test(line) && backend) {
      backend = undefined;
      lines.push({ text: line });
      continue;
    }
    const server = backend ? SERVER.exec(line) : null;
    if (!server || !backend) {
      if (backend && !/^\s*(#.*)?$/.test(line) && !(DIRECTIVE.test(line) && !/^\s*server\b/.test(line))) {
        const what =
          /^\s*server\b/.test(line) && !line.replace(/#.*$/, '').includes(';')
            ? 'a server directive that goes on over more than one line'
            : line
                  .replace(/#.*$/, '')
                  .split(';')
                  .filter((p) => p.trim()).length > 1
              ? 'more than one directive on one line'
              : 'a line the action does not understand';
        return {
          error: `line ${i + 1} of upstream ${backend}: '${line.trim()}' is ${what}; write one directive per line, each ending with ';', so every server is seen`,
        };
      }
      lines.push({ text: line });
      continue;
    }
    const params = (server[3] ?? '').trim().split(/\s+/).filter(Boolean);
    const notes = comment(server[4]);
    const down = params.includes('down');
    const written = Number(/^weight=(\d+)$/.exec(params.find((p) => p.startsWith('weight=')) ?? '')?.[1] ?? 1);
    // A `down` server without our note is out of rotation as a user writes an idle pool: weight 0, ready.
    const admin = (['ready', 'drain', 'maint'] as const).find((s) => s === notes.state) ?? 'ready';
    lines.push({
      server: {
        backend,
        name: notes.name ?? server[2] ?? '',
        address: server[2] ?? '',
        weight: down ? Number(notes.weight ?? 0) : written,
        admin,
        params: params.filter((p) => p !== 'down' && !p.startsWith('weight=')),
      },
    });
  }
  if (backend) return { error: `upstream ${backend} is not closed with '}'` };
  return lines;
}

/** A server as nginx must see it: weight 0 or any state but ready is `down`; nginx weights start at 1. */
function serverLine(server: UpstreamServer, withState: boolean): string {
  const down = server.weight === 0 || server.admin !== 'ready';
  const params = [`weight=${Math.max(1, server.weight)}`, ...server.params, ...(down ? ['down'] : [])];
  const state = withState ? ` # name=${server.name} weight=${server.weight} state=${server.admin}` : '';
  return `    server ${server.address} ${params.join(' ')};${state}`;
}

export function renderUpstreams(lines: readonly UpstreamLine[], withState = true): string {
  return lines.map((line) => ('server' in line ? serverLine(line.server, withState) : line.text)).join('\n');
}

/** What nginx itself reads (states in comments aside): when it is unchanged, no reload is needed. */
export function effectiveConfig(lines: readonly UpstreamLine[]): string {
  return renderUpstreams(lines, false)
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trimEnd())
    .filter(Boolean)
    .join('\n');
}

/** The directives of upstream `backend` other than its servers (`hash $cookie_user consistent;`), as written. */
export function upstreamDirectives(lines: readonly UpstreamLine[], backend: string): string[] {
  const found: string[] = [];
  let current: string | undefined;
  for (const line of lines) {
    if (!('text' in line)) continue;
    const open = /^\s*upstream\s+([A-Za-z0-9_.:-]+)\s*\{/.exec(line.text);
    if (open) current = open[1];
    else if (/^\s*\}/.test(line.text)) current = undefined;
    else if (current === backend && DIRECTIVE.test(line.text)) found.push(line.text.replace(/#.*$/, '').trim());
  }
  return found;
}

/** Whether upstream `backend` keeps a user key on one server while weights change: `hash KEY consistent;`. */
export function affinityProblem(lines: readonly UpstreamLine[], backend: string): string | undefined {
  const directives = upstreamDirectives(lines, backend);
  if (directives.some((d) => /^hash\s+\S+\s+consistent\s*;$/.test(d))) return undefined;
  const balancing = directives.find((d) => /^(hash|ip_hash|least_conn|random|least_time)\b/.test(d));
  return `upstream ${backend} ${balancing ? `balances with '${balancing}'` : 'balances round-robin'}, which does not keep a user on one server as weights change; hash on a user cookie: hash $zdd_user consistent; (docs/strategies.md#one-version-per-user)`;
}
