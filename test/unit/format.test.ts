/** The one percentage formatter: from points or from a fraction, in the styles the reports use. */
import { describe, expect, it } from 'vitest';
import { formatFraction, formatPercent, formatShare } from '../../src/model/format.js';

describe('percentages', () => {
  it('from points: at most one decimal by default, always one when fixed', () => {
    expect(formatPercent(12.34)).toBe('12.3%');
    expect(formatPercent(20)).toBe('20%');
    expect(formatPercent(9.923664122137405)).toBe('9.9%');
    expect(formatPercent(0)).toBe('0%');
    expect(formatPercent(20, 'fixed')).toBe('20.0%');
    expect(formatPercent(4.987, 'fixed')).toBe('5.0%');
  });

  it('from a fraction: the same text as from its points', () => {
    expect(formatFraction(0.1234)).toBe('12.3%');
    expect(formatFraction(0.5)).toBe('50%');
    expect(formatFraction(0.2, 'fixed')).toBe('20.0%');
  });

  it('significant: two significant digits under 10%, whole numbers above, 0% for nothing', () => {
    expect(formatFraction(0.0047, 'significant')).toBe('0.47%');
    expect(formatFraction(0.021, 'significant')).toBe('2.1%');
    expect(formatFraction(0.153, 'significant')).toBe('15%');
    expect(formatFraction(1, 'significant')).toBe('100%');
    expect(formatFraction(0.01, 'significant')).toBe('1%');
    expect(formatFraction(0, 'significant')).toBe('0%');
    expect(formatFraction(-0.1, 'significant')).toBe('0%');
  });

  it('a share of a whole, "-" without one', () => {
    expect(formatShare(3, 200)).toBe('1.5%');
    expect(formatShare(1, 3)).toBe('33.3%');
    expect(formatShare(0, 0)).toBe('-');
  });
});
