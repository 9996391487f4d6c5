/**
 * Runs the action refuses before anything moves, against a real HAProxy: each message names its input, and the
 * servers' weights and states read back afterwards are what they were before.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { errors, FAST_ROLLOUT, runAction } from '../helpers/action.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { githubEnv, startGithubApi, type GithubApi } from '../helpers/github-api.js';
import { startHaproxy, type HaproxyInstance } from '../helpers/haproxy.js';

let haproxy: HaproxyInstance | undefined;
let fleet: Fleet | undefined;
let api: GithubApi | undefined;
let silent: net.Server | undefined;

afterEach(async () => {
  await haproxy?.stop();
  fleet?.stopAll();
  await api?.close();
  silent?.close();
  haproxy = undefined;
  fleet = undefined;
  api = undefined;
  silent = undefined;
});

async function setup() {
  fleet = await startFleet(2, 'v1');
  haproxy = await startHaproxy({ servers: fleet.ports.map((port, i) => ({ name: `web${i + 1}`, port })) });
  await haproxy.settled(); // HAProxy's first checks, before load starts
  return { fleet, haproxy };
}

/** Weight and admin state per server (never the ticking time-since-change column). */
async function states(instance: HaproxyInstance): Promise<Record<string, string>> {
  const servers = await instance.servers();
  return Object.fromEntries([...servers].map(([id, s]) => [id, `${s.weight} ${s.adminState} ${s.status}`]));
}

/** A TCP port that accepts connections and never answers. */
async function silentPort(): Promise<number> {
  silent = net.createServer(() => undefined);
  await new Promise<void>((resolve) => silent?.listen(0, '127.0.0.1', resolve));
  const address = silent.address();
  return typeof address === 'object' && address ? address.port : 0;
}

const ROLLING = { ...FAST_ROLLOUT, strategy: 'rolling', targets: 'app/*', 'health-url': 'http://{address}/health' };

type Lab = Awaited<ReturnType<typeof setup>>;

/**
 * One lab for every refusal that needs no lab of its own: each run must leave it as it was (checked below), so a
 * refusal that moved anything would also show in the next test's read-back.
 */
let shared: { fleet: Fleet; haproxy: HaproxyInstance } | undefined;
async function sharedLab(): Promise<Lab> {
  if (shared) return shared;
  const apps = await startFleet(2, 'v1');
  const instance = await startHaproxy({ servers: apps.ports.map((port, i) => ({ name: `web${i + 1}`, port })) });
  await instance.settled();
  shared = { fleet: apps, haproxy: instance };
  return shared;
}
afterAll(async () => {
  await shared?.haproxy.stop();
  shared?.fleet.stopAll();
});

/** Runs the action on the lab (the shared one unless given) and checks it refused, leaving every server as it was. */
async function refused(inputs: Record<string, string>, given?: Lab) {
  const lab = given ?? (await sharedLab());
  const before = await states(lab.haproxy);
  const run = await runAction(
    { ...ROLLING, 'load-balancer': `haproxy://127.0.0.1:${lab.haproxy.adminPort}`, ...inputs },
    { env: lab.fleet.env },
  );
  const message = errors(run).join('\n');
  expect(run.code, message).toBe(1);
  expect(run.outputs.result).toBe('failed');
  expect(await states(lab.haproxy)).toEqual(before);
  return { run, message, lab };
}

