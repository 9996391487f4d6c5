/** The ALB driver's inputs: its ARN and the windows CloudWatch's 60-second periods allow. */
import { describe, expect, it } from 'vitest';
import { parseLoadBalancer } from '../../src/lb/registry.js';
import { awsAlb } from '../../src/lb/aws-alb/index.js';
import { parseAlbArn } from '../../src/lb/aws-alb/arn.js';

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
    expect(options({ 'analysis-interval': '1m' })).toEqual({ options: { drainTimeoutMs: 30_000, rolling: false } });
    expect(options({ 'min-requests': '0' })).toMatchObject({ options: {} });
    expect(options({}, 'status')).toMatchObject({ options: {} });
  });
});
