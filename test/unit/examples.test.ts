/**
 * Every workflow a user may copy, the README's ```yaml blocks and .github/workflows/example-*.yml, names only inputs
 * action.yml declares, gives valid values for the enumerated ones, keeps values out of remote command text, says how
 * the runner reaches the load balancer, and passes actionlint. The broken fixtures prove each check can fail.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../helpers/action.js';
// @ts-expect-error plain JS script without types
import { lintWorkflow } from '../../scripts/lint-workflows.js';

const lint = lintWorkflow as (text: string, path: string) => Promise<string[]>;

const action = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as {
  inputs: Record<string, { required?: boolean }>;
};
const DECLARED = new Set(Object.keys(action.inputs));
const REQUIRED = Object.entries(action.inputs)
  .filter(([, spec]) => spec.required)
  .map(([name]) => name);
// The enumerated inputs, as CONTRACT.md fixes them.
const ENUMS: Record<string, readonly string[]> = {
  action: ['deploy', 'promote', 'abort', 'status', 'preview', 'close-preview'],
  strategy: ['rolling', 'blue-green', 'canary'],
};

interface Example {
  /** Where it comes from, e.g. `README.md block 3 (line 120)` or `.github/workflows/example-abort.yml`. */
  readonly name: string;
  readonly text: string;
}

type Step = { uses?: unknown; run?: unknown; with?: Record<string, unknown> };
type Job = { 'runs-on'?: unknown; steps?: Step[] };

/** The ```yaml blocks of a Markdown text. */
export function yamlBlocks(markdown: string, source: string): Example[] {
  return [...markdown.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m, i) => ({
    name: `${source} block ${i + 1} (line ${markdown.slice(0, m.index).split('\n').length})`,
    text: m[1] ?? '',
  }));
}

const isThisAction = (uses: unknown) =>
  typeof uses === 'string' && (uses === './' || /(^|\/)zero-downtime-deploy@[\w.-]+$/.test(uses));

const isWorkflow = (doc: unknown): doc is { on: unknown; jobs: Record<string, Job> } =>
  typeof doc === 'object' && doc !== null && 'jobs' in doc && 'on' in doc;

/** The steps of a workflow, or of a snippet (a step list or one step). */
function stepsOf(doc: unknown): { job: Job | undefined; step: Step; index: number }[] {
  if (isWorkflow(doc))
    return Object.values(doc.jobs).flatMap((job) => (job.steps ?? []).map((step, index) => ({ job, step, index })));
  if (Array.isArray(doc)) return (doc as Step[]).map((step, index) => ({ job: undefined, step, index }));
  if (typeof doc === 'object' && doc !== null && 'uses' in doc)
    return [{ job: undefined, step: doc as Step, index: 0 }];
  return [];
}

/** What is wrong with the action's steps in one example: unknown inputs, bad values, unsafe or unreachable setups. */
export function inputProblems(example: Example): string[] {
  let doc: unknown;
  try {
    doc = parse(example.text);
  } catch (error) {
    return [`${example.name}: not YAML: ${(error as Error).message.split('\n')[0]}`];
  }
  const problems: string[] = [];
  for (const { job, step, index } of stepsOf(doc)) {
    if (!isThisAction(step.uses)) continue;
    const withs = step.with ?? {};
    const where = `${example.name}: step ${index + 1} (${String(step.uses)})`;
    for (const name of Object.keys(withs))
      if (!DECLARED.has(name)) problems.push(`${where}: input '${name}' is not declared in action.yml`);
    for (const [name, allowed] of Object.entries(ENUMS)) {
      const value = withs[name];
      if (value === undefined || String(value).includes('${{')) continue;
      if (!allowed.includes(String(value)))
        problems.push(`${where}: ${name} '${String(value)}' is not one of ${allowed.join(', ')}`);
    }
    for (const name of REQUIRED) if (!(name in withs)) problems.push(`${where}: required input '${name}' is missing`);
    for (const name of ['deploy-command', 'rollback-command']) {
      // An expression is pasted into the command text before bash sees it: values must come as DEPLOY_* variables.
      if (String(withs[name] ?? '').includes('${{'))
        problems.push(`${where}: ${name} contains a \${{ }} expression; pass values as DEPLOY_* variables`);
    }
    if (!isWorkflow(doc) || !job) continue;
    const lb = String(withs['load-balancer'] ?? '');
    const before = (job.steps ?? []).slice(0, index).map((s) => String(s.run ?? ''));
    if (/\+ssh:\/\//.test(lb) && !before.some((run) => /ssh-add/.test(run) && /known_hosts/.test(run)))
      problems.push(`${where}: ${lb} needs an earlier step that loads an ssh key (ssh-add) and a known_hosts entry`);
    if (/^nginx\+file:\/\//.test(lb) && !JSON.stringify(job['runs-on'] ?? '').includes('self-hosted'))
      problems.push(`${where}: nginx+file:// edits a file on the runner: runs-on must be a self-hosted runner`);
  }
  return problems;
}

/** actionlint's problems for the complete workflows among the examples, linted from files under `dir`. */
async function lintProblems(examples: readonly Example[], dir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const [i, example] of examples.entries()) {
    let doc: unknown;
    try {
      doc = parse(example.text);
    } catch {
      doc = { on: 'unparsed', jobs: {} }; // not YAML: actionlint says so too
    }
    if (!isWorkflow(doc)) continue;
    const file = join(dir, `example-${i + 1}.yml`);
    writeFileSync(file, example.text);
    const found = await lint(readFileSync(file, 'utf8'), file);
    problems.push(...found.map((p) => `${example.name}: ${p}`));
  }
  return problems;
}

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const readmeExamples = yamlBlocks(readme, 'README.md');
const fileExamples: Example[] = readdirSync(join(ROOT, '.github/workflows'))
  .filter((f) => /^example-.*\.ya?ml$/.test(f))
  .sort()
  .map((f) => ({
    name: `.github/workflows/${f}`,
    text: readFileSync(join(ROOT, '.github/workflows', f), 'utf8'),
  }));
const fixture = (f: string): Example => ({
  name: `test/fixtures/examples/${f}`,
  text: readFileSync(join(ROOT, 'test/fixtures/examples', f), 'utf8'),
});
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'zdd-examples-'));
  mkdirSync(dir, { recursive: true });
  return dir;
};

