/**
 * The nginx driver against a real nginx on loopback (its own prefix), real app processes and keep-alive load from
 * a client that retries an idempotent request once when its connection was reset before any response (what a
 * reload does to idle keep-alive connections, and rarely to one an old worker had just accepted); raw resets are
 * counted and printed.
 */
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { errors, FAST_ROLLOUT, ROOT, runAction } from '../helpers/action.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { requestsExactly, startLoad } from '../helpers/load.js';
import { startNginx, type NginxInstance } from '../helpers/nginx.js';

let nginx: NginxInstance | undefined;
let fleet: Fleet | undefined;

afterEach(async () => {
  await nginx?.stop();
  fleet?.stopAll();
  nginx = undefined;
  fleet = undefined;
});

const FAST = {
  ...FAST_ROLLOUT,
  'health-url': 'http://{address}/health',
};

/** blue1/blue2 live on v1, green1/green2 idle (down), as a user writes them. */
async function startPools(): Promise<{ fleet: Fleet; nginx: NginxInstance }> {
  const pools = await startFleet(4, 'v1');
  const [b1, b2, g1, g2] = pools.ports as [number, number, number, number];
  const instance = await startNginx([
    { name: 'blue1', port: b1 },
    { name: 'blue2', port: b2 },
    { name: 'green1', port: g1, down: true },
    { name: 'green2', port: g2, down: true },
  ]);
  return { fleet: pools, nginx: instance };
}

