/** Every deploy-command the README, docs/ and examples/ show is safe to copy: nothing pasted into a remote command. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/action.js';

const inDir = (dir: string, pattern: RegExp) =>
  readdirSync(join(ROOT, dir))
    .filter((f) => pattern.test(f))
    .map((f) => `${dir}/${f}`);
const sources = ['README.md', ...inDir('docs', /\.md$/), ...inDir('examples', /\.(ya?ml|md)$/)];

const commands = sources.flatMap((file) =>
  readFileSync(join(ROOT, file), 'utf8')
    .split('\n')
    .filter((line) => /^\s*(deploy|rollback)-command:/.test(line))
    .map((line) => ({ file, command: line.replace(/^\s*(deploy|rollback)-command:\s*/, '') })),
);

describe('deploy-command examples', () => {
  it('exist', () => expect(commands.length).toBeGreaterThanOrEqual(6));

  it.each(commands)('$file: $command pastes no value into a remote command', ({ command }) => {
    expect(command).not.toContain('${{');
    const ssh = /\bssh\s+("[^"]*"|\S+)\s+(.*)$/.exec(command);
    if (!ssh) {
      // Local commands: every value quoted.
      expect(command.replace(/"\$DEPLOY_[A-Z]+"/g, '')).not.toMatch(/\$DEPLOY_/);
      return;
    }
    // A file sent on standard input (`< "$RUNNER_TEMP/shop.tar.gz"`) is data, not command text.
    const remote = (ssh[2] ?? '').replace(/\s+<\s+("[^"$]*(\$RUNNER_TEMP)?[^"$]*"|[^\s$"']+)$/, '');
    // The remote command is one constant in single quotes; values travel on stdin.
    expect(remote).toMatch(/^'[^']*'$/);
    expect(remote).not.toMatch(/\$DEPLOY_/);
  });
});
