/**
 * one-version-per-user on real HAProxy and nginx, with the lines docs/strategies.md gives: 1,000 users with a cookie
 * and 100 arriving without one ask again and again (one request each per sweep, clients that do not retry) through a
 * canary 20%, 50%, 100%. No user goes from the new version back to the old; the share of users on the new version is
 * within 5 points of each step's weight; no request fails. Without the lines the input is refused, nothing moved.
 */
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { errors, FAST_ROLLOUT, runAction, type ActionRun } from '../helpers/action.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { documentedLines } from '../helpers/docs.js';
import { startNginx, type NginxInstance } from '../helpers/nginx.js';
import { poolInputs, startPools, weights, type PoolsLab } from '../helpers/pools.js';

let stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops = [];
});

/** The lines docs/strategies.md gives for this load balancer: what users copy. */
function documented(kind: 'haproxy' | 'nginx'): string[] {
  return documentedLines(`one-version-per-user:${kind}`);
}

interface User {
  cookie?: string;
  readonly seen: string[];
}

interface Sweep {
  /** The new version's share of weight before and after the sweep, when it did not change during it. */
  readonly share?: number;
  readonly versions: string[];
}

const users = (): User[] => [
  ...Array.from({ length: 1000 }, (_, i) => ({ cookie: `zdd_user=user-${i}`, seen: [] })),
  ...Array.from({ length: 100 }, () => ({ seen: [] })),
];

/** One request per user, 32 at a time; a failure (status, reset, timeout) is recorded as the version 'failed'. */
async function sweep(port: number, all: readonly User[], agent: http.Agent, retryReset: boolean): Promise<string[]> {
  const versions: string[] = new Array<string>(all.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < all.length; i = next++) versions[i] = await ask(port, all[i]!, agent, retryReset);
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return versions;
}

/** Resets retried once on a new connection (nginx only), as browsers do for a GET; counted. */
const retried = { resets: 0 };
const FRESH = new http.Agent({ keepAlive: false });

function ask(port: number, user: User, agent: http.Agent, retryReset = false): Promise<string> {
  return new Promise((resolve) => {
    const headers = user.cookie ? { cookie: user.cookie } : {};
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent, headers, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => {
        const set = res.headers['set-cookie']?.find((c) => c.startsWith('zdd_user='));
        if (set && !user.cookie) user.cookie = set.split(';')[0];
        const version =
          res.statusCode === 200 ? String(res.headers['x-version'] ?? 'none') : `failed ${res.statusCode}`;
        user.seen.push(version);
        resolve(version);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => {
      if (retryReset && /socket hang up|ECONNRESET/.test(error.message)) {
        retried.resets++;
        resolve(ask(port, user, FRESH));
        return;
      }
      user.seen.push(`failed ${error.message}`);
      resolve('failed');
    });
  });
}

/**
 * Sweeps through the users until the run ends. `share` says what is in effect: the new version's share of weight
 * first (e.g. '20'), then anything that must not change during a sweep for it to count (nginx's worker pids).
 */
async function sweepsDuring(
  running: Promise<ActionRun>,
  port: number,
  all: readonly User[],
  share: () => Promise<string>,
  retryReset = false,
): Promise<{ run: ActionRun; sweeps: Sweep[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32, timeout: 10_000 });
  let run: ActionRun | undefined;
  void running.then((r) => (run = r));
  const sweeps: Sweep[] = [];
  while (!run) {
    const before = await share();
    const versions = await sweep(port, all, agent, retryReset);
    const after = await share();
    sweeps.push({ share: before === after ? parseFloat(before) : undefined, versions });
  }
  // Promoted: every user on the new version at once.
  sweeps.push({ share: parseFloat(await share()), versions: await sweep(port, all, agent, retryReset) });
  agent.destroy();
  return { run, sweeps };
}