describe('README and example workflows', () => {
  it('finds the README workflows and the example files', () => {
    const workflows = readmeExamples.filter((e) => isWorkflow(parse(e.text)));
    expect(workflows.length).toBeGreaterThanOrEqual(7);
    expect(fileExamples.length).toBeGreaterThanOrEqual(3);
  });

  it.each([...readmeExamples, ...fileExamples].map((e) => [e.name, e] as const))(
    '%s uses only declared inputs with valid values',
    (_name, example) => {
      expect(inputProblems(example)).toEqual([]);
    },
  );

  it('every README workflow and example file passes actionlint', async () => {
    expect(await lintProblems([...readmeExamples, ...fileExamples], tempDir())).toEqual([]);
  });
});

describe('the checks fail on a broken example', () => {
  const unknownInput = fixture('unknown-input.yml');
  const syntaxError = fixture('syntax-error.yml');
  const brokenReadme = [unknownInput, syntaxError].map((e) => `Text.\n\n\`\`\`yaml\n${e.text}\`\`\`\n`).join('\n');

  it('the input check names an unknown input and an invalid action', () => {
    expect(inputProblems(unknownInput)).toEqual([
      expect.stringMatching(/input 'stratgy' is not declared in action\.yml$/),
      expect.stringMatching(/action 'redeploy' is not one of deploy, promote/),
    ]);
  });

  it('actionlint names the workflow syntax errors', async () => {
    const problems = await lintProblems([syntaxError], tempDir());
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/"steps" section is missing in job "deploy" \[syntax-check\]/),
        expect.stringMatching(/unexpected key "step" for "job" section/),
      ]),
    );
  });

  it('both checks fail on the same examples pasted into a README', async () => {
    const blocks = yamlBlocks(brokenReadme, 'broken.md');
    expect(blocks).toHaveLength(2);
    expect(blocks.flatMap(inputProblems).length).toBeGreaterThan(0);
    const linted = await lintProblems(blocks, tempDir());
    expect(linted.some((p) => p.startsWith('broken.md block 2'))).toBe(true);
  });

  it('an ssh load balancer without key and known_hosts steps, or an expression in deploy-command, is refused', () => {
    const example = {
      name: 'inline',
      text: [
        'on: push',
        'jobs:',
        '  deploy:',
        '    runs-on: ubuntu-latest',
        '    steps:',
        '      - uses: zero-downtime-deploy/zero-downtime-deploy@v1',
        '        with:',
        '          strategy: rolling',
        '          load-balancer: haproxy+ssh://deploy@lb1.example.com/run/haproxy/admin.sock',
        '          targets: app/*',
        '          deploy-command: ssh "$DEPLOY_HOST" install ${{ github.head_ref }}',
      ].join('\n'),
    };
    expect(inputProblems(example)).toEqual([
      expect.stringMatching(/deploy-command contains a \$\{\{ \}\} expression/),
      expect.stringMatching(/needs an earlier step that loads an ssh key/),
    ]);
  });
});
