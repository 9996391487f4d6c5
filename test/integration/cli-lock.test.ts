/**
 * The CLI and the load balancer's lock, on a real HAProxy under keep-alive load: a second deploy while a canary
 * holds the lock fails at once naming the holder (exit 1, nothing changed); with --lock-wait it waits, then runs.
 * And a rolling deploy through the CLI.
 */
import { describe, expect, it } from 'vitest';
import { cleanEnv, flags, runCli, usePools, workflowCommandLines } from '../helpers/cli.js';
import { startLoad } from '../helpers/load.js';
import { poolInputs, weights } from '../helpers/pools.js';

const startLab = usePools();

describe('the CLI and the lock', () => {
  it('a deploy while another holds the lock: refused at once, or with --lock-wait run after it; 0 failed', async () => {
    const lab = await startLab();
    const env = cleanEnv(lab.fleet.env);
    const load = startLoad(lab.url, { rps: 200, maxMs: 50_000 });
    let holding: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const first = runCli(['deploy', ...flags(poolInputs(lab, { strategy: 'canary', steps: '20% 6s, 100%' }))], {
      env,
      onLine: (line) => {
        if (line.startsWith('Holding the lock')) holding();
      },
    });
    await held;
    const refused = await runCli(['deploy', ...flags(poolInputs(lab, { strategy: 'blue-green', version: 'v3' }))], {
      env,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /error: load-balancer: another rollout holds the lock on .*: local\.\S+ since .*Nothing was changed\./,
    );
    const waited = await runCli(
      ['deploy', '--lock-wait=40s', ...flags(poolInputs(lab, { strategy: 'blue-green', version: 'v3' }))],
      { env },
    );
    const done = await first;
    const stats = await load.stop();
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(waited.code, waited.stdout + waited.stderr).toBe(0);
    expect(waited.stdout).toMatch(/^Waiting up to \S+ for the lock on .*: local\.\S+ since .* holds it$/m);
    // The canary moved green to 100%; the waiting blue-green then moved v3 to blue.
    expect(waited.stdout).toMatch(/result succeeded, live pool blue, new version at 100%/);
    expect(weights(await lab.haproxy.servers())).toEqual({
      'app/blue1': 256,
      'app/blue2': 256,
      'app/green1': 0,
      'app/green2': 0,
    });
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(stats.versions.v3).toBeGreaterThan(0);
  }, 55_000);

  it('rolling through the CLI: every target on the new version, 0 failed requests', async () => {
    const lab = await startLab();
    const load = startLoad(lab.url, { rps: 200, maxMs: 40_000 });
    const inputs = poolInputs(lab, { strategy: 'rolling', targets: 'app/blue*', 'batch-size': '1' });
    delete inputs.pools;
    const run = await runCli(['deploy', ...flags(inputs)], { env: cleanEnv(lab.fleet.env) });
    const stats = await load.stop();
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/result succeeded/);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    const after = await lab.haproxy.servers();
    expect(weights(after)).toMatchObject({ 'app/blue1': 100, 'app/blue2': 100 });
    expect(workflowCommandLines(run.stdout + run.stderr)).toEqual([]);
    const late = startLoad(lab.url, { rps: 200, maxRequests: 200 });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await late.stop()).versions).toEqual({ v2: 200 });
  }, 55_000);
});
