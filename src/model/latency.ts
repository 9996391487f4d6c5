/**
 * Latency tolerances as users write them: `max-latency-increase` (how much slower than the stable pool the new
 * version may answer) and `max-latency` (a limit for the version serving alone), and small helpers on samples.
 */
import { formatDuration, parseDuration } from './durations.js';

/** Slower than stable by more than both: `50% and 50ms` tolerates s -> max(1.5 s, s + 50 ms). */
export interface LatencyTolerance {
  /** Relative part, as a fraction (0.5 for 50%). */
  readonly fraction: number;
  /** Absolute part, in ms. */
  readonly ms: number;
}

/** `p99 500ms`: at most 1% of the new version's answers slower than 500 ms. */
export interface LatencyLimit {
  /** The quantile, 0.5..0.999 (0.99 for p99). */
  readonly quantile: number;
  readonly ms: number;
}

export interface LatencySettings {
  /** undefined: `max-latency-increase: off`. */
  readonly tolerance: LatencyTolerance | undefined;
  /** undefined: no `max-latency`. */
  readonly limit: LatencyLimit | undefined;
}

export const DEFAULT_LATENCY_INCREASE = '50% and 50ms';

/** `50% and 50ms`, `50%`, `100ms`, `off`. */
export function parseLatencyTolerance(text: string): LatencyTolerance | undefined | { error: string } {
  const value = text.trim().toLowerCase();
  if (value === 'off') return undefined;
  const parts = value.split(/\s+and\s+/);
  let fraction: number | undefined;
  let ms: number | undefined;
  const bad = {
    error: `'${text}' is not a latency tolerance: give a percentage, a duration or both (e.g. 50% and 50ms, 100%, 200ms), or off`,
  };
  if (parts.length > 2) return bad;
  for (const part of parts) {
    const percent = /^(\d+(?:\.\d+)?)\s*%$/.exec(part);
    if (percent) {
      if (fraction !== undefined) return bad;
      fraction = Number(percent[1]) / 100;
      if (fraction > 100) return { error: `${percent[1]}% is over 10000% (a version 100 times slower)` };
      continue;
    }
    const d = parseDuration(part);
    if (typeof d !== 'number' || ms !== undefined) return bad;
    if (d > 600_000) return { error: `'${part}' is longer than 10m` };
    ms = d;
  }
  if (!fraction && !ms)
    return { error: `'${text}' tolerates no increase at all: a healthy version would be rolled back for noise` };
  return { fraction: fraction ?? 0, ms: ms ?? 0 };
}

/** `p99 500ms`, `p50 200ms`, `p99.9 2s`; empty: none. */
export function parseLatencyLimit(text: string): LatencyLimit | undefined | { error: string } {
  const value = text.trim().toLowerCase();
  if (value === '') return undefined;
  const match = /^p(\d+(?:\.\d+)?)\s+(\S+)$/.exec(value);
  if (!match) return { error: `'${text}' is not a latency limit: give a percentile and a duration (e.g. p99 500ms)` };
  const quantile = Math.round(Number(match[1]) * 10) / 1000;
  if (quantile < 0.5 || quantile > 0.999)
    return { error: `p${match[1]} is not a percentile from p50 to p99.9 (e.g. p99 500ms)` };
  const ms = parseDuration(match[2] ?? '');
  if (typeof ms !== 'number') return { error: `'${match[2]}' ${ms.error.replace(/^'[^']*' /, '')}` };
  if (ms <= 0 || ms > 600_000) return { error: `'${match[2]}' is not a latency from 1ms to 10m` };
  return { quantile, ms };
}

/** The latency a version within tolerance may take where stable takes `ms`. */
export function tolerated(tolerance: LatencyTolerance, ms: number): number {
  return Math.max(ms * (1 + tolerance.fraction), ms + tolerance.ms);
}

export function describeTolerance(t: LatencyTolerance | undefined): string {
  if (!t) return 'off';
  const parts = [
    ...(t.fraction ? [`${Math.round(t.fraction * 1000) / 10}%`] : []),
    ...(t.ms ? [formatDuration(t.ms)] : []),
  ];
  return parts.join(' and ');
}

export function describeLimit(l: LatencyLimit): string {
  return `p${Math.round(l.quantile * 1000) / 10} ${formatDuration(l.ms)}`;
}

/** The q-quantile of sorted samples (nearest rank); NaN when there are none. */
export function quantileOf(sorted: readonly number[], q: number): number {
  if (!sorted.length) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: quantileOf(sorted, 0.5),
    p95: quantileOf(sorted, 0.95),
    p99: quantileOf(sorted, 0.99),
  };
}

/** `p50 21ms p95 230ms p99 248ms (n=1200)`; `-` without samples. */
export function formatSummary(s: LatencySummary): string {
  if (!s.count) return '-';
  const ms = (v: number) => (v >= 1000 ? formatDuration(v) : `${Math.round(v)}ms`);
  return `p50 ${ms(s.p50)} p95 ${ms(s.p95)} p99 ${ms(s.p99)} (n=${s.count})`;
}
