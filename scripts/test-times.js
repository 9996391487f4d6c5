// Reads the JSON report vitest writes (vitest.config.ts) and prints the ten slowest test files and the suite's wall
// time. With --check it fails when a file took over ZDD_FILE_LIMIT_S (90) seconds or the suite over
// ZDD_SUITE_LIMIT_S (720): the goal is 60 s and 8 minutes on 2 cores; the margin keeps a noisy machine from
// blocking a landing, and a file or suite past it is a regression to fix, not to wait out.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const REPORT = 'test-results/vitest.json';
const fileLimit = Number(process.env.ZDD_FILE_LIMIT_S ?? 90);
const suiteLimit = Number(process.env.ZDD_SUITE_LIMIT_S ?? 720);
const check = process.argv.includes('--check');

const report = JSON.parse(readFileSync(REPORT, 'utf8'));
const files = report.testResults
  .map((f) => ({ name: relative(process.cwd(), f.name), seconds: (f.endTime - f.startTime) / 1000 }))
  .sort((a, b) => b.seconds - a.seconds);
const ends = report.testResults.map((f) => f.endTime);
const suiteSeconds = (Math.max(report.startTime, ...ends) - report.startTime) / 1000;

console.log(`Test suite: ${suiteSeconds.toFixed(0)} s wall for ${files.length} files; the ten slowest:`);
for (const f of files.slice(0, 10)) console.log(`  ${f.seconds.toFixed(1).padStart(6)} s  ${f.name}`);

const slow = files.filter((f) => f.seconds > fileLimit);
const problems = [];
if (slow.length) problems.push(`${slow.map((f) => f.name).join(', ')} took over ${fileLimit} s`);
if (suiteSeconds > suiteLimit) problems.push(`the suite took ${suiteSeconds.toFixed(0)} s, over ${suiteLimit} s`);
if (check && problems.length) {
  console.error(
    `Test time guard: ${problems.join('; ')}. Make them faster (CONTRIBUTING.md, "Fast, parallel-safe tests").`,
  );
  process.exit(1);
}
