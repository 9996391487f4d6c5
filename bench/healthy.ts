/**
 * npm run bench:healthy: a healthy canary with the same heavy-tailed latency as stable (a fifth of the answers
 * 70-270 ms, the rest about 20 ms), default judge inputs, five times in a row on real HAProxy (latency from its log
 * ring) and real nginx (its JSON access log), under keep-alive load from clients that do not retry (nginx: resets at
 * its reloads retried once, as browsers do): every run must be promoted with 0 failed requests (issue 25).
 */
import { FAST_ROLLOUT, runAction } from '../test/helpers/action.js';
import { startFleet } from '../test/helpers/fleet.js';
import { LATENCY_RING } from '../test/helpers/haproxy.js';
import { startLoad } from '../test/helpers/load.js';
import { startNginx } from '../test/helpers/nginx.js';
import { poolInputs, startPools } from '../test/helpers/pools.js';

const RUNS = 5;
const HEAVY_TAIL = { APP_NEXT_TAIL: '1' };
const STEPS = '20% 3s, 50% 3s, 100%';

async function haproxyRun(): Promise<string> {
  const lab = await startPools(HEAVY_TAIL, LATENCY_RING);
  try {
    const load = startLoad(lab.url, { rps: 150, connections: 64, maxMs: 40_000 });
    const run = await runAction(poolInputs(lab, { strategy: 'canary', steps: STEPS }), { env: lab.fleet.env });
    const stats = await load.stop();
    return `${run.outputs.result}, ${stats.failed} of ${stats.sent} failed`;
  } finally {
    await lab.stop();
  }
}

async function nginxRun(): Promise<string> {
  const fleet = await startFleet(4, 'v1', HEAVY_TAIL);
  const [b1, b2, g1, g2] = fleet.ports as [number, number, number, number];
  const nginx = await startNginx([
    { name: 'blue1', port: b1 },
    { name: 'blue2', port: b2 },
    { name: 'green1', port: g1, down: true },
    { name: 'green2', port: g2, down: true },
  ]);
  try {
    const load = startLoad(`http://127.0.0.1:${nginx.port}/`, {
      rps: 150,
      connections: 64,
      maxMs: 40_000,
      retryResets: true,
    });
    const run = await runAction(
      {
        ...FAST_ROLLOUT,
        ...nginx.inputs,
        'health-url': 'http://{address}/health',
        strategy: 'canary',
        steps: STEPS,
        pools: 'blue=app/blue*, green=app/green*',
        'deploy-command': fleet.restartCommand,
      },
      { env: { ...fleet.env, ...HEAVY_TAIL } },
    );
    const stats = await load.stop();
    return `${run.outputs.result}, ${stats.failed} of ${stats.sent} failed (${stats.resets} resets retried)`;
  } finally {
    await nginx.stop();
    fleet.stopAll();
  }
}

async function main(): Promise<void> {
  for (const [name, once] of [
    ['HAProxy', haproxyRun],
    ['nginx', nginxRun],
  ] as const) {
    const runs: string[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await once());
    console.log(`| ${name} | ${runs.join('; ')} |`);
  }
}

await main();
