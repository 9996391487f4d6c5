/**
 * The CLI bundle loads the AWS SDK chunks it carries (dist/cli/*.index.js) for an ALB run: a canary dry run on the
 * local ALB stand-in (checked against AWS's models, not AWS) reads the rule and plans the weights, changing nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { albInputs, type AlbLab } from '../helpers/alb-inputs.js';
import { startAlbStandIn } from '../helpers/aws-alb.js';
import { cleanEnv, flags, runCli, workflowCommandLines } from '../helpers/cli.js';
import { startFleet } from '../helpers/fleet.js';

let lab: (AlbLab & { stop(): Promise<void> }) | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

describe('the CLI on ALB (stand-in)', () => {
  it('a canary dry run plans the target groups weights and changes nothing', async () => {
    const fleet = await startFleet(4, 'v1');
    const [b1, b2, g1, g2] = fleet.ports as [number, number, number, number];
    const alb = await startAlbStandIn({
      groups: [
        { name: 'shop-blue', weight: 100, ports: [b1, b2] },
        { name: 'shop-green', weight: 0, ports: [g1, g2] },
      ],
    });
    const l = (lab = {
      alb,
      fleet,
      async stop() {
        await alb.stop();
        fleet.stopAll();
      },
    });
    const inputs = { ...albInputs(l, { strategy: 'canary', 'dry-run': 'true' }), 'check-url': '' };
    const run = await runCli(['deploy', ...flags(inputs)], { env: cleanEnv({ ...fleet.env, ...alb.env }) });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Plan \(dry run: nothing is changed\)/);
    expect(run.stdout).toMatch(/shop-green/);
    const writes = alb.calls.filter((c) => /^(Modify|Register|Deregister|Create|Delete|Add|Remove)/.test(c.operation));
    expect(writes).toEqual([]);
    expect(alb.calls.length).toBeGreaterThan(0);
    expect(workflowCommandLines(run.stdout + run.stderr)).toEqual([]);
  }, 40_000);
});
