/**
 * A second run started around a HAProxy reload in the middle of the first run's rolling deploy-command never deploys
 * a server while the first one's command still runs on it: ten trials, two labs at a time (its own file: the suite
 * runs two files at once, and the reload tests in one file took about 85 s).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runAction, type ActionRun } from '../helpers/action.js';
import { type HaproxyInstance } from '../helpers/haproxy.js';
import { startLoad } from '../helpers/load.js';
import { startRelay } from '../helpers/relay.js';
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

describe('two runs around a reload', () => {
  it('two runs around a reload never deploy the same server at once (ten trials, two labs at a time)', async () => {
    const labs = await Promise.all(
      [0, 1].map(async () => {
        const found = await lab(3);
        // The first run talks to HAProxy through a relay that can hold its requests back.
        const relay = await startRelay(found.lbs[0]?.adminPort ?? 0);
        stops.push(() => relay.close());
        return { ...found, relay, log: newLog() };
      }),
    );
    const ends: string[] = [];
    // Traffic for each batch's analysis window (min-requests 10 in 1 s).
    const loads = labs.map(({ lbs }) =>
      startLoad(`http://127.0.0.1:${lbs[0]?.frontendPort}/`, { rps: 60, maxMs: 150_000 }),
    );
    const trial = async ({ fleet, lbs, relay, log }: (typeof labs)[number], n: number) => {
      const [lb] = lbs as [HaproxyInstance];
      const run = (k: number, name: string) =>
        runAction(
          inputs(lbs, loggedCommand(fleet, log, 1), {
            targets: 'app/web1',
            version: `v${n + 2}`,
            ...(k === 1 ? { 'load-balancer': `haproxy://127.0.0.1:${relay.port}` } : {}),
          }),
          { env: runEnv(fleet, 100 * n + k, name) },
        );
      const first = run(1, `A${n}`);
      await logged(log, `start A${n} app/web1`);
      let second: Promise<ActionRun>;
      if (n % 2) {
        // The first run's reads are held back until the second run has taken the dropped lock: the second run is
        // first on the new worker.
        const release = relay.hold();
        await lb.reload();
        second = run(2, `B${n}`);
        const until = Date.now() + 10_000;
        while (!(await lb.cli('show servers state app')).includes(`zdd-owner.acme:shop.run${100 * n + 2}.`)) {
          if (Date.now() > until) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        release();
      } else {
        await lb.reload();
        // Started at once, or up to 1.2 s later: before and after the first one notices.
        await new Promise((r) => setTimeout(r, (n % 4) * 400));
        second = run(2, `B${n}`);
      }
      const [a, b] = (await Promise.all([first, second])) as [ActionRun, ActionRun];
      const end = (r: ActionRun) =>
        `${r.outputs.result}: ${(r.stdout.match(/::error::(.*)/)?.[1] ?? '').slice(0, 100)}`;
      const how = /taken back from/.test(a.stdout)
        ? 'A took the lock back from B'
        : /taken back/.test(a.stdout)
          ? 'A took the dropped lock back'
          : 'A did not take it back';
      const lockLines = (r: ActionRun) =>
        r.stdout
          .split('\n')
          .filter((l) => /lock/i.test(l) && !l.startsWith('::debug'))
          .map((l) => `    ${l.slice(0, 400)}`);
      ends.push([`trial ${n}: ${how}; A ${end(a)} | B ${end(b)}`, ...lockLines(a), '  B:', ...lockLines(b)].join('\n'));
      // Every run ends as it says: succeeded, refused before it moved anything, or stopped for the lock.
      for (const r of [a, b])
        if (r.code !== 0)
          expect(r.stdout).toMatch(
            /another rollout holds the lock on [^\n]*Nothing was changed|another run may be moving these servers/,
          );
      expect([a, b].some((r) => r.code === 0)).toBe(true);
      await lb.settled();
    };
    await Promise.all(
      labs.map(async (l, i) => {
        for (let n = i; n < 10; n += 2) await trial(l, n);
      }),
    );
    const stats = await Promise.all(loads.map((l) => l.stop()));
    console.log(
      `two runs around a reload (${stats.map((s) => `${s.failed} of ${s.sent}`).join(', ')} requests failed):\n${ends.sort().join('\n')}`,
    );
    for (const { log } of labs) expect(overlaps(log)).toEqual([]);
  });
});
