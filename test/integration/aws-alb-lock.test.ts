/**
 * The ALB lock on the stand-in, with the official SDK: two runs racing for it at every offset around the wait, and
 * the lock read by the pure tag rules. Each trial: exactly one run holds it, the other names it and leaves no tag.
 * Then two whole action runs (dist/index.js) started together on one rule: one moves traffic, the other is refused;
 * and the credentials resolved once for both SDK clients.
 */
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsApi } from '../../src/lb/aws-alb/api.js';
import { AlbLock } from '../../src/lb/aws-alb/lock.js';
import { readCounters } from '../../src/lb/aws-alb/metrics.js';
import { contenders, decide, lockTag, winner } from '../../src/lb/aws-alb/lock-tags.js';
import { RULE_ARN, startAlbStandIn, type AlbStandIn } from '../helpers/aws-alb.js';
import { runAction, errors } from '../helpers/action.js';
import { albInputs, useAlbLab, validated } from '../helpers/alb-lab.js';
import { mulberry32 } from '../helpers/prng.js';

let alb: AlbStandIn;
const apis: AwsApi[] = [];
const saved = { ...process.env };
beforeAll(async () => {
  alb = await startAlbStandIn({
    groups: [
      { name: 'shop-blue', weight: 100, ports: [1] },
      { name: 'shop-green', weight: 0, ports: [2] },
    ],
  });
  Object.assign(process.env, alb.env);
});
afterAll(async () => {
  for (const api of apis) api.close();
  process.env = saved;
  await alb.stop();
});

function lockFor(settleMs: number): AlbLock {
  const api = new AwsApi({ region: 'us-east-1', maxAttempts: 3, timeoutMs: 5000 });
  apis.push(api);
  return new AlbLock(api, RULE_ARN, settleMs);
}

describe('ALB lock tags (pure)', () => {
  it('the smallest token holds; the older single tag is honoured first', () => {
    const tags = [
      lockTag('b7', 'run-b', 1_765_000_001_500),
      lockTag('a3', 'run-a', 1_765_000_002_000),
      { Key: 'team', Value: 'shop' },
    ];
    expect(winner(contenders(tags))?.holder).toEqual({ owner: 'run-a', since: new Date(1_765_000_002_000) });
    const old = [...tags, { Key: 'zero-downtime-deploy:lock', Value: 'old-run@1765000000' }];
    expect(winner(contenders(old))?.holder.owner).toBe('old-run');
  });

  it('a tag older than mine by more than the wait holds, whatever its token; within the wait the smallest token', () => {
    const [old, mine] = contenders([
      lockTag('ff', 'run-a', 1_765_000_000_000),
      lockTag('00', 'run-b', 1_765_000_003_000),
    ]);
    if (!old || !mine) throw new Error('two contenders');
    expect(decide(mine, [old], 2000).holder.owner).toBe('run-a');
    expect(decide(mine, [old], 5000).holder.owner).toBe('run-b');
  });
});

describe('ALB lock on the stand-in', () => {
  it('two runs racing: exactly one holds the lock in each of 20 trials, the other names it; no tag left', async () => {
    const settleMs = 150;
    const random = mulberry32(28);
    const outcomes: string[] = [];
    for (let trial = 0; trial < 20; trial++) {
      // From the same instant to well past the wait: both write within it, or the later finds the earlier's tag.
      const offset = Math.floor(random() * 2.5 * settleMs);
      const [a, b] = [lockFor(settleMs), lockFor(settleMs)];
      const [ra, rb] = await Promise.all([
        a.acquire(`run-a.${trial}`),
        new Promise((done) => setTimeout(done, offset)).then(() => b.acquire(`run-b.${trial}`)),
      ]);
      const held = [ra, rb].filter((r) => 'held' in r);
      expect(held, `trial ${trial} offset ${offset} ms: ${JSON.stringify([ra, rb])}`).toHaveLength(1);
      const loser = 'held' in ra ? rb : ra;
      const winnerOwner = 'held' in ra ? `run-a.${trial}` : `run-b.${trial}`;
      expect('holder' in loser && loser.holder.owner).toBe(winnerOwner);
      expect((await a.holder())?.owner).toBe(winnerOwner);
      await a.release(winnerOwner);
      await b.release(winnerOwner);
      expect([...alb.rule.tags.keys()]).toEqual([]);
      outcomes.push(`${offset}ms:${winnerOwner.slice(4, 5)}`);
    }
    const v = validated(alb);
    console.log(
      `20 races (seed 28, offsets 0-${2.5 * settleMs} ms, wait ${settleMs} ms): ${outcomes.join(' ')}; ${v.total} AWS requests valid per the model`,
    );
  });

  it('take-over-lock replaces exactly the named stale holder', async () => {
    alb.rule.tags.set('zero-downtime-deploy:lock', 'dead-run@1765000000');
    const lock = lockFor(50);
    expect(await lock.acquire('new-run', 'someone-else')).toEqual({
      holder: { owner: 'dead-run', since: new Date(1_765_000_000_000) },
    });
    const taken = await lock.acquire('new-run', 'dead-run');
    expect(taken).toMatchObject({ held: expect.stringMatching(/^tag zero-downtime-deploy:lock:[0-9a-f]{12} on /) });
    expect('replaced' in taken && taken.replaced?.owner).toBe('dead-run');
    expect([...alb.rule.tags.keys()]).toEqual([expect.stringMatching(/^zero-downtime-deploy:lock:/)]);
    await lock.release('new-run');
    expect([...alb.rule.tags.keys()]).toEqual([]);
  });
});

