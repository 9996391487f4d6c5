/**
 * drain-long-lived on a real HAProxy: WebSocket clients connected to every server (reconnecting when closed, as
 * browser apps do) and keep-alive HTTP load through a rolling deploy, once per policy. Each server's WebSockets are
 * counted by who closed them: the load balancer (HAProxy's shutdown: no close frame, 1006) or the app stopped by
 * deploy-command (its close frame 1001 "going away"); the counts the action logs must be the clients' own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction, type ActionRun } from '../helpers/action.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { startHaproxy, type HaproxyInstance } from '../helpers/haproxy.js';
import { startLoad, type Load } from '../helpers/load.js';
import { rollingInputs } from '../helpers/pools.js';
import { startWebSockets, type WebSocketClients } from '../helpers/websockets.js';

let haproxy: HaproxyInstance;
let fleet: Fleet;
let load: Load;
let clients: WebSocketClients;

beforeAll(async () => {
  // Graceful apps: a stopping app sends its WebSockets a close frame, so the clients tell the app's closes apart.
  // Listening at once after a restart (HAProxy's rise 2 still gates each server): nine restarts in the file's 25 s.
  fleet = await startFleet(3, 'v1', { APP_NEXT_GRACEFUL: '1', APP_NEXT_START_DELAY_MS: '0' });
  haproxy = await startHaproxy({ servers: fleet.ports.map((port, i) => ({ name: `web${i + 1}`, port })) });
  await haproxy.settled();
  load = startLoad(`http://127.0.0.1:${haproxy.frontendPort}/`, { rps: 150, maxMs: 60_000 });
  clients = startWebSockets(`ws://127.0.0.1:${haproxy.frontendPort}/ws`, 12);
  await clients.connected();
});

afterAll(async () => {
  clients.stop();
  await load.stop();
  await haproxy.stop();
  fleet.stopAll();
});

const SERVERS = ['app/web1', 'app/web2', 'app/web3'];

/** Per server: WebSockets closed by the load balancer and by the app during one run, as the clients saw them. */
function closedBy(from: number): Map<string, { lb: number; app: number }> {
  const counts = new Map(SERVERS.map((s) => [s, { lb: 0, app: 0 }]));
  for (const c of clients.closes.slice(from)) {
    const count = counts.get(`app/web${fleet.ports.indexOf(c.port) + 1}`);
    if (count && c.code === 1006) count.lb++;
    else if (count && c.code === 1001) count.app++;
  }
  return counts;
}

/** The count the action logged for a server, by a line's pattern with `(\d+)` and `SERVER`. */
function logged(run: ActionRun, pattern: string, server: string): number {
  const match = new RegExp(pattern.replace('SERVER', server.replace('/', '\\/'))).exec(run.stdout);
  return Number(match?.[1] ?? 0);
}

/** How long each batch's drain took, from drain to maint as HAProxy was told (the action's own log times). */
function drainTimes(run: ActionRun): string {
  return SERVERS.map((s) => {
    const line = new RegExp(`${s.replace('/', '\\/')} drained in ([\\d.]+ ?m?s)`).exec(run.stdout)?.[1];
    return `${s} ${line ?? '500ms (drain-timeout)'}`;
  }).join(', ');
}

async function deploy(policy: string, version: string) {
  const from = clients.closes.length;
  const sent = load.snapshot();
  const run = await runAction(
    rollingInputs(fleet, haproxy, { 'drain-timeout': '500ms', 'drain-long-lived': policy, version }),
    { env: fleet.env },
  );
  const now = load.snapshot();
  const counts = closedBy(from);
  console.log(
    `drain-long-lived ${policy}: ${run.durationMs} ms; drain: ${drainTimes(run)}; WebSockets closed by the load balancer / the app: ${SERVERS.map((s) => `${s} ${counts.get(s)?.lb}/${counts.get(s)?.app}`).join(', ')}; HTTP ${now.failed - sent.failed} failed of ${now.sent - sent.sent}`,
  );
  expect(run.code, run.stdout).toBe(0);
  expect(run.outputs.result).toBe('succeeded');
  expect(now.failed - sent.failed, JSON.stringify(now.failures)).toBe(0);
  expect(now.sent - sent.sent).toBeGreaterThan(300);
  return { run, counts };
}

describe('drain-long-lived on HAProxy, WebSockets on every server under keep-alive load', () => {
  it('wait: each server holds its WebSockets until drain-timeout, then deploy-command cuts them, counted', async () => {
    const { run, counts } = await deploy('wait', 'v2');
    for (const server of SERVERS) {
      const open = logged(run, `(\\d+) WebSocket connections? open on SERVER`, server);
      expect(open, server).toBeGreaterThan(0);
      expect(counts.get(server), server).toEqual({ lb: 0, app: open });
    }
    expect(run.stdout).toMatch(
      /drain-timeout 500ms reached with \d+ WebSocket connections? open on app\/web1; taking the batch out anyway: deploy-command cuts what is still open \(drain-long-lived: wait\)/,
    );
    // The summary names each server's, beside the batches.
    expect(run.summary).toMatch(
      /Long-lived connections \(drain-long-lived: wait\): \d+ WebSocket connections? left open on app\/web1 at drain-timeout, cut by deploy-command; /,
    );
  });

  it('close-at-start: HAProxy closes each server WebSockets as its drain starts; the app closes none', async () => {
    const { run, counts } = await deploy('close-at-start', 'v3');
    for (const server of SERVERS) {
      const closed = logged(run, `(\\d+) WebSocket connections? closed on SERVER at drain start`, server);
      expect(closed, server).toBeGreaterThan(0);
      expect(counts.get(server), server).toEqual({ lb: closed, app: 0 });
      expect(run.stdout, server).toMatch(new RegExp(`${server.replace('/', '\\/')} drained in`));
    }
    expect(run.summary).toMatch(
      /\d+ WebSocket connections? closed on app\/web1 at drain start \(drain-long-lived: close-at-start\)/,
    );
    expect(run.summary).toMatch(
      /Long-lived connections \(drain-long-lived: close-at-start\): \d+ WebSocket connections? closed on app\/web1 at drain start; /,
    );
    // The plan says it before anything moves.
    expect(run.stdout).toContain(
      'of each batch are closed by the load balancer at drain start (WebSockets), before deploy-command',
    );
  });

  it('close-at-deadline: HAProxy closes what is still open at drain-timeout, before deploy-command', async () => {
    const { run, counts } = await deploy('close-at-deadline', 'v4');
    for (const server of SERVERS) {
      const closed = logged(run, `(\\d+) WebSocket connections? closed on SERVER`, server);
      expect(closed, server).toBeGreaterThan(0);
      expect(counts.get(server), server).toEqual({ lb: closed, app: 0 });
    }
    expect(run.summary).toMatch(
      /drain-timeout 500ms reached: \d+ WebSocket connections? closed on app\/web1 \(drain-long-lived: close-at-deadline\); app\/web1 drained in/,
    );
  });
});
