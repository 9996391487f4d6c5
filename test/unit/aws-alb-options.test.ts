/** The ALB driver's inputs: its ARN and the windows CloudWatch's 60-second periods allow. */
import { describe, expect, it } from 'vitest';
import { parseLoadBalancer } from '../../src/lb/registry.js';
import { awsAlb } from '../../src/lb/aws-alb/index.js';
import { parseAlbArn } from '../../src/lb/aws-alb/arn.js';
import {
  conditionCounts,
  freePriorities,
  previewConditions,
  previewGroupName,
} from '../../src/lb/aws-alb/preview-rules.js';

const RULE =
  'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee';

function options(inputs: Record<string, string>, action = 'deploy') {
  const defaults: Record<string, string> = { 'analysis-interval': '30s', 'min-requests': '20', 'drain-timeout': '30s' };
  return awsAlb.options((name) => inputs[name] ?? defaults[name] ?? '', { action, dryRun: false, minRequests: 20 });
}

describe('aws-alb: inputs', () => {
  it('takes a rule ARN: region, load balancer dimension and listener from it', () => {
    expect(parseLoadBalancer(`aws-alb:${RULE}`)).toMatchObject({
      kind: 'aws-alb',
      transport: { type: 'cloud', id: RULE },
    });
    expect(parseAlbArn(RULE)).toMatchObject({
      kind: 'rule',
      region: 'eu-west-1',
      loadBalancer: 'app/shop/50dc6c495c0c9188',
      listener:
        'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2',
    });
  });

  it('refuses what is not an ALB listener or rule ARN, naming the form', () => {
    const nlb = RULE.replace('/app/', '/net/');
    expect(parseLoadBalancer(`aws-alb:${nlb}`)).toEqual({
      error: expect.stringMatching(
        /^aws-alb:\/\/ '.*' is not the ARN of an Application Load Balancer listener or listener rule/,
      ),
    });
    expect(parseLoadBalancer(`aws-alb:${RULE.replace('listener-rule', 'listener')}`)).toEqual({
      error: expect.stringMatching(/has a rule id after a listener/),
    });
  });

  it('refuses an analysis window shorter than a CloudWatch period unless windows are judged by probes alone', () => {
    expect(options({})).toEqual({
      errors: [expect.stringMatching(/^analysis-interval: 30s is shorter than CloudWatch's 60 s period/)],
    });
    expect(options({ 'analysis-interval': '1m' })).toEqual({
      options: { drainTimeoutMs: 30_000, rolling: false, previewBackend: 'previews' },
    });
    expect(options({ 'min-requests': '0' })).toMatchObject({ options: {} });
    expect(options({}, 'status')).toMatchObject({ options: {} });
  });

  it('previews: preview-backend is a target group name; preview-canary and targets are refused naming the input', () => {
    const preview = { 'min-requests': '0', 'preview-address': '10.0.3.7:8080' };
    expect(options({ ...preview, 'preview-backend': 'shop-previews' }, 'preview')).toMatchObject({
      options: { previewBackend: 'shop-previews' },
    });
    expect(options({ ...preview, 'preview-backend': 'shop_previews!' }, 'preview')).toEqual({
      errors: [expect.stringMatching(/^preview-backend: 'shop_previews!' is not an ALB target group name/)],
    });
    expect(options({ 'min-requests': '0', 'preview-backend': 'shop-previews' })).toEqual({
      errors: ['preview-backend: only used by action preview and close-preview'],
    });
    expect(options({ ...preview, 'preview-canary': 'shop-blue 5% 10m' }, 'preview')).toEqual({
      errors: [expect.stringMatching(/^preview-canary: not available on aws-alb in this release/)],
    });
    expect(options({ ...preview, 'preview-key': 'PR-7' }, 'preview')).toEqual({
      errors: [
        expect.stringMatching(
          /^preview-key: 'PR-7' has capitals, and ALB matches header and query values without regard to case/,
        ),
      ],
    });
    expect(options({ 'min-requests': '0', targets: 'shop-previews/*' }, 'preview')).toEqual({
      errors: [expect.stringMatching(/^targets: on aws-alb a preview registers preview-address/)],
    });
  });
});

describe('aws-alb: preview rules and groups', () => {
  it('takes the highest free priorities below the deployed rule, or after every rule on a listener', () => {
    // 8 and 9 are this rule's previews (skipped); 5 is someone else's rule, never jumped.
    expect(freePriorities(new Set([10, 9, 8, 5]), new Set([9, 8]), 10, 2)).toEqual([7, 6]);
    expect(freePriorities(new Set([10, 9, 8, 5]), new Set([9, 8]), 10, 3)).toEqual({ blockedBy: 5 });
    expect(freePriorities(new Set([1, 2]), new Set(), 3, 1)).toEqual({ blockedBy: 2 });
    expect(freePriorities(new Set(), new Set(), 1, 1)).toEqual({ blockedBy: 0 });
    expect(freePriorities(new Set([50_000, 5]), new Set([50_000]), undefined, 2)).toEqual([49_999, 49_998]);
  });

  it("copies the deployed rule's conditions (their Config, not the legacy Values) and adds header, cookie or query", () => {
    const base = [{ Field: 'path-pattern', Values: ['/*'], PathPatternConfig: { Values: ['/*'] } }];
    const c = previewConditions('pr-7', base);
    // ALB's limits per rule: 5 values, 5 wildcards; the cookie rule adds 2 values and 3 wildcards.
    expect(conditionCounts(c.cookie)).toEqual({ values: 3, wildcards: 4 });
    expect(conditionCounts(c.query)).toEqual({ values: 2, wildcards: 1 });
    expect(c.header).toEqual([
      { Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } },
      { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Preview', Values: ['pr-7'] } },
    ]);
    expect(c.cookie[1]).toEqual({
      Field: 'http-header',
      HttpHeaderConfig: { HttpHeaderName: 'Cookie', Values: ['*preview=pr-7', '*preview=pr-7;*'] },
    });
    expect(c.query[1]).toEqual({
      Field: 'query-string',
      QueryStringConfig: { Values: [{ Key: 'preview', Value: 'pr-7' }] },
    });
  });

  it("names a preview's target group within ALB's 32 characters, the same for the same server and template", () => {
    const a = previewGroupName('arn:tg/shop-previews/1', 'rule-1', 'pr-7:abc1234');
    expect(a).toMatch(/^zdd-pv-[0-9a-f]{25}$/);
    expect(previewGroupName('arn:tg/shop-previews/1', 'rule-1', 'pr-7:abc1234')).toBe(a);
    expect(previewGroupName('arn:tg/shop-previews/1', 'rule-1', 'pr-7:abc1235')).not.toBe(a);
    expect(previewGroupName('arn:tg/shop-previews/1', 'rule-2', 'pr-7:abc1234')).not.toBe(a);
    expect(previewGroupName('arn:tg/other/2', 'rule-1', 'pr-7:abc1234')).not.toBe(a);
  });
});
