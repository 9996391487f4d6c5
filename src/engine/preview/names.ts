/**
 * Which preview servers belong to a key, and what a new one is called: `KEY:VERSION` in the preview backend.
 * Keys may hold letters, digits, '.', '_' and '-', never ':', so a key's servers are exactly those named `KEY:...`.
 */
import type { Server } from '../../model/server.js';

/**
 * Characters every driver accepts in a server name (NAME_PATTERN's, less ':', which separates key and version): the
 * version is reduced to those and kept short.
 */
function nameSafe(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40) || 'v';
}

/**
 * The servers this tool registered for the key, among the preview backend's (the action's own backend: never apply
 * this to a backend of real traffic, where `KEY:` may begin a real server's name, e.g. key `127.0.0.1`).
 */
export function ownedBy(key: string, previewServers: readonly Server[]): Server[] {
  return previewServers.filter((s) => s.name.startsWith(`${key}:`));
}

/** The name of a preview server's canary in a backend of real traffic: exact, and unlike any real server's. */
const CANARY_SUFFIX = '.zdd-canary';

export function canaryName(previewName: string): string {
  return `${previewName}${CANARY_SUFFIX}`;
}

/** A server the action registered as a preview's canary in a backend of real traffic. */
export function isPreviewCanary(serverName: string): boolean {
  return serverName.endsWith(CANARY_SUFFIX);
}

export type ServerChoice =
  { readonly kind: 'reuse'; readonly server: Server } | { readonly kind: 'register'; readonly name: string };

/**
 * The server a preview of `version` at `address` uses: the key's server of that version and address when one is
 * there already (the same job run again), else a new name that no server of the backend has.
 */
export function chooseServer(
  key: string,
  version: string,
  address: string,
  backendServers: readonly Server[],
): ServerChoice {
  const base = `${key}:${nameSafe(version)}`;
  const same = backendServers.find((s) => s.name === base && s.address === address);
  if (same) return { kind: 'reuse', server: same };
  const names = new Set(backendServers.map((s) => s.name));
  let name = base;
  for (let n = 2; names.has(name); n++) name = `${base}-${n}`;
  return { kind: 'register', name };
}
