/**
 * The files the examples put to work, run for real: examples/install.sh (the quick start's install script) on an
 * archive, the ssh step of ssh-setup/action.yml with a real ssh-agent, key and known_hosts in a temporary HOME, and
 * examples/haproxy.cfg through haproxy -c, holding every line the README shows of it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  existsSync,
  statSync,
  writeFileSync,
  readdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../helpers/action.js';

const INSTALL = join(ROOT, 'examples/install.sh');

/** A release archive as the quick start's build makes it: VERSION and site/ at its top. */
function archive(dir: string, version: string): string {
  const src = mkdtempSync(join(dir, 'build-'));
  writeFileSync(join(src, 'VERSION'), `${version}\n`);
  mkdirSync(join(src, 'site'));
  writeFileSync(join(src, 'site/index.html'), `<p>${version}</p>`);
  const file = join(dir, `shop-${Math.random().toString(36).slice(2)}.tar.gz`);
  execFileSync('tar', ['-czf', file, '-C', src, 'VERSION', 'site']);
  return file;
}

function install(root: string, input: Buffer, args: string[] = []) {
  const result = spawnSync('sh', [INSTALL, ...args], {
    input,
    env: { PATH: process.env.PATH ?? '', SHOP_ROOT: root, SHOP_RESTART: 'echo restart' },
    encoding: 'utf8',
  });
  return { status: result.status, out: result.stdout, err: result.stderr };
}

describe('examples/install.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zdd-install-'));

  it('installs the archive on standard input, points current at it, restarts the service, and can run again', () => {
    const root = join(dir, 'plain');
    const tar = readFileSync(archive(dir, 'a1b2c3d4e5f6'));
    for (let i = 0; i < 2; i++) {
      const run = install(root, tar);
      expect(run).toMatchObject({ status: 0 });
      expect(run.out).toContain('restart shop\n');
    }
    expect(readlinkSync(join(root, 'current'))).toBe(join(root, 'releases/a1b2c3d4e5f6'));
    expect(readFileSync(join(root, 'current/site/index.html'), 'utf8')).toBe('<p>a1b2c3d4e5f6</p>');
    expect(readdirSync(join(root, 'releases'))).toEqual(['a1b2c3d4e5f6']);
  });

  it('with --slot, reads the pool from the first line and installs into that slot only', () => {
    const root = join(dir, 'slots');
    const run = install(root, Buffer.concat([Buffer.from('green\n'), readFileSync(archive(dir, 'v2'))]), ['--slot']);
    expect(run).toMatchObject({ status: 0 });
    expect(run.out).toContain('restart shop@green\n');
    expect(readlinkSync(join(root, 'current-green'))).toBe(join(root, 'releases/v2'));
    expect(existsSync(join(root, 'current'))).toBe(false);
  });

  it('refuses a version or a slot that is not a plain label, and changes nothing', () => {
    const root = join(dir, 'hostile');
    expect(install(root, readFileSync(archive(dir, 'v1')))).toMatchObject({ status: 0 });
    const bad = install(root, readFileSync(archive(dir, 'v2;touch${IFS}/tmp/pwned')));
    expect(bad.status).toBe(2);
    expect(bad.err).toMatch(/refusing version/);
    const slot = install(root, Buffer.concat([Buffer.from('../etc\n'), readFileSync(archive(dir, 'v3'))]), ['--slot']);
    expect(slot.status).toBe(2);
    expect(slot.err).toMatch(/refusing slot/);
    expect(readlinkSync(join(root, 'current'))).toBe(join(root, 'releases/v1'));
    expect(readdirSync(join(root, 'releases'))).toEqual(['v1']);
  });

  it('keeps the five newest releases and any a slot still points at', () => {
    const root = join(dir, 'many');
    const slot = (name: string, version: string) =>
      install(root, Buffer.concat([Buffer.from(`${name}\n`), readFileSync(archive(dir, version))]), ['--slot']);
    expect(slot('blue', 'r0')).toMatchObject({ status: 0 });
    for (let i = 1; i <= 7; i++) expect(slot('green', `r${i}`)).toMatchObject({ status: 0 });
    expect(readdirSync(join(root, 'releases')).sort()).toEqual(['r0', 'r3', 'r4', 'r5', 'r6', 'r7']);
  });
});

