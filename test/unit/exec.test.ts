import { describe, expect, it } from 'vitest';
import { commandEnv, commandFailure, KILL_GRACE_MS, runCommand } from '../../src/exec.js';
import type { Server } from '../../src/model/server.js';

const SERVER: Server = {
  id: 'app/web1',
  backend: 'app',
  name: 'web1',
  address: '[::1]:8080',
  host: '[::1]',
  port: 8080,
  weight: 100,
  admin: 'maint',
  check: undefined,
  inFlight: 0,
};

describe('user commands', () => {
  it('get DEPLOY_* (an IPv6 host without brackets, the address with them) and never our INPUT_* variables', async () => {
    expect(commandEnv({ server: SERVER, version: 'v2' })).toMatchObject({
      DEPLOY_HOST: '::1',
      DEPLOY_ADDRESS: '[::1]:8080',
      DEPLOY_PORT: '8080',
    });
    process.env['INPUT_GITHUB-TOKEN'] = 'ghs_secret';
    process.env['INPUT_LOAD-BALANCER-TOKEN'] = 'lb_secret';
    process.env.ZDD_RUNNER_VARIABLE = 'kept';
    try {
      const all = (await runCommand('env | grep -c INPUT_ || true', { server: SERVER, version: 'v2' })).tail;
      expect(all).toBe('0');
      const kept = await runCommand('echo "$ZDD_RUNNER_VARIABLE $DEPLOY_HOST"', { server: SERVER, version: 'v2' });
      expect(kept.tail).toBe('kept ::1');
    } finally {
      delete process.env['INPUT_GITHUB-TOKEN'];
      delete process.env['INPUT_LOAD-BALANCER-TOKEN'];
      delete process.env.ZDD_RUNNER_VARIABLE;
    }
  });

  it('a command that ignores SIGTERM is killed with its whole process group, SIGKILL after the grace period', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('timeout 1s reached')), 1000);
    // The trap makes bash and its sleep ignore SIGTERM; the background sleep is in the same group.
    const result = await runCommand(
      "trap '' TERM; sleep 45 & echo started; sleep 45",
      { server: SERVER, version: 'v2' },
      controller.signal,
    );
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(1000 + KILL_GRACE_MS - 100);
    expect(took).toBeLessThan(1000 + KILL_GRACE_MS + 2000);
    expect(result.stopped).toBe('timeout 1s reached: sent SIGTERM to its process group, then SIGKILL after 3s');
    expect(commandFailure('deploy-command', 'app/web1', result)).toBe(
      'deploy-command on app/web1 was stopped (timeout 1s reached: sent SIGTERM to its process group, then SIGKILL after 3s)',
    );
  });

  it('a command that honours SIGTERM ends at once; one not yet started never starts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('the run was cancelled (SIGTERM)')), 300);
    const result = await runCommand('sleep 45', { server: SERVER, version: 'v2' }, controller.signal);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.stopped).toBe('the run was cancelled (SIGTERM): sent SIGTERM to its process group');
    const never = await runCommand('touch /nonexistent/never', { server: SERVER, version: 'v2' }, controller.signal);
    expect(never.stopped).toMatch(/^not started: the run was cancelled/);
  });
});
