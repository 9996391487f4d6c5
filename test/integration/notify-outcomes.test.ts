/**
 * Notifications of the other ends of a run, from the bundle as the runner runs it: a canary rolled back on real
 * HAProxy, a pull-request preview opened and closed, a canary cancelled with SIGTERM, and bad notify lines refused. The receiver checks every request as Slack, Teams and a
 * verifying webhook receiver would (test/helpers/notify-receiver.ts); GitHub is the local OpenAPI-checked API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errors, runAction } from '../helpers/action.js';
import { githubEnv } from '../helpers/github-api.js';
import { useGithubLab } from '../helpers/github-lab.js';
import { startLoad } from '../helpers/load.js';
import { eventOf, startReceiver, type Kind, type Receiver } from '../helpers/notify-receiver.js';
import { poolInputs, startPools, type PoolsLab } from '../helpers/pools.js';
import { startPreviewLab } from '../helpers/previews.js';

const gh = useGithubLab();
const SECRET = 'whsec_e2e_outcomes';
let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver(SECRET);
});
afterAll(() => receiver.close());

const WORKFLOW = { GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/deploy.yml@refs/heads/main' };
const eventsOf = (kind: Kind) => receiver.of(kind).map((r) => eventOf(kind, r.body));

/** One target of each kind, all answering. */
const everyKind = () =>
  [
    `slack ${receiver.url('slack')}`,
    `teams ${receiver.url('teams')}`,
    `webhook ${receiver.url('webhook')} secret=${SECRET}`,
  ].join('\n');

