// Prints the CHANGELOG.md section of one version, for the GitHub release of its tag.
//   node scripts/release-notes.js 1.2.0      the text under "## [1.2.0] - DATE", up to the next "## " heading
// Exits 1 when CHANGELOG.md has no such section or it is empty: a release always says what changed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The body of `## [VERSION] - DATE` in a Keep a Changelog text, trimmed; undefined when missing or empty. */
export function releaseNotes(changelog, version) {
  const lines = changelog.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`## [${version}]`));
  if (start === -1) return undefined;
  const next = lines.findIndex((line, i) => i > start && /^## /.test(line));
  const body = lines
    .slice(start + 1, next === -1 ? undefined : next)
    .filter((line) => !/^\[[^\]]+\]: /.test(line))
    .join('\n')
    .trim();
  return body === '' ? undefined : body;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const version = process.argv[2] ?? '';
  if (!/^\d+\.\d+\.\d+$/.test(version)) {
    console.error('usage: node scripts/release-notes.js X.Y.Z');
    process.exit(1);
  }
  const root = join(fileURLToPath(import.meta.url), '..', '..');
  const notes = releaseNotes(readFileSync(join(root, 'CHANGELOG.md'), 'utf8'), version);
  if (notes === undefined) {
    console.error(`CHANGELOG.md has no "## [${version}] - DATE" section with text: add one before tagging v${version}`);
    process.exit(1);
  }
  console.log(notes);
}
