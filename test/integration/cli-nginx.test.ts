/**
 * The built CLI on a real nginx (upstreams file, reload, access log) in front of real app processes under
 * keep-alive load: a blue-green whose inputs come from a --config YAML file, and a canary of a bad version rolled
 * back (exit 3, the judge's verdict on stderr, traffic back on blue).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { FAST_ROLLOUT } from '../helpers/action.js';
import { cleanEnv, flags, runCli, tempDir, workflowCommandLines } from '../helpers/cli.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { startLoad } from '../helpers/load.js';
import { startNginx, type NginxInstance } from '../helpers/nginx.js';

let nginx: NginxInstance | undefined;
let fleet: Fleet | undefined;
afterEach(async () => {
  await nginx?.stop();
  fleet?.stopAll();
  nginx = undefined;
  fleet = undefined;
});

async function startPools(): Promise<{ fleet: Fleet; nginx: NginxInstance }> {
  fleet = await startFleet(4, 'v1');
  const [b1, b2, g1, g2] = fleet.ports as [number, number, number, number];
  nginx = await startNginx([
    { name: 'blue1', port: b1 },
    { name: 'blue2', port: b2 },
    { name: 'green1', port: g1, down: true },
    { name: 'green2', port: g2, down: true },
  ]);
  return { fleet, nginx };
}

/** The server lines nginx reads now: weight and down, per name. */
function upstreamState(instance: NginxInstance): Record<string, string> {
  const lines = readFileSync(instance.upstreams, 'utf8')
    .split('\n')
    .filter((l) => l.includes('server '));
  return Object.fromEntries(
    lines.map((l) => [/name=(\S+)/.exec(l)?.[1] ?? '', /weight=\d+( down)?/.exec(l.replace(/#.*/, ''))?.[0] ?? '']),
  );
}

function inputs(lab: { fleet: Fleet; nginx: NginxInstance }, extra: Record<string, string>): Record<string, string> {
  return {
    ...FAST_ROLLOUT,
    'health-url': 'http://{address}/health',
    ...lab.nginx.inputs,
    pools: 'blue=app/blue*, green=app/green*',
    'deploy-command': lab.fleet.restartCommand,
    ...extra,
  };
}

describe('the CLI on nginx', () => {
  it('blue-green from a --config YAML file: 0 failed requests, all traffic on green', async () => {
    const lab = await startPools();
    const config = join(tempDir(), 'deploy.yml');
    const { pools, ...rest } = inputs(lab, { strategy: 'blue-green' });
    // Lists are joined with commas, as the inputs take them.
    writeFileSync(config, stringify({ ...rest, pools: pools?.split(', ') }));
    const load = startLoad(`http://127.0.0.1:${lab.nginx.port}/`, { rps: 200, maxMs: 40_000, retryResets: true });
    const run = await runCli(['deploy', `--config=${config}`], { env: cleanEnv(lab.fleet.env) });
    const stats = await load.stop();
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/result succeeded, live pool green, new version at 100%/);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(upstreamState(lab.nginx)).toEqual({
      blue1: 'weight=1 down',
      blue2: 'weight=1 down',
      green1: 'weight=256',
      green2: 'weight=256',
    });
    expect(workflowCommandLines(run.stdout + run.stderr)).toEqual([]);
  }, 55_000);

  it('a canary of a version failing 30% of requests: rolled back, exit 3, the verdict on stderr', async () => {
    const lab = await startPools();
    const load = startLoad(`http://127.0.0.1:${lab.nginx.port}/`, { rps: 200, maxMs: 40_000, retryResets: true });
    const run = await runCli(
      ['deploy', ...flags(inputs(lab, { strategy: 'canary', steps: '20% 10s, 100%', 'analysis-interval': '3s' }))],
      { env: cleanEnv({ ...lab.fleet.env, APP_NEXT_FAIL_RATE: '0.3' }) },
    );
    await load.stop();
    expect(run.code, run.stdout + run.stderr).toBe(3);
    expect(run.stdout).toMatch(/result rolled-back, live pool blue \(exit 3\)$/m);
    expect(run.stderr).toMatch(/^error: Rolled back at 20% on green: green \(new\) against blue \(stable\): /m);
    expect(run.stderr.match(/^error:/gm)).toHaveLength(1);
    expect(upstreamState(lab.nginx)).toMatchObject({
      blue1: 'weight=100',
      blue2: 'weight=100',
      green1: 'weight=1 down',
      green2: 'weight=1 down',
    });
  }, 55_000);
});
