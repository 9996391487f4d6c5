/**
 * Notifications from the bundle as the runner runs it (`node dist/index.js`), on a canary through real HAProxy
 * under keep-alive load: paused at an approval step, then promoted by a second process. Slack, Teams and a signed
 * webhook are a local receiver that checks every request (test/helpers/notify-receiver.ts); one more Slack target
 * never answers and one more webhook answers 500. GitHub is the local OpenAPI-checked API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errors, runAction, type ActionRun } from '../helpers/action.js';
import { githubEnv } from '../helpers/github-api.js';
import { useGithubLab } from '../helpers/github-lab.js';
import { startLoad } from '../helpers/load.js';
import { eventOf, startReceiver, type Kind, type Receiver } from '../helpers/notify-receiver.js';
import { poolInputs, startPools, type PoolsLab } from '../helpers/pools.js';

const gh = useGithubLab();
const SECRET = 'whsec_e2e_k3y';
let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver(SECRET);
});
afterAll(() => receiver.close());

const WORKFLOW = { GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/deploy.yml@refs/heads/main' };

/** Every line a run printed that shows a secret, except the mask commands that hide it from the runner's log. */
function leaks(run: ActionRun, secrets: readonly string[]): string[] {
  const lines = `${run.stdout}\n${run.stderr}\n${run.summary}\n${JSON.stringify(run.outputs)}\n${JSON.stringify(run.state)}`;
  return lines.split('\n').filter((l) => !l.startsWith('::add-mask::') && secrets.some((s) => l.includes(s)));
}

const eventsOf = (kind: Kind) => receiver.of(kind).map((r) => eventOf(kind, r.body));

