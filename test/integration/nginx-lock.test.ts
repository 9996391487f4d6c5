/**
 * One rollout per nginx at a time: the lock file beside the upstreams file, through the bundle against a real nginx
 * under keep-alive load (two runs started together; a stale lock and its takeover), and over ssh (the ssh stand-in
 * runs the remote commands on this machine, with the shell's noclobber doing the exclusive create).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SshHost } from '../../src/lb/nginx/host.js';
import { lockPath, NginxLock } from '../../src/lb/nginx/lock.js';
import { errors, FAST_ROLLOUT, ROOT, runAction, type ActionRun } from '../helpers/action.js';
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

async function lab() {
  fleet = await startFleet(4, 'v1');
  nginx = await startNginx(fleet.ports.map((port, i) => ({ name: `web${i + 1}`, port })));
  const inputs = {
    ...FAST_ROLLOUT,
    ...nginx.inputs,
    'health-url': 'http://{address}/health',
    strategy: 'rolling',
    targets: 'app/*',
    'deploy-command': fleet.restartCommand,
  };
  return { fleet, nginx, inputs };
}

const runEnv = (run: number) => ({
  GITHUB_REPOSITORY: 'acme/shop',
  GITHUB_RUN_ID: String(run),
  GITHUB_RUN_ATTEMPT: '1',
});

describe('one rollout per nginx at a time', () => {
  it('two rolling deploys started together under load: one succeeds, the other changes nothing', async () => {
    const { fleet, nginx, inputs } = await lab();
    const load = startLoad(`http://127.0.0.1:${nginx.port}/`, { rps: 200, maxMs: 120_000, retryResets: true });
    const runs = await Promise.all(
      [501, 502].map((n) => runAction(inputs, { env: { ...fleet.env, ...runEnv(n) }, timeoutMs: 120_000 })),
    );
    const stats = await load.stop();
    const won = runs.findIndex((r) => r.code === 0);
    const [winner, loser] = [runs[won], runs[1 - won]] as [ActionRun, ActionRun];
    console.log(
      `nginx, two rolling runs: winner ${winner.durationMs}ms, loser exited after ${loser.durationMs}ms; ${stats.failed} of ${stats.sent} requests failed (${stats.resets} resets retried) ${JSON.stringify(stats.versions)}`,
    );
    expect(winner.outputs.result).toBe('succeeded');
    expect(loser.code).toBe(1);
    expect(errors(loser)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^load-balancer: another rollout holds the lock on nginx\\+file://.*: acme:shop\\.run${won === 0 ? 501 : 502}\\.1\\.[0-9a-f]{4} since .* Wait for it, or if that run died, take the lock over with take-over-lock: acme:shop\\.run${won === 0 ? 501 : 502}\\.1\\.[0-9a-f]{4}\\. Nothing was changed\\.$`,
        ),
      ),
    ]);
    expect(loser.stdout).not.toContain('Read the load balancer');
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(readFileSync(nginx.upstreams, 'utf8')).not.toMatch(/down/);
    expect(existsSync(lockPath(nginx.upstreams))).toBe(false);
  });

  it('a stale lock file: refused naming it, a wrong take-over-lock refused naming the input, the right one proceeds', async () => {
    const { fleet, nginx, inputs } = await lab();
    const since = new Date(Date.now() - 2 * 3_600_000);
    writeFileSync(lockPath(nginx.upstreams), `acme:shop.run600.1.dead\n${since.toISOString()}\n`);
    const before = readFileSync(nginx.upstreams, 'utf8');

    const refused = await runAction(inputs, { env: { ...fleet.env, ...runEnv(601) } });
    expect(refused.code).toBe(1);
    expect(errors(refused).join('\n')).toMatch(
      /another rollout holds the lock on nginx\+file:.*: acme:shop\.run600\.1\.dead since .* \(2h(\d+s)? ago\)\. .*take-over-lock: acme:shop\.run600\.1\.dead\./,
    );
    const wrong = await runAction(
      { ...inputs, 'take-over-lock': 'acme:shop.run599.1.dead' },
      { env: { ...fleet.env, ...runEnv(602) } },
    );
    expect(errors(wrong).join('\n')).toMatch(
      /take-over-lock: 'acme:shop\.run599\.1\.dead' does not hold the lock on nginx\+file:.*: acme:shop\.run600\.1\.dead since/,
    );
    expect(readFileSync(nginx.upstreams, 'utf8')).toBe(before);

    const load = startLoad(`http://127.0.0.1:${nginx.port}/`, { rps: 200, maxMs: 90_000, retryResets: true });
    const taken = await runAction(
      { ...inputs, 'take-over-lock': 'acme:shop.run600.1.dead' },
      { env: { ...fleet.env, ...runEnv(603) } },
    );
    const stats = await load.stop();
    expect(errors(taken)).toEqual([]);
    expect(taken.outputs.result).toBe('succeeded');
    expect(taken.stdout).toMatch(/::warning::load-balancer: took over the lock on .* from acme:shop\.run600\.1\.dead/);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(existsSync(lockPath(nginx.upstreams))).toBe(false);
  });

  it('over ssh: one of two takes the lock, another owner cannot release it, takeover only by naming the holder', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'zdd-ssh-'));
    symlinkSync(join(ROOT, 'test/fixtures/ssh-standin.sh'), join(bin, 'ssh'));
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      const upstreams = join(mkdtempSync(join(tmpdir(), 'zdd-lockssh-')), 'upstreams.conf');
      const lock = () =>
        new NginxLock(
          new SshHost({ type: 'ssh', user: 'deploy', host: 'lb.test', port: undefined, path: upstreams }),
          upstreams,
        );
      // Losers read the winner's name, never a file not yet written: many rounds, as the race is short (the old
      // O_EXCL-then-write failed within 60 rounds every time).
      let winner = '';
      for (let round = 0; round < 60; round++) {
        const owners = [`a.${round}`, `b.${round}`, `c.${round}`];
        const attempts = await Promise.all(owners.map((owner) => lock().acquire(owner)));
        expect(attempts.filter((a) => 'held' in a)).toHaveLength(1);
        winner = owners[attempts.findIndex((a) => 'held' in a)] ?? '';
        expect(attempts.filter((a) => 'holder' in a).map((a) => 'holder' in a && a.holder.owner)).toEqual([
          winner,
          winner,
        ]);
        if (round < 59) await lock().release(winner);
      }
      expect(readdirSync(dirname(upstreams))).toEqual(['upstreams.conf.zdd-lock']);
      await lock().release('someone.else');
      expect((await lock().holder())?.owner).toBe(winner);
      expect(await lock().acquire('d.1', 'not.the.holder')).toMatchObject({ holder: { owner: winner } });
      const taken = await Promise.all([lock().acquire('d.1', winner), lock().acquire('e.1', winner)]);
      expect(taken.filter((a) => 'held' in a)).toHaveLength(1);
      const holder = (await lock().holder())?.owner ?? '';
      expect(['d.1', 'e.1']).toContain(holder);
      await lock().release(holder);
      expect(await lock().holder()).toBeUndefined();
    } finally {
      process.env.PATH = path;
    }
  });
});
