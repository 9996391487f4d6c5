import { describe, expect, it } from 'vitest';
import { readInputs } from '../../src/inputs.js';
import type { Server } from '../../src/model/server.js';
import { parseMapEntries } from '../../src/lb/haproxy/previews.js';
import { chooseServer, ownedBy } from '../../src/engine/preview/names.js';
import { canaryWeight } from '../../src/engine/preview/canary.js';
import type { PreviewOutcome } from '../../src/engine/preview/preview.js';
import { previewLink, renderPreviewComment } from '../../src/report/preview.js';

function server(name: string, address: string): Server {
  const [host = '', port = '0'] = address.split(':');
  return {
    id: `previews/${name}`,
    backend: 'previews',
    name,
    address,
    host,
    port: Number(port),
    weight: 0,
    admin: 'ready',
    check: undefined,
    inFlight: 0,
  };
}

function read(inputs: Record<string, string>, pullRequestNumber?: number) {
  return readInputs((name: string) => inputs[name] ?? '', { sha: 'feedbeef00', pullRequestNumber });
}

describe('preview inputs', () => {
  it('defaults the key to the pull request and takes environment-url without environment', () => {
    const settings = read(
      {
        action: 'preview',
        'load-balancer': 'haproxy://127.0.0.1:9999',
        'preview-address': '10.0.3.7:8080',
        'environment-url': 'https://shop.example.com',
      },
      42,
    );
    expect(settings).toMatchObject({
      previewKey: 'pr-42',
      previewAddress: '10.0.3.7:8080',
      previewTargets: undefined,
      driverOptions: { previews: { map: '/etc/haproxy/previews.map', backend: 'previews' } },
      pullRequest: 42,
      ref: 'feedbeef00',
      version: 'feedbee',
    });
  });

  it('takes targets instead of an address', () => {
    const settings = read({
      action: 'preview',
      'load-balancer': 'haproxy://127.0.0.1:9999',
      'preview-key': 'demo',
      targets: 'previews/slot1',
    });
    expect(settings.previewTargets?.map((t) => t.text)).toEqual(['previews/slot1']);
    expect(settings.strategy).toBeUndefined();
  });
});

describe('preview server names', () => {
  const servers = [
    server('pr-7:abc', '10.0.0.1:80'),
    server('pr-70:abc', '10.0.0.2:80'),
    server('pr-7.1:x', '10.0.0.3:80'),
    server('slot1', '10.0.0.4:80'),
  ];

  it("a key's servers are exactly those named KEY:...", () => {
    expect(ownedBy('pr-7', servers).map((s) => s.name)).toEqual(['pr-7:abc']);
    expect(ownedBy('pr-7.1', servers).map((s) => s.name)).toEqual(['pr-7.1:x']);
  });

  it('reuses the server of the same version and address, else picks a free name', () => {
    expect(chooseServer('pr-7', 'abc', '10.0.0.1:80', servers)).toEqual({ kind: 'reuse', server: servers[0] });
    expect(chooseServer('pr-7', 'abc', '10.0.0.9:80', servers)).toEqual({ kind: 'register', name: 'pr-7:abc-2' });
    expect(chooseServer('pr-7', 'v1.2.3+build/7', '10.0.0.9:80', servers)).toEqual({
      kind: 'register',
      name: 'pr-7:v1.2.3_build_7',
    });
  });
});

describe('HAProxy preview map', () => {
  it('parses show map, duplicates included', () => {
    expect(parseMapEntries('0x55d0c1a0 pr-7 pr-7:abc\n0x55d0c1b0 pr-7 pr-7:def\n0x55d0c1c0 pr-8 pr-8:x\n')).toEqual([
      ['pr-7', 'pr-7:abc'],
      ['pr-7', 'pr-7:def'],
      ['pr-8', 'pr-8:x'],
    ]);
    expect(parseMapEntries('')).toEqual([]);
  });
});

