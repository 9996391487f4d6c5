/**
 * How long the latency judge takes to catch a slower version at a plan's traffic, for the dry run: the pure judge
 * fed the expected answers of each poll (stratified quantiles of a log-normal stable distribution, the new version
 * k times slower). Pure, deterministic.
 */
import { createJudge, observe, type JudgeSettings } from './judge.js';

export interface LatencyDetectionInput {
  readonly settings: JudgeSettings;
  readonly steps: readonly { readonly share: number; readonly durationMs: number }[];
  readonly requestsPerSecond: number;
  readonly pollMs: number;
  /** The stable version's median answer (ms); log-sd 0.5. */
  readonly medianMs: number;
}

/** Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9 after no refinement). */
function probit(p: number): number {
  const a = [
    -39.6968302866538, 220.946098424521, -275.928510446969, 138.357751867269, -30.6647980661472, 2.50662827745924,
  ];
  const b = [-54.4760987982241, 161.585836858041, -155.698979859887, 66.8013118877197, -13.2806815528857];
  const c = [
    -0.00778489400243029, -0.322396458041136, -2.40075827716184, -2.54973253934373, 4.37466414146497, 2.93816398269878,
  ];
  const d = [0.00778469570904146, 0.32246712907004, 2.445134137143, 3.75440866190742];
  const low = 0.02425;
  const poly = (k: number[], x: number) => k.reduce((acc, v) => acc * x + v, 0);
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - low) return -probit(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

function answers(n: number, medianMs: number, multiple: number, offset: number): number[] {
  return Array.from(
    { length: n },
    (_, i) => multiple * medianMs * Math.exp(0.5 * probit((((i + offset) % n) + 0.5) / n)),
  );
}

/** Milliseconds from the first step's start to the rollback of a version `multiple` times slower; undefined: not caught. */
export function latencyDetectionMs(input: LatencyDetectionInput, multiple: number): number | undefined {
  let state = createJudge(input.settings);
  let now = 0;
  for (const [index, step] of input.steps.entries()) {
    const polls = Math.max(1, Math.ceil(step.durationMs / input.pollMs));
    const nc = Math.round((input.requestsPerSecond * step.share * input.pollMs) / 1000);
    const nb = step.share < 1 ? Math.round((input.requestsPerSecond * (1 - step.share) * input.pollMs) / 1000) : 0;
    for (let i = 0; i < polls; i++) {
      now += input.pollMs;
      const result = observe(state, {
        step: index,
        stepEnded: i === polls - 1,
        canary: { requests: nc, failures: 0 },
        stable: step.share < 1 ? { requests: nb, failures: 0 } : undefined,
        latency: {
          canary: answers(nc, input.medianMs, multiple, i * 7),
          stable: step.share < 1 ? answers(nb, input.medianMs, 1, i * 13) : undefined,
        },
      });
      state = result.state;
      if (result.verdict.kind === 'fail') return now;
    }
  }
  return undefined;
}
