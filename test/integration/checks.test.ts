/**
 * The team's own checks (the checks input) on a real HAProxy in front of real app processes, under load: a smoke
 * test before traffic, http checks of a real page during the steps, a check that hangs, and refusals up front.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { errors, runAction } from '../helpers/action.js';
import { startCloudWatchStandIn } from '../helpers/cloudwatch.js';
import { DD_KEYS, startDatadogStandIn } from '../helpers/datadog.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { startHaproxy, type HaproxyInstance } from '../helpers/haproxy.js';
import { startLoad } from '../helpers/load.js';
import { poolInputs, rollingInputs, startPools, weights, type PoolsLab } from '../helpers/pools.js';

let lab: PoolsLab | undefined;

let rolling: { fleet: Fleet; haproxy: HaproxyInstance } | undefined;

afterEach(async () => {
  await lab?.stop();
  lab = undefined;
  await rolling?.haproxy.stop();
  rolling?.fleet.stopAll();
  rolling = undefined;
});

const STABLE = { 'app/blue1': 100, 'app/blue2': 100, 'app/green1': 0, 'app/green2': 0 };
const ERROR_BODY = { APP_NEXT_ERROR_BODY: 'ERROR: database unavailable' };

/** A page check on every server of a pool: the real page, not /health. */
const PAGE_CHECK = `- name: page
  at: during
  kind: http
  url: http://{address}/
  body: hello from
  interval: 200ms
  timeout: 1s`;

