/** The HAProxy driver against a real HAProxy: every transport, refused commands, retries. */
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HaproxyDriver } from '../../src/lb/haproxy/driver.js';
import { parseSelector, type Selector } from '../../src/model/selectors.js';
import { errors, ROOT, runAction } from '../helpers/action.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { startHaproxy, type HaproxyInstance } from '../helpers/haproxy.js';
import { freePort } from '../helpers/ports.js';

const all = [parseSelector('app/*') as Selector];
let haproxy: HaproxyInstance;
let fleet: Fleet;

beforeAll(async () => {
  fleet = await startFleet(2, 'v1');
  haproxy = await startHaproxy({ servers: fleet.ports.map((port, i) => ({ name: `web${i + 1}`, port })) });
  await haproxy.settled(); // HAProxy's first checks, before load starts
});
afterAll(async () => {
  await haproxy.stop();
  fleet.stopAll();
});

describe('HAProxy driver', () => {
  it('reads servers with address, weight, state and check over TCP and over the unix socket alike', async () => {
    const tcp = new HaproxyDriver({ transport: { type: 'tcp', host: '127.0.0.1', port: haproxy.adminPort } });
    const unix = new HaproxyDriver({ transport: { type: 'unix', path: haproxy.socketPath } });
    const [a, b] = [await tcp.servers(all), await unix.servers(all)];
    expect(a).toEqual(b);
    expect(a.map((s) => s.id)).toEqual(['app/web1', 'app/web2']);
    expect(a[0]).toMatchObject({
      address: `127.0.0.1:${fleet.ports[0]}`,
      port: fleet.ports[0],
      weight: 100,
      admin: 'ready',
      check: { passing: true, settled: true },
    });
    expect(tcp.roundTrips).toBe(1);
  });

  it('applies weights and states for many servers in one round trip', async () => {
    const driver = new HaproxyDriver({ transport: { type: 'unix', path: haproxy.socketPath } });
    await driver.servers(all);
    const read = driver.roundTrips;
    await driver.apply([
      { server: 'app/web1', weight: 7, admin: 'drain' },
      { server: 'app/web2', weight: 9 },
    ]);
    expect(driver.roundTrips - read).toBe(1);
    const servers = await haproxy.servers();
    expect(servers.get('app/web1')).toMatchObject({ weight: 7, adminState: 8 });
    expect(servers.get('app/web2')).toMatchObject({ weight: 9, adminState: 0 });
    await driver.apply([
      { server: 'app/web1', weight: 100, admin: 'ready' },
      { server: 'app/web2', weight: 100 },
    ]);
    expect((await driver.servers(all)).map((s) => `${s.weight} ${s.admin}`)).toEqual(['100 ready', '100 ready']);
  });

  it('reads a drain sent to a server that is down as taken, by its exact name too', async () => {
    // Status DOWN hides the drain (it reads DRAIN only while UP): a deploy whose batch server was down in the
    // moment of its drain stopped with "drain wanted, ready read". A server whose port nothing listens on.
    const down = await startHaproxy({ servers: [{ name: 'web1', port: await freePort() }] });
    try {
      const driver = new HaproxyDriver({ transport: { type: 'tcp', host: '127.0.0.1', port: down.adminPort } });
      const exact = [parseSelector('app/web1') as Selector];
      const deadline = Date.now() + 10_000;
      while (!(await driver.servers(exact))[0]?.check?.status.startsWith('DOWN')) {
        if (Date.now() > deadline) throw new Error('web1 never went DOWN');
        await new Promise((r) => setTimeout(r, 50));
      }
      await driver.apply([{ server: 'app/web1', admin: 'drain' }]);
      expect((await driver.servers(exact))[0]).toMatchObject({ admin: 'drain', check: { passing: false } });
      expect((await driver.servers(all))[0]).toMatchObject({ admin: 'drain' });
      expect((await down.servers()).get('app/web1')).toMatchObject({ adminState: 8 });
    } finally {
      await down.stop();
    }
  });

  it('refuses a batch naming a server HAProxy does not have, before sending any of it', async () => {
    const driver = new HaproxyDriver({ transport: { type: 'tcp', host: '127.0.0.1', port: haproxy.adminPort } });
    await expect(
      driver.apply([
        { server: 'app/web1', admin: 'drain' },
        { server: 'app/nope', admin: 'drain' },
      ]),
    ).rejects.toThrow('HAProxy has no server app/nope; nothing was changed');
    // HAProxy would run each command of the batch on its own: nothing was sent, so web1 was not drained.
    expect((await haproxy.servers()).get('app/web1')?.adminState).toBe(0);
    await driver.servers(all);
    const refused = driver.apply([{ server: 'app/web1', weight: 300 }]);
    await expect(refused).rejects.toThrow("weight 300 for app/web1 is outside HAProxy's 0-256");
  });

  it('reports permission denied on an operator-level socket', async () => {
    const driver = new HaproxyDriver({ transport: { type: 'tcp', host: '127.0.0.1', port: haproxy.operatorPort } });
    await expect(driver.apply([{ server: 'app/web1', weight: 50 }])).rejects.toThrow(
      /HAProxy refused 1 of 1 commands: 'set server app\/web1 weight 50': Permission denied/,
    );
    expect((await haproxy.servers()).get('app/web1')?.weight).toBe(100);
  });

  it('refuses names that could inject a command, before sending anything', async () => {
    const driver = new HaproxyDriver({ transport: { type: 'tcp', host: '127.0.0.1', port: haproxy.adminPort } });
    await expect(
      driver.apply([{ server: 'app/web1;shutdown sessions server app/web2', admin: 'drain' }]),
    ).rejects.toThrow(/is not a valid BACKEND\/SERVER name/);
    expect(driver.roundTrips).toBe(0);
  });

  it('retries a refused connection a bounded number of times, then says so', async () => {
    const port = await freePort();
    const driver = new HaproxyDriver({
      transport: { type: 'tcp', host: '127.0.0.1', port },
      retries: 2,
      retryDelayMs: 10,
    });
    await expect(driver.servers(all)).rejects.toThrow(
      `HAProxy Runtime API failed after 3 attempts: cannot talk to 127.0.0.1:${port}: ECONNREFUSED`,
    );
    expect(driver.roundTrips).toBe(3);
  });
});

