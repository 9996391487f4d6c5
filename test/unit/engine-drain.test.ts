/**
 * A batch's drain by drain-long-lived on the fake driver, given connections it can count and close: what is closed
 * when, and what the timeline (the log and the summary) says of each server.
 */
import { describe, expect, it } from 'vitest';
import { withEngine, NO_HOOKS } from '../../src/engine/context.js';
import { drainBatch } from '../../src/engine/drain.js';
import type { OpenConnections } from '../../src/lb/driver.js';
import type { DrainLongLived } from '../../src/settings.js';
import { FakeDriver } from '../helpers/fake-driver.js';
import { fakeSettings } from '../helpers/engine-kit.js';

const IDS = ['app/web1', 'app/web2'];

/** web1 holds 3 WebSockets, web2 one request that ends after `requestMs` (never: undefined); closes are logged. */
function lab(requestMs?: number) {
  const open = new Map([
    ['app/web1', { webSockets: 3, requests: 0 }],
    ['app/web2', { webSockets: 0, requests: 1 }],
  ]);
  const closes: string[] = [];
  const driver = new FakeDriver({ servers: IDS.map((id) => ({ id })), lock: false });
  const sync = () =>
    IDS.forEach((id) => driver.set(id, { inFlight: ((o) => o.webSockets + o.requests)(open.get(id)!) }));
  sync();
  if (requestMs !== undefined)
    setTimeout(() => {
      open.set('app/web2', { webSockets: 0, requests: 0 });
      sync();
    }, requestMs);
  const list = (ids: readonly string[]): OpenConnections[] =>
    ids.map((server) => ({ server, ...(open.get(server) ?? { webSockets: 0, requests: 0 }) }));
  const lb = Object.assign(driver, {
    capabilities: { ...driver.capabilities, closesConnections: true },
    connections: {
      open: async (ids: readonly string[]) => list(ids),
      close: async (ids: readonly string[], which: 'webSockets' | 'all') => {
        const before = list(ids);
        closes.push(which);
        for (const id of ids) {
          const o = open.get(id) ?? { webSockets: 0, requests: 0 };
          open.set(id, which === 'all' ? { webSockets: 0, requests: 0 } : { ...o, webSockets: 0 });
        }
        sync();
        return which === 'all' ? before : before.map((o) => ({ ...o, requests: 0 }));
      },
    },
  });
  return { lb, closes };
}

async function drain(policy: DrainLongLived, requestMs?: number) {
  const { lb, closes } = lab(requestMs);
  const settings = fakeSettings(
    { strategy: 'rolling', targets: 'app/*' },
    { drainTimeoutMs: 300, drainLongLived: policy },
  );
  const started = Date.now();
  const { events, lines } = await withEngine(settings, lb, new AbortController().signal, NO_HOOKS, async (ctx) => {
    const lines = await drainBatch(ctx, IDS);
    return { lines, events: ctx.timeline.events.map((e) => e.text.replace(/drained in \d+ms/, 'drained in Nms')) };
  });
  return { events, lines, closes, tookMs: Date.now() - started };
}

describe('drain-long-lived on the fake driver', () => {
  it('wait: nothing is closed; at drain-timeout the timeline counts what deploy-command will cut', async () => {
    const { events, lines, closes, tookMs } = await drain('wait');
    expect(closes).toEqual([]);
    expect(lines).toEqual([
      '3 WebSocket connections left open on app/web1 at drain-timeout, cut by deploy-command',
      '1 request left open on app/web2 at drain-timeout, cut by deploy-command',
    ]);
    expect(tookMs).toBeGreaterThanOrEqual(300);
    expect(events).toEqual([
      'drain-timeout 300ms reached with 3 WebSocket connections open on app/web1; 1 request open on app/web2; taking the batch out anyway: deploy-command cuts what is still open (drain-long-lived: wait)',
    ]);
  });

  it('close-at-start: WebSockets closed at once, the request in flight allowed to finish', async () => {
    const { events, closes, tookMs } = await drain('close-at-start', 100);
    expect(closes).toEqual(['webSockets']);
    expect(tookMs).toBeLessThan(300);
    expect(events).toEqual([
      '3 WebSocket connections closed on app/web1 at drain start (drain-long-lived: close-at-start)',
      'app/web1, app/web2 drained in Nms',
    ]);
  });

  it('close-at-start: a request still in flight at drain-timeout is closed then', async () => {
    const { events, lines, closes } = await drain('close-at-start');
    expect(closes).toEqual(['webSockets', 'all']);
    // For the summary's batches: each close, when it happened.
    expect(lines).toEqual([
      '3 WebSocket connections closed on app/web1 at drain start',
      '1 request closed on app/web2 at drain-timeout',
    ]);
    expect(events[1]).toBe(
      'drain-timeout 300ms reached: 1 request closed on app/web2 (drain-long-lived: close-at-start); app/web1, app/web2 drained in Nms',
    );
  });

  it('close-at-deadline: everything still open is closed at drain-timeout', async () => {
    const { events, closes, tookMs } = await drain('close-at-deadline');
    expect(closes).toEqual(['all']);
    expect(tookMs).toBeGreaterThanOrEqual(300);
    expect(events).toEqual([
      'drain-timeout 300ms reached: 3 WebSocket connections closed on app/web1; 1 request closed on app/web2 (drain-long-lived: close-at-deadline); app/web1, app/web2 drained in Nms',
    ]);
  });
});
