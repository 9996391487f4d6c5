/** The labs of the reload tests (rolling-reload*.test.ts): HAProxy in front of app processes, logged commands. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAST_ROLLOUT } from '../helpers/action.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { startHaproxy, type HaproxyInstance } from '../helpers/haproxy.js';

export const stops: (() => Promise<void> | void)[] = [];

/** Stops what the labs started, last first (each test file's afterEach). */
export async function stopLabs(): Promise<void> {
  for (const stop of stops.splice(0).reverse()) await stop();
}

export async function lab(count: number, members = 1): Promise<{ fleet: Fleet; lbs: HaproxyInstance[] }> {
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
export function loggedCommand(fleet: Fleet, log: string, waitS: number): string {
  const now = `"$NODE_BIN" -e 'process.stdout.write(String(Date.now()))'`;
  return `echo "start $RUN_NAME $DEPLOY_TARGET $(${now})" >> ${log}; sleep ${waitS}; ${fleet.restartCommand}; echo "end $RUN_NAME $DEPLOY_TARGET $(${now})" >> ${log}`;
}

/** Resolves once the log has a line starting with `prefix` (polled every 20 ms, at most `ms`). */
export async function logged(log: string, prefix: string, ms = 20_000): Promise<void> {
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

export function newLog(): string {
  const log = join(mkdtempSync(join(tmpdir(), 'zdd-reload-')), 'commands.log');
  writeFileSync(log, '');
  return log;
}

/** Every pair of commands on one server whose runs overlap in time, from the log. */
export function overlaps(log: string): string[] {
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

export const inputs = (lbs: readonly HaproxyInstance[], command: string, extra: Record<string, string> = {}) => ({
  ...FAST_ROLLOUT,
  strategy: 'rolling',
  'load-balancer': lbs.map((lb) => `haproxy://127.0.0.1:${lb.adminPort}`).join('\n'),
  'deploy-command': command,
  'health-url': 'http://{address}/health',
  ...extra,
});

export const runEnv = (fleet: Fleet, run: number, name: string) => ({
  ...fleet.env,
  GITHUB_REPOSITORY: 'acme/shop',
  GITHUB_RUN_ID: String(run),
  GITHUB_RUN_ATTEMPT: '1',
  RUN_NAME: name,
  // The rule these tests are about: a lock taken on a HAProxy worker younger than 3 s is used only once still held
  // at 3 s (vitest.config.ts sets 0 for every other test, whose labs start a new HAProxy and run at once).
  ZERO_DOWNTIME_DEPLOY_FRESH_WORKER_S: '3',
});