describe('notifications of a rollback, of previews and of a cancel', () => {
  it('a canary rolled back on HAProxy: started, then rolled-back with the error the step ends with, in each format', async () => {
    gh.lab = await startPools();
    const lab = gh.lab as PoolsLab;
    const notify = everyKind();
    const load = startLoad(lab.url, { rps: 200, maxMs: 40_000 });
    const run = await runAction(poolInputs(lab, { strategy: 'canary', steps: '20% 10s, 100%', notify }), {
      env: { ...lab.fleet.env, APP_NEXT_FAIL_RATE: '0.3', ...WORKFLOW },
    });
    await load.stop();
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({ result: 'rolled-back', weight: '0', 'live-pool': 'blue' });
    expect(receiver.received.flatMap((r) => r.problems)).toEqual([]);
    expect(eventsOf('webhook')).toEqual(['started', 'rolled-back']);
    const [, rolledBack] = receiver.of('webhook').map((r) => r.body as { verdict: string; counts: { failed: number } });
    expect(rolledBack?.verdict).toBe(errors(run)[0]);
    expect(rolledBack?.counts.failed).toBeGreaterThan(0);
    for (const kind of ['slack', 'teams'] as const)
      expect(eventsOf(kind).map((t) => t.split(':')[0])).toEqual(['🚀 Started', '↩️ Rolled back']);
    expect(run.summary).toMatch(/Delivered: slack #1: 2 events; teams #1: 2 events; webhook #1: 2 events\.$/m);
  });

  it('a pull-request preview opened, then closed: preview-opened and preview-closed with the key, in each format', async () => {
    const lab = await startPreviewLab();
    try {
      const notify = everyKind();
      receiver.received.length = 0;
      const env = { ...githubEnv(gh.api), ...lab.event(7), ...WORKFLOW };
      const address = await lab.build('pr7-build');
      const opened = await runAction(lab.inputs({ action: 'preview', 'preview-address': address, notify }), { env });
      const closed = await runAction(lab.inputs({ action: 'close-preview', notify }), { env });
      expect([opened.outputs.result, closed.outputs.result]).toEqual(['succeeded', 'succeeded']);
      expect(receiver.received.flatMap((r) => r.problems)).toEqual([]);
      expect(eventsOf('webhook')).toEqual(['preview-opened', 'preview-closed']);
      const hooks = receiver.of('webhook').map((r) => r.body as { verdict: string; preview: unknown; action: string });
      expect(hooks.map((h) => [h.action, h.preview])).toEqual([
        ['preview', { key: 'pr-7' }],
        ['close-preview', { key: 'pr-7' }],
      ]);
      expect(opened.stdout).toContain(hooks[0]?.verdict);
      for (const kind of ['slack', 'teams'] as const)
        expect(eventsOf(kind).map((t) => t.split(':')[0])).toEqual(['🔎 Preview opened', '🧹 Preview closed']);
    } finally {
      await lab.stop();
    }
  });

  it('cancelled mid-canary (SIGTERM): the failed event still goes out, and a hanging target holds the exit 2s at most', async () => {
    gh.lab = await startPools();
    const lab = gh.lab as PoolsLab;
    receiver.received.length = 0;
    const notify = `webhook ${receiver.url('webhook')} secret=${SECRET}\nslack ${receiver.url('slack', 'hang')}`;
    let child: { kill: (s: NodeJS.Signals) => boolean } | undefined;
    const running = runAction(poolInputs(lab, { strategy: 'canary', steps: '30% 30s, 100%', notify }), {
      env: { ...lab.fleet.env, ...WORKFLOW },
      onSpawn: (c) => (child = c),
    });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (await lab.haproxy.servers()).get('app/green1')?.weight === 0)
      await new Promise((r) => setTimeout(r, 100));
    const killedAt = Date.now();
    child?.kill('SIGTERM');
    const run = await running;
    const exitMs = Date.now() - killedAt;
    console.log(`cancelled with a hanging target: exited ${exitMs}ms after SIGTERM`);
    expect(run.outputs.result).toBe('failed');
    expect(eventsOf('webhook')).toEqual(['started', 'failed']);
    const last = receiver.of('webhook').at(-1)?.body as { event: string; verdict: string };
    expect(last).toMatchObject({ event: 'failed' });
    expect(last.verdict).toMatch(
      /^Stopped at step 1: the run was cancelled \(SIGTERM\)\. All traffic was moved back to blue\./,
    );
    // The hanging Slack target (5s per attempt) would hold a normal end up to 16.5s; a cancelled run waits 2s.
    expect(exitMs).toBeLessThan(2000 + 3000);
    expect(run.summary).toMatch(/slack #1: event \d \((started|failed)\) not delivered/);
  });

  it('cancelled (SIGTERM) while it waits at the end for a hanging target: exits 2s later, with the summary account', async () => {
    gh.lab = await startPools();
    const lab = gh.lab as PoolsLab;
    receiver.received.length = 0;
    const notify = `webhook ${receiver.url('webhook')} secret=${SECRET}\nslack ${receiver.url('slack', 'hang')}`;
    let child: { kill: (s: NodeJS.Signals) => boolean } | undefined;
    const load = startLoad(lab.url, { rps: 100, maxMs: 30_000 });
    const running = runAction(poolInputs(lab, { strategy: 'canary', steps: '50% 1s, 100%', notify }), {
      env: { ...lab.fleet.env, ...WORKFLOW },
      onSpawn: (c) => (child = c),
    });
    // The webhook has the run's end: the rollout is over and the run waits for the hanging Slack target (16.5s).
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !eventsOf('webhook').includes('succeeded'))
      await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    const killedAt = Date.now();
    child?.kill('SIGTERM');
    const run = await running;
    const exitMs = Date.now() - killedAt;
    await load.stop();
    expect(errors(run)).toEqual([]);
    console.log(`cancelled while waiting for a hanging target: exited ${exitMs}ms after SIGTERM`);
    expect(run.outputs).toMatchObject({ result: 'succeeded', weight: '100' });
    expect(exitMs).toBeLessThan(2000 + 1500);
    expect(run.summary).toMatch(/^Delivered: webhook #1: 4 events; slack #1: 0 events\.$/m);
    expect(run.summary).toMatch(/slack #1: event 1 \(started\) not delivered/);
  });

  it('a bad notify line is refused naming the input and the line, never the URL; HAProxy as it was, nothing sent', async () => {
    gh.lab = await startPools();
    const lab = gh.lab as PoolsLab;
    const states = async () =>
      Object.fromEntries([...(await lab.haproxy.servers())].map(([id, s]) => [id, `${s.weight} ${s.adminState}`]));
    const before = await states();
    receiver.received.length = 0;
    const slack = receiver.url('slack');
    const token = slack.split('/').at(-1) as string;
    for (const [notify, message] of [
      [`slack ${slack}\nteams ${receiver.url('teams')} events=paused,deployed`, "notify: line 2: events: 'deployed'"],
      [`${slack.replace('http://', '')}`, "notify: line 1: 'URL' is not a target kind"],
      [`webhook ${receiver.url('webhook')} secret=`, 'notify: line 1: secret= is empty'],
    ] as const) {
      const run = await runAction(poolInputs(lab, { strategy: 'canary', steps: '20% 1s, 100%', notify }), {
        env: { ...lab.fleet.env, ...WORKFLOW },
      });
      expect(run.code).toBe(1);
      expect(errors(run).join('\n')).toContain(message);
      expect(
        `${run.stdout}\n${run.stderr}\n${run.summary}`
          .split('\n')
          .filter((l) => !l.startsWith('::add-mask::') && l.includes(token)),
      ).toEqual([]);
    }
    expect(await states()).toEqual(before);
    expect(receiver.received).toEqual([]);
  });
});