/** What users felt: no failure, nobody back from v2 to v1, and per step the share of users on v2 near its weight. */
function expectOneVersionPerUser(all: readonly User[], sweeps: readonly Sweep[]): string {
  const failed = all.flatMap((u) => u.seen.filter((v) => v.startsWith('failed')));
  expect(failed, failed.slice(0, 5).join('; ')).toEqual([]);
  const back = all.filter((u) => u.seen.join(' ').includes('v2 v1'));
  expect(back.map((u) => `${u.cookie}: ${u.seen.join(' ')}`).slice(0, 3)).toEqual([]);
  const measured: string[] = [];
  for (const weight of [20, 50, 100]) {
    const at = sweeps.filter((s) => s.share === weight);
    expect(at.length, `no complete sweep at ${weight}%`).toBeGreaterThan(0);
    for (const s of at) {
      const onNew = (100 * s.versions.filter((v) => v === 'v2').length) / s.versions.length;
      measured.push(`${weight}%: ${onNew.toFixed(1)}% of users`);
      expect(Math.abs(onNew - weight), measured.join('; ')).toBeLessThanOrEqual(5);
    }
  }
  return `${measured.join('; ')}; ${sweeps.length} sweeps of ${all.length} users, 0 failed, none back from v2 to v1`;
}

const CANARY = { strategy: 'canary', steps: '20% 5s, 50% 5s, 100%', 'one-version-per-user': 'true' };

describe('one version per user on HAProxy', () => {
  async function lab(extra?: string): Promise<PoolsLab> {
    const started = await startPools({}, { extra });
    stops.push(() => started.stop());
    return started;
  }
  const share = (l: PoolsLab) => async () => {
    const w = weights(await l.haproxy.servers());
    const green = (w['app/green1'] ?? 0) + (w['app/green2'] ?? 0);
    const total = Object.entries(w)
      .filter(([id]) => !id.includes('/zdd-'))
      .reduce((sum, [, v]) => sum + v, 0);
    return String(Math.round((100 * green) / total));
  };

  it('with the documented lines: nobody goes back from v2 to v1, the share of users follows each step', async () => {
    const l = await lab(documented('haproxy').join('\n'));
    const all = users();
    const running = runAction(poolInputs(l, CANARY), { env: l.fleet.env });
    const { run, sweeps } = await sweepsDuring(running, l.haproxy.frontendPort, all, share(l));
    expect(errors(run)).toEqual([]);
    expect(run.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'green' });
    expect(run.stdout).toContain('One version per user:');
    console.log(`HAProxy one version per user: ${expectOneVersionPerUser(all, sweeps)}`);
  }, 90_000);

  it('rolled back: every user is back on v1 at once; before it, nobody went from v2 to v1', async () => {
    const l = await lab(documented('haproxy').join('\n'));
    const all = users();
    // The rollout's own check fails 3 s into the first step: a rollback with no failed request.
    const checks = '- name: fail-late\n  at: during\n  kind: command\n  run: sleep 3; exit 1\n  timeout: 10s';
    const running = runAction(poolInputs(l, { ...CANARY, steps: '20% 30s, 100%', checks }), { env: l.fleet.env });
    const { run, sweeps } = await sweepsDuring(running, l.haproxy.frontendPort, all, share(l));
    expect(run.outputs).toMatchObject({ result: 'rolled-back', 'live-pool': 'blue' });
    const failed = all.flatMap((u) => u.seen.filter((v) => v.startsWith('failed')));
    expect(failed, failed.slice(0, 5).join('; ')).toEqual([]);
    // The sweeps made while 20% was in effect, whole (a sweep during which the rollback came is left out).
    const at20 = sweeps.filter((sw) => sw.share === 20);
    expect(at20.length).toBeGreaterThan(1);
    const back = all.filter((_, i) =>
      at20
        .map((sw) => sw.versions[i])
        .join(' ')
        .includes('v2 v1'),
    );
    expect(back.length).toBe(0);
    const onV2 = all.filter((_, i) => at20.some((sw) => sw.versions[i] === 'v2')).length;
    const last = sweeps.at(-1)?.versions ?? [];
    console.log(
      `HAProxy one version per user, rolled back: ${onV2} of ${all.length} users had v2 in ${at20.length} sweeps at 20%, none back to v1 before the rollback; the sweep after it: ${last.filter((v) => v === 'v1').length} on v1`,
    );
    expect(onV2).toBeGreaterThan(100);
    expect(last.filter((v) => v !== 'v1')).toEqual([]);
  }, 90_000);

  it('without them (balance roundrobin): refused naming the input and the backend, nothing moved', async () => {
    const l = await lab();
    const before = weights(await l.haproxy.servers());
    const run = await runAction(poolInputs(l, CANARY), { env: l.fleet.env });
    expect(run.code).toBe(1);
    expect(errors(run).join('\n')).toContain(
      'one-version-per-user: backend app uses balance roundrobin, which sends each request of a user to any server; hash on a user cookie',
    );
    expect(run.stdout).not.toMatch(/Deploy v2 to idle pool/);
    expect(weights(await l.haproxy.servers())).toEqual(before);
  }, 30_000);
});

