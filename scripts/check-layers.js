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
  ['probes', 'exec.ts', 'checks'],
  ['analysis'],
  ['plan'],
  ['engine'],
  ['report', 'notify'],
  ['actions'],
  ['main.ts', 'post.ts', 'index.ts', 'cli'],
];

/**
 * Pure modules: planning and parsing without I/O, unit-tested without a stand-in. Besides types (`import type`),
 * they may import only model/, each other, and the modules named in PURE_BUILTINS.
 */
export const PURE = {
  'lb/aws-alb': [
    'apply-plan.ts',
    'arn.ts',
    'errors.ts',
    'forward.ts',
    'ids.ts',
    'lock-tags.ts',
    'pools.ts',
    'preview-rules.ts',
  ],
};
const PURE_BUILTINS = ['node:crypto'];

/** Every import of `text` that brings in code (not only types): its specifier. */
function valueImports(text) {
  const found = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]/gm))
    if (!m[1]) found.push(m[2]);
  for (const m of text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]/g)) found.push(m[1]);
  return found;
}

/** Imports of pure modules that bring in code that is not pure (an SDK, the AWS calls, a driver). */
export function checkPure(src, pure = PURE) {
  const problems = [];
  for (const [folder, names] of Object.entries(pure)) {
    const allowed = new Set(names.map((n) => resolve(src, folder, n)));
    for (const name of names) {
      const file = resolve(src, folder, name);
      for (const spec of valueImports(readFileSync(file, 'utf8'))) {
        const target = spec.startsWith('.') ? sourceOf(resolve(dirname(file), spec)) : undefined;
        const ok = target
          ? allowed.has(target) || relative(src, target).split(sep)[0] === 'model'
          : PURE_BUILTINS.includes(spec);
        if (!ok)
          problems.push(
            `${folder}/${name} imports ${target ? relative(src, target) : spec}: a pure module may import only model/, the other pure modules of ${folder} and types`,
          );
      }
    }
  }
  return problems;
}

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
  const problems = [...checkLayers(src), ...checkPure(src)];
  for (const p of problems) console.error(p);
  if (problems.length) {
    console.error(
      `${problems.length} import(s) against the layers (see ARCHITECTURE.md); move the code down a layer or pass it in.`,
    );
    process.exit(1);
  }
  console.log(
    `layers: every import under src/ points down (${LAYERS.length} layers); ${Object.values(PURE).flat().length} pure modules import no I/O`,
  );
}
