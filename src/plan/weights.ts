/**
 * Weights that give a pool an exact share of traffic. Weights are integers up to the driver's largest
 * (`capabilities.weights.max`, e.g. 256) and shares within a backend are w / sum(w), so a share is met to within the
 * resolution of the largest weight (about 0.4 points at 256 with one server per pool, finer with more).
 */

export interface WeightedServer {
  readonly id: string;
  /** The server's weight relative to the others of its pool (its configured weight; 0 counts as 1). */
  readonly base: number;
}

export interface Split {
  readonly weights: ReadonlyMap<string, number>;
  /** The new pool's share these weights give, in percent. */
  readonly achieved: number;
}

function spread(servers: readonly WeightedServer[], total: number, into: Map<string, number>): void {
  const bases = servers.map((s) => Math.max(s.base, 1));
  const sum = bases.reduce((a, b) => a + b, 0);
  servers.forEach((s, i) => into.set(s.id, (total * (bases[i] ?? 1)) / sum));
}

/** Weights for `percent` of traffic on `next`, the rest on `stable`, keeping each pool's internal proportions. */
export function splitWeights(
  stable: readonly WeightedServer[],
  next: readonly WeightedServer[],
  percent: number,
  maxWeight: number,
): Split {
  const weights = new Map<string, number>([...stable, ...next].map((s) => [s.id, 0]));
  if (percent <= 0 || next.length === 0) {
    spread(stable, 1, weights);
    next.forEach((s) => weights.set(s.id, 0));
  } else if (percent >= 100 || stable.length === 0) {
    spread(next, 1, weights);
    stable.forEach((s) => weights.set(s.id, 0));
  } else {
    spread(stable, 1 - percent / 100, weights);
    spread(next, percent / 100, weights);
  }
  const largest = Math.max(...weights.values());
  const scale = maxWeight / largest;
  const nextIds = new Set(next.map((s) => s.id));
  const result = new Map<string, number>();
  for (const [id, raw] of weights) {
    const w = raw === 0 ? 0 : Math.max(1, Math.round(raw * scale));
    result.set(id, w);
  }
  let total = 0;
  let onNext = 0;
  for (const [id, w] of result) {
    total += w;
    if (nextIds.has(id)) onNext += w;
  }
  return { weights: result, achieved: total === 0 ? 0 : (100 * onNext) / total };
}
