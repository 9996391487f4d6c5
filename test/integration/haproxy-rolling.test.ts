/**
 * Rolling deploys through a real HAProxy in front of real app processes, under steady keep-alive load, with a
 * deploy-command that really stops each process and starts the new version.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { errors, FAST_ROLLOUT, runAction } from '../helpers/action.js';
import { APP_CTL, startFleet, type Fleet } from '../helpers/fleet.js';
import { LATENCY_RING, startHaproxy, type HaproxyInstance, type HaproxySetup } from '../helpers/haproxy.js';
import { requestsExactly, startLoad } from '../helpers/load.js';
import { waitForPort } from '../helpers/ports.js';
import { startRelay } from '../helpers/relay.js';

let haproxy: HaproxyInstance | undefined;
let fleet: Fleet | undefined;

afterEach(async () => {
  await haproxy?.stop();
  fleet?.stopAll();
  haproxy = undefined;
  fleet = undefined;
});

async function setup(count = 4, lines: Pick<HaproxySetup, 'defaults' | 'sections'> = {}) {
  fleet = await startFleet(count, 'v1');
  haproxy = await startHaproxy({ ...lines, servers: fleet.ports.map((port, i) => ({ name: `web${i + 1}`, port })) });
  await haproxy.settled(); // HAProxy's first checks, before load starts
  return { fleet, haproxy };
}

const FAST = {
  ...FAST_ROLLOUT,
  strategy: 'rolling',
  targets: 'app/*',
};

describe('rolling deploy on HAProxy', () => {
  it('updates 4 servers under keep-alive load with 0 failed requests and restores weights; each batch latency in the summary', async () => {
    const { fleet, haproxy } = await setup(4, LATENCY_RING);
    await haproxy.cli('set server app/web3 weight 50');
    const before = await haproxy.servers();
    const load = startLoad(`http://127.0.0.1:${haproxy.frontendPort}/`, { rps: 200, maxMs: 90_000 });
    const run = await runAction(
      {
        ...FAST,
        'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
        'deploy-command': fleet.restartCommand,
        'health-url': 'http://{address}/health',
      },
      { env: fleet.env },
    );
    const stats = await load.stop();
    console.log(
      `rolling deploy: ${stats.failed} of ${stats.sent} requests failed in ${run.durationMs}ms ${JSON.stringify(stats.versions)}`,
    );
    expect(run.stdout).not.toContain('::error');
    expect(run.code).toBe(0);
    expect(run.outputs.result).toBe('succeeded');
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(stats.ok).toBeGreaterThan(1000);
    const after = await haproxy.servers();
    for (const [id, server] of after) {
      expect(server.weight, id).toBe(before.get(id)?.weight);
      expect(server.adminState, id).toBe(0);
      expect(server.status, id).toBe('UP');
    }
    // Every server now answers with the new version.
    const end = await requestsExactly(`http://127.0.0.1:${haproxy.frontendPort}/`, 100, {});
    expect(end.versions).toEqual({ v2: 100 });
    expect(run.summary).toContain('Succeeded');
    expect(run.summary).toMatch(/\| app\/web4 \| v2 \| yes \|/);
    // Each batch's answers and the old servers' beside it, from the ring; the last batch has no old server left.
    const rows = run.summary.split('\n').filter((l) => /^\| \d \| app\/web\d \|/.test(l));
    const answers = '(p50 \\d+ms p95 \\d+ms p99 \\d+ms \\(n=\\d+\\))';
    expect(rows).toHaveLength(4);
    for (const row of rows.slice(0, 3))
      expect(row).toMatch(new RegExp(`\\| ${answers} \\| ${answers} \\| [^|]+ \\| ✅`));
    expect(rows[3]).toMatch(new RegExp(`\\| ${answers} \\| - \\| [^|]+ \\| ✅`));
    console.log(rows.join('\n'));
  });

  it('stops after the first batch when the new version never becomes healthy, with 0 failed requests', async () => {
    const { fleet, haproxy } = await setup();
    const load = startLoad(`http://127.0.0.1:${haproxy.frontendPort}/`, { rps: 200, maxMs: 60_000 });
    const run = await runAction(
      {
        ...FAST,
        'startup-timeout': '3s',
        'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
        'deploy-command': fleet.restartCommand,
        'health-url': 'http://{address}/health',
      },
      { env: { ...fleet.env, APP_NEXT_HEALTHY: '0' } },
    );
    const stats = await load.stop();
    expect(run.code).toBe(1);
    expect(run.outputs.result).toBe('failed');
    expect(errors(run).join('\n')).toMatch(/app\/web1: .*did not pass 2 probes in a row within startup-timeout/);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    const after = await haproxy.servers();
    expect(after.get('app/web1')?.status).toBe('MAINT');
    for (const id of ['app/web2', 'app/web3', 'app/web4']) expect(after.get(id)?.status, id).toBe('UP');
    // Only web1 was touched: everyone else still answers v1.
    expect(Object.keys(stats.versions)).toEqual(['v1']);
    expect(run.summary).toMatch(/\| app\/web1 \| unknown \| \*\*no\*\* \||\| app\/web1 \| v2 \| \*\*no\*\* \|/);
    expect(run.summary).toMatch(/\| app\/web2 \| previous \| yes \|/);
  });

  it('says what state it left when the Runtime API becomes unreachable mid-batch, and no request fails', async () => {
    const { fleet, haproxy } = await setup();
    const relay = await startRelay(haproxy.adminPort);
    relay.cutAfter(/state maint/);
    const load = startLoad(`http://127.0.0.1:${haproxy.frontendPort}/`, { rps: 200, maxMs: 60_000 });
    const run = await runAction(
      {
        ...FAST,
        'load-balancer': `haproxy://127.0.0.1:${relay.port}`,
        'deploy-command': fleet.restartCommand,
        'health-url': 'http://{address}/health',
      },
      { env: fleet.env },
    );
    const stats = await load.stop();
    await relay.close();
    expect(run.code).toBe(1);
    expect(run.outputs.result).toBe('failed');
    const message = errors(run).join('\n');
    // HAProxy took the maint (read back, and the lock re-read, on the same round trip), then answered no more: the
    // batch stops at the next call after the deploy-command (the lock's re-check, or the drain if the command took
    // under 250 ms, the lock's last read answering).
    expect(message).toMatch(
      /could not finish batch 1: (the lock could not be re-read after the deploy-command on app\/web1 \()?HAProxy Runtime API failed after 4 attempts/,
    );
    expect(message).toMatch(
      /Left out of traffic: app\/web1 in maint \(version (v2|unknown)\); once each answers its health check, restore it on the HAProxy Runtime API: set server app\/web1 weight 100; set server app\/web1 state ready\./,
    );
    expect(message).toContain('Untouched, still on the old version: app/web2, app/web3, app/web4.');
    expect((await haproxy.servers()).get('app/web1')?.status).toBe('MAINT');
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
  });

  it('a naive restart in place (no drain), with the same app and load, fails requests', async () => {
    const { fleet, haproxy } = await setup();
    const load = startLoad(`http://127.0.0.1:${haproxy.frontendPort}/`, { rps: 200, maxMs: 30_000 });
    await new Promise((r) => setTimeout(r, 500));
    // One server at a time, the way `systemctl restart` would: SIGTERM, start the new version, wait for it.
    for (const port of fleet.ports) {
      // Async, so the load keeps flowing in this process while the server restarts.
      await promisify(execFile)(process.execPath, [APP_CTL, 'restart'], {
        env: { ...process.env, ...fleet.env, DEPLOY_PORT: String(port), DEPLOY_VERSION: 'v2' },
      });
      await waitForPort(port);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const stats = await load.stop();
    console.log(
      `naive restart-in-place: ${stats.failed} of ${stats.sent} requests failed ${JSON.stringify(stats.failures)}`,
    );
    expect(stats.failed).toBeGreaterThan(0);
  });
});
