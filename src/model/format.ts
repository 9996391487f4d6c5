/** The one percentage formatter: percent points with at most one decimal (12.34 -> "12.3%"). */
export function formatPercent(points: number): string {
  return `${Math.round(points * 10) / 10}%`;
}
