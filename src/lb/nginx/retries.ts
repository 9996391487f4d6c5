/**
 * What nginx's configuration (`nginx -T`) says of its retries for the pools' upstreams: in each `location` that
 * proxies to one of them, the `proxy_next_upstream` in force (its own, else the server's, else the http block's;
 * nginx's default `error timeout` retries a reset or a timeout, never a 5xx answer) and `proxy_next_upstream_tries`
 * (1: no retry). Requests that are not idempotent (POST, LOCK, PATCH) are retried only with `non_idempotent`.
 * Pure: text in. Only nginx's own value words are ever printed, never other text of the configuration.
 */
import type { RetryShield } from '../driver.js';

const LINES = 'docs/strategies.md#shielded-canaries';
const FIVE_XX = ['http_500', 'http_502', 'http_503', 'http_504'];
const VALUES = new Set([
  'error',
  'timeout',
  'invalid_header',
  ...FIVE_XX,
  'http_403',
  'http_404',
  'http_429',
  'non_idempotent',
  'off',
]);

export interface Directive {
  readonly name: string;
  readonly args: readonly string[];
  readonly block?: readonly Directive[];
}

/** Words, `;`, `{` and `}` of one file, quotes kept together and comments left out. */
function tokens(text: string): string[] {
  const out: string[] = [];
  let word = '';
  let quote = '';
  const flush = () => {
    if (word) out.push(word);
    word = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (quote) {
      if (c === '\\') word += text[++i] ?? '';
      else if (c === quote) quote = '';
      else word += c;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#') while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    else if (c === ';' || c === '{' || c === '}') {
      flush();
      out.push(c);
    } else if (/\s/.test(c)) flush();
    else word += c;
  }
  flush();
  return out;
}

function parseTokens(list: readonly string[], at: { i: number }): Directive[] {
  const directives: Directive[] = [];
  let words: string[] = [];
  while (at.i < list.length) {
    const t = list[at.i++] ?? '';
    if (t === '}') break;
    if (t === ';' || t === '{') {
      const [name = '', ...args] = words;
      directives.push(t === '{' ? { name, args, block: parseTokens(list, at) } : { name, args });
      words = [];
    } else words.push(t);
  }
  return directives;
}

/** The files of an `nginx -T` dump, by the `# configuration file PATH:` line each starts with. */
export function dumpFiles(dump: string): Map<string, Directive[]> {
  const files = new Map<string, Directive[]>();
  const parts = dump.split(/^# configuration file (.+):$/m);
  for (let k = 1; k + 1 < parts.length; k += 2)
    files.set(parts[k] ?? '', parseTokens(tokens(parts[k + 1] ?? ''), { i: 0 }));
  return files;
}

function globMatches(pattern: string, path: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(pattern.startsWith('/') ? `^${re}$` : `(^|/)${re}$`).test(path);
}

/** The directives with every `include` replaced by the files it names (as the dump lists them). */
function inlined(directives: readonly Directive[], files: Map<string, Directive[]>, depth = 0): Directive[] {
  if (depth > 8) return [];
  return directives.flatMap((d): Directive[] => {
    if (d.name === 'include' && d.args[0]) {
      const pattern = d.args[0];
      return [...files].filter(([path]) => globMatches(pattern, path)).flatMap(([, f]) => inlined(f, files, depth + 1));
    }
    return [d.block ? { ...d, block: inlined(d.block, files, depth + 1) } : d];
  });
}

interface Route {
  readonly next: readonly string[];
  readonly tries: number;
}

/** Every block proxying to one of `upstreams`, with the retry directives in force there. */
function routes(directives: readonly Directive[], upstreams: ReadonlySet<string>, outer: Route): Route[] {
  const own = (name: string) => directives.find((d) => d.name === name && !d.block);
  const next = own('proxy_next_upstream')?.args ?? outer.next;
  const tries = Number(own('proxy_next_upstream_tries')?.args[0] ?? outer.tries);
  const here: Route = { next, tries };
  const target = own('proxy_pass')?.args[0] ?? '';
  const name = /^https?:\/\/([^/:$]+)/.exec(target)?.[1];
  const found = name && upstreams.has(name) ? [here] : [];
  return [...found, ...directives.flatMap((d) => (d.block ? routes(d.block, upstreams, here) : []))];
}

function verdict(route: Route): RetryShield['shielded'] {
  if (route.next.includes('off') || route.tries === 1) return 'no';
  return FIVE_XX.every((v) => route.next.includes(v)) ? 'yes' : 'partly';
}

function said(route: Route): string {
  const words = route.next.filter((v) => VALUES.has(v));
  const tries = route.tries ? `, proxy_next_upstream_tries ${route.tries}` : '';
  return `proxy_next_upstream ${words.join(' ')}${tries}`;
}

const WHAT: Record<RetryShield['shielded'], string> = {
  yes: 'a failed idempotent request (a reset, a timeout or a 5xx answer) is retried on another server, so users are shielded from a bad version',
  partly: `resets and timeouts are retried on another server, 5xx answers reach users until the rollback (add ${FIVE_XX.join(' ')}: ${LINES})`,
  no: 'nginx does not retry failed attempts, so users get a bad version’s failures until its rollback',
  unknown: '',
};

/** From the dump of `nginx -T`, for the pools' upstreams (`backends`). */
export function nginxRetryShield(dump: string, backends: readonly string[]): RetryShield {
  const files = dumpFiles(dump);
  const [main] = files.values();
  if (!main)
    return { shielded: 'unknown', text: `nginx printed no configuration, so its retries are not known (${LINES})` };
  const found = routes(inlined(main, files), new Set(backends), { next: ['error', 'timeout'], tries: 0 });
  if (!found.length)
    return {
      shielded: 'unknown',
      text: `no location of nginx's configuration proxies to upstream ${backends.join(', ')} (proxy_pass http://NAME), so its retries are not known (${LINES})`,
    };
  const kinds = new Set(found.map(verdict));
  const shielded = kinds.size === 1 ? (found.map(verdict)[0] ?? 'unknown') : 'partly';
  const lines = [...new Set(found.map(said))].join('; ');
  const posts = found.some((r) => r.next.includes('non_idempotent'))
    ? ' non_idempotent also retries POST and PATCH requests, which a server may already have carried out (a payment twice): take it out.'
    : '';
  const what = kinds.size === 1 ? WHAT[shielded] : 'the locations that proxy to the pools retry differently';
  return {
    shielded,
    text: `${lines} (where nginx proxies to ${backends.join(', ')}): ${what}.${posts} The judge counts every failed attempt of the access log, retried or not, against the server that failed it`,
  };
}

/**
 * The command that dumps nginx's configuration: the test command with `-T`, for a plain command (`nginx -t`, `sudo
 * nginx -t -c FILE`, `docker exec NAME nginx -t`); undefined for a shell line (a pipe, `&&`, quotes, a redirect).
 */
export function dumpCommand(testCommand: string): string | undefined {
  return /^[^|;&<>#`$()'"\\\n]*\bnginx\b[^|;&<>#`$()'"\\\n]*$/.test(testCommand)
    ? `${testCommand.trim()} -T`
    : undefined;
}
