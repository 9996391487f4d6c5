/**
 * Rollout events to Slack, Teams and a signed webhook, from the deploy and promote use cases on the fake driver,
 * delivered over real HTTP to a local receiver that checks each format (see test/helpers/notify-receiver.ts).
 * The GitHub deployment holding the paused rollout is the local GitHub API (checked against GitHub's OpenAPI).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Outcome } from '../../src/model/outcome.js';
import { ReportedFailure } from '../../src/model/errors.js';
import type { Change } from '../../src/model/server.js';
import type { Settings } from '../../src/settings.js';
import type { Notifier, NotifyReport } from '../../src/notify/registry.js';
import { BLUE_GREEN, fakeSettings, POOLS } from '../helpers/engine-kit.js';
import { FakeDriver, type Call, type TrafficScript } from '../helpers/fake-driver.js';
import { githubEnv, startGithubApi, type GithubApi } from '../helpers/github-api.js';
import { eventOf, startReceiver, type Kind, type Receiver } from '../helpers/notify-receiver.js';

vi.mock('../../src/plan/build.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/plan/build.js')>()),
  COUNTER_POLL_MS: 10,
}));

type UseCases = {
  Notifier: typeof import('../../src/notify/registry.js').Notifier;
  runFacts: typeof import('../../src/notify/event.js').runFacts;
  deploy: typeof import('../../src/actions/deploy.js').deploy;
  promote: typeof import('../../src/actions/promote.js').promote;
  abort: typeof import('../../src/actions/abort.js').abort;
};

const SECRET = 'whsec_notify_test';
const KINDS: readonly Kind[] = ['slack', 'teams', 'webhook'];
let api: GithubApi;
let receiver: Receiver;
let use: UseCases;
beforeAll(async () => {
  api = await startGithubApi();
  receiver = await startReceiver(SECRET);
  process.env.GITHUB_API_URL = api.url;
  // Loaded once GITHUB_API_URL points at the stand-in: @actions/github reads it when first loaded.
  use = {
    Notifier: (await import('../../src/notify/registry.js')).Notifier,
    runFacts: (await import('../../src/notify/event.js')).runFacts,
    deploy: (await import('../../src/actions/deploy.js')).deploy,
    promote: (await import('../../src/actions/promote.js')).promote,
    abort: (await import('../../src/actions/abort.js')).abort,
  };
});
afterAll(async () => {
  await api.close();
  await receiver.close();
});

beforeEach(() => {
  api.reset();
  receiver.received.length = 0;
  for (const [name, value] of Object.entries(githubEnv(api))) vi.stubEnv(name, value);
  vi.stubEnv('GITHUB_STEP_SUMMARY', '');
  vi.stubEnv('GITHUB_STATE', '');
  vi.stubEnv('GITHUB_OUTPUT', '');
  vi.stubEnv('GITHUB_WORKFLOW_REF', 'acme/shop/.github/workflows/deploy.yml@refs/heads/main');
});

const GREEN = ['app/green1', 'app/green2'];
const GREEN_FAILS: TrafficScript = { perCall: 100, failureShare: (id) => (id.includes('green') ? 0.5 : 0) };

/** The notify input for every kind of target, all answering (or all as `behaviour` says), with this timeout. */
function targets(behaviour: 'ok' | 'hang' | 'fail' = 'ok', timeout = '1s'): string {
  return KINDS.map(
    (k) => `${k} ${receiver.url(k, behaviour)}${k === 'webhook' ? ` secret=${SECRET}` : ''} timeout=${timeout}`,
  ).join('\n');
}

/** With an approval step, the paused rollout lives on a GitHub deployment (environment); without, no GitHub. */
function settings(action: string, notify: string, steps = '25% 50ms, 50% approval, 100%'): Settings {
  const approval = action !== 'deploy' || steps.includes('approval');
  return fakeSettings({
    action,
    ...(action === 'deploy' ? { strategy: 'canary', steps } : {}),
    pools: POOLS,
    ...(approval ? { environment: 'production', 'github-token': 'ghs_notify' } : {}),
    notify,
  });
}

