/**
 * Every workflow a user may copy, the ```yaml blocks of README.md and docs/*.md and the files in examples/, names
 * only inputs action.yml declares, gives valid values for the enumerated ones, keeps values out of remote command
 * text, says how the runner reaches the load balancer, and passes actionlint. Every `uses:` of a well-known action
 * (here and in .github/workflows) names its current major (scripts/action-majors.json, the one list); a complete
 * workflow shown in README.md or docs/ is the examples/ file it names, byte for byte; every relative link of
 * README.md, docs/, examples/README.md, CONTRIBUTING.md and SECURITY.md resolves, #anchors included; README.md stays
 * within 20 KB. The broken fixtures prove each check can fail.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
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
  /** Where it comes from, e.g. `README.md block 3 (line 120)` or `examples/abort.yml`. */
  readonly name: string;
  readonly text: string;
}

type Step = { uses?: unknown; run?: unknown; with?: Record<string, unknown> };
type Job = { 'runs-on'?: unknown; steps?: Step[] };

/** A fenced block's text without the indentation of its fence (a block inside a list item is indented). */
const dedent = (text: string, indent: string) =>
  text
    .split('\n')
    .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
    .join('\n');

/** The ```yaml blocks of a Markdown text, at the top level or indented in a list. */
export function yamlBlocks(markdown: string, source: string): Example[] {
  return [...markdown.matchAll(/^( *)```yaml\n([\s\S]*?)^\1```$/gm)].map((m, i) => ({
    name: `${source} block ${i + 1} (line ${markdown.slice(0, m.index).split('\n').length})`,
    text: dedent(m[2] ?? '', m[1] ?? ''),
  }));
}

const isThisAction = (uses: unknown) =>
  typeof uses === 'string' && (uses === './' || /(^|\/)zero-downtime-deploy@[\w.-]+$/.test(uses));

/** This repository's composite action that loads the ssh key and the host keys (ssh-setup/action.yml). */
const isSshSetup = (uses: unknown) =>
  typeof uses === 'string' && (uses === './ssh-setup' || /(^|\/)zero-downtime-deploy\/ssh-setup@[\w.-]+$/.test(uses));

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
    const before = (job.steps ?? []).slice(0, index);
    const loadsKey = (s: Step) =>
      isSshSetup(s.uses) || (/ssh-add/.test(String(s.run ?? '')) && /known_hosts/.test(String(s.run ?? '')));
    if (/\+ssh:\/\//.test(lb) && !before.some(loadsKey))
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

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const filesIn = (dir: string, pattern: RegExp) =>
  readdirSync(join(ROOT, dir))
    .filter((f) => pattern.test(f))
    .sort()
    .map((f) => `${dir}/${f}`);
/** The Markdown a user reads: the README, every docs page and the examples' index. */
const PAGES = ['README.md', ...filesIn('docs', /\.md$/), 'examples/README.md'];
const readmeExamples = PAGES.flatMap((page) => yamlBlocks(read(page), page));
// Not examples/.gitlab-ci.yml: GitLab's, checked against the CLI's flags by its own test.
const fileExamples: Example[] = filesIn('examples', /^[^.].*\.ya?ml$/).map((name) => ({ name, text: read(name) }));
const repoWorkflows: Example[] = filesIn('.github/workflows', /\.ya?ml$/).map((name) => ({ name, text: read(name) }));
const fixture = (f: string): Example => ({
  name: `test/fixtures/examples/${f}`,
  text: readFileSync(join(ROOT, 'test/fixtures/examples', f), 'utf8'),
});
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'zdd-examples-'));
  mkdirSync(dir, { recursive: true });
  return dir;
};

