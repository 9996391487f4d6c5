/**
 * A preview lab: HAProxy configured with exactly the preview lines docs/previews.md shows, two stable app servers (v1)
 * behind it, and preview builds started on demand as separate app processes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAST_ROLLOUT, ROOT } from './action.js';
import { startFleet, type Fleet } from './fleet.js';
import { startHaproxy, type HaproxyInstance } from './haproxy.js';

export const README_MAP = '/etc/haproxy/previews.map';

/** The preview config of docs/previews.md, split into the frontend lines and the backend section. */
export function readmePreviewConfig(mapPath: string): { frontend: string; backend: string } {
  const page = readFileSync(join(ROOT, 'docs/previews.md'), 'utf8');
  const block = /<!-- haproxy:previews -->\n```haproxy\n([\s\S]*?)```/.exec(page)?.[1];
  if (!block) throw new Error('docs/previews.md has no <!-- haproxy:previews --> block');
  const lines = block.replaceAll(README_MAP, mapPath).split('\n');
  const backendAt = lines.findIndex((l) => l.startsWith('backend '));
  const frontend = lines
    .slice(0, backendAt)
    .filter((l) => l.startsWith('    '))
    .join('\n');
  const backend = lines
    .slice(backendAt)
    .filter((l) => !l.startsWith('#'))
    .join('\n');
  return { frontend, backend };
}

/** The runner's environment for a pull_request event of this PR, its event file written under `dir`. */
export function pullRequestEvent(dir: string, pr: number): Record<string, string> {
  const path = join(dir, `event-${pr}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      action: 'synchronize',
      number: pr,
      pull_request: {
        number: pr,
        head: { sha: `${String(pr).padStart(4, '0')}abcdef0123456789abcdef0123456789abcd` },
      },
    }),
  );
  return { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: path };
}

export interface PreviewLab {
  readonly haproxy: HaproxyInstance;
  readonly url: string;
  readonly mapPath: string;
  /** With `slot`: the app process behind the static server previews/slot1 (fleet env for deploy-command). */
  readonly slot: Fleet | undefined;
  /** Starts a preview build answering x-version: VERSION; returns its address. */
  build(version: string, appEnv?: Record<string, string>): Promise<string>;
  /** The runner's environment for a pull_request event of this PR. */
  event(pr: number): Record<string, string>;
  inputs(extra: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
}

export async function startPreviewLab(
  options: {
    withPreviewConfig?: boolean;
    slot?: boolean;
    /** The stable servers named by their address (`127.0.0.1:PORT`), not web1, web2. */
    namedByAddress?: boolean;
  } = {},
): Promise<PreviewLab> {
  const fleets: Fleet[] = [await startFleet(2, 'v1')];
  const slot = options.slot ? await startFleet(1, 'slot-idle') : undefined;
  if (slot) fleets.push(slot);
  const stable = fleets[0] as Fleet;
  const dir = stable.stateDir;
  const mapPath = join(dir, 'previews.map');
  writeFileSync(mapPath, '');
  const config = options.withPreviewConfig === false ? { frontend: '', backend: '' } : readmePreviewConfig(mapPath);
  const haproxy = await startHaproxy({
    servers: stable.ports.map((port, i) => ({
      name: options.namedByAddress ? `127.0.0.1:${port}` : `web${i + 1}`,
      port,
    })),
    frontend: config.frontend,
    sections: `${config.backend}${slot ? `\n    server slot1 127.0.0.1:${slot.ports[0]} check weight 0` : ''}`,
  });
  await haproxy.settled();
  return {
    haproxy,
    url: `http://127.0.0.1:${haproxy.frontendPort}/`,
    mapPath,
    slot,
    async build(version, appEnv = {}) {
      const fleet = await startFleet(1, version, appEnv);
      fleets.push(fleet);
      return `127.0.0.1:${fleet.ports[0]}`;
    },
    event: (pr) => pullRequestEvent(dir, pr),
    inputs(extra) {
      return {
        'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
        'preview-map': mapPath,
        'health-url': 'http://{address}/health',
        'github-token': 'test-token',
        'environment-url': 'https://shop.example.com/',
        ...FAST_ROLLOUT,
        ...extra,
      };
    },
    async stop() {
      await haproxy.stop();
      for (const fleet of fleets) fleet.stopAll();
    },
  };
}