describe('one version per user on nginx', () => {
  async function lab(withLines: boolean): Promise<{ fleet: Fleet; nginx: NginxInstance }> {
    const fleet = await startFleet(4, 'v1');
    stops.push(() => fleet.stopAll());
    const [b1, b2, g1, g2] = fleet.ports as [number, number, number, number];
    const lines = documented('nginx');
    const nginx = await startNginx(
      [
        { name: 'blue1', port: b1 },
        { name: 'blue2', port: b2 },
        { name: 'green1', port: g1, down: true },
        { name: 'green2', port: g2, down: true },
      ],
      withLines
        ? {
            http: lines.filter((l) => l.trim().startsWith('map ')).join('\n'),
            upstream: lines.filter((l) => l.trim().startsWith('hash ')).join('\n'),
            location: lines.filter((l) => l.trim().startsWith('add_header ')).join('\n'),
          }
        : {},
    );
    stops.push(() => nginx.stop());
    return { fleet, nginx };
  }
  const inputs = (l: { fleet: Fleet; nginx: NginxInstance }) => ({
    pools: 'blue=app/blue*, green=app/green*',
    'deploy-command': l.fleet.restartCommand,
    'health-url': 'http://{address}/health',
    ...FAST_ROLLOUT,
    'min-requests': '20',
    ...CANARY,
    ...l.nginx.inputs,
  });
  /**
   * The new version's share of weight in the upstreams file (a `down` server has none), and nginx's workers: a
   * sweep counts only if no reload happened during it (the file is written before the reload) and no worker of the
   * configuration before still answers on its open connections (with the old weights).
   */
  const share = (nginx: NginxInstance) => async () => {
    const master = readFileSync(nginx.pidFile, 'utf8').trim();
    const workers = execFileSync('ps', ['--ppid', master, '-o', 'args='], { encoding: 'utf8' });
    if (workers.includes('shutting down')) return 'reloading';
    const servers = [
      ...readFileSync(nginx.upstreams, 'utf8').matchAll(/server \S+ weight=(\d+)([^;]*); # name=(\w+)/g),
    ];
    const up = servers.filter((m) => !(m[2] ?? '').includes('down'));
    const total = up.reduce((sum, m) => sum + Number(m[1]), 0);
    const green = up.filter((m) => m[3]?.startsWith('green')).reduce((sum, m) => sum + Number(m[1]), 0);
    const pids = execFileSync('ps', ['--ppid', master, '-o', 'pid='], { encoding: 'utf8' }).replace(/\s+/g, ',');
    return `${Math.round((100 * green) / total)} workers ${pids}`;
  };

  it('with the documented lines: nobody goes back from v2 to v1, the share of users follows each step', async () => {
    const l = await lab(true);
    const all = users();
    const running = runAction(inputs(l), { env: l.fleet.env });
    // nginx closes idle client connections at each reload (docs/nginx.md): clients retry such a reset once on a new
    // connection, as browsers do for a GET and as the other nginx tests do; that is nginx's reload, not stickiness.
    retried.resets = 0;
    const { run, sweeps } = await sweepsDuring(running, l.nginx.port, all, share(l.nginx), true);
    expect(errors(run)).toEqual([]);
    expect(run.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'green' });
    console.log(
      `nginx one version per user: ${expectOneVersionPerUser(all, sweeps)}; ${retried.resets} resets retried`,
    );
  }, 90_000);

  it('without them (round-robin): refused naming the input and the upstream, nothing moved', async () => {
    const l = await lab(false);
    const before = readFileSync(l.nginx.upstreams, 'utf8');
    const run = await runAction(inputs(l), { env: l.fleet.env });
    expect(run.code).toBe(1);
    expect(errors(run).join('\n')).toContain(
      'one-version-per-user: upstream app balances round-robin, which does not keep a user on one server as weights change',
    );
    expect(readFileSync(l.nginx.upstreams, 'utf8')).toBe(before);
  }, 30_000);
});
