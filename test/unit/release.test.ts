/** The release workflow's notes come from CHANGELOG.md, one version's section, and a missing section stops it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/action.js';
// @ts-expect-error plain JS script without types
import { releaseNotes } from '../../scripts/release-notes.js';

const notes = releaseNotes as (changelog: string, version: string) => string | undefined;

const changelog = [
  '# Changelog',
  '',
  '## [Unreleased]',
  '',
  '## [1.1.0] - 2026-12-01',
  '',
  '### Added',
  '',
  '- `status` shows the paused step.',
  '',
  '## [1.0.0] - 2026-11-30',
  '',
  '- First release.',
  '',
  '[1.1.0]: https://example.com/compare/v1.0.0...v1.1.0',
].join('\n');

describe('release notes', () => {
  it("are one version's section, without the next heading or link definitions", () => {
    expect(notes(changelog, '1.1.0')).toBe('### Added\n\n- `status` shows the paused step.');
    expect(notes(changelog, '1.0.0')).toBe('- First release.');
  });

  it('are missing for a version without a section, or with an empty one', () => {
    expect(notes(changelog, '2.0.0')).toBeUndefined();
    expect(notes('## [1.0.0] - 2026-11-30\n\n## [0.9.0] - 2026-11-01\n- x', '1.0.0')).toBeUndefined();
  });

  it('CHANGELOG.md keeps an Unreleased section that the next release renames', () => {
    const text = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8');
    expect(text).toMatch(/^## \[Unreleased\]$/m);
    expect(notes(text, 'Unreleased')).toBeDefined();
  });
});
