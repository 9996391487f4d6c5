/**
 * Pull-request previews on the ALB stand-in through `dist/index.js`: a target group per preview build, copied from
 * preview-backend, and three listener rules per key (header, cookie, query) just before the deployed rule; real app
 * processes, keyed and background load, every SDK request checked against AWS's model, GitHub's API against its
 * OpenAPI description. Not AWS: the stand-in and the model.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { errors, FAST_ROLLOUT, runAction, type ActionRun } from '../helpers/action.js';
import { CONDITIONS, OIDC, validated } from '../helpers/alb-lab.js';
import { LISTENER_ARN, RULE_ARN, startAlbStandIn, type AlbStandIn } from '../helpers/aws-alb.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { githubEnv, startGithubApi, type GithubApi } from '../helpers/github-api.js';
import { requestsExactly, startLoad, type LoadStats } from '../helpers/load.js';
import { pullRequestEvent } from '../helpers/previews.js';

interface Lab {
  readonly alb: AlbStandIn;
  readonly fleets: Fleet[];
  build(version: string, appEnv?: Record<string, string>): Promise<string>;
}

let api: GithubApi;
let lab: Lab | undefined;
beforeAll(async () => {
  api = await startGithubApi();
});
afterAll(() => api.close());
afterEach(async () => {
  await lab?.alb.stop();
  for (const f of lab?.fleets ?? []) f.stopAll();
  lab = undefined;
  api.reset();
});

/** Cognito sign-in on the deployed rule: copied to the preview rules (no secret to carry, unlike OIDC's). */
const COGNITO = {
  Type: 'authenticate-cognito',
  Order: 1,
  AuthenticateCognitoConfig: {
    UserPoolArn: 'arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abcdefghi',
    UserPoolClientId: 'shopclient',
    UserPoolDomain: 'shop-auth',
    OnUnauthenticatedRequest: 'allow',
  },
};

async function startLab(
  idleGroups: readonly string[] = ['shop-previews'],
  forwardOn?: 'listener',
  auth: Record<string, unknown> = COGNITO,
): Promise<Lab> {
  const stable = await startFleet(2, 'v1');
  const alb = await startAlbStandIn({
    groups: [
      { name: 'shop-blue', weight: 100, ports: stable.ports },
      { name: 'shop-green', weight: 0, ports: [] },
    ],
    conditions: CONDITIONS,
    extraActions: [auth],
    idleGroups,
    forwardOn,
  });
  const fleets = [stable];
  lab = {
    alb,
    fleets,
    async build(version, appEnv = {}) {
      const fleet = await startFleet(1, version, appEnv);
      fleets.push(fleet);
      return `127.0.0.1:${fleet.ports[0]}`;
    },
  };
  return lab;
}

function event(l: Lab, pr: number): Record<string, string> {
  return pullRequestEvent(l.fleets[0]?.stateDir ?? '/tmp', pr);
}

function run(l: Lab, pr: number, extra: Record<string, string>): Promise<ActionRun> {
  return runAction(
    {
      'load-balancer': `aws-alb:${RULE_ARN}`,
      'preview-backend': 'shop-previews',
      'health-url': 'http://{address}/health',
      'github-token': 'test-token',
      'environment-url': 'https://shop.example.com/',
      ...FAST_ROLLOUT,
      ...extra,
    },
    { env: { ...githubEnv(api), ...event(l, pr), ...l.alb.env }, timeoutMs: 80_000 },
  );
}

/** Exactly `count` requests through the stand-in's listener with these headers (and path); what answered. */
function requests(l: Lab, count: number, headers: Record<string, string>, path = ''): Promise<LoadStats> {
  return requestsExactly(`${l.alb.trafficUrl}${path}`, count, headers);
}

/** The preview rules on the listener: priority, what they match (tag), the name of the group they forward to. */
function previewRules(alb: AlbStandIn): string[] {
  return alb.rules
    .filter((r) => r !== alb.rule)
    .sort((a, b) => Number(a.priority) - Number(b.priority))
    .map((r) => {
      const forward = r.actions.find((a) => a.Type === 'forward') as
        { ForwardConfig: { TargetGroups: { TargetGroupArn: string; Weight: number }[] } } | undefined;
      const arn = (forward?.ForwardConfig.TargetGroups ?? [])
        .map((t) => `${t.TargetGroupArn.split('/')[1]}${t.Weight === 1 ? '' : `@${t.Weight}`}`)
        .join(',');
      const key = r.tags.get('zero-downtime-deploy:preview-key');
      return `${r.priority} ${key} ${r.tags.get('zero-downtime-deploy:preview-match')} -> ${arn}`;
    });
}

