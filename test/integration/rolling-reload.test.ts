/**
 * A load balancer reloaded in the middle of a rolling deploy-command, on real HAProxy (alone and a master-worker
 * pair) under keep-alive load from clients that do not retry: the run notices within about a second, puts the batch
 * back out of traffic before the command restarts the process, takes its lock back and resumes; nginx, whose
 * changes live in its files, simply goes on. And a second run started around a HAProxy reload never deploys a server
 * while the first one's command still runs on it.
 */
import { execSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FAST_ROLLOUT, runAction, type ActionRun } from '../helpers/action.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { startHaproxy, type HaproxyInstance } from '../helpers/haproxy.js';
import { requestsExactly, startLoad } from '../helpers/load.js';
import { startNginx } from '../helpers/nginx.js';
import { startRelay } from '../helpers/relay.js';

const stops: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function lab(count: number, members = 1): Promise<{ fleet: Fleet; lbs: HaproxyInstance[] }> {
  const fleet = await startFleet(count, 'v1');
  stops.push(() => fleet.stopAll());
  const lbs: HaproxyInstance[] = [];
  for (let i = 0; i < members; i++) {
    const lb = await startHaproxy({ servers: fleet.ports.map((port, n) => ({ name: `web${n + 1}`, port })) });
    stops.push(() => lb.stop());
    lbs.push(lb);
  }
  await Promise.all(lbs.map((lb) => lb.settled()));
  return { fleet, lbs };
}

/**
 * A deploy-command that writes `start RUN SERVER MS` to the log, waits `waitS` seconds (an image pull) and only then
 * restarts the process, and writes `end RUN SERVER MS`.
 */
function loggedCommand(fleet: Fleet, log: string, waitS: number): string {
  const now = `"$NODE_BIN" -e 'process.stdout.write(String(Date.now()))'`;
  return `echo "start $RUN_NAME $DEPLOY_TARGET $(${now})" >> ${log}; sleep ${waitS}; ${fleet.restartCommand}; echo "end $RUN_NAME $DEPLOY_TARGET $(${now})" >> ${log}`;
}

/** Resolves once the log has a line starting with `prefix` (polled every 20 ms, at most `ms`). */
async function logged(log: string, prefix: string, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (
    !readFileSync(log, 'utf8')
      .split('\n')
      .some((l) => l.startsWith(prefix))
  ) {
    if (Date.now() > until) throw new Error(`no '${prefix}' in ${log} within ${ms}ms:\n${readFileSync(log, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function newLog(): string {
  const log = join(mkdtempSync(join(tmpdir(), 'zdd-reload-')), 'commands.log');
  writeFileSync(log, '');
  return log;
}

/** Every pair of commands on one server whose runs overlap in time, from the log. */
function overlaps(log: string): string[] {
  const open = new Map<string, number>();
  const spans: { run: string; server: string; from: number; to: number }[] = [];
  for (const line of readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
    const [what, run = '', server = '', at = '0'] = line.split(' ');
    if (what === 'start') open.set(`${run} ${server}`, Number(at));
    else spans.push({ run, server, from: open.get(`${run} ${server}`) ?? 0, to: Number(at) });
  }
  for (const [key, from] of open) {
    const [run = '', server = ''] = key.split(' ');
    if (!spans.some((s) => s.run === run && s.server === server)) spans.push({ run, server, from, to: Infinity });
  }
  return spans.flatMap((a, i) =>
    spans
      .slice(i + 1)
      .filter((b) => a.server === b.server && a.run !== b.run && a.from < b.to && b.from < a.to)
      .map((b) => `${a.server}: ${a.run} ${a.from}-${a.to} and ${b.run} ${b.from}-${b.to}`),
  );
}

const inputs = (lbs: readonly HaproxyInstance[], command: string, extra: Record<string, string> = {}) => ({
  ...FAST_ROLLOUT,
  strategy: 'rolling',
  'load-balancer': lbs.map((lb) => `haproxy://127.0.0.1:${lb.adminPort}`).join('\n'),
  'deploy-command': command,
  'health-url': 'http://{address}/health',
  ...extra,
});

const runEnv = (fleet: Fleet, run: number, name: string) => ({
  ...fleet.env,
  GITHUB_REPOSITORY: 'acme/shop',
  GITHUB_RUN_ID: String(run),
  GITHUB_RUN_ATTEMPT: '1',
  RUN_NAME: name,
});

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
