/** The bundle run as the runner runs it, with dry-run: a plan for each strategy, nothing touched. */
import { afterAll, describe, expect, it } from 'vitest';
import { errors, runAction } from '../helpers/action.js';
import { startHaproxy } from '../helpers/haproxy.js';
import { githubEnv, startGithubApi } from '../helpers/github-api.js';
import { connectionCounter, freePort } from '../helpers/ports.js';

describe('dry run without a load balancer', async () => {
  const port = await freePort(); // nothing listens here
  const lb = `haproxy://127.0.0.1:${port}`;

  it.each([
    [
      'rolling',
      { strategy: 'rolling', targets: 'app/*', 'batch-size': '25%' },
      /Servers are read from the load balancer at run time; batches of 25% of app\/\*/,
    ],
    [
      'blue-green',
      { strategy: 'blue-green', pools: 'blue=app/blue*, green=app/green*' },
      /\| 2 \| shift traffic, wait - \| at run time \| 100% \| 1 window of 30s \|/,
    ],
    [
      'canary',
      { strategy: 'canary', pools: 'blue=app/blue*, green=app/green*', steps: '5% 1m, 25% 2m, 100%' },
      /\| 3 \| shift traffic, wait 2m \| at run time \| 25% \| 4 windows of 30s \|/,
    ],
  ])('prints a %s plan, writes it to the summary, result=unchanged, exit 0', async (_name, inputs, row) => {
    const run = await runAction({ ...inputs, 'load-balancer': lb, 'dry-run': 'true' });
    expect(run.code).toBe(0);
    expect(run.outputs.result).toBe('unchanged');
    expect(run.outputs.weight).toBe('0');
    expect(run.summary).toContain('Dry run: this is the plan; the load balancer was not changed.');
    expect(run.summary).toMatch(row);
    expect(run.summary).toMatch(
      /False rollbacks:\*\* A version no worse than stable .* is rolled back with probability at most 1%, however often the judge looks/,
    );
    if (inputs.strategy === 'rolling') {
      expect(run.summary).toMatch(/Time to catch a worse version:\*\* depends on the batches/);
    } else {
      expect(run.summary).toMatch(
        /Time to catch a worse version\*\* \(assumed, not measured\): Assuming 100 requests\/s/,
      );
      expect(run.summary).toMatch(/a version failing 30x as often \(15%\): rolled back after about \d+s/);
    }
    expect(run.summary).toMatch(/Largest share of traffic on the new version before its first verdict/);
    expect(run.stdout).toContain('::group::Plan (dry run: nothing is changed)');
    expect(run.stdout).toContain('Load balancer not read');
  });

  it('shows the first canary step as the largest share exposed before the first verdict', async () => {
    const run = await runAction({
      strategy: 'canary',
      pools: 'a=app/a*, b=app/b*',
      steps: '5% 1m, 100%',
      'load-balancer': lb,
      'dry-run': 'true',
    });
    expect(run.summary).toMatch(/before its first verdict:\*\* 5%/);
  });

  it('refuses a plan whose pauses alone are longer than timeout, naming both inputs', async () => {
    const run = await runAction({
      strategy: 'canary',
      pools: 'a=app/a*, b=app/b*',
      steps: '50% 1h, 100%',
      timeout: '10m',
      'load-balancer': lb,
      'dry-run': 'true',
    });
    expect(run.code).toBe(1);
    expect(errors(run).join('\n')).toContain(
      "timeout: 10m is shorter than the pauses of steps alone (1h in '50% 1h, 100%'), so the run could end only by its timeout and a rollback; raise timeout or shorten the steps' pauses",
    );
  });
});