/** Names of the groups the action made, with their one server's name and target. */
function previewGroups(alb: AlbStandIn): string[] {
  return [...alb.groups.values()]
    .filter((g) => g.created)
    .map((g) => `${g.tags.get('zero-downtime-deploy:preview-server')} ${[...g.targets.keys()].join(',')}`)
    .sort();
}

describe('ALB stand-in: pull-request previews', () => {
  it('opens pr-7 (three rules just before the deployed one, a group copied from preview-backend), routes header, cookie and query to it and nothing else; a new push switches with 0 failed keyed requests; close removes only what it made', async () => {
    const l = await startLab();
    const background = startLoad(l.alb.trafficUrl, { rps: 100, maxMs: 90_000 });
    const first = await l.build('pr7-build');
    const opened = await run(l, 7, { action: 'preview', version: 'abc1234', 'preview-address': first });
    expect(errors(opened)).toEqual([]);
    expect(opened.outputs.result).toBe('succeeded');
    const groupName = (server: string) =>
      [...l.alb.groups.values()].find((g) => g.tags.get('zero-downtime-deploy:preview-server') === server)?.name;
    const g1 = groupName('pr-7:abc1234');
    expect(g1).toMatch(/^zdd-pv-[0-9a-f]{25}$/);
    expect(previewRules(l.alb)).toEqual([`7 pr-7 query -> ${g1}`, `8 pr-7 cookie -> ${g1}`, `9 pr-7 header -> ${g1}`]);
    expect(previewGroups(l.alb)).toEqual([`pr-7:abc1234 ${first}`]);
    // Copied from the template: its health check, and its deregistration delay instead of AWS's 300 s default.
    const created = [...l.alb.groups.values()].find((g) => g.created);
    expect(created?.created).toMatchObject({ VpcId: 'vpc-0abc', TargetType: 'ip', HealthCheckPath: '/health' });
    expect(created?.attributes.get('deregistration_delay.timeout_seconds')).toBe('1');
    // Each rule carries the deployed rule's own conditions and its authenticate-cognito action, so the key reaches the
    // preview exactly where, and as, the deployed rule would have served it.
    for (const rule of l.alb.rules) {
      expect(rule.conditions.slice(0, 2)).toEqual(CONDITIONS);
      expect(rule.actions[0]).toEqual(COGNITO);
    }
    // Tagged with the key and the deployed rule: nothing of another rule's previews is ever taken for its own.
    expect([...(l.alb.rules[1]?.tags ?? [])]).toEqual([
      ['zero-downtime-deploy:preview-key', 'pr-7'],
      ['zero-downtime-deploy:preview-for', RULE_ARN],
      ['zero-downtime-deploy:preview-of', 'shop-previews'],
      ['zero-downtime-deploy:preview-match', 'header'],
    ]);

    const [header, cookie, query, other] = await Promise.all([
      requests(l, 300, { 'x-preview': 'pr-7' }),
      requests(l, 300, { cookie: 'session=1; preview=pr-7' }),
      requests(l, 100, {}, '?preview=pr-7'),
      requests(l, 200, { 'x-preview': 'pr-70', cookie: 'preview=pr-70' }),
    ]);
    expect([header.versions, cookie.versions, query.versions, other.versions]).toEqual([
      { 'pr7-build': 300 },
      { 'pr7-build': 300 },
      { 'pr7-build': 100 },
      { v1: 200 },
    ]);
    const comment = api.comments[0]?.body ?? '';
    expect(comment).toContain("curl -H 'X-Preview: pr-7' https://shop.example.com/");
    expect(comment).toContain(
      'In a browser, open https://shop.example.com/?preview=pr-7 for one page of this build; for the pages you click next, set the cookie `preview=pr-7`',
    );

    // A new push under keyed load: the same three rules now forward to the new group; the old group is gone.
    const second = await l.build('pr7-push2');
    const keyed = startLoad(l.alb.trafficUrl, { rps: 200, maxMs: 60_000, headers: { 'x-preview': 'pr-7' } });
    const ruleArns = l.alb.rules.map((r) => r.arn).sort();
    const pushed = await run(l, 7, { action: 'preview', version: 'def5678', 'preview-address': second });
    await new Promise((r) => setTimeout(r, 300));
    const duringPush = await keyed.stop();
    expect(errors(pushed)).toEqual([]);
    expect(duringPush.failed, JSON.stringify(duringPush.failures)).toBe(0);
    expect(Object.keys(duringPush.versions).sort()).toEqual(['pr7-build', 'pr7-push2']);
    const g2 = groupName('pr-7:def5678');
    expect(previewRules(l.alb)).toEqual([`7 pr-7 query -> ${g2}`, `8 pr-7 cookie -> ${g2}`, `9 pr-7 header -> ${g2}`]);
    expect(l.alb.rules.map((r) => r.arn).sort()).toEqual(ruleArns);
    expect(previewGroups(l.alb)).toEqual([`pr-7:def5678 ${second}`]);

    // Close under keyed load: the key falls back to the normal site, never an error.
    const during = startLoad(l.alb.trafficUrl, { rps: 200, maxMs: 60_000, headers: { 'x-preview': 'pr-7' } });
    await new Promise((r) => setTimeout(r, 300));
    const closed = await run(l, 7, { action: 'close-preview' });
    const closedAt = Date.now();
    await new Promise((r) => setTimeout(r, 500));
    const keyedClose = await during.stop();
    const plain = await background.stop();
    expect(errors(closed)).toEqual([]);
    expect(closed.outputs.result).toBe('succeeded');
    expect(keyedClose.failed, JSON.stringify(keyedClose.failures)).toBe(0);
    expect(keyedClose.requests.filter((r) => r.start > closedAt && r.version !== 'v1')).toEqual([]);
    expect(plain.failed, JSON.stringify(plain.failures)).toBe(0);
    expect(plain.versions).toEqual({ v1: plain.ok });
    expect(previewRules(l.alb)).toEqual([]);
    expect(previewGroups(l.alb)).toEqual([]);
    // Every other rule and group as it was: the deployed rule's conditions and actions, the lab's groups.
    expect(l.alb.rules).toEqual([l.alb.rule]);
    expect(l.alb.rule.conditions).toEqual(CONDITIONS);
    expect(l.alb.rule.actions[0]).toEqual(COGNITO);
    expect([...l.alb.groups.values()].map((g) => g.name)).toEqual(['shop-blue', 'shop-green', 'shop-previews']);
    expect(l.alb.weights()).toEqual({ 'shop-blue': 100, 'shop-green': 0 });
    expect(api.violations).toEqual([]);
    const v = validated(l.alb);
    console.log(
      `ALB preview: open, push, close; header ${header.ok}, cookie ${cookie.ok}, query ${query.ok} to the build; ${duringPush.sent} keyed during the push, ${duringPush.failed} failed; ${keyedClose.sent} keyed during close, ${keyedClose.failed} failed; background ${plain.sent}, ${plain.failed} failed; ${v.total} AWS requests valid per the model ${JSON.stringify(v.byOperation)}`,
    );
  }, 150_000);

  it('two previews opened at once take different priorities directly below the deployed rule; a build that fails its checks is removed and the key keeps the previous build', async () => {
    const l = await startLab();
    const [a7, a8] = [await l.build('pr7-build'), await l.build('pr8-build')];
    const [run7, run8] = await Promise.all([
      run(l, 7, { action: 'preview', version: 'c7', 'preview-address': a7 }),
      run(l, 8, { action: 'preview', version: 'c8', 'preview-address': a8 }),
    ]);
    expect([run7.code, run8.code, ...errors(run7), ...errors(run8)]).toEqual([0, 0]);
    const priorities = l.alb.rules.map((r) => Number(r.priority));
    expect(new Set(priorities).size).toBe(7);
    expect(priorities.filter((p) => p !== 10).sort((a, b) => a - b)).toEqual([4, 5, 6, 7, 8, 9]);
    const [h7, c8, none] = await Promise.all([
      requests(l, 200, { 'x-preview': 'pr-7' }),
      requests(l, 200, { cookie: 'preview=pr-8' }),
      requests(l, 200, {}),
    ]);
    expect([h7.versions, c8.versions, none.versions]).toEqual([
      { 'pr7-build': 200 },
      { 'pr8-build': 200 },
      { v1: 200 },
    ]);

    const broken = await l.build('pr7-broken', { APP_NEXT_HEALTHY: '0' });
    const failed = await run(l, 7, {
      action: 'preview',
      version: 'c7b',
      'preview-address': broken,
      'startup-timeout': '3s',
      // No health-url: ALB's own check fails it, after the build was attached at weight 0 to the key's header rule.
      'health-url': '',
    });
    expect(failed.code).toBe(1);
    expect(failed.outputs.result).toBe('failed');
    expect(errors(failed).join('\n')).toMatch(
      /c7b failed its checks on shop-previews\/pr-7:c7b .*; pr-7 still routes to shop-previews\/pr-7:c7, the previous build/,
    );
    expect(previewGroups(l.alb)).toEqual([`pr-7:c7 ${a7}`, `pr-8:c8 ${a8}`]);
    expect((await requests(l, 100, { 'x-preview': 'pr-7' })).versions).toEqual({ 'pr7-build': 100 });
    // The failed build had been attached at weight 0 for ALB's health check (and no request reached it), and is
    // detached again.
    expect(errors(failed).join('\n')).toMatch(/the load balancer's own check did not pass within startup-timeout/);
    expect(previewRules(l.alb).filter((r) => r.includes('@'))).toEqual([]);
    const attached = l.alb.calls.filter(
      (c) => c.operation === 'ModifyRule' && JSON.stringify(c.input).includes('"Weight":0'),
    );
    expect(attached).toHaveLength(1);

    // A new key whose first build fails: it was held by a parked rule (ALB checks only groups a rule uses) that
    // matched no request, and both are gone.
    const broken9 = await l.build('pr9-broken', { APP_NEXT_HEALTHY: '0' });
    // No health-url: ALB's own check is the one that fails, which it runs only while a rule (the parked one) uses it.
    const failed9 = await run(l, 9, {
      action: 'preview',
      version: 'c9',
      'preview-address': broken9,
      'startup-timeout': '3s',
      'health-url': '',
    });
    expect(failed9.code).toBe(1);
    expect(errors(failed9).join('\n')).toMatch(
      /c9 failed its checks on shop-previews\/pr-9:c9 \(the load balancer's own check did not pass within startup-timeout \(unhealthy Target\.ResponseCodeMismatch\)\); pr-9 routes nowhere/,
    );
    expect(previewRules(l.alb).filter((r) => r.includes('pr-9'))).toEqual([]);
    expect(previewGroups(l.alb).filter((g) => g.startsWith('pr-9'))).toEqual([]);

    // A run that died after its first rule: the next run of the same build makes the missing ones.
    const cookieRule = l.alb.rules.find(
      (r) =>
        r.tags.get('zero-downtime-deploy:preview-key') === 'pr-8' &&
        r.tags.get('zero-downtime-deploy:preview-match') === 'cookie',
    );
    l.alb.rules.splice(l.alb.rules.indexOf(cookieRule as (typeof l.alb.rules)[number]), 1);
    const again8 = await run(l, 8, { action: 'preview', version: 'c8', 'preview-address': a8 });
    expect(errors(again8)).toEqual([]);
    expect(
      previewRules(l.alb)
        .filter((r) => r.includes('pr-8'))
        .map((r) => r.split(' ')[2])
        .sort(),
    ).toEqual(['cookie', 'header', 'query']);
    expect((await requests(l, 100, { cookie: 'preview=pr-8' })).versions).toEqual({ 'pr8-build': 100 });

    expect((await run(l, 7, { action: 'close-preview' })).code).toBe(0);
    expect(previewRules(l.alb).map((r) => r.split(' ')[1])).toEqual(['pr-8', 'pr-8', 'pr-8']);
    expect((await requests(l, 100, { 'x-preview': 'pr-8' })).versions).toEqual({ 'pr8-build': 100 });
    const again = await run(l, 7, { action: 'close-preview' });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('pr-7 has no preview on the load balancer: nothing to close');
    const v = validated(l.alb);
    console.log(`ALB previews at once: ${v.total} AWS requests valid per the model ${JSON.stringify(v.byOperation)}`);
  }, 150_000);

  it("on a listener's default action: the key's rules come after every other rule and carry only the key's condition", async () => {
    const l = await startLab(['shop-previews'], 'listener');
    const address = await l.build('pr7-build');
    const opened = await run(l, 7, {
      action: 'preview',
      version: 'l1',
      'preview-address': address,
      'load-balancer': `aws-alb:${LISTENER_ARN}`,
    });
    expect(errors(opened)).toEqual([]);
    const g = [...l.alb.groups.values()].find((x) => x.created)?.name;
    expect(previewRules(l.alb)).toEqual([
      `49998 pr-7 query -> ${g}`,
      `49999 pr-7 cookie -> ${g}`,
      `50000 pr-7 header -> ${g}`,
    ]);
    expect(l.alb.rules.filter((r) => r !== l.alb.rule).map((r) => r.conditions.length)).toEqual([1, 1, 1]);
    const [keyed, plain] = await Promise.all([requests(l, 200, { 'x-preview': 'pr-7' }), requests(l, 200, {})]);
    expect([keyed.versions, plain.versions]).toEqual([{ 'pr7-build': 200 }, { v1: 200 }]);
    const closed = await run(l, 7, { action: 'close-preview', 'load-balancer': `aws-alb:${LISTENER_ARN}` });
    expect(errors(closed)).toEqual([]);
    expect(l.alb.rules).toEqual([l.alb.rule]);
    expect(previewGroups(l.alb)).toEqual([]);
    validated(l.alb);
  }, 90_000);

  it('never jumps a rule of yours: another rule directly below the deployed one stops a new key before anything is created', async () => {
    const l = await startLab();
    l.alb.rules.push({
      arn: `${RULE_ARN.slice(0, RULE_ARN.lastIndexOf('/'))}/0000000000000009`,
      priority: '9',
      conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/admin*'] } }],
      actions: [{ Type: 'fixed-response', Order: 1, FixedResponseConfig: { StatusCode: '403' } }],
      pending: undefined,
      tags: new Map(),
    });
    const address = await l.build('pr7-build');
    const r = await run(l, 7, { action: 'preview', version: 'x1', 'preview-address': address });
    expect(r.code).toBe(1);
    expect(errors(r).join('\n')).toMatch(
      /the rule at priority 9 sits directly before the deployed rule \(10\) with no free priority between, so preview pr-7's 3 rules would have to jump it; .*Nothing was changed for pr-7/,
    );
    expect(l.alb.calls.filter((c) => !/^Describe/.test(c.operation))).toEqual([]);
    expect(l.alb.rules.map((rule) => rule.priority)).toEqual(['10', '9']);
    validated(l.alb);
  }, 60_000);

  it('refuses what ALB cannot do, naming the input, and changes nothing: no preview-backend group, a rule signing in with OIDC, preview-canary, targets', async () => {
    const l = await startLab([], undefined, OIDC);
    const address = await l.build('pr7-build');
    const missing = await run(l, 7, { action: 'preview', version: 'x1', 'preview-address': address });
    expect(missing.code).toBe(1);
    expect(errors(missing).join('\n')).toMatch(
      /preview-backend: ALB has no target group named shop-previews in us-east-1; create an empty one for previews to copy/,
    );
    expect(errors(missing).join('\n')).toMatch(
      /load-balancer: .* authenticates with authenticate-oidc, whose client secret ALB never returns/,
    );
    const canary = await run(l, 7, {
      action: 'preview',
      version: 'x1',
      'preview-address': address,
      'preview-canary': 'shop-blue 5% 1m',
    });
    expect(errors(canary).join('\n')).toMatch(/preview-canary: not available on aws-alb in this release/);
    const targets = await run(l, 7, { action: 'preview', version: 'x1', targets: 'shop-previews/*' });
    expect(errors(targets).join('\n')).toMatch(/targets: on aws-alb a preview registers preview-address/);
    expect(l.alb.calls.filter((c) => !/^Describe/.test(c.operation))).toEqual([]);
    expect(l.alb.rules).toEqual([l.alb.rule]);
    validated(l.alb);
  }, 60_000);
});
