/**
 * The one percentage formatter, in two entry points by what they are given: percent points (`formatPercent(12.34)`)
 * or a fraction of 1 (`formatFraction(0.1234)`). Both write the same styles:
 * - `tenths` (the default): at most one decimal, 12.34 -> "12.3%", 20 -> "20%";
 * - `fixed`: always one decimal, 20 -> "20.0%";
 * - `significant`: a share as a person reads it, two significant digits under 10%, whole above: 0.47%, 2.1%, 15%.
 */
export type PercentStyle = 'tenths' | 'fixed' | 'significant';

function write(tenthsOfPoint: number, points: number, style: PercentStyle): string {
  switch (style) {
    case 'fixed':
      return `${points.toFixed(1)}%`;
    case 'significant':
      if (points <= 0) return '0%';
      return `${points >= 10 ? Math.round(points) : Number(points.toPrecision(2))}%`;
    default:
      return `${Math.round(tenthsOfPoint) / 10}%`;
  }
}

/** Percent points, e.g. a share of traffic: 12.34 -> "12.3%". */
export function formatPercent(points: number, style: PercentStyle = 'tenths'): string {
  return write(points * 10, points, style);
}

/** A fraction of 1, e.g. an error rate: 0.1234 -> "12.3%"; 0.0047 -> "0.47%" with `significant`. */
export function formatFraction(fraction: number, style: PercentStyle = 'tenths'): string {
  return write(fraction * 1000, fraction * 100, style);
}

/** `part` of `whole` as a percentage ("-" when there is no whole): 3 of 200 -> "1.5%". */
export function formatShare(part: number, whole: number): string {
  return whole ? write((1000 * part) / whole, (100 * part) / whole, 'tenths') : '-';
}

/** A sentence used as a clause of a longer message: its own final period dropped, so the message has one. */
export function clause(text: string): string {
  return text.replace(/\.+$/, '');
}
