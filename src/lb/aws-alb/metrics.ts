/**
 * Cumulative requests and failures per target group from CloudWatch: ALB publishes RequestCount,
 * HTTPCode_Target_5XX_Count and TargetConnectionErrorCount per target group in 60-second periods, and only while
 * requests flow. (HTTPCode_ELB_5XX_Count exists per load balancer only, so it cannot be told to a group.)
 */
import type { Counters } from '../../model/server.js';
import type { AwsApi } from './api.js';

export const METRICS_PERIOD_S = 60;

const METRICS = ['RequestCount', 'HTTPCode_Target_5XX_Count', 'TargetConnectionErrorCount'] as const;

export interface CounterQuery {
  /** `app/NAME/ID` */
  readonly loadBalancer: string;
  /** `targetgroup/NAME/ID`, one per group */
  readonly targetGroups: readonly string[];
  /** Sums are taken from here to now. */
  readonly since: Date;
}

/** One GetMetricData call for every group's three metrics; sums in the order of `targetGroups`. */
export async function readCounters(api: AwsApi, query: CounterQuery): Promise<Counters[]> {
  if (query.targetGroups.length === 0) return [];
  const { client, sdk } = await api.cw();
  const queries = query.targetGroups.flatMap((group, g) =>
    METRICS.map((metric, m) => ({
      Id: `g${g}m${m}`,
      MetricStat: {
        Metric: {
          Namespace: 'AWS/ApplicationELB',
          MetricName: metric,
          Dimensions: [
            { Name: 'TargetGroup', Value: group },
            { Name: 'LoadBalancer', Value: query.loadBalancer },
          ],
        },
        Period: METRICS_PERIOD_S,
        Stat: 'Sum',
      },
      ReturnData: true,
    })),
  );
  const end = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);
  const sums = new Map<string, number>();
  let token: string | undefined;
  do {
    const out = await api.send(
      client,
      new sdk.GetMetricDataCommand({
        MetricDataQueries: queries,
        StartTime: query.since,
        EndTime: end,
        NextToken: token,
      }),
    );
    for (const r of out.MetricDataResults ?? [])
      if (r.Id) sums.set(r.Id, (sums.get(r.Id) ?? 0) + (r.Values ?? []).reduce((a, b) => a + b, 0));
    token = out.NextToken;
  } while (token);
  return query.targetGroups.map((_, g) => ({
    requests: sums.get(`g${g}m0`) ?? 0,
    failures: (sums.get(`g${g}m1`) ?? 0) + (sums.get(`g${g}m2`) ?? 0),
  }));
}
