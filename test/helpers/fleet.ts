/** Real app processes (test/fixtures/app.js) managed through app-ctl.js, as a deploy-command manages them. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './action.js';
import { freePort, waitForPort } from './ports.js';

export const APP_CTL = join(ROOT, 'test/fixtures/app-ctl.js');

export interface Fleet {
  readonly stateDir: string;
  readonly ports: readonly number[];
  /** The deploy-command that restarts the server it is given (DEPLOY_PORT) on DEPLOY_VERSION. */
  readonly restartCommand: string;
  /** Environment the action needs so the restart command finds node and the pid files. */
  readonly env: Record<string, string>;
  stopAll(): void;
}

/**
 * Like a typical service: each request takes 20ms (so a restart meets in-flight requests), SIGTERM ends the
 * process at once (no graceful shutdown), and a new process needs 300ms before it listens (longer than HAProxy's
 * 300ms check interval in the labs, so a deploy that weighted a server before its check passed would fail requests).
 */
export const REALISTIC_APP = { APP_NEXT_DELAY_MS: '20', APP_NEXT_START_DELAY_MS: '300', APP_NEXT_GRACEFUL: '0' };

/** `appEnv`: APP_NEXT_* variables for the processes started here, e.g. { APP_NEXT_HEALTHY: '0' }. */
export async function startFleet(count: number, version = 'v1', appEnv: Record<string, string> = {}): Promise<Fleet> {
  const stateDir = mkdtempSync(join(tmpdir(), 'zdd-fleet-'));
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  const env: Record<string, string> = {
    APP_STATE_DIR: stateDir,
    NODE_BIN: process.execPath,
    ...REALISTIC_APP,
    ...appEnv,
  };
  for (const port of ports)
    execFileSync(process.execPath, [APP_CTL, 'start', String(port), version], { env: { ...process.env, ...env } });
  await Promise.all(ports.map((p) => waitForPort(p)));
  return {
    stateDir,
    ports,
    restartCommand: `"$NODE_BIN" ${JSON.stringify(APP_CTL)} restart`,
    env,
    stopAll() {
      for (const file of readdirSync(stateDir).filter((f) => f.endsWith('.pid'))) {
        try {
          process.kill(Number(readFileSync(join(stateDir, file), 'utf8')), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
}