describe('checks on HAProxy', () => {
  it('refuses a bad definition naming the check and the field; nothing runs, the load balancer is untouched', async () => {
    lab = await startPools();
    const marker = join(mkdtempSync(join(tmpdir(), 'zdd-checks-')), 'deployed');
    const before = weights(await lab.haproxy.servers());
    const run = await runAction(
      poolInputs(lab, {
        strategy: 'canary',
        steps: '50% 1s, 100%',
        'deploy-command': `touch ${marker}`,
        checks: `- name: smoke\n  at: before-trafic\n  kind: http\n  url: http://{address}/\n- name: errors\n  at: during\n  kind: prometheus\n  url: http://127.0.0.1:9/\n  query: up\n  condition: about 0`,
      }),
      { env: lab.fleet.env },
    );
    expect(run.code).toBe(1);
    const message = errors(run).join('\n');
    expect(message).toContain("smoke: at: 'before-trafic' is not one of before-traffic, during");
    expect(message).toContain("errors: condition: 'about 0' is not a condition");
    expect(existsSync(marker)).toBe(false);
    expect(weights(await lab.haproxy.servers())).toEqual(before);
  });

  it('dry-run lists the checks with their points; dry-run: checks tries the reading ones once, changes nothing', async () => {
    lab = await startPools();
    const marker = join(mkdtempSync(join(tmpdir(), 'zdd-checks-')), 'ran');
    const before = weights(await lab.haproxy.servers());
    const inputs = (dryRun: string) =>
      poolInputs(lab!, {
        strategy: 'canary',
        'dry-run': dryRun,
        checks: `- name: smoke\n  at: before-traffic\n  kind: command\n  run: touch ${marker}\n${PAGE_CHECK}`,
      });
    const run = await runAction(inputs('true'), { env: lab.fleet.env });
    expect(run.outputs.result).toBe('unchanged');
    expect(run.summary).toMatch(
      /\| smoke \| before traffic \(new servers, weight 0\) \| command \| `touch .*` \| 30s \|/,
    );
    expect(run.summary).toContain(
      '| page | during every step (with the judge), every 200ms | http | `GET http://{address}/` | 1s |',
    );
    expect(run.stdout).toMatch(
      /^ {2}page \| during every step \(with the judge\), every 200ms \| http \| GET http:\/\/\{address\}\/ \| 1s$/m,
    );
    expect(run.summary).not.toContain('Checks tried once');
    // dry-run: checks: the page check on each server of the idle pool, once; the command is listed, not run; the
    // bundle loads the cloudwatch and datadog kinds (their chunks) and masks the keys.
    const [cw, dd] = await Promise.all([startCloudWatchStandIn(), startDatadogStandIn()]);
    cw.alarms.set('shop-5xx', { state: 'ALARM', reason: 'Threshold Crossed' });
    dd.monitors.set(77, 'OK');
    const cloud = `- name: alarm\n  at: during\n  kind: cloudwatch\n  alarm: shop-5xx\n- name: mon\n  at: after\n  kind: datadog\n  url: ${dd.url}\n  monitor: 77`;
    const given = inputs('checks');
    const tried = await runAction(
      {
        ...given,
        checks: `${given.checks}\n${cloud}`,
        'check-secrets': `DD_API_KEY=${DD_KEYS.api}\nDD_APP_KEY=${DD_KEYS.app}`,
      },
      { env: { ...lab.fleet.env, ...cw.env } },
    ).finally(() => Promise.all([cw.stop(), dd.stop()]));
    expect(tried.summary).toMatch(
      /\| alarm \| dry run \| - \| `ALARM` \| ❌ fail \|.*alarm shop-5xx is in ALARM: Threshold Crossed \|/,
    );
    expect(tried.summary).toMatch(/\| mon \| dry run \| - \| `OK` \| ✅ pass \|/);
    expect(dd.calls.flatMap((c) => c.errors)).toEqual([]);
    // Each key masked on its own (the runner hides it from then on); no other line or the summary shows one.
    const lines = tried.stdout.split('\n');
    expect(lines).toEqual(expect.arrayContaining([`::add-mask::${DD_KEYS.api}`, `::add-mask::${DD_KEYS.app}`]));
    const shown = [...lines.filter((l) => !l.startsWith('::add-mask::')), tried.summary].join('\n');
    expect(shown).not.toMatch(new RegExp(`${DD_KEYS.api}|${DD_KEYS.app}`));
    expect(tried.outputs.result).toBe('unchanged');
    expect(tried.summary).toContain('### Checks tried once');
    expect(tried.summary).toMatch(
      /\| page \| dry run \| app\/green1 \| `200` \| ✅ pass \|.*\| 1 \(0\) \| http:\/\/127\.0\.0\.1:\d+\/ answered 200 \|/,
    );
    expect(tried.summary).toMatch(/\| page \| dry run \| app\/green2 \| `200` \| ✅ pass \|/);
    expect(tried.summary).toContain('1 of 4 failed: the rollout would not pass them as they are now.');
    expect(tried.summary).toContain('- smoke: a command may change things: not run by a dry run');
    expect(existsSync(marker)).toBe(false);
    expect(weights(await lab.haproxy.servers())).toEqual(before);
  });

  it('a failing smoke test before traffic: no user request reaches the new version, rollback checks run', async () => {
    lab = await startPools();
    const rolledBack = join(mkdtempSync(join(tmpdir(), 'zdd-checks-')), 'rollback-ran');
    const load = startLoad(lab.url, { rps: 100, maxMs: 60_000 });
    await load.through(20);
    const run = await runAction(
      poolInputs(lab, {
        strategy: 'canary',
        steps: '50% 1s, 100%',
        checks: `- name: smoke\n  at: before-traffic\n  kind: http\n  url: http://{address}/\n  body: hello from\n  timeout: 2s\n- name: tell\n  at: rollback\n  kind: command\n  run: echo "$DEPLOY_CHECK_POINT $DEPLOY_VERSION $DEPLOY_POOL" > ${rolledBack}`,
      }),
      { env: { ...lab.fleet.env, ...ERROR_BODY } },
    );
    await load.through(20);
    const stats = await load.stop();
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({ result: 'failed', 'live-pool': 'blue', weight: '0' });
    const message = errors(run).join('\n');
    expect(message).toMatch(
      /failed its checks on pool green before taking any traffic: check smoke failed on app\/green1: http:\/\/127\.0\.0\.1:\d+\/ answered 200 without 'hello from': ERROR: database unavailable/,
    );
    expect(stats.versions.v2 ?? 0).toBe(0);
    expect(stats.versions.v1).toBe(stats.sent);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(weights(await lab.haproxy.servers())).toEqual(STABLE);
    expect(readFileSync(rolledBack, 'utf8').trim()).toBe('rollback v2 green');
    expect(run.summary).toMatch(/\| smoke \| before traffic \| app\/green1 \| `200` \| ❌ fail \|/);
  });

  it('a canary answering 200 with an error body is rolled back by an http check of the real page', async () => {
    lab = await startPools();
    const load = startLoad(lab.url, { rps: 150, maxMs: 60_000 });
    const run = await runAction(
      poolInputs(lab, { strategy: 'canary', steps: '20% 5s, 100%', 'max-error-rate': '100%', checks: PAGE_CHECK }),
      { env: { ...lab.fleet.env, ...ERROR_BODY } },
    );
    const stats = await load.stop();
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({ result: 'rolled-back', 'live-pool': 'blue', weight: '0' });
    const message = errors(run).join('\n');
    expect(message).toMatch(/Rolled back at 20% on green: .*check page failed on app\/green\d: .*without 'hello from'/);
    expect(weights(await lab.haproxy.servers())).toEqual(STABLE);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(run.summary).toMatch(/\| page \| step 1\/2 \| app\/green1 \| `200` \| ❌ fail \|/);
    expect(run.summary).toMatch(/\| page \| step 1\/2 \| app\/blue1 \(stable\) \| `200` \| ✅ pass \|/);
    console.log(
      `error-body canary: ${stats.versions.v2 ?? 0} of ${stats.sent} answers came from it before the rollback`,
    );
  });

  it('a check that hangs is ended at its timeout and the rollout rolled back', async () => {
    lab = await startPools();
    const load = startLoad(lab.url, { rps: 100, maxMs: 60_000 });
    const started = Date.now();
    const run = await runAction(
      poolInputs(lab, {
        strategy: 'canary',
        steps: '20% 5s, 100%',
        checks: `- name: queue\n  at: during\n  kind: command\n  run: sleep 60\n  timeout: 1s`,
      }),
      { env: lab.fleet.env },
    );
    const stats = await load.stop();
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({ result: 'rolled-back', weight: '0' });
    expect(errors(run).join('\n')).toMatch(
      /Check queue failed: ended at its timeout 1s: stopped \(timeout 1s of check queue: sent SIGTERM/,
    );
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(weights(await lab.haproxy.servers())).toEqual(STABLE);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
  });

  it('blue-green: a failing before-promotion check refuses the switch; the new pool never takes traffic', async () => {
    lab = await startPools();
    const load = startLoad(lab.url, { rps: 100, maxMs: 60_000 });
    await load.through(20);
    const run = await runAction(
      poolInputs(lab, {
        strategy: 'blue-green',
        checks: `- name: change-window\n  at: before-promotion\n  kind: command\n  run: echo "freeze until friday" >&2; exit 3`,
      }),
      { env: lab.fleet.env },
    );
    await load.through(20);
    const stats = await load.stop();
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({ result: 'rolled-back', 'live-pool': 'blue', weight: '0' });
    expect(errors(run).join('\n')).toContain(
      'refusing to promote: check change-window failed: exited 3: freeze until friday',
    );
    expect(stats.versions.v2 ?? 0).toBe(0);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(weights(await lab.haproxy.servers())).toEqual(STABLE);
  });

  it('a healthy canary passes every point of its checks and is promoted with 0 failed requests', async () => {
    lab = await startPools();
    const load = startLoad(lab.url, { rps: 150, maxMs: 60_000 });
    const run = await runAction(
      poolInputs(lab, {
        strategy: 'canary',
        steps: '20% 2s, 100%',
        checks: [
          `- name: smoke\n  at: before-traffic\n  kind: http\n  url: http://{address}/\n  body: hello from v2\n  timeout: 2s`,
          PAGE_CHECK,
          `- name: context\n  at: during\n  kind: command\n  run: test "$DEPLOY_POOL/$DEPLOY_STABLE_POOL/$DEPLOY_VERSION" = green/blue/v2\n  interval: 500ms`,
          `- name: approve\n  at: before-promotion\n  kind: command\n  run: test "$DEPLOY_WEIGHT" = 20`,
          `- name: after\n  at: after\n  kind: http\n  url: ${lab.url}\n  body: hello from v2`,
        ].join('\n'),
      }),
      { env: lab.fleet.env },
    );
    const stats = await load.stop();
    expect(errors(run)).toEqual([]);
    expect(run.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'green', weight: '100' });
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    for (const row of [
      /\| smoke \| before traffic \| app\/green2 \| `200` \| ✅ pass \|/,
      /\| page \| step 2\/2 \| app\/green1 \| `200` \| ✅ pass \|/,
      /\| context \| step 1\/2 \| - \| `exit 0` \| ✅ pass \|/,
      /\| approve \| before promotion \| - \| `exit 0` \| ✅ pass \|/,
      /\| after \| after the end \| - \| `200` \| ✅ pass \|/,
    ])
      expect(run.summary).toMatch(row);
    expect(run.stdout).toMatch(/check approve \(before promotion\): passed in \d+ms, exited 0/);
  });
});