describe('ssh-setup/action.yml', () => {
  const action = parse(readFileSync(join(ROOT, 'ssh-setup/action.yml'), 'utf8')) as {
    inputs: Record<string, unknown>;
    runs: { using: string; steps: { shell: string; run: string; env: Record<string, string> }[] };
  };
  const step = action.runs.steps[0];
  const agents: number[] = [];
  afterAll(() => {
    for (const pid of agents) process.kill(pid);
  });

  /** The step's script as the runner runs it: bash, its env from the inputs, HOME and GITHUB_ENV of our own. */
  function runStep(inputs: { key: string; knownHosts: string; config?: string }) {
    const home = mkdtempSync(join(tmpdir(), 'zdd-ssh-setup-'));
    const githubEnv = join(home, 'github-env');
    writeFileSync(githubEnv, '');
    const result = spawnSync('bash', ['-e', '-c', step?.run ?? ''], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        GITHUB_ENV: githubEnv,
        SSH_KEY: inputs.key,
        KNOWN_HOSTS: inputs.knownHosts,
        SSH_CONFIG: inputs.config ?? '',
      },
      encoding: 'utf8',
    });
    const exported = Object.fromEntries(
      readFileSync(githubEnv, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
    );
    if (exported.SSH_AGENT_PID) agents.push(Number(exported.SSH_AGENT_PID));
    return { home, status: result.status, stdout: result.stdout, exported };
  }

  it('is a composite action whose env comes from its inputs', () => {
    expect(action.runs.using).toBe('composite');
    expect(Object.keys(action.inputs)).toEqual(['key', 'known-hosts', 'config']);
    expect(step?.env).toEqual({
      SSH_KEY: '${{ inputs.key }}',
      KNOWN_HOSTS: '${{ inputs.known-hosts }}',
      SSH_CONFIG: '${{ inputs.config }}',
    });
  });

  it('loads the key into an agent (never on disk), pins the host keys, appends the config, exports the agent', () => {
    const keys = mkdtempSync(join(tmpdir(), 'zdd-key-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'zdd-test', '-f', join(keys, 'k')]);
    const knownHosts =
      'lb1.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
    const run = runStep({
      key: readFileSync(join(keys, 'k'), 'utf8'),
      knownHosts,
      config: 'Host 10.0.0.*\n  ProxyJump deploy@lb1.example.com',
    });
    expect(run.status).toBe(0);
    expect(statSync(join(run.home, '.ssh')).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(run.home, '.ssh/known_hosts'), 'utf8')).toBe(`${knownHosts}\n`);
    expect(readFileSync(join(run.home, '.ssh/config'), 'utf8')).toBe(
      'Host 10.0.0.*\n  ProxyJump deploy@lb1.example.com\n',
    );
    expect(readdirSync(join(run.home, '.ssh')).sort()).toEqual(['config', 'known_hosts']);
    const listed = execFileSync('ssh-add', ['-l'], {
      env: { PATH: process.env.PATH ?? '', SSH_AUTH_SOCK: run.exported.SSH_AUTH_SOCK ?? '' },
      encoding: 'utf8',
    });
    const fingerprint = execFileSync('ssh-keygen', ['-lf', join(keys, 'k.pub')], { encoding: 'utf8' }).split(' ')[1];
    expect(listed).toContain(fingerprint);
  });

  it('refuses an empty key (a job that names no environment gets one) and empty host keys, saying why', () => {
    const noKey = runStep({ key: '', knownHosts: 'lb1 ssh-ed25519 AAAA' });
    expect(noKey.status).toBe(1);
    expect(noKey.stdout).toMatch(
      /^::error::ssh-setup: key is empty\. An environment secret reaches only jobs that name/,
    );
    expect(existsSync(join(noKey.home, '.ssh'))).toBe(false);
    const noHosts = runStep({ key: 'x', knownHosts: '' });
    expect(noHosts.status).toBe(1);
    expect(noHosts.stdout).toMatch(/^::error::ssh-setup: known-hosts is empty/);
  });
});

describe('examples/haproxy.cfg', () => {
  it('is a configuration HAProxy accepts (haproxy -c)', () => {
    const check = spawnSync('haproxy', ['-c', '-f', join(ROOT, 'examples/haproxy.cfg')], { encoding: 'utf8' });
    expect(check.stdout + check.stderr).toMatch(/Configuration file is valid/);
    expect(check.status).toBe(0);
  });

  it("holds every line the README's quick start shows of it", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const shown = /^ {3}```haproxy\n([\s\S]*?)^ {3}```$/m.exec(readme)?.[1] ?? '';
    const file = readFileSync(join(ROOT, 'examples/haproxy.cfg'), 'utf8').split('\n');
    const lines = shown
      .split('\n')
      .map((l) => l.slice(3))
      .filter((l) => l.trim());
    expect(lines.length).toBeGreaterThanOrEqual(8);
    for (const line of lines) expect(file, line).toContain(line);
  });
});
