/** Parsers for `show stat` (CSV, read by header names) and `show servers state` (space separated, by header). */

export type Row = Readonly<Record<string, string>>;

function rows(text: string, split: (line: string) => string[]): Row[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const headerIndex = lines.findIndex((line) => line.startsWith('# '));
  if (headerIndex < 0) return [];
  const header = split((lines[headerIndex] ?? '').slice(2));
  return lines
    .slice(headerIndex + 1)
    .filter((line) => !line.startsWith('#'))
    .map((line) => {
      const cells = split(line);
      const row: Record<string, string> = {};
      header.forEach((name, i) => {
        if (name) row[name] = cells[i] ?? '';
      });
      return row;
    });
}

export function parseStatCsv(text: string): Row[] {
  return rows(text, (line) => line.split(','));
}

export function parseServersState(text: string): Row[] {
  return rows(text, (line) => line.trim().split(/\s+/));
}

export function num(row: Row, column: string): number {
  const value = Number(row[column] ?? '');
  return Number.isFinite(value) ? value : 0;
}

/** srv_admin_state bits (HAProxy src/server.h): forced, inherited, config and DNS maint; forced and inherited drain. */
const ADMIN_MAINT = 0x01 | 0x02 | 0x04 | 0x20;
const ADMIN_DRAIN = 0x08 | 0x10;

export function adminState(bits: number): 'ready' | 'drain' | 'maint' {
  if (bits & ADMIN_MAINT) return 'maint';
  if (bits & ADMIN_DRAIN) return 'drain';
  return 'ready';
}
