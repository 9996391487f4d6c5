/**
 * Pull-request previews against real HAProxy configured with the lines of docs/previews.md: requests with the key reach the
 * preview and nothing else does, previews are independent, updates leave no gap, close removes everything, and
 * GitHub sees one comment and a transient deployment (checked against the OpenAPI description).
 */
import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { errors, runAction, summaryTimeline, type ActionRun } from '../helpers/action.js';
import { githubEnv, startGithubApi, type GithubApi } from '../helpers/github-api.js';
import { requestsExactly, startLoad } from '../helpers/load.js';
import { startPreviewLab, type PreviewLab } from '../helpers/previews.js';

let api: GithubApi;
let lab: PreviewLab | undefined;
beforeAll(async () => {
  api = await startGithubApi();
});
afterAll(() => api.close());
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
  api.reset();
});

function preview(l: PreviewLab, pr: number, extra: Record<string, string>): Promise<ActionRun> {
  return runAction(l.inputs({ action: 'preview', ...extra }), { env: { ...githubEnv(api), ...l.event(pr) } });
}

function closePreview(l: PreviewLab, pr: number): Promise<ActionRun> {
  return runAction(l.inputs({ action: 'close-preview' }), { env: { ...githubEnv(api), ...l.event(pr) } });
}

const requests = requestsExactly;

async function previewServers(l: PreviewLab): Promise<string[]> {
  const state = await l.haproxy.cli('show servers state previews');
  return state
    .split('\n')
    .filter((line) => /^\d+ previews /.test(line))
    .map((line) => line.split(' ')[3] ?? '');
}

/** Every server's state line, without srv_time_since_last_change (field 10), which ticks by itself. */
async function serversState(l: PreviewLab): Promise<string> {
  const state = await l.haproxy.cli('show servers state');
  return (
    state
      .split('\n')
      // Backend, name, address, admin state and weight: not the columns that tick on their own (time since the last
      // change, the check in progress).
      .filter((line) => /^\d+ /.test(line))
      .map((line) => line.split(' '))
      .map((c) => [c[1], c[3], c[4], `admin ${c[6]}`, `weight ${c[7]}`].join(' '))
      .join('\n')
  );
}

async function mapEntries(l: PreviewLab): Promise<string[]> {
  const text = await l.haproxy.cli(`show map ${l.mapPath}`);
  return text
    .split('\n')
    .filter((line) => line.startsWith('0x'))
    .map((line) => line.split(' ').slice(1).join(' '));
}

function get(url: string): Promise<{ version: string; setCookie: string[] }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ version: String(res.headers['x-version'] ?? 'none'), setCookie: res.headers['set-cookie'] ?? [] }),
        );
      })
      .on('error', reject);
  });
}

