/** The ALB stand-in's request checker: what AWS's published model refuses, it refuses (and what it takes, it takes). */
import { describe, expect, it } from 'vitest';
import { checkJson, decodeQuery, loadModel } from '../helpers/aws-model.js';

const elb = loadModel('elasticloadbalancingv2-2015-12-01');
const cw = loadModel('monitoring-2010-08-01');
const RULE = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/shop/1/2/3';
const TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-blue/1';

function query(params: Record<string, string>) {
  return decodeQuery(elb, new URLSearchParams({ Version: '2015-12-01', ...params }));
}

const MODIFY = {
  Action: 'ModifyRule',
  RuleArn: RULE,
  'Actions.member.1.Type': 'forward',
  'Actions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn': TG,
  'Actions.member.1.ForwardConfig.TargetGroups.member.1.Weight': '10',
};

describe('ELBv2 Query requests against the model', () => {
  it('decodes a valid ModifyRule into its input shape', () => {
    const { operation, input, errors } = query(MODIFY);
    expect(errors).toEqual([]);
    expect(operation).toBe('ModifyRule');
    expect(input).toEqual({
      RuleArn: RULE,
      Actions: [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: TG, Weight: 10 }] } }],
    });
  });

  it.each([
    ['an unknown operation', { ...MODIFY, Action: 'SetWeights' }, /unknown operation 'SetWeights'/],
    ['a missing required member', { ...MODIFY, RuleArn: undefined }, /RuleArn: required member missing/],
    [
      'a member the shape lacks',
      { ...MODIFY, 'Actions.member.1.Weight': '5' },
      /unknown parameter 'Actions.member.1.Weight'/,
    ],
    ['a bad enum', { ...MODIFY, 'Actions.member.1.Type': 'forwards' }, /Actions.Type: 'forwards' is not one of/],
    [
      'a weight over 999',
      { ...MODIFY, 'Actions.member.1.ForwardConfig.TargetGroups.member.1.Weight': '1000' },
      /TargetGroups.Weight: 1000 outside 0-999/,
    ],
    [
      'a weight that is no integer',
      { ...MODIFY, 'Actions.member.1.ForwardConfig.TargetGroups.member.1.Weight': '1.5' },
      /is not an integer/,
    ],
    ['a wrong API version', { ...MODIFY, Version: '2012-06-01' }, /Version '2012-06-01' is not 2015-12-01/],
  ])('refuses %s', (_what, params, error) => {
    const clean = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >;
    expect(query(clean).errors.join('; ')).toMatch(error);
  });

  it('refuses a port out of range and more than 20 resources', () => {
    const register = query({
      Action: 'RegisterTargets',
      TargetGroupArn: TG,
      'Targets.member.1.Id': '10.0.0.1',
      'Targets.member.1.Port': '70000',
    });
    expect(register.errors.join()).toMatch(/Targets.Port: 70000 outside 1-65535/);
    const tags = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`ResourceArns.member.${i + 1}`, TG]));
    expect(query({ Action: 'DescribeTags', ...tags }).errors.join()).toMatch(/ResourceArns: 21 items, at most 20/);
  });
});

describe('CloudWatch JSON requests against the model', () => {
  const valid = {
    MetricDataQueries: [
      {
        Id: 'g0m0',
        MetricStat: {
          Metric: {
            Namespace: 'AWS/ApplicationELB',
            MetricName: 'RequestCount',
            Dimensions: [{ Name: 'TargetGroup', Value: 'targetgroup/shop-blue/1' }],
          },
          Period: 60,
          Stat: 'Sum',
        },
      },
    ],
    StartTime: 1_700_000_000,
    EndTime: 1_700_000_600,
  };

  it('takes a valid GetMetricData', () => {
    expect(checkJson(cw, 'GetMetricData', valid)).toEqual([]);
  });

  it('refuses a missing StartTime, an Id CloudWatch would refuse, a period of 0 and an unknown member', () => {
    const { StartTime: _omit, ...rest } = valid;
    void _omit;
    const query = valid.MetricDataQueries[0] as object;
    const bad = {
      ...rest,
      MetricDataQueries: [
        { ...query, Id: 'G-0', MetricStat: { ...valid.MetricDataQueries[0]?.MetricStat, Period: 0 } },
      ],
      Stats: 'Sum',
    };
    const errors = checkJson(cw, 'GetMetricData', bad).join('; ');
    expect(errors).toMatch(/StartTime: required member missing/);
    expect(errors).toMatch(/MetricDataQueries.Id: 'G-0' does not match/);
    expect(errors).toMatch(/MetricStat.Period: 0 outside 1-inf/);
    expect(errors).toMatch(/Stats: unknown member/);
    expect(checkJson(cw, 'PutMetricAlarms', {})).toEqual(["unknown operation 'PutMetricAlarms'"]);
  });
});
