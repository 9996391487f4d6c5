/**
 * The ALB driver through `dist/index.js`, as the runner runs it, against the local ALB stand-in (test/helpers/aws-alb):
 * real app processes behind it, steady keep-alive load through its listener, every SDK request checked against AWS's
 * published model. Not AWS: the stand-in and the model.
 */
import { describe, expect, it } from 'vitest';
import { errors, runAction, summaryTimeline } from '../helpers/action.js';
import { albInputs, CONDITIONS, OIDC, runOnAlb, useAlbLab, validated } from '../helpers/alb-lab.js';
import { startLoad } from '../helpers/load.js';

const setup = useAlbLab();

describe('ALB stand-in: dry run', () => {
  it('shows the target groups, weights, deregistration delay and detection delay', async () => {
    const l = await setup();
    const r = await runOnAlb(l, {
      strategy: 'canary',
      steps: '10% 1m, 50% 1m, 100%',
      'dry-run': 'true',
      'min-requests': '20',
      'analysis-interval': '1m',
    });
    expect(errors(r)).toEqual([]);
    expect(r.outputs.result).toBe('unchanged');
    expect(r.summary).toContain(
      'forward to shop-blue weight 100 (100%), shop-green weight 0 (0%); each traffic change is one ModifyRule call',
    );
    expect(r.summary).toContain('Deregistration delay: shop-blue 1 s, shop-green 1 s');
    expect(r.summary).toMatch(/Detection delay: CloudWatch counts ALB requests and 5xx per 60 s period/);
    expect(r.summary).toContain('Target group stickiness: forward action off');
    expect(r.summary).toContain(
      '- **Latency:** judged from TargetResponseTime per target group from CloudWatch (p50, p95, p99 and SampleCount per 60 s period)',
    );
    expect(r.summary).toContain(
      "latency shows per 1m period (this load balancer's granularity), each published about 1m after it ends",
    );
    // The first period sets stable's thresholds, the second catches it, shown a period after it ends.
    expect(r.summary).toContain(
      '- a version 2x slower (stable median 100 ms, at 100 requests/s): rolled back after about 3m',
    );
    expect(l.alb.calls.filter((c) => /^(Modify|Register|Deregister|Add|Remove)/.test(c.operation))).toEqual([]);
    console.log(`dry run: ${JSON.stringify(validated(l.alb))}`);
  });
});

describe('ALB stand-in: blue-green and canary under load', () => {
  it('blue-green: all traffic to green with 0 failed requests; the rule keeps its other action and conditions; throttled calls retried, a delayed switch read back until it shows', async () => {
    const l = await setup();
    // AWS being AWS: the first 3 calls are throttled, and the switch shows only 1.5 s after it was made.
    l.alb.throttle(3);
    l.alb.delayNextChange(1500);
    const load = startLoad(l.alb.trafficUrl, { rps: 200, maxMs: 60_000 });
    const r = await runOnAlb(l, { strategy: 'blue-green' });
    const stats = await load.stop();
    expect(errors(r)).toEqual([]);
    expect(r.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'green', weight: '100' });
    expect(stats.failed, `${JSON.stringify(stats.failures)}; cut by the stand-in: ${l.alb.cutResponses()}`).toBe(0);
    expect(l.alb.weights()).toEqual({ 'shop-blue': 0, 'shop-green': 100 });
    expect(l.alb.rule.actions[0]).toEqual(OIDC);
    expect(l.alb.rule.conditions).toEqual(CONDITIONS);
    expect(l.alb.calls.filter((c) => c.refused === 'Throttling')).toHaveLength(3);
    expect(r.stdout).toMatch(/ALB: the new weights showed on read-back \d+ of rule .*, [\d.]+m?s after the change/);
    const v = validated(l.alb);
    console.log(
      `blue-green: ${stats.sent} requests, ${stats.failed} failed; ${v.total} AWS requests valid per the model ${JSON.stringify(v.byOperation)}`,
    );
  });
});