/** The server lines nginx reads now: address, weight and down, per name. */
function upstreamState(instance: NginxInstance): Record<string, string> {
  const lines = readFileSync(instance.upstreams, 'utf8')
    .split('\n')
    .filter((l) => l.includes('server '));
  return Object.fromEntries(
    lines.map((l) => [/name=(\S+)/.exec(l)?.[1] ?? '', /weight=\d+( down)?/.exec(l.replace(/#.*/, ''))?.[0] ?? '']),
  );
}

describe('nginx driver', () => {
  it('rolling deploy of 4 servers under keep-alive load: 0 failed requests, every server on the new version', async () => {
    fleet = await startFleet(4, 'v1');
    nginx = await startNginx(fleet.ports.map((port, i) => ({ name: `web${i + 1}`, port })));
    const load = startLoad(`http://127.0.0.1:${nginx.port}/`, { rps: 200, maxMs: 90_000, retryResets: true });
    const run = await runAction(
      { ...FAST, ...nginx.inputs, strategy: 'rolling', targets: 'app/*', 'deploy-command': fleet.restartCommand },
      { env: fleet.env },
    );
    const stats = await load.stop();
    console.log(
      `nginx rolling: ${stats.failed} of ${stats.sent} failed, ${stats.resets} resets retried ${JSON.stringify(stats.versions)}`,
    );
    expect(errors(run)).toEqual([]);
    expect(run.outputs.result).toBe('succeeded');
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(upstreamState(nginx)).toEqual({
      web1: 'weight=100',
      web2: 'weight=100',
      web3: 'weight=100',
      web4: 'weight=100',
    });
    expect((await requestsExactly(`http://127.0.0.1:${nginx.port}/`, 100, {})).versions).toEqual({ v2: 100 });
  });

  it('blue-green switch under keep-alive load: 0 failed requests, all traffic on the new version', async () => {
    ({ fleet, nginx } = await startPools());
    const load = startLoad(`http://127.0.0.1:${nginx.port}/`, { rps: 200, maxMs: 90_000, retryResets: true });
    const run = await runAction(
      {
        ...FAST,
        ...nginx.inputs,
        strategy: 'blue-green',
        pools: 'blue=app/blue*, green=app/green*',
        'deploy-command': fleet.restartCommand,
      },
      { env: fleet.env },
    );
    await new Promise((r) => setTimeout(r, 1000));
    const stats = await load.stop();
    console.log(
      `nginx blue-green: ${stats.failed} of ${stats.sent} failed, ${stats.resets} resets retried ${JSON.stringify(stats.versions)}`,
    );
    expect(errors(run)).toEqual([]);
    expect(run.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'green', weight: '100' });
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(upstreamState(nginx)).toEqual({
      blue1: 'weight=1 down',
      blue2: 'weight=1 down',
      green1: 'weight=256',
      green2: 'weight=256',
    });
    const last = stats.requests.filter((r) => r.start > Date.now() - 700);
    expect(last.length).toBeGreaterThan(50);
    expect(last.every((r) => r.version === 'v2')).toBe(true);
  });

  it('rolls back a canary whose new version fails 30% of its requests, judged from the access log', async () => {
    ({ fleet, nginx } = await startPools());
    const load = startLoad(`http://127.0.0.1:${nginx.port}/`, { rps: 200, maxMs: 90_000, retryResets: true });
    const run = await runAction(
      {
        ...FAST,
        ...nginx.inputs,
        strategy: 'canary',
        steps: '20% 10s, 100%',
        pools: 'blue=app/blue*, green=app/green*',
        'deploy-command': fleet.restartCommand,
        'analysis-interval': '3s',
      },
      { env: { ...fleet.env, APP_NEXT_FAIL_RATE: '0.3' } },
    );
    await load.stop();
    expect(run.code).toBe(1);
    expect(run.outputs.result).toBe('rolled-back');
    expect(errors(run).join('\n')).toMatch(
      /Rolled back at 20% on green: green \(new\) against blue \(stable\): (Worse than stable: new version [\d.]+% failed \(\d+ of \d+\), stable [\d.]+% \(\d+ of \d+\)|Hard ceiling: \d+ of the last \d+ requests to the new version failed)/,
    );
    expect(upstreamState(nginx)).toMatchObject({
      blue1: 'weight=100',
      blue2: 'weight=100',
      green1: 'weight=1 down',
      green2: 'weight=1 down',
    });
  });

  it('works over nginx+ssh through the system ssh, with host keys checked: a blue-green switch with 0 failed requests', async () => {
    ({ fleet, nginx } = await startPools());
    const bin = mkdtempSync(join(tmpdir(), 'zdd-ssh-'));
    symlinkSync(join(ROOT, 'test/fixtures/ssh-standin.sh'), join(bin, 'ssh'));
    const log = join(bin, 'ssh.log');
    const load = startLoad(`http://127.0.0.1:${nginx.port}/`, { rps: 200, maxMs: 90_000, retryResets: true });
    const run = await runAction(
      {
        ...FAST,
        ...nginx.inputs,
        'load-balancer': `nginx+ssh://deploy@lb.test${nginx.upstreams}`,
        strategy: 'blue-green',
        pools: 'blue=app/blue*, green=app/green*',
        'deploy-command': fleet.restartCommand,
      },
      { env: { ...fleet.env, PATH: `${bin}:${process.env.PATH}`, SSH_STANDIN_LOG: log } },
    );
    const stats = await load.stop();
    expect(errors(run)).toEqual([]);
    expect(run.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'green' });
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(upstreamState(nginx)).toEqual({
      blue1: 'weight=1 down',
      blue2: 'weight=1 down',
      green1: 'weight=256',
      green2: 'weight=256',
    });
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    expect(
      calls.some((c) =>
        /-o BatchMode=yes -o StrictHostKeyChecking=yes .* -l deploy -- lb\.test cat .*upstreams\.conf$/.test(c),
      ),
    ).toBe(true);
    expect(calls.some((c) => c.endsWith(`-s reload`))).toBe(true);
  });

  it("a configuration nginx refuses fails before reload with nginx's own message; nginx keeps serving the old one", async () => {
    fleet = await startFleet(2, 'v1');
    nginx = await startNginx(fleet.ports.map((port, i) => ({ name: `web${i + 1}`, port })));
    const before = readFileSync(nginx.upstreams, 'utf8');
    nginx.misplaceInclude();
    const run = await runAction(
      { ...FAST, ...nginx.inputs, strategy: 'rolling', targets: 'app/*', 'deploy-command': fleet.restartCommand },
      { env: fleet.env },
    );
    expect(run.code).toBe(1);
    expect(errors(run).join('\n')).toMatch(
      /nginx refused the new upstreams [\s\S]*the old file is restored and nginx keeps its configuration: [\s\S]*\[emerg\][^"]*"upstream" directive is not allowed here/,
    );
    expect(readFileSync(nginx.upstreams, 'utf8')).toBe(before);
    const stats = await requestsExactly(`http://127.0.0.1:${nginx.port}/`, 50, {});
    expect(stats.ok).toBe(50);
    expect(stats.versions).toEqual({ v1: 50 });
  });
});
