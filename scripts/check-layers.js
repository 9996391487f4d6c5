#!/usr/bin/env node
/**
 * The import-direction check (ARCHITECTURE.md): every file under src/ belongs to a layer, and may import only its own
 * layer or the ones below it. `node scripts/check-layers.js` exits 1 and names every import that points upwards.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Lowest first. An entry is a folder or a file directly under src/. */
export const LAYERS = [
  ['model'],
  ['lb'],
  ['settings.ts', 'inputs.ts', 'state.ts'],
  ['probes', 'exec.ts'],
  ['analysis'],
  ['plan'],
  ['engine'],
  ['report', 'notify'],
  ['actions'],
  ['main.ts', 'post.ts', 'index.ts', 'cli'],
];

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.ts$/.test(name) ? [path] : [];
  });
}

/** The file an import names: ESM imports say `.js` for the `.ts` file beside them (so `../main.js` is `main.ts`). */
function sourceOf(path) {
  return path.replace(/\.js$/, '.ts');
}

function layerOf(src, file) {
  const top = relative(src, file).split(sep)[0];
  const index = LAYERS.findIndex((layer) => layer.includes(top));
  return { top, index };
}

/** Every upward import under `src`, as `from -> to (layer -> layer)` lines; files in no layer are named too. */
export function checkLayers(src) {
  const problems = [];
  for (const file of files(src)) {
    const from = layerOf(src, file);
    if (from.index < 0) {
      problems.push(`${relative(src, file)}: in no layer; add '${from.top}' to LAYERS in scripts/check-layers.js`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = sourceOf(resolve(dirname(file), match[1]));
      const to = layerOf(src, target);
      if (to.index > from.index) {
        problems.push(
          `${relative(src, file)} imports ${relative(src, target)}: '${from.top}' (layer ${from.index}) may not import '${to.top}' (layer ${to.index}) above it`,
        );
      }
    }
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');
  const problems = checkLayers(src);
  for (const p of problems) console.error(p);
  if (problems.length) {
    console.error(
      `${problems.length} import(s) against the layers (see ARCHITECTURE.md); move the code down a layer or pass it in.`,
    );
    process.exit(1);
  }
  console.log(`layers: every import under src/ points down (${LAYERS.length} layers)`);
}