describe('AWS credentials', () => {
  it('are resolved once for the ELBv2 and CloudWatch clients (one fetch from the container credentials endpoint)', async () => {
    let fetches = 0;
    const endpoint = createServer((_req, res) => {
      fetches++;
      const Expiration = new Date(Date.now() + 3_600_000).toISOString();
      res.end(JSON.stringify({ AccessKeyId: 'AKIDCONTAINER', SecretAccessKey: 'secret', Token: 'token', Expiration }));
    });
    await new Promise<void>((done) => endpoint.listen(0, '127.0.0.1', done));
    const { port } = endpoint.address() as { port: number };
    const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = process.env;
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `http://127.0.0.1:${port}/creds`;
    try {
      const api = new AwsApi({ region: 'us-east-1', maxAttempts: 1, timeoutMs: 5000 });
      apis.push(api);
      const { client, sdk } = await api.elb();
      await api.send(client, new sdk.DescribeRulesCommand({ RuleArns: [RULE_ARN] }));
      const group = [...alb.groups.values()][0]?.arn ?? '';
      await readCounters(api, {
        loadBalancer: 'app/shop/50dc6c495c0c9188',
        targetGroups: [group.slice(group.indexOf('targetgroup/'))],
        since: new Date(Date.now() - 60_000),
      });
      expect(api.calls.map((c) => c.operation)).toEqual(['DescribeRules', 'GetMetricData']);
      expect(fetches).toBe(1);
    } finally {
      delete process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
      Object.assign(process.env, { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY });
      endpoint.close();
    }
  });
});

const lab = useAlbLab();

describe('ALB lock: two action runs at once on the stand-in', () => {
  it('started together (0 and 300 ms apart): one moves traffic, the other is refused naming it and writes no weight', async () => {
    const l = await lab();
    for (const [trial, offset] of [0, 300].entries()) {
      const modifies = () => l.alb.calls.filter((c) => c.operation === 'ModifyRule').length;
      const before = modifies();
      const start = (run: number) =>
        runAction(albInputs(l, { strategy: 'blue-green' }), {
          env: { ...l.fleet.env, ...l.alb.env, GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: `${trial}0${run}` },
          timeoutMs: 60_000,
        });
      const runs = await Promise.all([start(1), new Promise((done) => setTimeout(done, offset)).then(() => start(2))]);
      const moved = runs.filter((r) => r.outputs.result === 'succeeded');
      const refused = runs.filter((r) => r.outputs.result === 'failed');
      expect(moved, runs.map((r) => errors(r).join(' ')).join('\n')).toHaveLength(1);
      expect(refused).toHaveLength(1);
      const holder = /Holding the lock on .* as (\S+) \(/.exec(moved[0]?.stdout ?? '')?.[1];
      expect(holder).toMatch(new RegExp(`^acme:shop\\.run${trial}0[12]\\.1\\.[0-9a-f]{4}$`));
      expect(errors(refused[0] as (typeof runs)[number]).join('\n')).toMatch(
        new RegExp(
          `^load-balancer: another rollout holds the lock on aws-alb:\\S+: ${holder?.replace(/\./g, '\\.')} since .*\\. Wait for it, or if that run died, take the lock over with take-over-lock: ${holder?.replace(/\./g, '\\.')}\\. Nothing was changed\\.$`,
        ),
      );
      expect(refused[0]?.stdout).not.toMatch(/^split /m);
      // One blue-green switch: one weight write, by the run that held the lock.
      expect(modifies() - before).toBe(1);
      expect([...l.alb.rule.tags.keys()]).toEqual([]);
    }
    expect(l.alb.weights()).toEqual({ 'shop-blue': 100, 'shop-green': 0 });
    validated(l.alb);
  });
});