describe('checks in a rolling deploy on HAProxy', () => {
  it('a batch failing its before-traffic check stays out of traffic: no user request reaches it, the other servers untouched', async () => {
    const fleet = await startFleet(3, 'v1');
    const haproxy = await startHaproxy({ servers: fleet.ports.map((port, i) => ({ name: `web${i + 1}`, port })) });
    rolling = { fleet, haproxy };
    await haproxy.settled();
    const load = startLoad(`http://127.0.0.1:${haproxy.frontendPort}/`, { rps: 100, maxMs: 60_000 });
    await load.through(20);
    const run = await runAction(
      rollingInputs(fleet, haproxy, {
        checks: `- name: page\n  at: before-traffic\n  kind: http\n  url: http://{address}/\n  body: hello from\n  timeout: 2s`,
      }),
      { env: { ...fleet.env, ...ERROR_BODY } },
    );
    await load.through(20);
    const stats = await load.stop();
    const message = errors(run).join('\n');
    console.log(`rolling with a failing before-traffic check: exit ${run.code}; ${message}`);
    expect(run.code).toBe(1);
    expect(run.outputs.result).toBe('failed');
    expect(message).toMatch(
      /check page failed on app\/web1: http:\/\/127\.0\.0\.1:\d+\/ answered 200 without 'hello from'/,
    );
    expect(stats.versions.v2 ?? 0).toBe(0);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    const servers = await haproxy.servers();
    expect(['app/web1', 'app/web2', 'app/web3'].map((id) => servers.get(id)?.status)).toEqual(['MAINT', 'UP', 'UP']);
    expect(run.summary).toMatch(/\| page \| batch 1 before traffic \| app\/web1 \| `200` \| ❌ fail \|/);
  });
});