describe('notifications from the action', () => {
  it('a paused, then promoted canary on HAProxy: every event once, in order, in each format; 0 failed requests; no URL printed', async () => {
    const urls = {
      slack: receiver.url('slack'),
      teams: receiver.url('teams'),
      webhook: receiver.url('webhook'),
      hang: receiver.url('slack', 'hang'),
      fail: receiver.url('webhook', 'fail'),
    };
    const notify = [
      `slack ${urls.slack}`,
      `teams ${urls.teams}`,
      `webhook ${urls.webhook} secret=${SECRET}`,
      `slack ${urls.hang} timeout=1s events=started,paused,succeeded`,
      `webhook ${urls.fail} timeout=1s events=paused`,
    ].join('\n');
    const secrets = [...Object.values(urls).map((u) => u.split('/').at(-1) as string), SECRET];
    gh.lab = await startPools();
    const lab = gh.lab as PoolsLab;
    const load = startLoad(lab.url, { rps: 150, maxMs: 55_000 });

    const paused = await runAction(
      poolInputs(lab, {
        strategy: 'canary',
        steps: '20% 2s, 50% approval, 100%',
        environment: 'production',
        'github-token': 'ghs_notify',
        notify,
      }),
      { env: { ...gh.env(), ...WORKFLOW } },
    );
    expect(errors(paused)).toEqual([]);
    expect(paused.outputs).toMatchObject({ result: 'paused', weight: '50' });
    // A second deploy while this one waits is refused before it changes anything: that too is a run's end.
    const refused = await runAction(
      poolInputs(lab, {
        strategy: 'canary',
        steps: '10% 1s, 100%',
        environment: 'production',
        'github-token': 'ghs_notify',
        version: 'v3',
        notify,
      }),
      { env: { ...gh.env(), ...WORKFLOW } },
    );
    expect(refused.outputs.result).toBe('failed');
    const promoted = await runAction(
      {
        action: 'promote',
        environment: 'production',
        'load-balancer': `haproxy://127.0.0.1:${lab.haproxy.adminPort}`,
        pools: 'blue=app/blue*, green=app/green*',
        'github-token': 'ghs_notify',
        notify,
      },
      { env: { ...githubEnv(gh.api), ...WORKFLOW } },
    );
    const stats = await load.stop();
    console.log(
      `notify e2e: deploy ${paused.durationMs}ms, promote ${promoted.durationMs}ms, ${stats.ok} requests, ${stats.failed} failed`,
    );
    expect(errors(promoted)).toEqual([]);
    expect(promoted.outputs).toMatchObject({ result: 'succeeded', weight: '100', 'live-pool': 'green' });
    expect(stats.failed).toBe(0);
    expect(stats.ok).toBeGreaterThan(500);

    // Each event once, in order, in each format, valid as the provider checks it, the webhook signed.
    expect(receiver.received.filter((r) => r.behaviour === 'ok').flatMap((r) => r.problems)).toEqual([]);
    const flow = ['started', 'step-passed', 'step-passed', 'paused', 'failed', 'promoted', 'step-passed', 'succeeded'];
    expect(eventsOf('webhook')).toEqual(flow);
    const hooks = receiver.of('webhook').map((r) => r.body as { id: string; verdict: string; links: object });
    expect(new Set(hooks.map((h) => h.id)).size).toBe(flow.length);
    for (const kind of ['slack', 'teams'] as const) {
      const titles = eventsOf(kind);
      expect(titles.map((t) => t.split(':')[0])).toEqual([
        '🚀 Started',
        '✅ Step 1/3 passed',
        '✅ Step 2/3 passed',
        '⏸️ Paused for approval',
        '❌ Failed',
        '▶️ Promoted',
        '✅ Step 3/3 passed',
        '✅ Succeeded',
      ]);
    }
    // The verdicts are the summary's own sentences; the pause links to the workflow to promote or abort.
    expect(paused.summary).toContain(hooks[3]?.verdict.replace(/_/g, '\\_'));
    expect(hooks[3]?.links).toEqual({
      run: 'https://github.example.com/acme/shop/actions/runs/4242',
      promote: 'https://github.example.com/acme/shop/actions/workflows/deploy.yml',
      abort: 'https://github.example.com/acme/shop/actions/workflows/deploy.yml',
    });
    expect(hooks[4]?.verdict).toBe(errors(refused)[0]);
    expect(hooks[4]?.verdict).toMatch(/^environment: production already has a rollout in progress: v2/);
    expect(hooks[7]?.verdict).toMatch(/^All traffic is on green, version v2/);
    // The promote job names the rollout it continues, not its own commit: version and strategy from the record.
    expect(receiver.of('webhook').map((r) => (r.body as { version: string }).version)).toEqual(
      flow.map((e) => (e === 'failed' ? 'v3' : 'v2')),
    );
    expect(receiver.of('webhook').map((r) => (r.body as { strategy: string }).strategy)).toEqual(
      flow.map(() => 'canary'),
    );

    // The failing and hanging targets: warnings in the log and the summary, the result unchanged.
    expect(receiver.of('webhook', 'fail')).toHaveLength(3);
    expect(paused.stdout).toMatch(
      /::warning::notify: webhook #2: event 1 \(paused\) not delivered after 3 attempts: HTTP 500 \(internal error\); the rollout is not affected/,
    );
    expect(paused.stdout).toMatch(
      /::warning::notify: slack #2: event 1 \(started\) not delivered after 3 attempts: no answer within 1s/,
    );
    expect(paused.summary).toMatch(
      /### Notifications\n\nDelivered: slack #1: 4 events; teams #1: 4 events; webhook #1: 4 events; slack #2: 0 events; webhook #2: 0 events\./,
    );
    expect(paused.summary).toMatch(/⚠️ \d+ not delivered \(warnings only/);
    expect(promoted.summary).toMatch(
      /Delivered: slack #1: 3 events; teams #1: 3 events; webhook #1: 3 events; slack #2: \d events; webhook #2: 0 events\./,
    );

    // No URL or key anywhere: log, summary, outputs, step state, or what went to GitHub (deployment payloads).
    expect(leaks(paused, secrets)).toEqual([]);
    expect(leaks(promoted, secrets)).toEqual([]);
    expect(leaks(refused, secrets)).toEqual([]);
    // ...where the scan would have found them: every URL and the key were handed to the runner to mask.
    for (const secret of [...Object.values(urls), SECRET]) expect(paused.stdout).toContain(`::add-mask::${secret}\n`);
    const toGithub = JSON.stringify(gh.api.requests);
    expect(secrets.filter((s) => toGithub.includes(s))).toEqual([]);
    expect(gh.api.violations).toEqual([]);
  });
});
