/**
 * Latency per target group from CloudWatch: ALB publishes TargetResponseTime (seconds from the request leaving the
 * load balancer to the target's response headers) per target group in 60-second periods. GetMetricData gives, per
 * period, its SampleCount and the percentiles p50, p95 and p99 (extended statistics), never single answers. Each
 * period's answers are rebuilt from those figures (`answersOf`): as many as it counted, half at or under its p50, 45%
 * from p50 to p95, 4% from p95 to p99, 1% at p99, which is what the judge's counts of answers over a threshold need
 * at the thresholds it takes (the stable pool's median and p95). Answers of a period counted since the previous read
 * are the ones returned: a period shows once CloudWatch publishes it (about a minute after it ends) and grows if
 * CloudWatch adds late data points, so the judge sees ALB latency in one-minute steps, up to ~2 minutes late.
 */
import type { LatencyLog } from '../driver.js';
import type { AwsApi } from './api.js';
import { METRICS_PERIOD_S } from './metrics.js';

const STATS = ['SampleCount', 'p50', 'p95', 'p99'] as const;

export interface PeriodFigures {
  readonly count: number;
  /** Seconds, as CloudWatch gives TargetResponseTime. */
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

/** The answers (ms) of `n` requests of a period with these percentiles, rebuilt by interpolating between them. */
export function answersOf(n: number, f: PeriodFigures): number[] {
  const points: [number, number][] = [
    [0, f.p50 / 2],
    [0.5, f.p50],
    [0.95, Math.max(f.p50, f.p95)],
    [0.99, Math.max(f.p50, f.p95, f.p99)],
    [1, Math.max(f.p50, f.p95, f.p99)],
  ];
  const at = (q: number): number => {
    for (let i = 1; i < points.length; i++) {
      const [q1, v1] = points[i] as [number, number];
      const [q0, v0] = points[i - 1] as [number, number];
      if (q <= q1) return v0 + ((v1 - v0) * (q - q0)) / (q1 - q0);
    }
    return points[points.length - 1]?.[1] ?? 0;
  };
  return Array.from({ length: Math.max(0, Math.round(n)) }, (_, i) => 1000 * at((i + 0.5) / n));
}

/** `k` of the answers, evenly spread over them (those counted since the last read, from the whole period's figures). */
export function spread(answers: readonly number[], k: number): number[] {
  const n = answers.length;
  return answers.filter((_, i) => Math.floor(((i + 1) * k) / n) !== Math.floor((i * k) / n));
}

/** A target group to read, and the server id its answers go to (the first of its targets asked for). */
export interface LatencyGroup {
  readonly dimension: string;
  readonly serverId: string;
}

export class AlbLatency implements LatencyLog {
  readonly source = `TargetResponseTime per target group from CloudWatch (p50, p95, p99 and SampleCount per ${METRICS_PERIOD_S} s period)`;
  readonly periodMs = METRICS_PERIOD_S * 1000;
  /** Per group dimension and period start (ms), the answers already returned; undefined before the first read. */
  private counted: Map<string, number> | undefined;

  constructor(
    private readonly api: AwsApi,
    private readonly loadBalancer: string,
    private readonly since: Date,
    private readonly groupsOf: (ids: readonly string[]) => Promise<LatencyGroup[]>,
  ) {}

  /** CloudWatch always has TargetResponseTime for an ALB's target groups: nothing to configure. */
  missing(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }

  async read(ids: readonly string[]): Promise<Map<string, number[]>> {
    const result = new Map<string, number[]>(ids.map((id) => [id, []]));
    const groups = await this.groupsOf(ids);
    const periods = await this.periods(groups.map((g) => g.dimension));
    const before = this.counted;
    this.counted = new Map([...(before ?? [])]);
    for (const [key, figures] of periods) {
      const done = before?.get(key) ?? 0;
      this.counted.set(key, Math.max(done, figures.count));
      if (!before || figures.count <= done) continue;
      const dimension = key.slice(0, key.lastIndexOf('@'));
      const id = groups.find((g) => g.dimension === dimension)?.serverId;
      if (id) result.get(id)?.push(...spread(answersOf(figures.count, figures), figures.count - done));
    }
    return result;
  }

  /** One GetMetricData call (paged): per `dimension@periodStartMs`, the period's figures. */
  private async periods(dimensions: readonly string[]): Promise<Map<string, PeriodFigures>> {
    const out = new Map<string, PeriodFigures>();
    if (dimensions.length === 0) return out;
    const { client, sdk } = await this.api.cw();
    const queries = dimensions.flatMap((group, g) =>
      STATS.map((stat, s) => ({
        Id: `l${g}s${s}`,
        MetricStat: {
          Metric: {
            Namespace: 'AWS/ApplicationELB',
            MetricName: 'TargetResponseTime',
            Dimensions: [
              { Name: 'TargetGroup', Value: group },
              { Name: 'LoadBalancer', Value: this.loadBalancer },
            ],
          },
          Period: METRICS_PERIOD_S,
          Stat: stat,
        },
        ReturnData: true,
      })),
    );
    const values = new Map<string, number>();
    const end = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);
    let token: string | undefined;
    do {
      const page = await this.api.send(
        client,
        new sdk.GetMetricDataCommand({
          MetricDataQueries: queries,
          StartTime: this.since,
          EndTime: end,
          NextToken: token,
        }),
      );
      for (const r of page.MetricDataResults ?? [])
        (r.Timestamps ?? []).forEach((t, i) =>
          values.set(`${r.Id ?? ''}@${new Date(t).getTime()}`, r.Values?.[i] ?? 0),
        );
      token = page.NextToken;
    } while (token);
    for (const [key, count] of values) {
      const match = /^l(\d+)s0@(\d+)$/.exec(key);
      if (!match || !count) continue;
      const [, g, at] = match;
      const stat = (s: number) => values.get(`l${g}s${s}@${at}`) ?? 0;
      out.set(`${dimensions[Number(g)] ?? ''}@${at}`, { count, p50: stat(1), p95: stat(2), p99: stat(3) });
    }
    return out;
  }
}
