/**
 * npm run bench:keepalive: whose keep-alive race failed requests when test files ran in parallel (issue 24).
 *
 * A client that keeps idle keep-alive connections until the load balancer's keep-alive timeout closes them races
 * its next request onto a socket the far end is closing, and gets ECONNRESET with no response. Here HAProxy's
 * `timeout http-keep-alive` is 500 ms and bursts of 8 requests come every 480-520 ms, so each burst reuses
 * connections at the moment HAProxy closes them: a plain keep-alive agent sees resets, an agent that drops idle
 * connections before the far end does (as test/helpers/load.ts does, 10 s against the labs' 30 s) sees none. No
 * deploy runs and no server changes: the resets are the client's own, which is why they appeared only when a busy
 * machine let connections sit idle at the bottom of the agent's pool for the labs' 30 s.
 */
import http from 'node:http';
import { startFleet } from '../test/helpers/fleet.js';
import { startHaproxy } from '../test/helpers/haproxy.js';

const BURSTS = 60;

async function bursts(url: string, agent: http.Agent): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  const note = (what: string) => (seen[what] = (seen[what] ?? 0) + 1);
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => (note(String(res.statusCode)), resolve()));
      });
      req.on('error', (e: NodeJS.ErrnoException) => (note(e.code ?? e.message), resolve()));
    });
  for (let i = 0; i < BURSTS; i++) {
    await Promise.all(Array.from({ length: 8 }, one));
    await new Promise((r) => setTimeout(r, 480 + Math.random() * 40));
  }
  agent.destroy();
  return seen;
}

async function main(): Promise<void> {
  const fleet = await startFleet(2, 'v1', { APP_NEXT_DELAY_MS: '0', APP_NEXT_START_DELAY_MS: '0' });
  const haproxy = await startHaproxy({
    servers: fleet.ports.map((port, i) => ({ name: `s${i}`, port })),
    frontend: '    timeout http-keep-alive 500ms',
  });
  try {
    const url = `http://127.0.0.1:${haproxy.frontendPort}/`;
    const plain = await bursts(url, new http.Agent({ keepAlive: true, maxSockets: 8 }));
    const early = await bursts(url, new http.Agent({ keepAlive: true, maxSockets: 8, timeout: 250 }));
    console.log(`${BURSTS} bursts of 8 requests at HAProxy's 500 ms keep-alive timeout:`);
    console.log(`  keep-alive agent, idle connections kept:          ${JSON.stringify(plain)}`);
    console.log(`  keep-alive agent, idle connections dropped at 250 ms: ${JSON.stringify(early)}`);
  } finally {
    await haproxy.stop();
    fleet.stopAll();
  }
}

await main();