describe('refused before anything moves', () => {
  it('health-url and check-url with CR LF and a header after them are refused on the raw text', async () => {
    const { run, message } = await refused({
      'health-url': 'http://{address}/health\r\nX-Injected: 1',
      'check-url': 'http://127.0.0.1/\r\nHost: evil.example',
      'deploy-command': 'true',
    });
    expect(message).toContain(
      'health-url: holds a line break (U+000D carriage return at character 24), and it must be one line',
    );
    expect(message).toContain('check-url: holds a line break (U+000D carriage return at character 18)');
    expect(run.durationMs).toBeLessThan(5000);
  });

  it('timeout: 600h is refused at once (it used to fire after 1 ms with web1 in maint)', async () => {
    const { run, message } = await refused({ timeout: '600h', 'deploy-command': 'true' });
    expect(message).toContain("timeout: '600h' is too long: give less than 596h");
    expect(run.durationMs).toBeLessThan(5000);
  });

  it('version: a shell injection through the old README example runs nothing', async () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'zdd-inject-')), 'x');
    const { message } = await refused({
      version: `v1;touch\${IFS}${marker}`,
      'deploy-command': 'bash -c "true $DEPLOY_VERSION"',
    });
    expect(message).toMatch(/version: .* may hold only letters, digits, '\.', '_', '-', '\+' and '\/'/);
    expect(existsSync(marker)).toBe(false);
  });

  it('load-balancer: a password in the URL is refused and shown nowhere, no deployment is created', async () => {
    api = await startGithubApi();
    const lab = await setup();
    const before = await states(lab.haproxy);
    const run = await runAction(
      {
        ...ROLLING,
        'load-balancer': `haproxy://admin:S3cr3t@127.0.0.1:${lab.haproxy.adminPort}`,
        environment: 'production',
        'github-token': 'ghs_test_token_123',
      },
      { env: { ...lab.fleet.env, ...githubEnv(api) } },
    );
    expect(run.code).toBe(1);
    expect(errors(run).join('\n')).toMatch(/load-balancer: haproxy:\/\/ URL holds a password \(shown here as \*\*\*\)/);
    const shown = [
      ...run.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')),
      run.stderr,
      run.summary,
      JSON.stringify(run.outputs),
    ].join('\n');
    expect(shown).not.toContain('S3cr3t');
    expect(run.stdout).toContain('::add-mask::S3cr3t');
    expect(api.requests).toEqual([]);
    expect(await states(lab.haproxy)).toEqual(before);
  });

  it('load-balancer: a port that accepts and never answers is named within seconds', async () => {
    const port = await silentPort();
    const { run, message } = await refused({ 'load-balancer': `haproxy://127.0.0.1:${port}` });
    expect(message).toContain(
      `load-balancer: haproxy://127.0.0.1:${port} did not answer within 3s; is it the Runtime API (a 'stats socket ... level admin' line of haproxy.cfg)?`,
    );
    console.log(`silent load balancer port refused after ${run.durationMs}ms`);
    expect(run.durationMs).toBeLessThan(8000);
  });

  it('load-balancer: a plain HTTP port is named as one', async () => {
    const lab = await setup();
    const { message } = await refused({ 'load-balancer': `haproxy://127.0.0.1:${lab.haproxy.frontendPort}` }, lab);
    expect(message).toMatch(
      /load-balancer: haproxy:\/\/127\.0\.0\.1:\d+ answered like an HTTP server \('HTTP\/1\.1 400 Bad request'\): it looks like an HTTP port/,
    );
  });

  it('load-balancer: a socket path that is a regular file is named', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'zdd-sock-')), 'admin.sock');
    writeFileSync(file, '');
    const { message } = await refused({ 'load-balancer': `haproxy+unix://${file}` });
    expect(message).toContain(`load-balancer: haproxy+unix://${file} is a regular file, not a socket`);
  });

  it('load-balancer: an operator-level socket is refused before any change, naming the level', async () => {
    const lab = await setup();
    const { message } = await refused({ 'load-balancer': `haproxy://127.0.0.1:${lab.haproxy.operatorPort}` }, lab);
    expect(message).toMatch(/is a Runtime API socket at level operator: .* need 'level admin'/);
  });

  it('targets: an unknown backend is named', async () => {
    const { message } = await refused({ targets: 'shop/*', 'deploy-command': 'true' });
    expect(message).toContain(
      'targets: shop/* matches no server on the load balancer: the load balancer has no backend shop (it has app)',
    );
  });

  it('targets: an unknown server of a known backend is named with the servers it has', async () => {
    const { message } = await refused({ targets: 'app/web1 app/web9', 'deploy-command': 'true' });
    expect(message).toContain('targets: app/web9 matches no server on the load balancer: backend app has web1, web2');
  });

  it('health-url: a typo is found before the first batch is drained, saying what each server answered', async () => {
    const { message } = await refused({ 'health-url': 'http://{host}:9/health', 'deploy-command': 'true' });
    expect(message).toContain(
      'health-url: none of the servers in traffic passes it now (http://127.0.0.1:9/health (app/web1): connection refused; http://127.0.0.1:9/health (app/web2): connection refused)',
    );
  });

  it('health-url: a wrong status is named with the status', async () => {
    const lab = await setup();
    const { message } = await refused({ 'expect-status': '204', 'deploy-command': 'true' }, lab);
    const [p1] = lab.fleet.ports;
    expect(message).toContain(`http://127.0.0.1:${p1}/health (app/web1): status 200`);
    expect(message).toContain('(expect-status 204)');
  });

  it('health-url: a probe that times out says so (it used to say "last: 23")', async () => {
    const port = await silentPort();
    const { message } = await refused({ 'health-url': `http://127.0.0.1:${port}/health`, 'probe-timeout': '1s' });
    expect(message).toContain(`http://127.0.0.1:${port}/health (app/web1): no answer within 1s`);
  });
});

