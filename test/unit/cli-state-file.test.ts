/** The CLI's state file: concurrent writers lose nothing (its lock file), a stale lock is broken, the default path. */
import { execFile } from 'node:child_process';
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { defaultStatePath, StateFile } from '../../src/cli/state-file.js';
import { ROOT } from '../helpers/action.js';

const run = promisify(execFile);

describe('CLI state file', () => {
  it('four processes writing 150 updates each at once: all 600 kept', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'zdd-state-')), 'state.json');
    const tsx = join(ROOT, 'node_modules/.bin/tsx');
    const writer = join(ROOT, 'test/fixtures/state-writer.ts');
    await Promise.all(['a', 'b', 'c', 'd'].map((tag) => run(tsx, [writer, path, '150', tag], { cwd: ROOT })));
    const data = new StateFile(path).read();
    expect(data.deployments).toHaveLength(600);
    for (const tag of ['a', 'b', 'c', 'd'])
      expect(data.deployments.filter((d) => d.environment === tag)).toHaveLength(150);
  }, 30_000);

  it('a lock file left by a killed process is broken after 2 s; a fresh one is waited for', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'zdd-state-')), 'state.json');
    writeFileSync(`${path}.lock`, '');
    const old = new Date(Date.now() - 3000);
    utimesSync(`${path}.lock`, old, old);
    const started = Date.now();
    new StateFile(path).saveRunState('deploy', 'rollout', '{"lb":"x"}', { strategy: 'canary' });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(Object.values(new StateFile(path).read().runs)[0]).toMatchObject({
      command: 'deploy',
      state: { rollout: '{"lb":"x"}' },
      inputs: { strategy: 'canary' },
    });
  });

  it('one default file per load balancer, under XDG_STATE_HOME', () => {
    const a = defaultStatePath('haproxy://10.0.0.5:9999', { XDG_STATE_HOME: '/s' });
    expect(a).toMatch(/^\/s\/zero-downtime-deploy\/[0-9a-f]{16}\.json$/);
    expect(defaultStatePath(' haproxy://10.0.0.5:9999 ', { XDG_STATE_HOME: '/s' })).toBe(a);
    expect(defaultStatePath('haproxy://10.0.0.6:9999', { XDG_STATE_HOME: '/s' })).not.toBe(a);
  });
});
