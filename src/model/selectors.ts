/** `BACKEND/SERVER` selectors with `*` globs, as written in `targets` and `pools`. */

/** Names HAProxy and nginx accept and that cannot inject anything into a Runtime API batch or a config file. */
export const NAME_PATTERN = /^[A-Za-z0-9_.:-]+$/;
const GLOB_PATTERN = /^[A-Za-z0-9_.:*-]+$/;

export interface Selector {
  readonly text: string;
  readonly backend: string;
  readonly server: string;
}

export function parseSelector(text: string): Selector | { error: string } {
  const parts = text.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    return { error: `'${text}' is not BACKEND/SERVER (e.g. app/web1 or app/*)` };
  }
  const [backend, server] = parts as [string, string];
  for (const part of [backend, server]) {
    if (!GLOB_PATTERN.test(part)) {
      return { error: `'${text}' has characters outside letters, digits, '-', '_', '.', ':' and '*'` };
    }
  }
  return { text, backend, server };
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

export function matchesSelector(selector: Selector, backend: string, server: string): boolean {
  return globToRegExp(selector.backend).test(backend) && globToRegExp(selector.server).test(server);
}

/** Splits a list on commas, whitespace and newlines. */
export function splitList(text: string): string[] {
  return text.split(/[\s,]+/).filter((item) => item !== '');
}

/** Selectors that match exactly these `BACKEND/SERVER` ids. */
export function exactSelectors(ids: readonly string[]): Selector[] {
  return ids.map((id) => {
    const selector = parseSelector(id);
    if ('error' in selector) throw new Error(`internal: bad server id ${id}`);
    return selector;
  });
}
