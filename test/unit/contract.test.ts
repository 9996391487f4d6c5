/** action.yml, the code and the README agree on every input and output. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { INPUT_DEFAULTS, INPUT_NAMES, readInputs } from '../../src/inputs.js';
import { ROOT } from '../helpers/action.js';
// @ts-expect-error plain JS script without types
import { TABLES_FILE, updateReadme } from '../../scripts/readme-inputs.js';

const actionYml = readFileSync(join(ROOT, 'action.yml'), 'utf8');
const action = parse(actionYml) as {
  inputs: Record<string, { default?: string; description?: string }>;
  outputs: Record<string, unknown>;
  runs: Record<string, string>;
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('action.yml and the code', () => {
  it('declares exactly the inputs the code reads', () => {
    const read = new Set<string>();
    const recorder = (name: string) => {
      read.add(name);
      return { strategy: 'rolling', 'load-balancer': 'haproxy://127.0.0.1:1', targets: 'app/*' }[name as string] ?? '';
    };
    readInputs(recorder, { sha: 'abc', pullRequestNumber: undefined });
    expect([...read].sort()).toEqual(Object.keys(action.inputs).sort());
    expect([...INPUT_NAMES].sort()).toEqual(Object.keys(action.inputs).sort());
  });

  it('reads inputs only through the one reader in inputs.ts', () => {
    const calls = sourceFiles(join(ROOT, 'src')).flatMap((file) =>
      (readFileSync(file, 'utf8').match(/\bgetInput\(|getBooleanInput\(|getMultilineInput\(/g) ?? []).map(() => file),
    );
    expect(calls.map((f) => f.replace(`${ROOT}/`, ''))).toEqual(['src/inputs.ts']);
  });

  it('declares the same defaults the code applies', () => {
    for (const name of INPUT_NAMES) {
      const declared = action.inputs[name]?.default ?? '';
      if (name === 'github-token') expect(declared).toBe('${{ github.token }}');
      else expect(String(declared), name).toBe(INPUT_DEFAULTS[name]);
    }
  });

  it('describes every input and output, and runs on node24 with a post step', () => {
    for (const [name, spec] of Object.entries(action.inputs)) expect(spec.description, name).toBeTruthy();
    expect(Object.keys(action.outputs).sort()).toEqual(['deployment-id', 'live-pool', 'result', 'weight']);
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js', post: 'dist/index.js' });
  });

  it('has the docs/inputs.md tables generated from action.yml (run npm run docs when this fails)', () => {
    const tables = readFileSync(join(ROOT, TABLES_FILE), 'utf8');
    expect(updateReadme(tables, actionYml)).toBe(tables);
  });
});
