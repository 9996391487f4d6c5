/**
 * A load balancer reloaded in the middle of a rolling deploy-command, on real HAProxy (alone and a master-worker
 * pair) under keep-alive load from clients that do not retry: the run notices within about a second, puts the batch
 * back out of traffic before the command restarts the process, takes its lock back and resumes; nginx, whose
 * changes live in its files, simply goes on. And a second run started around a HAProxy reload never deploys a server
 * while the first one's command still runs on it.
 */
import { execSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { FAST_ROLLOUT, runAction } from '../helpers/action.js';
import { startFleet } from '../helpers/fleet.js';
import { type HaproxyInstance } from '../helpers/haproxy.js';
import { requestsExactly, startLoad } from '../helpers/load.js';
import { startNginx } from '../helpers/nginx.js';
import {
  stopLabs,
  stops,
  lab,
  loggedCommand,
  logged,
  newLog,
  overlaps,
  inputs,
  runEnv,
} from '../helpers/reload-lab.js';

afterEach(stopLabs);

describe('a reload in the middle of a rolling deploy-command', () => {
  for (const members of [1, 2]) {
    it(`${members === 1 ? 'one HAProxy' : 'a master-worker pair, one member'} reloaded 0.5 s into a 3 s command: 0 failed requests, resumed, succeeded`, async () => {
      const { fleet, lbs } = await lab(3, members);
      const log = newLog();
      const loads = lbs.map((lb) => startLoad(`http://127.0.0.1:${lb.frontendPort}/`, { rps: 150, maxMs: 60_000 }));
      const running = runAction(inputs(lbs, loggedCommand(fleet, log, 3), { targets: 'app/web1,app/web2' }), {
        env: runEnv(fleet, 1, 'A'),
      });
      await logged(log, 'start A app/web1');
      await new Promise((r) => setTimeout(r, 500));
      const reloaded = lbs.at(-1) as HaproxyInstance;
      const reloadAt = Date.now();
      await reloaded.reload();
      const run = await running;
      const stats = await Promise.all(loads.map((l) => l.stop()));
      const out = run.stdout.split('\n').filter((l) => /reloaded|Resumed|put back/.test(l));
      const failedAt = stats.flatMap((st) => st.requests.filter((q) => q.status === 0 || q.status >= 500));
      out.push(
        `failed requests started at (ms after the reload signal): ${failedAt.map((q) => q.start - reloadAt).join(', ') || 'none'}`,
      );
      console.log(
        `reload mid-command (${members} HAProxy): ${run.durationMs}ms, ${stats.map((s) => `${s.failed} of ${s.sent} failed`).join(', ')}\n${out.join('\n')}`,
      );
      expect(run.code, run.stdout).toBe(0);
      expect(run.outputs.result).toBe('succeeded');
      expect(run.stdout).toMatch(
        /Resumed: (on haproxy:\/\/\S+ )?HAProxy was reloaded or restarted during the rollout \(worker \d+ -> \d+\) during batch 1; app\/web1 in maint again \d+ ms after the action noticed; the lock the reload dropped was taken back\./,
      );
      for (const s of stats) expect(s.failed, JSON.stringify(s.failures)).toBe(0);
      for (const lb of lbs) {
        const end = await requestsExactly(`http://127.0.0.1:${lb.frontendPort}/`, 30, {});
        // web3 was no target: still v1.
        expect(Object.keys(end.versions).sort()).toEqual(['v1', 'v2']);
        expect([...(await lb.servers()).values()].map((s) => s.status)).toEqual(['UP', 'UP', 'UP']);
      }
    });
  }

  it('nginx reloaded by hand 0.5 s into the command: its changes are in its files, so it goes on; 0 failed requests', async () => {
    const fleet = await startFleet(3, 'v1');
    stops.push(() => fleet.stopAll());
    const nginx = await startNginx(fleet.ports.map((port, n) => ({ name: `web${n + 1}`, port })));
    stops.push(() => nginx.stop());
    const log = newLog();
    // As every nginx test: a reload closes idle keep-alive connections, which clients retry once (docs/nginx.md).
    const load = startLoad(`http://127.0.0.1:${nginx.port}/`, { rps: 150, maxMs: 60_000, retryResets: true });
    const running = runAction(
      {
        ...FAST_ROLLOUT,
        ...nginx.inputs,
        strategy: 'rolling',
        targets: 'app/web1,app/web2',
        'deploy-command': loggedCommand(fleet, log, 2),
        'health-url': 'http://{address}/health',
      },
      { env: runEnv(fleet, 1, 'A') },
    );
    await logged(log, 'start A app/web1');
    await new Promise((r) => setTimeout(r, 500));
    execSync(nginx.inputs['nginx-reload-command'] ?? '');
    const run = await running;
    const stats = await load.stop();
    console.log(
      `nginx reload mid-command: ${run.durationMs}ms, ${stats.failed} of ${stats.sent} failed, ${stats.resets} resets retried`,
    );
    expect(run.code, run.stdout).toBe(0);
    expect(run.outputs.result).toBe('succeeded');
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(overlaps(log)).toEqual([]);
    const end = await requestsExactly(`http://127.0.0.1:${nginx.port}/`, 30, {});
    expect(Object.keys(end.versions).sort()).toEqual(['v1', 'v2']);
  });
});