const NO_PAUSE = '25% 50ms, 50% 50ms, 100%';

/** Runs a use case as main does: a notifier for the run, closed (waited for) at the end. */
async function withNotifier(
  s: Settings,
  run: (n: Notifier) => Promise<Outcome>,
): Promise<{
  outcome: Outcome | ReportedFailure;
  report: NotifyReport;
  warnings: string[];
  notes: string[];
  ranMs: number;
}> {
  const warnings: string[] = [];
  const notes: string[] = [];
  const notifier = new use.Notifier(s.notify ?? [], use.runFacts(s), {
    warn: (w) => warnings.push(w),
    info: (n) => notes.push(n),
    secrets: [s.githubToken],
  });
  const started = Date.now();
  const outcome = await run(notifier).catch((e: unknown) => {
    if (!(e instanceof ReportedFailure)) throw e;
    return e;
  });
  const ranMs = Date.now() - started;
  return { outcome, report: await notifier.close(), warnings, notes, ranMs };
}

const signal = () => new AbortController().signal;
const events = (kind: Kind, behaviour: 'ok' | 'hang' | 'fail' = 'ok') =>
  receiver.of(kind, behaviour).map((r) => eventOf(kind, r.body));

const isStepApply = (call: Call) =>
  call.method === 'apply' &&
  (call.args as Change[]).every((c) => c.admin === undefined) &&
  (call.args as Change[]).some((c) => GREEN.includes(c.server) && (c.weight ?? 0) > 0);

