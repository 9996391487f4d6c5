// Renders the input and output tables of the documentation from action.yml, so the two never drift.
//   node scripts/readme-inputs.js --write   rewrite the tables in docs/inputs.md
//   node scripts/readme-inputs.js --check   exit 1 when docs/inputs.md differs from action.yml
// The tables sit between <!-- inputs:start --> / <!-- inputs:end --> and <!-- outputs:start --> / <!-- outputs:end -->.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const cell = (text) =>
  String(text ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ')
    .trim();

export function renderTables(actionYml) {
  const action = parse(actionYml);
  const inputs = Object.entries(action.inputs ?? {}).map(
    ([name, spec]) =>
      `| \`${name}\` | ${cell(spec.description)} | ${spec.default === undefined || spec.default === '' ? '' : `\`${cell(spec.default)}\``} |`,
  );
  const outputs = Object.entries(action.outputs ?? {}).map(
    ([name, spec]) => `| \`${name}\` | ${cell(spec.description)} |`,
  );
  return {
    inputs: ['| input | meaning | default |', '|---|---|---|', ...inputs].join('\n'),
    outputs: ['| output | meaning |', '|---|---|', ...outputs].join('\n'),
  };
}

/** Where the generated tables live (the README links there: every input's line would not fit its 20 KB). */
export const TABLES_FILE = 'docs/inputs.md';

export function updateReadme(readme, actionYml) {
  const tables = renderTables(actionYml);
  let result = readme;
  for (const [name, table] of Object.entries(tables)) {
    const pattern = new RegExp(`(<!-- ${name}:start -->)[\\s\\S]*?(<!-- ${name}:end -->)`);
    if (!pattern.test(result))
      throw new Error(`${TABLES_FILE} lacks the <!-- ${name}:start --> / <!-- ${name}:end --> markers`);
    result = result.replace(pattern, (_match, start, end) => `${start}\n${table}\n${end}`);
  }
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readmePath = join(root, TABLES_FILE);
  const readme = readFileSync(readmePath, 'utf8');
  const updated = updateReadme(readme, readFileSync(join(root, 'action.yml'), 'utf8'));
  if (process.argv.includes('--check')) {
    if (updated !== readme) {
      console.error(`${TABLES_FILE}: the input/output tables differ from action.yml: run npm run docs`);
      process.exit(1);
    }
  } else {
    writeFileSync(readmePath, updated);
  }
}