describe('preview comment', () => {
  const settings = read(
    {
      action: 'preview',
      'load-balancer': 'haproxy://127.0.0.1:9999',
      'preview-address': '10.0.3.7:8080',
      'environment-url': 'https://shop.example.com/cart?x=1',
      'health-url': 'http://{address}/health',
    },
    7,
  );
  const live: PreviewOutcome = {
    result: 'succeeded',
    key: 'pr-7',
    routedTo: {
      ...server('pr-7:feedbee', '10.0.3.7:8080'),
      check: { passing: true, settled: true, status: 'UP L7OK' },
    },
    current: true,
    removed: [],
    message: 'pr-7 routes to previews/pr-7:feedbee',
  };

  it('keeps the site URL and adds the preview parameter', () => {
    expect(previewLink('https://shop.example.com/cart?x=1', 'pr-7')).toBe(
      'https://shop.example.com/cart?x=1&preview=pr-7',
    );
    expect(previewLink('', 'pr-7')).toBe('');
  });

  it('says how to reach a live preview, its health and status', () => {
    const text = renderPreviewComment(
      live,
      settings,
      false,
      new Date('2026-11-24T10:00:00.123Z'),
      'https://github.example.com/acme/shop/actions/runs/1',
    );
    expect(text).toContain('### Preview `pr-7`: live');
    expect(text).toContain("curl -H 'X-Preview: pr-7' https://shop.example.com/cart?x=1");
    expect(text).toContain('open https://shop.example.com/cart?x=1&preview=pr-7');
    expect(text).toContain('| health | load balancer check: UP L7OK; health-url passed 2 probes in a row |');
    expect(text).toContain('| updated | 2026-11-24T10:00:00Z |');
    expect(text).toContain('[Workflow run and logs](https://github.example.com/acme/shop/actions/runs/1)');
  });

  it('a failed build with no previous one: says why and gives no way in', () => {
    const failed: PreviewOutcome = {
      ...live,
      result: 'failed',
      routedTo: undefined,
      current: false,
      failure: 'status 503',
      message: 'feedbee failed its checks',
    };
    const text = renderPreviewComment(failed, settings, false, new Date(), undefined);
    expect(text).toContain('### Preview `pr-7`: the new build failed its checks');
    expect(text).not.toContain('curl');
    expect(text).toContain('| health | status 503 |');
  });

  it('a closed preview', () => {
    const closed: PreviewOutcome = { ...live, routedTo: undefined, current: false, removed: ['previews/pr-7:feedbee'] };
    const text = renderPreviewComment(closed, settings, true, new Date(), undefined);
    expect(text).toContain('### Preview `pr-7`: closed');
    expect(text).toContain('Removed from the load balancer (`previews/pr-7:feedbee`)');
  });
});

describe('preview canary', () => {
  it("weights for a share of the backend, from 1 to the driver's largest weight", () => {
    expect(canaryWeight(20, 200, 256)).toEqual({ weight: 50, share: 20 });
    expect(canaryWeight(5, 400, 256).weight).toBe(21);
    expect(canaryWeight(5, 400, 256).share).toBeCloseTo(4.99, 2);
    expect(canaryWeight(1, 10, 256)).toEqual({ weight: 1, share: (100 * 1) / 11 });
    expect(canaryWeight(50, 1000, 256).weight).toBe(256);
    // A driver with a wider range (e.g. 0-999) is capped at its own largest weight, not HAProxy's.
    expect(canaryWeight(50, 1000, 999)).toEqual({ weight: 999, share: (100 * 999) / 1999 });
    expect(canaryWeight(40, 600, 999)).toEqual({ weight: 400, share: 40 });
  });

  it('reads BACKEND PERCENT% DURATION', () => {
    const settings = read({
      action: 'preview',
      'load-balancer': 'haproxy://127.0.0.1:9999',
      'preview-key': 'pr-7',
      'preview-address': '10.0.3.7:8080',
      'preview-canary': 'app 2.5% 10m',
    });
    expect(settings.previewCanary).toEqual({ backend: 'app', percent: 2.5, durationMs: 600_000 });
  });
});