describe('notifications of a canary', () => {
  it('paused, then promoted: each event arrives once, in order, in each format, valid and signed', async () => {
    const lb = new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 } });
    const paused = await withNotifier(settings('deploy', targets()), (n) =>
      use.deploy(settings('deploy', targets()), lb, signal(), n),
    );
    expect(paused.outcome).toMatchObject({ result: 'paused' });
    const promoted = await withNotifier(settings('promote', targets()), (n) =>
      use.promote(settings('promote', targets()), lb, signal(), n),
    );
    expect(promoted.outcome).toMatchObject({ result: 'succeeded', weight: 100 });
    expect([paused.warnings, promoted.warnings]).toEqual([[], []]);
    expect(paused.report.problems).toEqual([]);
    expect(receiver.received.flatMap((r) => r.problems)).toEqual([]);

    const hooks = receiver.of('webhook').map((r) => r.body as Record<string, unknown>);
    expect(hooks.map((h) => h.event)).toEqual([
      'started',
      'step-passed',
      'step-passed',
      'paused',
      'promoted',
      'step-passed',
      'succeeded',
    ]);
    // Once each (no duplicate delivery), numbered per run in order.
    expect(new Set(hooks.map((h) => h.id)).size).toBe(hooks.length);
    expect(hooks.map((h) => h.sequence)).toEqual([1, 2, 3, 4, 1, 2, 3]);
    expect(hooks.map((h) => h.step)).toEqual([
      null,
      { index: 1, of: 3 },
      { index: 2, of: 3 },
      { index: 2, of: 3 },
      null,
      { index: 3, of: 3 },
      { index: 3, of: 3 },
    ]);
    expect(hooks.map((h) => (h.weights as { new: number } | null)?.new)).toEqual([0, 24.93, 50, 50, 50, 100, 100]);
    // The verdict is the summary's sentence; the paused one carries the links to promote or abort.
    expect(hooks[3]?.verdict).toMatch(/^Paused at 50% on green \(step 2\/3\), waiting for approval/);
    expect(hooks[3]?.links).toEqual({
      run: 'https://github.example.com/acme/shop/actions/runs/4242',
      promote: 'https://github.example.com/acme/shop/actions/workflows/deploy.yml',
      abort: 'https://github.example.com/acme/shop/actions/workflows/deploy.yml',
    });
    expect(hooks[6]?.verdict).toMatch(/^All traffic is on green, version v2/);
    expect(hooks[1]).toMatchObject({ counts: { failed: 0 }, pools: { stable: 'blue', new: 'green' } });
    expect((hooks[1]?.counts as { requests: number }).requests).toBeGreaterThan(0);

    // Slack and Teams got the same events in the same order.
    const titles = [
      /^🚀 Started: v2 to production$/,
      /^✅ Step 1\/3 passed/,
      /^✅ Step 2\/3 passed/,
      /^⏸️ Paused for approval/,
      /^▶️ Promoted/,
      /^✅ Step 3\/3 passed/,
      /^✅ Succeeded: v2 to production$/,
    ];
    for (const kind of ['slack', 'teams'] as const) {
      const seen = events(kind);
      expect(seen).toHaveLength(titles.length);
      seen.forEach((title, i) => expect(title).toMatch(titles[i] as RegExp));
    }
    // Slack's paused message: the verdict, and buttons to promote, abort and open the run.
    const slackPaused = receiver.of('slack')[3]?.body as { text: string; blocks: Record<string, unknown>[] };
    expect(slackPaused.text).toContain('Paused at 50% on green');
    expect(JSON.stringify(slackPaused.blocks.find((b) => b.type === 'actions'))).toContain(
      'actions/workflows/deploy.yml',
    );
    expect(paused.report.delivered).toEqual(
      new Map([
        ['slack #1', 4],
        ['teams #1', 4],
        ['webhook #1', 4],
      ]),
    );
  });

  it('rolled back: started, then rolled-back with the failure message, in each format', async () => {
    const lb = new FakeDriver({ servers: BLUE_GREEN, traffic: GREEN_FAILS });
    const s = settings('deploy', targets(), '25% 50ms, 100%');
    const run = await withNotifier(s, (n) => use.deploy(s, lb, signal(), n));
    expect(run.outcome).toBeInstanceOf(ReportedFailure);
    const failure = run.outcome as ReportedFailure;
    expect(failure.outcome.result).toBe('rolled-back');
    const hooks = receiver.of('webhook').map((r) => r.body as Record<string, unknown>);
    expect(hooks.map((h) => h.event)).toEqual(['started', 'rolled-back']);
    expect(hooks[1]?.verdict).toBe(failure.message);
    expect(hooks[1]).toMatchObject({ weights: { new: 0, stable: 100 }, links: { promote: null, abort: null } });
    expect((hooks[1]?.counts as { failed: number }).failed).toBeGreaterThan(0);
    expect(events('slack')).toEqual([expect.stringMatching(/^🚀 Started/), expect.stringMatching(/^↩️ Rolled back/)]);
    expect(events('teams')).toEqual([expect.stringMatching(/^🚀 Started/), expect.stringMatching(/^↩️ Rolled back/)]);
    expect(receiver.received.flatMap((r) => r.problems)).toEqual([]);
  });

  it('paused, then aborted: the aborted event carries the abort message and all traffic on the stable pool', async () => {
    const lb = new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 } });
    await withNotifier(settings('deploy', targets()), (n) =>
      use.deploy(settings('deploy', targets()), lb, signal(), n),
    );
    const aborted = await withNotifier(settings('abort', targets()), (n) =>
      use.abort(settings('abort', targets()), lb, signal(), n),
    );
    expect(aborted.outcome).toMatchObject({ result: 'aborted', livePool: 'blue' });
    const hooks = receiver.of('webhook').map((r) => r.body as Record<string, unknown>);
    expect(hooks.map((h) => h.event)).toEqual(['started', 'step-passed', 'step-passed', 'paused', 'aborted']);
    expect(hooks[4]).toMatchObject({ action: 'abort', weights: { new: 0, stable: 100 }, sequence: 1 });
    expect(hooks[4]?.verdict).toMatch(/^Aborted the rollout of v2 \(deployment 1000.*all traffic is on blue\.$/);
    expect(events('slack').at(-1)).toMatch(/^🛑 Aborted/);
    expect(events('teams').at(-1)).toMatch(/^🛑 Aborted/);
    expect(receiver.received.flatMap((r) => r.problems)).toEqual([]);
  });

  it('rolling: each batch that passes is a step-passed event, then succeeded', async () => {
    const servers = ['app/web1', 'app/web2', 'app/web3'].map((id) => ({ id, weight: 100 }));
    const lb = new FakeDriver({ servers, traffic: { perCall: 100 } });
    const notify = `webhook ${receiver.url('webhook')} secret=${SECRET}`;
    const s = fakeSettings({ strategy: 'rolling', targets: 'app/*', notify });
    await withNotifier(s, (n) => use.deploy(s, lb, signal(), n));
    const hooks = receiver.of('webhook').map((r) => r.body as Record<string, unknown>);
    expect(hooks.map((h) => [h.event, h.step])).toEqual([
      ['started', null],
      ['step-passed', { index: 1, of: 3 }],
      ['step-passed', { index: 2, of: 3 }],
      ['step-passed', { index: 3, of: 3 }],
      ['succeeded', null],
    ]);
    expect(hooks.map((h) => (h.weights as { new: number } | null)?.new)).toEqual([0, 33.33, 66.67, 100, 100]);
    expect(hooks[0]?.verdict).toBe('Started a rolling update of v2 on 3 servers.');
    expect(receiver.received.flatMap((r) => r.problems)).toEqual([]);
  });

  it("a verdict quoting a command's output never carries the action's secrets", async () => {
    const lb = new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 } });
    const url = receiver.url('webhook');
    const s = fakeSettings({
      strategy: 'canary',
      pools: POOLS,
      steps: NO_PAUSE,
      'github-token': 'ghs_T0kenThatLeaks',
      'deploy-command': `echo "using ghs_T0kenThatLeaks and ${url}" >&2; exit 3`,
      notify: `webhook ${url} secret=${SECRET}`,
    });
    const run = await withNotifier(s, (n) => use.deploy(s, lb, signal(), n));
    expect((run.outcome as ReportedFailure).message).toContain('ghs_T0kenThatLeaks');
    const hooks = receiver.of('webhook').map((r) => r.body as { event: string; verdict: string });
    expect(hooks.map((h) => h.event)).toEqual(['started', 'failed']);
    expect(hooks[1]?.verdict).toMatch(/deploy-command exited 3: using \*\*\* and \*\*\*/);
    expect(receiver.received.map((r) => r.raw).join('\n')).not.toMatch(/T0kenThatLeaks|s3cr3t/);
  });

  it('events= picks what a target gets', async () => {
    const lb = new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 } });
    const notify = `webhook ${receiver.url('webhook')} secret=${SECRET} events=succeeded,rolled-back,failed`;
    const s = settings('deploy', notify, NO_PAUSE);
    await withNotifier(s, (n) => use.deploy(s, lb, signal(), n));
    expect(events('webhook')).toEqual(['succeeded']);
    // Numbered among the events this target got: a gap would look like a lost delivery.
    expect((receiver.of('webhook')[0]?.body as { sequence: number }).sequence).toBe(1);
  });
});

