import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/model/durations.js';

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
  ])('parses %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each([['30'], ['abc'], ['5 m'], ['1d'], ['']])('rejects %j', (text) =>
    expect(parseDuration(text)).toHaveProperty('error'),
  );

  it.each([['600h'], ['596h31m23.647s'], ['99999999999h']])('refuses %s: at or over 2^31-1 ms', (text) =>
    expect(parseDuration(text)).toEqual({
      error: `'${text}' is too long: give less than 596h (2^31-1 ms, the longest wait a timer can hold)`,
    }),
  );

  it('accepts just under 2^31-1 ms', () => expect(parseDuration('596h31m23.646s')).toBe(2 ** 31 - 2));

  it('asks for a unit when a bare number is given', () =>
    expect(parseDuration('30')).toEqual({ error: "'30' has no unit: write 30s, 30m or 30ms" }));

  it.each([
    [500, '500ms'],
    [30_000, '30s'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [31_000, '31s'],
  ])('formats %d as %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});
