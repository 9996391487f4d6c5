/** ALB listener and listener-rule ARNs: the region, the load balancer (CloudWatch's dimension) and the listener. */

export interface AlbArn {
  readonly arn: string;
  readonly kind: 'listener' | 'rule';
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** `app/NAME/ID`, the `LoadBalancer` dimension of CloudWatch's ALB metrics. */
  readonly loadBalancer: string;
  /** The listener's ARN (the rule's listener for a rule). */
  readonly listener: string;
}

const PATTERN =
  /^arn:(aws[a-z-]*):elasticloadbalancing:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):(listener|listener-rule)\/(app\/[A-Za-z0-9-]{1,32}\/[0-9a-f]+)\/([0-9a-f]+)(?:\/([0-9a-f]+))?$/;

export const ARN_FORM =
  'aws-alb:arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/NAME/ID/ID (or listener-rule/app/NAME/ID/ID/ID)';

/** The ARN after `aws-alb:`, or what is wrong with it. */
export function parseAlbArn(text: string): AlbArn | string {
  const arn = text.replace(/^aws-alb:/i, '');
  const match = PATTERN.exec(arn);
  if (!match) return `'${arn}' is not the ARN of an Application Load Balancer listener or listener rule: ${ARN_FORM}`;
  const [, partition = '', region = '', account = '', type = '', loadBalancer = '', listenerId = '', ruleId] = match;
  if ((type === 'listener-rule') !== (ruleId !== undefined))
    return `'${arn}' has ${type === 'listener' ? 'a rule id after a listener' : 'no rule id'}: ${ARN_FORM}`;
  return {
    arn,
    kind: type === 'listener' ? 'listener' : 'rule',
    partition,
    region,
    account,
    loadBalancer,
    listener: `arn:${partition}:elasticloadbalancing:${region}:${account}:listener/${loadBalancer}/${listenerId}`,
  };
}

/** `targetgroup/NAME/ID`, the `TargetGroup` dimension of CloudWatch's ALB metrics, from a target group's ARN. */
export function targetGroupDimension(arn: string): string {
  return arn.slice(arn.indexOf(':targetgroup/') + 1);
}