describe('states as they are', () => {
  it('a server in maint has a health check (maint), not "no health check"; it is deployed, checked and back in traffic', async () => {
    const lab = await setup();
    await lab.haproxy.cli('set server app/web1 state maint');
    const run = await runAction(
      {
        ...FAST_ROLLOUT,
        strategy: 'rolling',
        targets: 'app/web1',
        'min-requests': '0',
        'load-balancer': `haproxy://127.0.0.1:${lab.haproxy.adminPort}`,
        'deploy-command': lab.fleet.restartCommand,
      },
      { env: lab.fleet.env },
    );
    expect(run.stdout).not.toMatch(/no health check/);
    expect(run.stdout).toMatch(/app\/web1 127\.0\.0\.1:\d+ weight 100 maint MAINT/);
    expect(errors(run)).toEqual([]);
    // A maint the server started in (an earlier run's, or an operator's) is not restored once it passed its checks.
    expect(run.stdout).toMatch(/Out of traffic at the start: app\/web1 \(maint, weight 100\)/);
    expect((await lab.haproxy.servers()).get('app/web1')).toMatchObject({ weight: 100, status: 'UP' });
  });

  it('deploy-command never sees our INPUT_* variables, however it prints them', async () => {
    const lab = await setup();
    const token = 'ghs_NeverInTheCommand';
    const run = await runAction(
      {
        ...FAST_ROLLOUT,
        strategy: 'rolling',
        targets: 'app/web1',
        'min-requests': '0',
        'github-token': token,
        'load-balancer-token': 'lbt_NeverInTheCommand',
        'load-balancer': `haproxy://127.0.0.1:${lab.haproxy.adminPort}`,
        'deploy-command': `echo "inputs=$(env | grep -c '^INPUT_' || true)"; { printenv 'INPUT_GITHUB-TOKEN' || true; } | rev; env | base64 -w0; echo; ${lab.fleet.restartCommand}`,
      },
      { env: lab.fleet.env },
    );
    expect(errors(run)).toEqual([]);
    expect(run.stdout).toContain('[app/web1] inputs=0');
    const encoded = /\[app\/web1\] ([A-Za-z0-9+/=]{40,})/.exec(run.stdout)?.[1] ?? '';
    const decoded = Buffer.from(encoded, 'base64').toString();
    expect(decoded).toContain('DEPLOY_VERSION=v2');
    expect(decoded).not.toContain('INPUT_');
    expect(run.stdout).not.toContain([...token].reverse().join(''));
  });
});
