/**
 * The package as a user gets it: `npm pack`, the tarball installed into an empty folder offline with an empty npm
 * cache (so it cannot fetch anything: the bundle needs no runtime dependency), then `npx zero-downtime-deploy` run
 * there with the system's Node (PATH without this repository's node_modules/.bin).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/action.js';

describe('the packed CLI', () => {
  it('installs offline from the tarball alone and runs npx zero-downtime-deploy --help', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zdd-pack-'));
    const env = {
      ...process.env,
      PATH: (process.env.PATH ?? '')
        .split(delimiter)
        .filter((p) => !p.startsWith(ROOT))
        .join(delimiter),
      npm_config_cache: join(dir, 'empty-cache'),
      npm_config_offline: 'true',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
    };
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, env, encoding: 'utf8' }),
    ) as { filename: string; files: { path: string }[] }[];
    const files = packed[0]?.files.map((f) => f.path) ?? [];
    expect(files).toContain('dist/cli/index.js');
    expect(files).toContain('dist/index.js');
    expect(files.filter((f) => /^(src|test|bench|node_modules)\//.test(f))).toEqual([]);

    const app = join(dir, 'app');
    mkdirSync(app);
    execFileSync('npm', ['install', '--no-package-lock', join(dir, packed[0]?.filename ?? '')], { cwd: app, env });
    const installed = JSON.parse(readFileSync(join(app, 'node_modules/zero-downtime-deploy/package.json'), 'utf8'));
    expect(installed.dependencies ?? {}).toEqual({});

    const help = spawnSync('npx', ['--offline', 'zero-downtime-deploy', '--help'], { cwd: app, env, encoding: 'utf8' });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(
      /^zero-downtime-deploy \d+\.\d+\.\d+\n\nUsage: zero-downtime-deploy <command> \[flags\]/,
    );
    expect(help.stdout).toContain('--load-balancer');
    const node = spawnSync('node', ['--version'], { env, encoding: 'utf8' });
    console.log(`packed CLI ran on the system's node ${node.stdout.trim()}`);

    const bad = spawnSync('npx', ['--offline', 'zero-downtime-deploy', 'deploy', '--stratgy=canary'], {
      cwd: app,
      env,
      encoding: 'utf8',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('unknown flag --stratgy (did you mean --strategy?)');
  }, 50_000);
});
