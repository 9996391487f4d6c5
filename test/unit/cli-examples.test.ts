/**
 * The CI examples under examples/ (a Jenkinsfile and a .gitlab-ci.yml) run the CLI: every invocation in them is
 * taken out of its shell text and checked against the CLI's own list of commands and flags (src/cli/flags.ts),
 * every ZDD_* variable against the inputs, and the pipeline's shape (an approval between the canary's steps).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { INPUT_DEFAULTS } from '../../src/inputs.js';
import { parseArgv, readEnv, UsageError } from '../../src/cli/flags.js';
import { ROOT } from '../helpers/action.js';

/** Shell words of a command line: quotes, backslash-newline continuations; stops at ||, &&, ;, | or a newline. */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (c === '\\' && text[i + 1] === '\n') {
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unclosed ${c} in ${text}`);
      word = (word ?? '') + text.slice(i + 1, end);
      i = end;
      continue;
    }
    if (/[|;&\n]/.test(c)) break;
    if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
      continue;
    }
    word = (word ?? '') + c;
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** Every `zero-downtime-deploy ...` invocation in a shell text: the words after the package name. */
export function invocations(shell: string): string[][] {
  return [...shell.matchAll(/zero-downtime-deploy(?:@\S+)?[ \t]/g)].map((m) =>
    shellWords(shell.slice((m.index ?? 0) + m[0].length)),
  );
}

/** The problems of one invocation: unknown command or flag, a flag without its value. */
function problems(args: string[]): string[] {
  try {
    const parsed = parseArgv(args, INPUT_DEFAULTS);
    return parsed.command ? [] : [`no command in ${args.join(' ')}`];
  } catch (error) {
    if (error instanceof UsageError) return [error.message];
    throw error;
  }
}

const jenkinsfile = readFileSync(join(ROOT, 'examples/Jenkinsfile'), 'utf8');
const gitlab = parse(readFileSync(join(ROOT, 'examples/.gitlab-ci.yml'), 'utf8')) as {
  stages: string[];
  variables: Record<string, string>;
  [job: string]: unknown;
};
type GitlabJob = { stage?: string; when?: string; script?: string[]; needs?: string[]; extends?: string };
const jobs = Object.entries(gitlab).filter(
  (e): e is [string, GitlabJob] => !['stages', 'variables'].includes(e[0]) && !e[0].startsWith('.'),
);

/** The shell scripts of the Jenkinsfile: sh '...' and sh(script: '''...''') strings. */
function jenkinsScripts(text: string): string[] {
  const scripts = [...text.matchAll(/'''([\s\S]*?)'''/g)].map((m) => m[1] ?? '');
  scripts.push(...[...text.matchAll(/\bsh '([^'\n]*)'/g)].map((m) => m[1] ?? ''));
  return scripts;
}

describe('CLI examples', () => {
  it('the shell-word reader and the checks can fail', () => {
    expect(shellWords(`deploy --steps "20% 5m, 100%" \\\n  --x 'a b' || true`)).toEqual([
      'deploy',
      '--steps',
      '20% 5m, 100%',
      '--x',
      'a b',
    ]);
    expect(problems(['deploy', '--stepz', '1'])).toEqual(['unknown flag --stepz (did you mean --steps?)']);
    expect(problems(['deploi'])[0]).toMatch(/^unknown command 'deploi'/);
    expect(() => readEnv({ ZDD_STEPZ: '1' }, INPUT_DEFAULTS)).toThrow(/unknown environment variable ZDD_STEPZ/);
  });

  it('Jenkinsfile: every invocation and ZDD_ variable is one the CLI knows; an input step between canary and promote', () => {
    const calls = jenkinsScripts(jenkinsfile).flatMap(invocations);
    expect(calls.map((c) => c[0])).toEqual(['deploy', 'promote', 'abort']);
    expect(calls.flatMap(problems)).toEqual([]);
    const env = Object.fromEntries([...jenkinsfile.matchAll(/^\s*(ZDD_[A-Z_]+) = /gm)].map((m) => [m[1] ?? '', 'x']));
    expect(Object.keys(env).length).toBeGreaterThanOrEqual(4);
    expect(() => readEnv(env, INPUT_DEFAULTS)).not.toThrow();
    // Braces balance (a declarative pipeline's blocks), and the approval sits between deploy and promote.
    const depth = [...jenkinsfile.replace(/'[^'\n]*'|"[^"\n]*"|'''[\s\S]*?'''/g, '')].reduce(
      (d, c) => d + (c === '{' ? 1 : c === '}' ? -1 : 0),
      0,
    );
    expect(depth).toBe(0);
    expect(jenkinsfile).toMatch(/^pipeline \{/m);
    const [deployAt, inputAt, promoteAt] = ['zero-downtime-deploy@1 deploy', 'input message:', '@1 promote'].map((s) =>
      jenkinsfile.indexOf(s),
    );
    expect(deployAt).toBeGreaterThan(0);
    expect(inputAt).toBeGreaterThan(deployAt ?? 0);
    expect(promoteAt).toBeGreaterThan(inputAt ?? 0);
    expect(jenkinsfile).toMatch(/if \(code == 4\)/);
    expect(calls[0]?.join(' ')).toMatch(/--steps 20% 5m, 50% approval, 100%/);
  });

  it('.gitlab-ci.yml: parses; every invocation and variable is one the CLI knows; promote is a manual job', () => {
    expect(() => readEnv(gitlab.variables, INPUT_DEFAULTS)).not.toThrow();
    const calls = jobs.flatMap(([, job]) => (job.script ?? []).flatMap(invocations));
    expect(calls.map((c) => c[0])).toEqual(['deploy', 'promote', 'abort', 'status']);
    expect(calls.flatMap(problems)).toEqual([]);
    const byName = Object.fromEntries(jobs);
    expect(byName.promote).toMatchObject({ when: 'manual', needs: ['canary'], stage: 'approve' });
    expect(byName.canary?.script?.join('\n')).toMatch(/\|\| test \$\? -eq 4/);
    for (const [, job] of jobs) expect(gitlab.stages).toContain(job.stage);
  });
});
