/**
 * npm run bench:latency: the latency judge (issue 25) in seeded simulation, no load balancer: healthy canaries whose
 * answers have the stable version's distribution (log-normal, heavy-tailed), weights changing per step, polls every
 * second, 0.5% background errors on both; and the time to catch versions 1.5x, 2x and 10x slower. Writes section 11
 * of bench/RESULTS.md (replacing an older one). `--seed N` to vary; `--runs N` healthy runs per distribution.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../test/helpers/action.js';
import {
  heavyTail,
  LATENCY_DEFAULTS as SETTINGS,
  logNormal,
  quantile,
  simulateLatencyJudge,
  type Latency,
} from '../test/helpers/judge-sim.js';
import { mulberry32 } from '../test/helpers/prng.js';

export const LATENCY_SEED = 20261207;
const STEPS = [
  { weight: 0.1, durationMs: 10_000 },
  { weight: 0.5, durationMs: 10_000 },
  { weight: 1, durationMs: 5_000 },
];
const RPS = 100;

function scenario(stable: Latency, canary: Latency) {
  return { rps: RPS, stable, canary, failure: 0.005, steps: STEPS, pollMs: 1000, timeoutMs: 120_000 };
}

const slower =
  (d: Latency, k: number): Latency =>
  (rng) =>
    k * d(rng);

const DISTRIBUTIONS: readonly [string, Latency][] = [
  ['log-normal, median 100 ms, log-sd 0.5', logNormal(100, 0.5)],
  ['heavy-tailed: ~20 ms, a fifth 70-270 ms, 1% Pareto from 250 ms', heavyTail(20)],
];

export function latencySection(seed: number, runs: number): string[] {
  const started = Date.now();
  const lines = [
    '## 11. Latency judge: false rollbacks and time to detect (simulated)',
    '',
    `Seed ${seed} (\`npm run bench:latency -- --seed ${seed} --runs ${runs}\`). The pure judge of errors and latency together (\`test/helpers/judge-sim.ts\`), default inputs (\`max-latency-increase: 50% and 50ms\`, \`false-rollback-rate: 1%\`, \`max-error-rate: 1%\`, \`min-requests: 20\`), steps \`10% 10s, 50% 10s, 100%\` at ${RPS} requests/s (Poisson), polls every 1 s, 0.5% errors on both versions.`,
    '',
    '### False rollbacks of healthy canaries (same distribution as stable)',
    '',
    '| distribution | runs | rolled back | share | bound |',
    '|---|---|---|---|---|',
  ];
  let total = 0;
  let totalBack = 0;
  DISTRIBUTIONS.forEach(([name, d], di) => {
    let back = 0;
    for (let i = 0; i < runs; i++) {
      const r = simulateLatencyJudge(mulberry32(seed + di * 1_000_003 + i), scenario(d, d), SETTINGS);
      if (r.outcome === 'rolled-back') back++;
    }
    total += runs;
    totalBack += back;
    lines.push(`| ${name} | ${runs.toLocaleString('en-US')} | ${back} | ${((100 * back) / runs).toFixed(2)}% | 1% |`);
  });
  lines.push(
    `| **all** | ${total.toLocaleString('en-US')} | ${totalBack} | ${((100 * totalBack) / total).toFixed(2)}% | 1% |`,
    '',
    '### Time to detect a slower version (from its first poll; 300 runs each)',
    '',
    '| distribution | slower by | caught | median time to rollback | p95 | at step |',
    '|---|---|---|---|---|---|',
  );
  DISTRIBUTIONS.forEach(([name, d], di) => {
    for (const k of [1.5, 2, 10]) {
      const results = Array.from({ length: 300 }, (_, i) =>
        simulateLatencyJudge(mulberry32(seed + 77 + di * 7919 + i), scenario(d, slower(d, k)), SETTINGS),
      );
      const caught = results.filter((r) => r.outcome === 'rolled-back');
      const times = caught.map((r) => r.atMs / 1000);
      const steps = [...new Set(caught.map((r) => r.step + 1))].sort().join(', ');
      lines.push(
        `| ${name} | ${k}x | ${caught.length} of 300 | ${caught.length ? `${quantile(times, 0.5)} s` : '-'} | ${caught.length ? `${quantile(times, 0.95)} s` : '-'} | ${steps || '-'} |`,
      );
    }
  });
  lines.push(
    '',
    '1.5x slower at a 100 ms median is 150 ms, exactly the tolerance (`50%`): it is not a regression by the default rule and is rarely rolled back; a tighter `max-latency-increase` catches it. On the heavy-tailed service 1.5x and 2x are within `50 ms` at the median and caught through the p95 threshold.',
    '',
    '### A slow canary on real HAProxy, next to Flagger (measured by the integration tests, copied here)',
    '',
    '| | a canary answering 400 ms slower (200 OK): first slow answer to all traffic on stable |',
    '|---|---|',
    '| zero-downtime-deploy, default inputs, real HAProxy 2.6 (`test/integration/haproxy-judge-felt.test.ts`, 20% of 150 requests/s, 1 s windows) | 0.17-0.67 s (5 runs of the test: 174, 258, 412, 601, 670 ms; 0.64-1.19 s into its first step) |',
    '| zero-downtime-deploy, real nginx 1.22 (`nginx-judge-felt.test.ts`) | 0.50-1.01 s (5 runs: 502, 559, 802, 938, 1011 ms) |',
    "| Flagger defaults (analysis `interval: 1m` x `threshold: 5` failed `request-duration` checks, its documentation's example) | at least 5 min (5 checks 1 minute apart), if its P99 check reads the right metric |",
    '',
    `Simulated in ${Math.round((Date.now() - started) / 1000)} s.`,
  );
  return lines;
}

export function patchLatency(text: string, section: string[]): string {
  const body = section.join('\n');
  const start = text.indexOf('## 11. Latency judge');
  if (start < 0) return `${text.replace(/\n*$/, '')}\n\n${body}\n`;
  const next = text.indexOf('\n## ', start + 1);
  return text.slice(0, start) + body + (next >= 0 ? `\n${text.slice(next)}` : '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string, fallback: number) => {
    const at = process.argv.indexOf(name);
    return at >= 0 ? Number(process.argv[at + 1]) : fallback;
  };
  const seed = arg('--seed', LATENCY_SEED);
  const runs = arg('--runs', 5100);
  console.log(`[bench:latency] seed ${seed}, ${runs} healthy runs per distribution`);
  const section = latencySection(seed, runs);
  console.log(section.join('\n'));
  const path = join(ROOT, 'bench/RESULTS.md');
  writeFileSync(path, patchLatency(readFileSync(path, 'utf8'), section));
  console.log(`[bench:latency] wrote ${path}`);
}