describe('ALB stand-in: canary', () => {
  it('moves 20%, 50%, 100% to green under load with 0 failed requests; each step near its share', async () => {
    const l = await setup();
    const load = startLoad(l.alb.trafficUrl, { rps: 200, maxMs: 60_000 });
    const r = await runOnAlb(l, { strategy: 'canary', steps: '20% 2s, 50% 2s, 100%' });
    const stats = await load.stop();
    expect(errors(r)).toEqual([]);
    expect(r.outputs).toMatchObject({ result: 'succeeded', 'live-pool': 'green', weight: '100' });
    expect(stats.failed, `${JSON.stringify(stats.failures)}; cut by the stand-in: ${l.alb.cutResponses()}`).toBe(0);
    expect(l.alb.weights()).toEqual({ 'shop-blue': 0, 'shop-green': 100 });
    // A healthy canary is promoted with latency judged from CloudWatch, by default.
    expect(summaryTimeline(r).map(([, text]) => text)).toContain(
      'latency: judged from TargetResponseTime per target group from CloudWatch (p50, p95, p99 and SampleCount per 60 s period): max-latency-increase 50% and 50ms against stable',
    );
    const splits = summaryTimeline(r).filter(([, text]) => text.startsWith('split '));
    expect(splits.map(([, text]) => text.replace(/ \(.*$/, ''))).toEqual([
      'split blue=80% green=20%',
      'split blue=50% green=50%',
      'split blue=0% green=100%',
    ]);
    const shares = splits.slice(0, 2).map(([at], i) => {
      const end = splits[i + 1]?.[0] ?? Date.now();
      const window = stats.requests.filter((q) => q.start > at && q.start < end);
      return (100 * window.filter((q) => q.version === 'v2').length) / window.length;
    });
    expect(Math.abs((shares[0] ?? 0) - 20)).toBeLessThanOrEqual(3);
    expect(Math.abs((shares[1] ?? 0) - 50)).toBeLessThanOrEqual(3);
    const modify = l.alb.calls.filter((c) => c.operation === 'ModifyRule').length;
    const v = validated(l.alb);
    console.log(
      `canary: ${stats.sent} requests, ${stats.failed} failed; shares ${shares.map((s) => s.toFixed(1)).join('%, ')}%; ${modify} ModifyRule for 3 steps; ${v.total} AWS requests valid per the model ${JSON.stringify(v.byOperation)}`,
    );
  });

  it('rolls a canary that fails 30% of its requests back to blue; no failure after the rollback', async () => {
    const l = await setup();
    const load = startLoad(l.alb.trafficUrl, { rps: 200, maxMs: 60_000 });
    const r = await runOnAlb(l, { strategy: 'canary', steps: '20% 10s, 100%' }, { APP_NEXT_FAIL_RATE: '0.3' });
    await new Promise((done) => setTimeout(done, 1000));
    const stats = await load.stop();
    expect(r.code).toBe(1);
    expect(r.outputs).toMatchObject({ result: 'rolled-back', 'live-pool': 'blue', weight: '0' });
    expect(errors(r).join('\n')).toMatch(/Rolled back at 20% on green/);
    expect(l.alb.weights()).toEqual({ 'shop-blue': 100, 'shop-green': 0 });
    const rollback = summaryTimeline(r).find(([, text]) => text.includes('rollback: all traffic back on blue'));
    expect(rollback).toBeDefined();
    const after = stats.requests.filter((q) => q.start > (rollback?.[0] ?? 0));
    expect(after.length).toBeGreaterThan(100);
    expect(after.filter((q) => q.status !== 200 || q.version !== 'v1')).toEqual([]);
    const bad = stats.requests.filter((q) => q.status >= 500).length;
    const v = validated(l.alb);
    console.log(
      `bad canary: ${stats.sent} requests, ${bad} answered 5xx by the bad version before the rollback, ${after.length} after it all v1 and 200; ${v.total} AWS requests valid per the model`,
    );
  });
});

describe('ALB stand-in: every failed request counts (TargetConnectionErrorCount)', () => {
  it('rolls back a canary dropping 5% of its connections without an answer, counting what the clients saw', async () => {
    const l = await setup();
    const load = startLoad(l.alb.trafficUrl, { rps: 200, maxMs: 60_000 });
    // No check-url: its probes go through the ALB too, and their dropped connections would count where these clients
    // cannot see them (7 counted against 5 seen, once, on a busy machine).
    const r = await runOnAlb(
      l,
      { strategy: 'canary', steps: '20% 10s, 100%', 'check-url': '' },
      { APP_NEXT_DROP_RATE: '0.05' },
    );
    const stats = await load.stop();
    const message = errors(r).join('\n');
    const counted = /new version [\d.]+% failed \((\d+) of (\d+)\)/.exec(message);
    const felt = stats.requests.filter((q) => q.status === 0 || q.status >= 500).length;
    console.log(
      `ALB, 5% dropping canary: ${r.outputs.result}; the verdict counted ${counted?.[1]} failed, clients saw ${felt} of ${stats.sent}; ${message}`,
    );
    expect(r.outputs).toMatchObject({ result: 'rolled-back', 'live-pool': 'blue', weight: '0' });
    expect(counted, message).not.toBeNull();
    expect(Number(counted?.[1])).toBeGreaterThan(0);
    // The stand-in answers a target's dropped connection 502, as ALB does: every one counted was one a client saw.
    expect(Number(counted?.[1])).toBeLessThanOrEqual(felt);
    expect(stats.requests.filter((q) => q.status !== 200 && q.version === 'v1')).toEqual([]);
    expect(l.alb.weights()).toEqual({ 'shop-blue': 100, 'shop-green': 0 });
    validated(l.alb);
  });
});

describe('ALB stand-in: latency from CloudWatch TargetResponseTime (default inputs)', () => {
  it('rolls a canary answering 400 ms slower back to blue, with 0 failed requests; p50/p95/p99 and SampleCount read per target group', async () => {
    const l = await setup();
    const load = startLoad(l.alb.trafficUrl, { rps: 200, maxMs: 60_000 });
    const r = await runOnAlb(l, { strategy: 'canary', steps: '20% 10s, 100%' }, { APP_NEXT_EXTRA_MS: '400' });
    const stats = await load.stop();
    const message = errors(r).join('\n');
    const split = summaryTimeline(r).find(([, text]) => text.startsWith('split blue=80% green=20%'))?.[0] ?? 0;
    const rollback = summaryTimeline(r).find(([, text]) => text.includes('rollback: all traffic back on blue'))?.[0];
    console.log(
      `ALB, 400 ms slower canary: ${r.outputs.result} ${(rollback ?? 0) - split}ms into its 10s step; ${stats.failed} of ${stats.sent} failed; ${message}`,
    );
    expect(r.outputs).toMatchObject({ result: 'rolled-back', 'live-pool': 'blue', weight: '0' });
    expect(message).toMatch(
      /^Rolled back at 20% on green: .*Slower than stable: v2 answered \d+ ms slower at p(50|95) than stable/,
    );
    expect(rollback).toBeDefined();
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect(l.alb.weights()).toEqual({ 'shop-blue': 100, 'shop-green': 0 });
    const latencyQueries = l.alb.calls
      .filter((c) => c.operation === 'GetMetricData')
      .flatMap((c) => c.input.MetricDataQueries as { MetricStat: { Metric: { MetricName: string }; Stat: string } }[])
      .filter((q) => q.MetricStat.Metric.MetricName === 'TargetResponseTime');
    expect(new Set(latencyQueries.map((q) => q.MetricStat.Stat))).toEqual(
      new Set(['SampleCount', 'p50', 'p95', 'p99']),
    );
    validated(l.alb);
  });
});

describe('ALB stand-in: lock and crash safety', () => {
  it('SIGKILL at 50%: the post step puts all traffic back on blue and releases the lock; no request fails', async () => {
    const l = await setup();
    const load = startLoad(l.alb.trafficUrl, { rps: 100, maxMs: 60_000 });
    let child: { kill: (s: NodeJS.Signals) => boolean } | undefined;
    let split = false;
    const running = runAction(albInputs(l, { strategy: 'canary', steps: '50% 30s, 100%' }), {
      env: { ...l.fleet.env, ...l.alb.env },
      onSpawn: (c) => (child = c),
      onLine: (line) => (split ||= line.startsWith('split blue=50% green=50%')),
    });
    for (let i = 0; i < 300 && !split; i++) await new Promise((done) => setTimeout(done, 100));
    expect(split).toBe(true);
    child?.kill('SIGKILL');
    const main = await running;
    expect(l.alb.weights()).toEqual({ 'shop-blue': 50, 'shop-green': 50 });
    expect([...l.alb.rule.tags.keys()]).toEqual([expect.stringMatching(/^zero-downtime-deploy:lock:[0-9a-f]{12}$/)]);
    const post = await runAction(albInputs(l, { strategy: 'canary', steps: '50% 30s, 100%' }), {
      env: { ...l.fleet.env, ...l.alb.env },
      state: { ...main.state, isPost: 'true' },
    });
    await new Promise((done) => setTimeout(done, 500));
    const stats = await load.stop();
    expect(post.code, post.stdout).toBe(0);
    expect(l.alb.weights()).toEqual({ 'shop-blue': 100, 'shop-green': 0 });
    expect([...l.alb.rule.tags.keys()]).toEqual([]);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    validated(l.alb);
  });

  it('refuses to start while another run holds the lock tag, changing nothing', async () => {
    const l = await setup();
    l.alb.rule.tags.set('zero-downtime-deploy:lock', `acme:shop.run7.1.ab12@${Math.floor(Date.now() / 1000) - 120}`);
    const r = await runOnAlb(l, { strategy: 'blue-green' });
    expect(r.code).toBe(1);
    expect(errors(r).join('\n')).toMatch(
      /another rollout holds the lock on aws-alb:.*: acme:shop\.run7\.1\.ab12 since .* \(2m\d*s? ago\). Wait for it, or if that run died, take the lock over with take-over-lock: acme:shop\.run7\.1\.ab12/,
    );
    expect(l.alb.calls.filter((c) => /^(Modify|Register|Deregister|Add|Remove)/.test(c.operation))).toEqual([]);
    expect(l.alb.weights()).toEqual({ 'shop-blue': 100, 'shop-green': 0 });
  });
});