describe('a rate-limited receiver', () => {
  it('waits its Retry-After before the next attempt, and every event still arrives once, in order', async () => {
    const lb = new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 } });
    const s = settings('deploy', `webhook ${receiver.url('webhook', 'limit')} secret=${SECRET}`, '50% 50ms, 100%');
    const run = await withNotifier(s, (n) => use.deploy(s, lb, signal(), n));
    expect(run.warnings).toEqual([]);
    const seen = receiver.of('webhook', 'limit');
    // Each event refused once (429, Retry-After: 1), then taken: 2 requests per event, the second 1s or more later.
    const ids = seen.map((r) => (r.body as { id: string }).id);
    expect(ids.filter((_, i) => i % 2 === 0)).toEqual(ids.filter((_, i) => i % 2 === 1));
    expect(seen.filter((_, i) => i % 2 === 1).map((r) => eventOf('webhook', r.body))).toEqual([
      'started',
      'step-passed',
      'step-passed',
      'succeeded',
    ]);
    for (let i = 0; i < seen.length; i += 2)
      expect((seen[i + 1]?.at ?? 0) - (seen[i]?.at ?? 0)).toBeGreaterThanOrEqual(990);
    expect(run.report.delivered).toEqual(new Map([['webhook #1', 4]]));
  });
});