describe('README, docs and example workflows', () => {
  it('finds the example files and the snippets of the pages', () => {
    expect(fileExamples.length).toBeGreaterThanOrEqual(9);
    expect(readmeExamples.length).toBeGreaterThanOrEqual(6);
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

const MAJORS = (JSON.parse(read('scripts/action-majors.json')) as { majors: Record<string, string> }).majors;
/** The README's limit: a newcomer reads it in ten minutes; the rest is in docs/. */
export const README_LIMIT = 20 * 1024;
/** Pages linked before they exist here, each written on another branch: drop an entry once it is merged. */
const PENDING_PAGES = new Set<string>();

/** Every `uses:` of a well-known action (owner/repo, or owner/repo/path) that does not name its current major. */
export function majorProblems(example: Example, majors: Record<string, string> = MAJORS): string[] {
  return [...example.text.matchAll(/^\s*-?\s*uses:\s*['"]?([\w.-]+\/[\w.-]+)(\/[^@\s'"]*)?@([^\s'"#]+)/gm)].flatMap(
    (m) => {
      const [action, , ref] = [m[1] ?? '', m[2], m[3] ?? ''];
      const major = majors[action];
      return major && ref !== major ? [`${example.name}: ${action}@${ref} is not the current major ${major}`] : [];
    },
  );
}

/** The fenced blocks of a Markdown text with what precedes them: a `<!-- example: PATH -->` marker, if any. */
function fencedBlocks(markdown: string): { lang: string; text: string; shows?: string; line: number }[] {
  return [...markdown.matchAll(/(?:^ *<!-- example: (\S+) -->\n)?^( *)```(\w*)\n([\s\S]*?)^\2```$/gm)].map((m) => ({
    shows: m[1],
    lang: m[3] ?? '',
    text: dedent(m[4] ?? '', m[2] ?? ''),
    line: markdown.slice(0, m.index).split('\n').length,
  }));
}

/**
 * A complete workflow shown on a page must be the examples/ file its marker names, byte for byte, so the copy a
 * reader takes is the one CI checks; a marker naming a missing file, or a text that differs, is a problem.
 */
export function shownProblems(
  page: string,
  markdown: string,
  readFile: (path: string) => string | undefined,
): string[] {
  return fencedBlocks(markdown).flatMap((block) => {
    const where = `${page} line ${block.line}`;
    if (block.shows === undefined) {
      let doc: unknown;
      try {
        doc = parse(block.text);
      } catch {
        return [];
      }
      return block.lang === 'yaml' && isWorkflow(doc)
        ? [`${where}: a complete workflow without <!-- example: examples/FILE.yml --> before it`]
        : [];
    }
    const file = readFile(block.shows);
    if (file === undefined) return [`${where}: shows ${block.shows}, which does not exist`];
    return file === block.text ? [] : [`${where}: differs from ${block.shows} (copy the file into the block)`];
  });
}

/** GitHub's anchors for the headings of a Markdown text (outside code blocks), duplicates numbered as GitHub does. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const found = new Set<string>();
  for (const heading of withoutFences(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = (heading[1] ?? '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    found.add(n ? `${base}-${n}` : base);
  }
  return found;
}

/** The text outside fenced blocks, where headings are what they look like. */
const withoutFences = (markdown: string) => markdown.replace(/^( *)```[\s\S]*?^\1```$/gm, '');
/** The text outside fenced blocks and inline code, where links are what they look like. */
const withoutCode = (markdown: string) => withoutFences(markdown).replace(/`[^`\n]*`/g, '');

/** Every relative link (and image) of a page that names no file, or an #anchor that its target page does not have. */
export function linkProblems(page: string, markdown: string, readFile: (path: string) => string | undefined): string[] {
  const problems: string[] = [];
  for (const m of withoutCode(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1] ?? '';
    if (/^[a-z][a-z+.-]*:/i.test(target)) continue; // https:, mailto:
    const [path = '', anchor] = target.split('#');
    const file = path === '' ? page : normalize(join(dirname(page), path));
    if (PENDING_PAGES.has(file)) continue;
    const text = readFile(file);
    if (text === undefined) {
      problems.push(`${page}: link ${target}: ${file} does not exist`);
      continue;
    }
    if (anchor !== undefined && !(file.endsWith('.md') && anchors(text).has(anchor)))
      problems.push(`${page}: link ${target}: ${file} has no heading #${anchor}`);
  }
  return problems;
}

/** A file's text, a directory as '' (links to folders resolve on GitHub), undefined when there is nothing. */
const repoFile = (path: string): string | undefined => {
  const full = join(ROOT, path);
  if (!existsSync(full)) return undefined;
  return statSync(full).isDirectory() ? '' : readFileSync(full, 'utf8');
};

describe('pages, links and majors', () => {
  it('README.md stays within 20 KB', () => {
    expect(Buffer.byteLength(read('README.md'))).toBeLessThanOrEqual(README_LIMIT);
  });

  it.each([...PAGES, 'CONTRIBUTING.md', 'SECURITY.md'])('%s: every relative link and #anchor resolves', (page) => {
    expect(linkProblems(page, read(page), repoFile)).toEqual([]);
  });

  it.each(PAGES)('%s: every complete workflow it shows is its examples/ file', (page) => {
    expect(shownProblems(page, read(page), repoFile)).toEqual([]);
  });

  it('the README shows the quick start workflow from examples/', () => {
    expect(fencedBlocks(read('README.md')).map((b) => b.shows)).toContain('examples/haproxy-rolling.yml');
  });

  it.each([...readmeExamples, ...fileExamples, ...repoWorkflows].map((e) => [e.name, e] as const))(
    '%s: well-known actions at their current major',
    (_name, example) => {
      expect(majorProblems(example)).toEqual([]);
    },
  );
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
  it('an old major, a page that differs from its example, a missing anchor or file and an oversized README are named', () => {
    const old = {
      name: 'old.yml',
      text: '    steps:\n      - uses: actions/checkout@v4\n      - uses: github/codeql-action/init@v3\n',
    };
    expect(majorProblems(old, { 'actions/checkout': 'v7', 'github/codeql-action': 'v4' })).toEqual([
      'old.yml: actions/checkout@v4 is not the current major v7',
      'old.yml: github/codeql-action@v3 is not the current major v4',
    ]);
    const files: Record<string, string> = {
      'examples/a.yml': 'on: push\njobs: {}\n',
      'docs/b.md': '# B\n\n## Two words\n',
    };
    const lookup = (path: string) => files[path];
    const page = [
      '# Page',
      '<!-- example: examples/a.yml -->',
      '```yaml',
      'on: pull_request',
      'jobs: {}',
      '```',
      '```yaml',
      'on: push',
      'jobs: {}',
      '```',
      '[ok](b.md#two-words) [gone](b.md#three) [missing](c.md) [self](#page) [nowhere](#nowhere) [web](https://x.example)',
    ].join('\n');
    expect(shownProblems('docs/p.md', page, lookup)).toEqual([
      'docs/p.md line 2: differs from examples/a.yml (copy the file into the block)',
      expect.stringMatching(/^docs\/p\.md line 7: a complete workflow without <!-- example/),
    ]);
    expect(linkProblems('docs/p.md', page, (p) => (p === 'docs/p.md' ? page : lookup(p)))).toEqual([
      'docs/p.md: link b.md#three: docs/b.md has no heading #three',
      'docs/p.md: link c.md: docs/c.md does not exist',
      'docs/p.md: link #nowhere: docs/p.md has no heading #nowhere',
    ]);
    expect([...anchors('# Approvals: pause, promote, abort\n## `status` (read-only)\n## A\n## A\n')]).toEqual([
      'approvals-pause-promote-abort',
      'status-read-only',
      'a',
      'a-1',
    ]);
    expect(Buffer.byteLength('x'.repeat(README_LIMIT + 1))).toBeGreaterThan(README_LIMIT);
  });
});