describe('previews on HAProxy', () => {
  it('routes 1000 requests by header and 1000 by cookie to pr-7 and nothing else; close removes it with 0 failed', async () => {
    lab = await startPreviewLab();
    const address = await lab.build('pr7-build');
    const background = startLoad(lab.url, { rps: 100, maxMs: 60_000 });

    const opened = await preview(lab, 7, { version: 'abc1234', 'preview-address': address });
    expect(errors(opened)).toEqual([]);
    expect(opened.code).toBe(0);
    expect(opened.outputs.result).toBe('succeeded');
    expect(await previewServers(lab)).toEqual(['pr-7:abc1234']);
    expect(await mapEntries(lab)).toEqual(['pr-7 pr-7:abc1234']);

    const byHeader = await requests(lab.url, 1000, { 'x-preview': 'pr-7' });
    const byCookie = await requests(lab.url, 1000, { cookie: 'session=1; preview=pr-7' });
    const otherKey = await requests(lab.url, 200, { 'x-preview': 'pr-8', cookie: 'preview=nope' });
    expect(byHeader.versions).toEqual({ 'pr7-build': 1000 });
    expect(byCookie.versions).toEqual({ 'pr7-build': 1000 });
    expect(otherKey.versions).toEqual({ v1: 200 });
    expect([byHeader.failed, byCookie.failed, otherKey.failed]).toEqual([0, 0, 0]);

    // A browser's first visit with ?preview=pr-7 reaches the preview and gets the cookie for the next ones.
    const link = await get(`${lab.url}?preview=pr-7`);
    expect(link.version).toBe('pr7-build');
    expect(link.setCookie.join()).toMatch(/^preview=pr-7; Path=\//);
    expect((await get(`${lab.url}?preview=unknown`)).setCookie).toEqual([]);

    const during = startLoad(lab.url, { rps: 200, maxMs: 60_000, headers: { 'x-preview': 'pr-7' } });
    await during.through(60);
    const closed = await closePreview(lab, 7);
    const closedAt = Date.now();
    await during.through(60, closedAt);
    const keyed = await during.stop();
    const plain = await background.stop();
    expect(errors(closed)).toEqual([]);
    expect(closed.outputs.result).toBe('succeeded');
    expect(keyed.failed, JSON.stringify(keyed.failures)).toBe(0);
    expect(plain.failed, JSON.stringify(plain.failures)).toBe(0);
    expect(plain.versions).toEqual({ v1: plain.ok });
    expect(keyed.requests.filter((r) => r.start > closedAt && r.version !== 'v1')).toEqual([]);
    expect(keyed.requests.filter((r) => r.start > closedAt).length).toBeGreaterThan(50);
    expect(await previewServers(lab)).toEqual([]);
    expect(await mapEntries(lab)).toEqual([]);

    // GitHub: one comment, created then edited; a transient deployment, success then inactive.
    expect(api.violations).toEqual([]);
    expect(api.comments).toHaveLength(1);
    const comment = api.comments[0];
    expect(comment?.issue).toBe(7);
    expect(comment?.updates).toBe(1);
    expect(comment?.body).toContain('<!-- zero-downtime-deploy preview pr-7 -->');
    expect(comment?.body).toContain('### Preview `pr-7`: closed');
    const commentCalls = api.requests.filter((r) => r.operation.includes('comments')).map((r) => r.operation);
    expect(commentCalls).toEqual([
      'GET /repos/{owner}/{repo}/issues/{issue_number}/comments',
      'POST /repos/{owner}/{repo}/issues/{issue_number}/comments',
      'GET /repos/{owner}/{repo}/issues/{issue_number}/comments',
      'PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}',
    ]);
    const created = api.requests.find(
      (r) => r.operation === 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments',
    );
    expect(created?.body?.body).toContain("curl -H 'X-Preview: pr-7' https://shop.example.com/");
    expect(created?.body?.body).toContain('https://shop.example.com/?preview=pr-7');
    expect(created?.body?.body).toMatch(/\| health \| load balancer check: UP L7OK/);
    const deployments = api.deployments();
    expect(deployments.map((d) => [d.environment, d.transient, d.states])).toEqual([
      ['preview/pr-7', true, ['inactive', 'success', 'in_progress', 'in_progress']],
    ]);
    const deploy = api.requests.find((r) => r.operation === 'POST /repos/{owner}/{repo}/deployments');
    expect(deploy?.body).toMatchObject({
      ref: '0007abcdef0123456789abcdef0123456789abcd',
      transient_environment: true,
      production_environment: false,
    });
    const success = api.requests.find((r) => r.body?.state === 'success');
    expect(success?.body?.environment_url).toBe('https://shop.example.com/?preview=pr-7');
    expect(opened.summary).toContain('| server | `previews/pr-7:abc1234` at `' + address + '` |');
  }, 120_000);

  it('runs two previews independently, and closing one leaves the other; closing an absent one is a no-op', async () => {
    lab = await startPreviewLab();
    const [a7, a8] = [await lab.build('pr7-build'), await lab.build('pr8-build')];
    const [run7, run8] = await Promise.all([
      preview(lab, 7, { version: 'c7', 'preview-address': a7 }),
      preview(lab, 8, { version: 'c8', 'preview-address': a8 }),
    ]);
    expect([run7.code, run8.code, ...errors(run7), ...errors(run8)]).toEqual([0, 0]);
    const [h7, h8, c8, none] = await Promise.all([
      requests(lab.url, 500, { 'x-preview': 'pr-7' }),
      requests(lab.url, 500, { 'x-preview': 'pr-8' }),
      requests(lab.url, 500, { cookie: 'preview=pr-8' }),
      requests(lab.url, 500, {}),
    ]);
    expect([h7.versions, h8.versions, c8.versions, none.versions]).toEqual([
      { 'pr7-build': 500 },
      { 'pr8-build': 500 },
      { 'pr8-build': 500 },
      { v1: 500 },
    ]);

    expect((await closePreview(lab, 7)).code).toBe(0);
    const [after7, after8] = await Promise.all([
      requests(lab.url, 200, { 'x-preview': 'pr-7' }),
      requests(lab.url, 200, { 'x-preview': 'pr-8' }),
    ]);
    expect([after7.versions, after8.versions]).toEqual([{ v1: 200 }, { 'pr8-build': 200 }]);
    expect(await previewServers(lab)).toEqual(['pr-8:c8']);
    expect(api.comments.map((c) => [c.issue, c.updates]).sort((x, y) => Number(x[0]) - Number(y[0]))).toEqual([
      [7, 1],
      [8, 0],
    ]);

    const again = await closePreview(lab, 7);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('pr-7 has no preview on the load balancer: nothing to close');
    expect(await mapEntries(lab)).toEqual(['pr-8 pr-8:c8']);
  }, 120_000);

  it('a new push replaces the build with no gap; a build that fails its checks leaves the previous one serving', async () => {
    lab = await startPreviewLab();
    const first = await lab.build('push-1');
    expect((await preview(lab, 7, { version: 'push1', 'preview-address': first })).code).toBe(0);
    const second = await lab.build('push-2');
    const keyed = startLoad(lab.url, { rps: 300, maxMs: 60_000, headers: { 'x-preview': 'pr-7' } });
    const update = await preview(lab, 7, { version: 'push2', 'preview-address': second });
    await keyed.through(40);
    const stats = await keyed.stop();
    expect(errors(update)).toEqual([]);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    // Never the normal site: the key always routed to a preview build, the old one until the switch.
    expect(Object.keys(stats.versions).sort()).toEqual(['push-1', 'push-2']);
    const lastOld = Math.max(...stats.requests.filter((r) => r.version === 'push-1').map((r) => r.start));
    const firstNew = Math.min(...stats.requests.filter((r) => r.version === 'push-2').map((r) => r.start));
    expect(lastOld).toBeLessThanOrEqual(firstNew + 50);
    expect(await previewServers(lab)).toEqual(['pr-7:push2']);

    const broken = await lab.build('push-3', { APP_NEXT_HEALTHY: '0' });
    const failed = await preview(lab, 7, { version: 'push3', 'preview-address': broken, 'startup-timeout': '3s' });
    expect(failed.code).toBe(1);
    expect(failed.outputs.result).toBe('failed');
    expect(errors(failed).join('\n')).toMatch(
      /push3 failed its checks on previews\/pr-7:push3 .*; pr-7 still routes to previews\/pr-7:push2, the previous build/,
    );
    expect(await previewServers(lab)).toEqual(['pr-7:push2']);
    expect((await requests(lab.url, 100, { 'x-preview': 'pr-7' })).versions).toEqual({ 'push-2': 100 });
    expect(api.comments).toHaveLength(1);
    expect(api.comments[0]?.updates).toBe(2);
    expect(api.comments[0]?.body).toContain('### Preview `pr-7`: the new build failed its checks');
    expect(api.violations).toEqual([]);
    // Each push has its own deployment; the replaced one is inactive, the failed one failure.
    expect(api.deployments().map((d) => d.states[0])).toEqual(['failure', 'success', 'inactive']);
  }, 120_000);

  it('a reload forgets previews: keyed requests get the normal site without errors, and re-running brings it back', async () => {
    lab = await startPreviewLab();
    const address = await lab.build('pr7-build');
    expect((await preview(lab, 7, { version: 'r1', 'preview-address': address })).code).toBe(0);
    const keyed = startLoad(lab.url, { rps: 200, maxMs: 60_000, headers: { 'x-preview': 'pr-7' } });
    await keyed.through(60);
    await lab.haproxy.reload();
    await keyed.through(150);
    const stats = await keyed.stop();
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(Object.keys(stats.versions).sort()).toEqual(['pr7-build', 'v1']);
    expect(await previewServers(lab)).toEqual([]);
    expect((await preview(lab, 7, { version: 'r1', 'preview-address': address })).code).toBe(0);
    expect((await requests(lab.url, 100, { 'x-preview': 'pr-7' })).versions).toEqual({ 'pr7-build': 100 });
  }, 120_000);

  it('targets: deploy-command puts the build on an existing server, the key routes to it, close leaves the server', async () => {
    lab = await startPreviewLab({ slot: true });
    const slot = lab.slot;
    if (!slot) throw new Error('no slot');
    const env = { ...githubEnv(api), ...lab.event(9), ...slot.env };
    const outside = await runAction(lab.inputs({ action: 'preview', targets: 'app/web1', version: 'pr9-build' }), {
      env,
    });
    expect(outside.code).toBe(1);
    expect(errors(outside).join('\n')).toMatch(/targets: app\/web1 is not in the preview backend previews/);
    expect(await mapEntries(lab)).toEqual([]);

    const run = await runAction(
      lab.inputs({
        action: 'preview',
        targets: 'previews/slot1',
        version: 'pr9-build',
        'deploy-command': slot.restartCommand,
      }),
      { env },
    );
    expect(errors(run)).toEqual([]);
    expect(await mapEntries(lab)).toEqual(['pr-9 slot1']);
    const [keyed, plain] = await Promise.all([
      requests(lab.url, 300, { 'x-preview': 'pr-9' }),
      requests(lab.url, 300, {}),
    ]);
    expect([keyed.versions, plain.versions]).toEqual([{ 'pr9-build': 300 }, { v1: 300 }]);

    const closed = await runAction(lab.inputs({ action: 'close-preview' }), { env });
    expect(errors(closed)).toEqual([]);
    expect(closed.stdout).toContain('previews/slot1 (named by targets) left in place');
    expect(await mapEntries(lab)).toEqual([]);
    expect(await previewServers(lab)).toEqual(['slot1']);
    expect((await requests(lab.url, 100, { 'x-preview': 'pr-9' })).versions).toEqual({ v1: 100 });
  }, 120_000);

  it("preview-canary: a good build serves its share of real traffic for the window, then is taken out; key 127.0.0.1 prefixes app's real servers 127.0.0.1:PORT, and the run and close-preview remove only what the action made (case 10)", async () => {
    // The real servers are named by their address, so the key 127.0.0.1 begins their names (issue 14, case 10).
    lab = await startPreviewLab({ namedByAddress: true });
    const l = lab;
    const address = await lab.build('pr7-build');
    const key = { 'preview-key': '127.0.0.1' };
    /** app's real servers (127.0.0.1:PORT): name, address, admin state and weight, as HAProxy holds them. */
    const realServers = async () =>
      (await serversState(l))
        .split('\n')
        .filter((line) => line.startsWith('app 127.0.0.1:') && !line.includes('zdd-canary'))
        .join('\n');
    const appServers = async () => [...(await l.haproxy.servers()).keys()].filter((id) => id.startsWith('app/')).sort();
    const real = await realServers();
    const realIds = real.split('\n').map((line) => `app/${line.split(' ')[1]}`);
    expect(realIds).toHaveLength(2);
    // What a cut-off run of this key leaves behind: its canary in app, out of traffic (maint, weight 0).
    const leftover = 'app/127.0.0.1:k1.zdd-canary';
    const addLeftover = () => l.haproxy.cli(`add server ${leftover} ${address} weight 0`);
    expect(await addLeftover()).toMatch(/New server registered/);
    const plain = startLoad(lab.url, { rps: 200, maxMs: 60_000 });
    const run = await preview(lab, 7, {
      ...key,
      version: 'k1',
      'preview-address': address,
      'preview-canary': 'app 20% 4s',
    });
    await plain.through(60);
    const stats = await plain.stop();
    expect(errors(run)).toEqual([]);
    expect(run.outputs.result).toBe('succeeded');
    const events = summaryTimeline(run);
    const inAt = events.find(([, text]) => text.includes('20.0% of app'))?.[0] ?? 0;
    const outAt = events.find(([, text]) => text.includes('canary pulled out'))?.[0] ?? 0;
    expect(outAt - inAt).toBeGreaterThanOrEqual(4000);
    // Requests that started while the canary was in traffic: about 20% reached the preview build.
    const during = stats.requests.filter((r) => r.start > inAt + 200 && r.end < outAt - 200);
    const share = during.filter((r) => r.version === 'pr7-build').length / during.length;
    console.log(
      `preview canary: ${(share * 100).toFixed(1)}% of ${during.length} requests on the preview build, in traffic ${outAt - inAt}ms; ${stats.ok + stats.failed} requests, ${stats.failed} failed`,
    );
    expect(share).toBeGreaterThan(0.14);
    expect(share).toBeLessThan(0.26);
    expect(stats.requests.filter((r) => r.start > outAt && r.version !== 'v1')).toEqual([]);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    // The leftover canary went by its exact name; the real servers are as they were, and the only ones in app.
    expect(events.some(([, text]) => text === `${leftover}: removed from the load balancer`)).toBe(true);
    expect(await realServers()).toBe(real);
    expect(await appServers()).toEqual(realIds.sort());
    expect(await mapEntries(lab)).toEqual(['127.0.0.1 127.0.0.1:k1']);
    expect(run.summary).toMatch(
      /\| canary \| 20\.0% of app's traffic, \d+ window\(s\): 0 of \d+ failed .*passed; taken out of real traffic again \|/,
    );

    // close-preview under load: the key's preview server and, by its exact name, a canary left in app; nothing else.
    expect(await addLeftover()).toMatch(/New server registered/);
    const closing = startLoad(lab.url, { rps: 200, maxMs: 60_000 });
    const started = Date.now();
    const closed = await runAction(l.inputs({ action: 'close-preview', ...key }), {
      env: { ...githubEnv(api), ...l.event(7) },
    });
    const closedAt = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    const around = await closing.stop();
    expect(errors(closed)).toEqual([]);
    expect(closed.outputs.result).toBe('succeeded');
    expect(closed.stdout).toMatch(
      /127\.0\.0\.1 closed: no route; removed (previews\/127\.0\.0\.1:k1, app\/127\.0\.0\.1:k1\.zdd-canary|app\/127\.0\.0\.1:k1\.zdd-canary, previews\/127\.0\.0\.1:k1)\n/,
    );
    expect(await realServers()).toBe(real);
    expect(await appServers()).toEqual(realIds.sort());
    expect(await previewServers(l)).toEqual([]);
    expect(await mapEntries(l)).toEqual([]);
    expect(around.versions).toEqual({ v1: around.ok });
    expect(around.failed, JSON.stringify(around.failures)).toBe(0);
    console.log(
      `case 10 close-preview: ${around.ok + around.failed} requests, ${around.failed} failed; close-preview took ${closedAt - started}ms`,
    );
  }, 120_000);

  it('preview-canary: a build failing 30% of requests is pulled out of real traffic at once; the key still reaches it', async () => {
    lab = await startPreviewLab();
    const address = await lab.build('bad-build', { APP_NEXT_FAIL_RATE: '0.3' });
    const plain = startLoad(lab.url, { rps: 200, maxMs: 60_000 });
    const run = await preview(lab, 8, { version: 'bad1', 'preview-address': address, 'preview-canary': 'app 20% 30s' });
    await plain.through(60);
    const stats = await plain.stop();
    expect(run.code).toBe(1);
    expect(run.outputs.result).toBe('rolled-back');
    expect(errors(run).join('\n')).toMatch(
      /bad1 failed as a canary on 20\.0% of app's traffic .*(Worse than stable|Hard ceiling).*; pr-8 still reaches it/,
    );
    const events = summaryTimeline(run);
    const inAt = events.find(([, text]) => text.includes('20.0% of app'))?.[0] ?? 0;
    const outAt = events.find(([, text]) => text.includes('canary pulled out'))?.[0] ?? 0;
    expect(outAt - inAt).toBeLessThan(5000);
    const firstBad = Math.min(
      ...stats.requests.filter((r) => r.version === 'bad-build' && r.status >= 500).map((r) => r.end),
    );
    const bad = stats.requests.filter((r) => r.version === 'bad-build').length;
    console.log(
      `bad preview canary: pulled out ${outAt - firstBad}ms after the first failure, ${bad} of ${stats.sent} real requests reached it`,
    );
    expect(outAt - firstBad).toBeLessThan(3000);
    expect(stats.requests.filter((r) => r.start > outAt && r.version !== 'v1')).toEqual([]);
    expect((await lab.haproxy.servers()).has('app/pr-8:bad1.zdd-canary')).toBe(false);
    expect(await mapEntries(lab)).toEqual(['pr-8 pr-8:bad1']);
    expect(api.comments[0]?.body).toContain('### Preview `pr-8`: live, but it failed as a canary on real traffic');
  }, 120_000);

  it('preview-canary: SIGKILL while it serves real traffic, then the post step takes it out', async () => {
    lab = await startPreviewLab();
    const address = await lab.build('pr7-build');
    const l = lab;
    const plain = startLoad(lab.url, { rps: 200, maxMs: 60_000 });
    const inputs = l.inputs({
      action: 'preview',
      version: 'kill1',
      'preview-address': address,
      'preview-canary': 'app 20% 30s',
    });
    const env = { ...githubEnv(api), ...l.event(7) };
    let child: { kill: (s: NodeJS.Signals) => boolean } | undefined;
    const running = runAction(inputs, { env, onSpawn: (c) => (child = c) });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !((await l.haproxy.servers()).get('app/pr-7:kill1.zdd-canary')?.weight ?? 0))
      await new Promise((r) => setTimeout(r, 100));
    expect((await l.haproxy.servers()).get('app/pr-7:kill1.zdd-canary')?.weight).toBe(50);
    child?.kill('SIGKILL');
    const main = await running;
    const post = await runAction(inputs, { env, state: { ...main.state, isPost: 'true' } });
    const after = Date.now();
    await plain.through(60, after);
    const stats = await plain.stop();
    expect(main.code).toBeNull();
    expect(post.code).toBe(0);
    expect(post.stdout).toContain('the post step restored, read back: app/pr-7:kill1.zdd-canary weight 0 maint');
    expect((await l.haproxy.servers()).get('app/pr-7:kill1.zdd-canary')).toMatchObject({ weight: 0, status: 'MAINT' });
    // close-preview removes what the key left anywhere: the preview server and the canary's.
    const closed = await runAction(l.inputs({ action: 'close-preview' }), { env });
    expect(closed.stdout).toMatch(
      /removed previews\/pr-7:kill1, app\/pr-7:kill1|removed app\/pr-7:kill1, previews\/pr-7:kill1/,
    );
    expect((await l.haproxy.servers()).has('app/pr-7:kill1.zdd-canary')).toBe(false);
    expect(await previewServers(l)).toEqual([]);
    expect(stats.requests.filter((r) => r.start > after && r.version !== 'v1')).toEqual([]);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
  }, 120_000);

  it('an HAProxy without the preview lines: the error names preview-map and preview-backend, nothing is changed', async () => {
    lab = await startPreviewLab({ withPreviewConfig: false });
    const address = await lab.build('pr7-build');
    const before = await serversState(lab);
    const run = await preview(lab, 7, { version: 'x1', 'preview-address': address });
    expect(run.code).toBe(1);
    const message = errors(run).join('\n');
    expect(message).toMatch(
      /preview-map: HAProxy has no map .*previews\.map; add the preview lines of docs\/previews\.md/,
    );
    expect(message).toMatch(/preview-backend: HAProxy has no backend previews/);
    expect(await serversState(lab)).toBe(before);
    expect(api.requests).toEqual([]);
  }, 60_000);
});
