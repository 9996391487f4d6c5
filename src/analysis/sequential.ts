/**
 * Anytime-valid tests for the canary judge (after Lindon et al., KDD 2022, "Rapid Regression Detection in Software
 * Deployments through Sequential Testing"). Each is a mixture of likelihood ratios that stays a nonnegative
 * supermartingale with mean <= 1 while the new version is good, so by Ville's inequality it ever reaches 1/alpha with
 * probability at most alpha, however often it is looked at. Pure math, no I/O.
 *
 * New vs stable: in one poll the new pool served n_c requests with c failures, the stable pool n_b with b. If failures
 * arrive at rates whose ratio (new/stable) is theta, then given m = c + b, c ~ Binomial(m, q(theta)) with
 * q(theta) = theta n_c / (theta n_c + n_b). For theta > 1 the poll's ratio LR = (q(theta)/q(1))^c
 * ((1-q(theta))/(1-q(1)))^b has E[LR | m] = (q' q(theta)/q(1) + (1-q') (1-q(theta))/(1-q(1)))^m for a true q'; that
 * is 1 at q' = q(1) and increasing in q', so <= 1 whenever the new version is no worse (theta' <= 1). With per-request
 * Bernoulli failures instead of Poisson ones, c given m is (Fisher noncentral) hypergeometric: for equal failure
 * shares it is below the binomial in convex order (Hoeffding 1963), for a better version stochastically smaller, and
 * LR is convex and increasing in c, so E <= 1 again. Weights (n_c, n_b) may change every poll.
 *
 * New pool alone against max-error-rate L: per request LR = (p1/L)^x ((1-p1)/(1-L))^(1-x) for p1 > L has mean
 * p p1/L + (1-p) (1-p1)/(1-L) <= 1 for a true share p <= L.
 *
 * A fixed-weight average over a grid of theta (or p1) of such products is again a supermartingale. The judge multiplies
 * the two-sample mixture (over polls with stable traffic) by the one-sample mixture (over polls without): each poll
 * multiplies the product by a factor whose conditional mean is <= 1 under the null of that poll, so one threshold
 * 1/alpha bounds the chance of a false rollback by alpha for the rollout as a whole.
 */

/** Failure-rate ratios (new / stable) the two-sample mixture averages over, equal weights: 1.41x ... 64x. */
export const RATIOS: readonly number[] = Array.from({ length: 12 }, (_, i) => 2 ** ((i + 1) / 2));

/** The one-sample alternatives, as multiples of the limit's odds: p1 / (1 - p1) = r * L / (1 - L). */
export const ODDS_MULTIPLES: readonly number[] = [1.5, 2, 3, 5, 10, 30, 100, 1000];

/** log(sum_i exp(a_i)) / n: the log of an equal-weight mixture of exp(a_i). */
export function logMeanExp(logs: readonly number[]): number {
  let max = -Infinity;
  for (const v of logs) if (v > max) max = v;
  if (max === Infinity) return Infinity;
  if (max === -Infinity) return logs.length ? -Infinity : 0;
  let sum = 0;
  for (const v of logs) sum += Math.exp(v - max);
  return max + Math.log(sum / logs.length);
}

/**
 * Adds one poll's log likelihood ratios (theta in RATIOS vs theta = 1) to `acc`, returning a new array. A poll
 * without failures, or with no requests on one side, carries no information about the ratio and changes nothing.
 */
export function addRatioPoll(
  acc: readonly number[],
  canary: { readonly requests: number; readonly failures: number },
  stable: { readonly requests: number; readonly failures: number },
): readonly number[] {
  const c = canary.failures;
  const b = stable.failures;
  // Failures without counted requests (a connection error) still happened on that side.
  const nc = Math.max(canary.requests, c);
  const nb = Math.max(stable.requests, b);
  if (c + b === 0 || nc === 0 || nb === 0) return acc;
  const q1 = nc / (nc + nb);
  return acc.map((sum, i) => {
    const theta = RATIOS[i] ?? 1;
    const q = (theta * nc) / (theta * nc + nb);
    return sum + c * Math.log(q / q1) + b * Math.log((1 - q) / (1 - q1));
  });
}

/** The one-sample alternatives p1 above the limit. */
export function limitAlternatives(limit: number): readonly number[] {
  if (limit <= 0 || limit >= 1) return [];
  const odds = limit / (1 - limit);
  return ODDS_MULTIPLES.map((r) => (r * odds) / (1 + r * odds));
}

/**
 * Adds one poll's log likelihood ratios (failure share p1 vs the limit L) to `acc`, returning a new array. With L = 0
 * one failure is proof (log ratio +Infinity); with L >= 1 nothing is ever over the limit.
 */
export function addLimitPoll(
  acc: readonly number[],
  tally: { readonly requests: number; readonly failures: number },
  limit: number,
): readonly number[] {
  const x = tally.failures;
  const n = Math.max(tally.requests, x);
  if (n === 0 || limit >= 1) return acc;
  if (limit <= 0) return x > 0 ? acc.map(() => Infinity) : acc;
  const alternatives = limitAlternatives(limit);
  return acc.map((sum, i) => {
    const p1 = alternatives[i] ?? limit;
    return sum + x * Math.log(p1 / limit) + (n - x) * Math.log((1 - p1) / (1 - limit));
  });
}

export function emptyRatio(): readonly number[] {
  return RATIOS.map(() => 0);
}

/** One zero per alternative (a single one when the limit is 0% or 100%, where there is nothing to average). */
export function emptyLimit(limit: number): readonly number[] {
  const alternatives = limitAlternatives(limit);
  return alternatives.length ? alternatives.map(() => 0) : [0];
}
