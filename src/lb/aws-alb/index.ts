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
  /** preview-backend: the target group previews copy. */
  readonly previewBackend: string;
}

const INPUTS = { 'preview-backend': 'previews' } as const;

/** ALB's target group names: 1-32 letters, digits and '-', not starting or ending with '-'. */
const GROUP_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/;

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
  inputs: INPUTS,
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
    const previewBackend = read('preview-backend') || INPUTS['preview-backend'];
    const previewing = context.action === 'preview' || context.action === 'close-preview';
    if (!GROUP_NAME.test(previewBackend))
      errors.push(
        `preview-backend: '${previewBackend}' is not an ALB target group name (1-32 letters, digits and '-')`,
      );
    else if (!previewing && previewBackend !== INPUTS['preview-backend'])
      errors.push('preview-backend: only used by action preview and close-preview');
    if (context.action === 'preview' && read('preview-canary'))
      errors.push(
        'preview-canary: not available on aws-alb in this release (ALB weighs target groups, not targets); run the canary with action deploy',
      );
    if (previewing && /[A-Z]/.test(read('preview-key')))
      errors.push(
        `preview-key: '${read('preview-key')}' has capitals, and ALB matches header and query values without regard to case, so it would also catch ${read('preview-key').toLowerCase()}'s requests; give it in lower case`,
      );
    if (context.action === 'preview' && read('targets'))
      errors.push(
        `targets: on aws-alb a preview registers preview-address in a target group of its own, copied from preview-backend ${previewBackend}; give preview-address`,
      );
    return errors.length
      ? { errors }
      : {
          options: {
            drainTimeoutMs: ms('drain-timeout') ?? 30_000,
            rolling: read('strategy') === 'rolling',
            previewBackend,
          },
        };
  },
  create(url, options, tuning) {
    const arn = parseAlbArn(url.display);
    if (typeof arn === 'string') throw new Error(`load-balancer: ${arn} (${ARN_FORM})`);
    return new AlbDriver({
      arn,
      ...tuning,
      drainTimeoutMs: options.drainTimeoutMs,
      rolling: options.rolling,
      previewBackend: options.previewBackend ?? INPUTS['preview-backend'],
    });
  },
};
