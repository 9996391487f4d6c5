/** AWS Application Load Balancer: a listener's or rule's forward action, through the AWS SDK (loaded on first use). */
import type { DriverModule } from '../driver.js';
import { parseDuration } from '../../model/durations.js';
import { METRICS_PERIOD_S } from './metrics.js';
import { ARN_FORM, parseAlbArn } from './arn.js';
import { AlbDriver, albCapabilities } from './driver.js';

export interface AlbModuleOptions {
  readonly drainTimeoutMs: number;
  /** A rolling deploy deregisters targets of groups in traffic: drain-timeout must cover their deregistration delay. */
  readonly rolling: boolean;
}

export const awsAlb: DriverModule<AlbModuleOptions> = {
  kind: 'aws-alb',
  schemes: [
    {
      scheme: 'aws-alb',
      example:
        'aws-alb:arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee',
      parse: (u) => {
        const arn = parseAlbArn(u);
        return typeof arn === 'string' ? `${arn}` : { type: 'cloud', id: arn.arn };
      },
    },
  ],
  capabilities: albCapabilities,
  inputs: {},
  options(read, context) {
    const errors: string[] = [];
    const ms = (name: string) => {
      const value = parseDuration(read(name));
      return typeof value === 'number' ? value : undefined;
    };
    const window = ms('analysis-interval');
    const minRequests = Number(read('min-requests'));
    // The judge's counters come in CloudWatch periods: a shorter window would judge on nothing new.
    if (context.action === 'deploy' && window !== undefined && window < METRICS_PERIOD_S * 1000 && minRequests > 0) {
      errors.push(
        `analysis-interval: ${read('analysis-interval')} is shorter than CloudWatch's ${METRICS_PERIOD_S} s period for ALB metrics, so a window would often see no new counts; give ${METRICS_PERIOD_S}s or more, or set min-requests: 0 to judge windows by health-url and check-url probes alone (counters still count when they arrive)`,
      );
    }
    return errors.length
      ? { errors }
      : { options: { drainTimeoutMs: ms('drain-timeout') ?? 30_000, rolling: read('strategy') === 'rolling' } };
  },
  create(url, options, tuning) {
    const arn = parseAlbArn(url.display);
    if (typeof arn === 'string') throw new Error(`load-balancer: ${arn} (${ARN_FORM})`);
    return new AlbDriver({ arn, ...tuning, drainTimeoutMs: options.drainTimeoutMs, rolling: options.rolling });
  },
};
