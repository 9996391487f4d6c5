/**
 * A cancel (SIGTERM to `node dist/index.js`, as a cancelled job) during each driver's slowest call: a HAProxy whose
 * Runtime API stops answering (a call waits out 10 s timeouts and retries), an nginx reload command that hangs, and
 * an ALB that is slow to show a change (read-backs for up to 30 s). Each run ends within 2 s of the signal, traffic
 * in a safe state, with a message saying what was left as read back.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errors, FAST_ROLLOUT, runAction, type ActionRun, type RunOptions } from '../helpers/action.js';
import { albInputs, useAlbLab } from '../helpers/alb-lab.js';
import { startFleet } from '../helpers/fleet.js';
import { startHaproxy } from '../helpers/haproxy.js';
import { startLoad } from '../helpers/load.js';
import { startNginx } from '../helpers/nginx.js';
import { startRelay } from '../helpers/relay.js';

const alb = useAlbLab();

const ROLLING = { ...FAST_ROLLOUT, strategy: 'rolling', targets: 'app/*', 'health-url': 'http://{address}/health' };

async function until(what: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts the run, sends SIGTERM once `ready` holds and `afterMs` more passed; the run and ms from signal to exit. */
async function cancelWhen(
  inputs: Record<string, string>,
  options: RunOptions,
  ready: () => boolean | Promise<boolean>,
  afterMs: number,
): Promise<{ run: ActionRun; exitMs: number }> {
  let child: { kill: (s: NodeJS.Signals) => boolean } | undefined;
  const running = runAction(inputs, { ...options, onSpawn: (c) => (child = c) });
  await until(ready);
  await new Promise((r) => setTimeout(r, afterMs));
  const sent = Date.now();
  child?.kill('SIGTERM');
  const run = await running;
  return { run, exitMs: Date.now() - sent };
}

describe('a cancel during the slowest call ends the run within 2 s, traffic safe', () => {
  it('HAProxy: its Runtime API stops answering mid-batch', async (context) => {
    const fleet = await startFleet(2, 'v1');
    context.onTestFinished(() => fleet.stopAll());
    const haproxy = await startHaproxy({ servers: fleet.ports.map((port, i) => ({ name: `web${i + 1}`, port })) });
    context.onTestFinished(() => haproxy.stop());
    await haproxy.settled();
    const relay = await startRelay(haproxy.adminPort);
    context.onTestFinished(() => relay.close());
    const load = startLoad(`http://127.0.0.1:${haproxy.frontendPort}/`, { rps: 100, maxMs: 20_000 });
    const inputs = {
      ...ROLLING,
      'load-balancer': `haproxy://127.0.0.1:${relay.port}`,
      'deploy-command': `sleep 1; ${fleet.restartCommand}`,
    };
    let held = false;
    const { run, exitMs } = await cancelWhen(
      inputs,
      { env: fleet.env },
      async () => {
        // web1 out for its deploy: from now on nothing the run sends reaches HAProxy, nor is answered.
        if (!held && (await haproxy.servers()).get('app/web1')?.status.startsWith('MAINT')) {
          relay.hold();
          held = true;
        }
        return held;
      },
      1500,
    );
    const stats = await load.stop();
    const message = errors(run).join('\n');
    console.log(`HAProxy hung: exited ${exitMs} ms after SIGTERM: ${message}`);
    expect(exitMs).toBeLessThan(2000);
    expect(run.code).toBe(1);
    expect(message).toContain('the run was cancelled (SIGTERM)');
    expect(message).toMatch(/Left out of traffic: app\/web1 in maint/);
    expect(message).toMatch(/could not be read back|as last read/);
    const after = await haproxy.servers();
    expect(after.get('app/web1')?.status).toMatch(/^MAINT/);
    expect(after.get('app/web2')?.status).toMatch(/^UP/);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
  }, 30_000);

  it('nginx: the reload command hangs', async (context) => {
    const fleet = await startFleet(2, 'v1');
    context.onTestFinished(() => fleet.stopAll());
    const nginx = await startNginx(fleet.ports.map((port, i) => ({ name: `web${i + 1}`, port })));
    context.onTestFinished(() => nginx.stop());
    const load = startLoad(`http://127.0.0.1:${nginx.port}/`, { rps: 100, maxMs: 20_000, retryResets: true });
    const mark = `${fleet.stateDir}/reload-hung`;
    const reload = nginx.inputs['nginx-reload-command'];
    const inputs = {
      ...ROLLING,
      ...nginx.inputs,
      'min-requests': '0',
      // The first reload (web1 out for its deploy) hangs; later ones reload at once.
      'nginx-reload-command': `if [ ! -e ${mark} ]; then touch ${mark}; sleep 30; fi; ${reload}`,
      'deploy-command': fleet.restartCommand,
    };
    const { run, exitMs } = await cancelWhen(inputs, { env: fleet.env }, () => existsSync(mark), 500);
    const stats = await load.stop();
    const message = errors(run).join('\n');
    console.log(`nginx reload hung: exited ${exitMs} ms after SIGTERM: ${message}`);
    expect(exitMs).toBeLessThan(2000);
    expect(run.code).toBe(1);
    expect(message).toContain('the run was cancelled (SIGTERM)');
    expect(message).toContain("nginx's reload was stopped");
    expect(readFileSync(nginx.upstreams, 'utf8')).not.toMatch(/ down/);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
  }, 30_000);

  it('ALB: the change is slow to show (read-backs)', async () => {
    const l = await alb();
    // ALB shows the first weight change only 30 s after it is made: the run reads it back meanwhile.
    l.alb.delayNextChange(30_000);
    const load = startLoad(l.alb.trafficUrl, { rps: 100, maxMs: 20_000 });
    const { run, exitMs } = await cancelWhen(
      albInputs(l, { strategy: 'canary', steps: '20% 30s, 100%' }),
      { env: { ...l.fleet.env, ...l.alb.env } },
      () => l.alb.calls.some((c) => c.operation === 'ModifyRule'),
      1500,
    );
    await new Promise((r) => setTimeout(r, 500));
    const stats = await load.stop();
    const message = errors(run).join('\n');
    console.log(`ALB slow to show: exited ${exitMs} ms after SIGTERM: ${message}`);
    expect(exitMs).toBeLessThan(2000);
    expect(run.code).toBe(1);
    expect(message).toContain('ALB took the change but had not shown the new weights when the run was cancelled');
    expect(l.alb.weights()).toEqual({ 'shop-blue': 100, 'shop-green': 0 });
    expect(l.alb.rule.pending).toBeUndefined();
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
  }, 30_000);
});