describe('dry run against a real HAProxy', () => {
  const started: Awaited<ReturnType<typeof startHaproxy>>[] = [];
  afterAll(async () => Promise.all(started.map((h) => h.stop())));

  it('shows the real weights each canary step will set, and changes nothing', async () => {
    const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
    const haproxy = await startHaproxy({
      servers: [
        { name: 'blue1', port: ports[0] ?? 0 },
        { name: 'blue2', port: ports[1] ?? 0 },
        { name: 'green1', port: ports[2] ?? 0, options: 'check weight 0' },
        { name: 'green2', port: ports[3] ?? 0, options: 'check weight 0' },
      ],
    });
    started.push(haproxy);
    const changeable = async () =>
      [...(await haproxy.servers())].map(([id, s]) => `${id} weight ${s.weight} admin ${s.adminState}`);
    const before = await changeable();
    const run = await runAction({
      strategy: 'canary',
      pools: 'blue=app/blue*, green=app/green*',
      steps: '20% 1m, 50% 1m, 100%',
      'load-balancer': `haproxy://127.0.0.1:${haproxy.adminPort}`,
      'dry-run': 'true',
    });
    expect(run.code).toBe(0);
    expect(run.outputs['live-pool']).toBe('blue');
    expect(run.summary).toContain('Live pool **blue** keeps serving; the new version goes to idle pool **green**.');
    expect(run.summary).toContain('app/blue1=256 app/blue2=256 app/green1=64 app/green2=64');
    expect(run.summary).toContain('app/blue1=256 app/blue2=256 app/green1=256 app/green2=256');
    expect(run.summary).toContain('app/blue1=0 app/blue2=0 app/green1=256 app/green2=256');
    // This HAProxy has no log ring: the plan says latency is not judged, and which lines to add.
    expect(run.summary).toMatch(
      /### Latency\n\n- \*\*Latency:\*\* not judged: HAProxy has no ring 'zdd' for per-request latency: add 'ring zdd'/,
    );
    expect(run.summary).toMatch(/Time to catch a worse version\*\* \(assumed: no traffic in 1s on the load balancer\)/);
    // Whether users are shielded from a bad version's failures, as this HAProxy's counters tell it.
    expect(run.summary).toContain(
      "### Retries\n\n- Users shielded from a bad version's failed requests: not known: backend app retried nothing since HAProxy started. HAProxy retries a failed answer or a reset on another server only with retry-on and option redispatch",
    );
    expect(await changeable()).toEqual(before);
    expect(before).toContain('app/green1 weight 0 admin 0');
  });
});

describe('bad input', async () => {
  const { BAD_INPUTS } = await import('../fixtures/bad-inputs.js');
  const counter = await connectionCounter();
  const api = await startGithubApi();
  afterAll(async () => {
    await counter.close();
    await api.close();
  });

  it(`fails each of ${BAD_INPUTS.length} malformed or hostile inputs with exit 1, naming the input, opening no connection, echoing no secret`, async () => {
    const lb = { 'load-balancer': `haproxy://127.0.0.1:${counter.port}` };
    // Tokens as the runner passes them: masked, so they must never be printed except in the ::add-mask:: command.
    const tokens = { 'github-token': 'ghs_E2eGithubToken', 'load-balancer-token': 'lbt_E2eLoadBalancerToken' };
    const failures: string[] = [];
    const started = Date.now();
    // Four at a time: each is a whole node process.
    for (let i = 0; i < BAD_INPUTS.length; i += 4) {
      await Promise.all(
        BAD_INPUTS.slice(i, i + 4).map(async (bad) => {
          const run = await runAction({ ...lb, ...tokens, environment: '', ...bad.inputs }, { env: githubEnv(api) });
          const text = errors(run).join('\n');
          if (run.code !== 1) failures.push(`${bad.why}: exit ${run.code}`);
          else if (!new RegExp(`(^|\\n- )${bad.input}: `).test(text))
            failures.push(`${bad.why}: error does not name ${bad.input}: ${text}`);
          else if (!bad.message.test(text)) failures.push(`${bad.why}: ${text} does not match ${bad.message}`);
          else if (run.outputs.result !== 'failed') failures.push(`${bad.why}: result=${run.outputs.result}`);
          const secrets = [...Object.values(tokens), ...(bad.secret ? [bad.secret] : [])];
          const shown = [
            ...run.stdout.split('\n').filter((line) => !line.startsWith('::add-mask::')),
            run.stderr,
            run.summary,
            JSON.stringify(run.outputs),
          ].join('\n');
          for (const secret of secrets) if (shown.includes(secret)) failures.push(`${bad.why}: shows ${secret}`);
        }),
      );
    }
    console.log(
      `${BAD_INPUTS.length} malformed or hostile inputs through the bundle in ${Date.now() - started}ms: ${BAD_INPUTS.length - failures.length} refused as expected`,
    );
    expect(failures).toEqual([]);
    expect(counter.count()).toBe(0);
    // Nothing reached GitHub either: no deployment, so no payload to leak into.
    expect(api.requests).toEqual([]);
    // 129 node processes: about 45 s alone on 2 cores, more beside another test file.
  }, 400_000);
});