describe('the action over each transport', () => {
  it('runs a rolling deploy over haproxy+ssh through the system ssh, with host keys checked', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'zdd-ssh-'));
    symlinkSync(join(ROOT, 'test/fixtures/ssh-standin.sh'), join(bin, 'ssh'));
    const log = join(bin, 'ssh.log');
    const run = await runAction(
      {
        strategy: 'rolling',
        targets: 'app/*',
        'load-balancer': `haproxy+ssh://deploy@lb.test${haproxy.socketPath}`,
        'deploy-command': fleet.restartCommand,
        'health-url': 'http://{address}/health',
        'probe-interval': '200ms',
        'analysis-interval': '1s',
        'min-requests': '0',
        version: 'v2',
      },
      { env: { ...fleet.env, PATH: `${bin}:${process.env.PATH}`, SSH_STANDIN_LOG: log } },
    );
    expect(errors(run)).toEqual([]);
    expect(run.outputs.result).toBe('succeeded');
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    expect(calls.length).toBeGreaterThan(5);
    expect(calls[0]).toMatch(
      /-o BatchMode=yes -o StrictHostKeyChecking=yes .* -l deploy -- lb\.test if command -v socat/,
    );
    expect((await haproxy.servers()).get('app/web2')).toMatchObject({ weight: 100, adminState: 0 });
  });

  it('fails clearly on an operator socket without changing anything', async () => {
    const before = await haproxy.servers();
    const run = await runAction({
      strategy: 'rolling',
      targets: 'app/*',
      'load-balancer': `haproxy://127.0.0.1:${haproxy.operatorPort}`,
      'health-url': 'http://{address}/health',
    });
    expect(run.code).toBe(1);
    expect(run.outputs.result).toBe('failed');
    expect(errors(run).join('\n')).toMatch(/Permission denied/);
    expect(await haproxy.servers()).toEqual(before);
  });

  it('names the targets input when the selectors match no server', async () => {
    const run = await runAction({
      strategy: 'rolling',
      targets: 'app/nothing*',
      'load-balancer': `haproxy+unix://${haproxy.socketPath}`,
    });
    expect(run.code).toBe(1);
    expect(errors(run).join('\n')).toMatch(/targets: app\/nothing\* matches no server on the load balancer/);
  });
});