describe('receivers that hang or fail', () => {
  /** The longest time between two traffic changes of the run, ms. */
  const longestGap = (lb: FakeDriver) => {
    const at = lb.calls.filter(isStepApply).map((c) => c.at);
    return Math.max(0, ...at.slice(1).map((t, i) => t - (at[i] ?? t)));
  };

  it('delay no traffic change by more than the timeout and change nothing of the result; failures are warnings', async () => {
    const quiet = new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 } });
    const baseline = await withNotifier(settings('deploy', '', NO_PAUSE), (n) =>
      use.deploy(settings('deploy', '', NO_PAUSE), quiet, signal(), n),
    );
    api.reset();
    const notify = `${targets('hang')}\n${targets('fail')}`;
    const lb = new FakeDriver({ servers: BLUE_GREEN, traffic: { perCall: 100 } });
    const started = Date.now();
    const run = await withNotifier(settings('deploy', notify, NO_PAUSE), (n) =>
      use.deploy(settings('deploy', notify, NO_PAUSE), lb, signal(), n),
    );
    const closedMs = Date.now() - started - run.ranMs;
    console.log(
      `hanging/failing receivers: run ${run.ranMs}ms (baseline ${baseline.ranMs}ms), longest gap between traffic changes ${longestGap(lb)}ms (baseline ${longestGap(quiet)}ms), waited ${closedMs}ms at the end`,
    );
    // The same result and the same weights as with no notifications at all.
    expect(run.outcome).toEqual(baseline.outcome);
    expect(lb.calls.filter(isStepApply).map((c) => c.args)).toEqual(quiet.calls.filter(isStepApply).map((c) => c.args));
    // A blocking send would add a timeout per event and target (30 here, 1s each, 3 attempts): none was added.
    expect(run.ranMs).toBeLessThan(baseline.ranMs + 1000);
    expect(longestGap(lb)).toBeLessThan(longestGap(quiet) + 1000);
    // The end of the run waits at most one event's worst case: 3 attempts of 1s, 0.5s and 1s apart.
    expect(closedMs).toBeLessThan(4500 + 1000);
    // Every target: its first event tried 3 times (the failing receiver saw it 3 times, same id), later ones once.
    const failed = receiver.of('webhook', 'fail').map((r) => r.body as { id: string; event: string });
    expect(failed.slice(0, 3).map((f) => f.event)).toEqual(['started', 'started', 'started']);
    expect(new Set(failed.slice(0, 3).map((f) => f.id)).size).toBe(1);
    expect(failed.slice(3).map((f) => f.event)).toEqual(['step-passed', 'step-passed', 'step-passed', 'succeeded']);
    expect(run.report.problems).toContain(
      'webhook #2: event 1 (started) not delivered after 3 attempts: HTTP 500 (internal error)',
    );
    // Its 3 attempts, or (a machine so busy that its timers slip past the bounded wait at the end) cut by that wait.
    expect(run.report.problems.filter((p) => p.startsWith('slack #1'))[0]).toMatch(
      /^slack #1: event 1 \(started\) not delivered( after 3 attempts: no answer within 1s|: the run stopped waiting for it)$/,
    );
    // One warning a target (the first failure), not one an event: a step gets 10 warning annotations in all.
    const failing = new Set(run.report.problems.map((p) => p.split(':')[0]));
    expect(failing.size).toBe(6);
    expect(run.report.problems.length).toBeGreaterThan(6 * 4);
    expect(run.warnings.length).toBe(failing.size);
    expect(
      run.warnings.every((w) => / the rollout is not affected \(later failures of .+ #\d: in the log/.test(w)),
    ).toBe(true);
    expect(run.notes.length).toBe(run.report.problems.length - failing.size);
    // Never the URL (its token) in what the log or summary gets.
    expect(run.warnings.join('\n')).not.toMatch(/s3cr3t|127\.0\.0\.1/);
    // Nothing the receivers got was malformed, hanging or not.
    expect(receiver.received.flatMap((r) => r.problems)).toEqual([]);
  });
});
