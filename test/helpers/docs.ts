/** Configuration lines the documentation gives users, read by the tests that prove them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './action.js';

/** The fenced block after `<!-- NAME -->` in docs/strategies.md, without blank and comment lines: what users copy. */
export function documentedLines(name: string): string[] {
  const text = readFileSync(join(ROOT, 'docs/strategies.md'), 'utf8');
  const block = new RegExp(`<!-- ${name} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\\n\`\`\``).exec(text)?.[1];
  if (!block) throw new Error(`docs/strategies.md has no ${name} block`);
  return block.split('\n').filter((line) => line.trim() && !line.trim().startsWith('#'));
}
