/** Durations as users write them (`500ms`, `30s`, `5m`, `1h`, `1m30s`), held as milliseconds. */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;

/** Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer one fires at once. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** Parses a duration or returns a reason it is not one. */
export function parseDuration(text: string): number | { error: string } {
  const value = text.trim();
  if (value === '') return { error: 'is empty' };
  if (/^\d+(\.\d+)?$/.test(value)) return { error: `'${value}' has no unit: write ${value}s, ${value}m or ${value}ms` };
  let total = 0;
  PART.lastIndex = 0;
  let consumed = 0;
  for (let match = PART.exec(value); match; match = PART.exec(value)) {
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? 0);
    consumed = PART.lastIndex;
  }
  if (consumed !== value.length) return { error: `'${value}' is not a duration (examples: 500ms, 30s, 5m, 1h, 1m30s)` };
  if (Math.round(total) >= MAX_DURATION_MS)
    return { error: `'${value}' is too long: give less than 596h (2^31-1 ms, the longest wait a timer can hold)` };
  return Math.round(total);
}

/** Formats milliseconds the way users write them: `1m30s`, `500ms`, `2h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const totalSeconds = Math.round(ms / 100) / 10;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = Math.round((totalSeconds % 60) * 10) / 10;
  const parts: string[] = [];
  if (hours) parts.push(`${hours}h`);
  if (minutes) parts.push(`${minutes}m`);
  if (seconds || parts.length === 0) parts.push(`${seconds}s`);
  return parts.join('');
}
