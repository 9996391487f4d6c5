/** The import-direction check: the real tree passes, and a deliberate back-import fails it. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/action.js';
// @ts-expect-error plain JS script without types
import { checkLayers, checkPure } from '../../scripts/check-layers.js';

const check = checkLayers as (src: string) => string[];
const pure = checkPure as (src: string, modules?: Record<string, string[]>) => string[];

function tree(files: Record<string, string>): string {
  const src = join(mkdtempSync(join(tmpdir(), 'zdd-layers-')), 'src');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(src, path, '..'), { recursive: true });
    writeFileSync(join(src, path), text);
  }
  return src;
}

describe('layers', () => {
  it('every import under src/ points down', () => {
    expect(check(join(ROOT, 'src'))).toEqual([]);
  });

  it('fails on a folder importing one above it, and names both', () => {
    const src = tree({
      'model/server.ts': "import type { Hooks } from '../engine/context.js';\nexport type X = Hooks;\n",
      'engine/context.ts': "import type { Server } from '../model/server.js';\nexport type Hooks = Server;\n",
    });
    expect(check(src)).toEqual([
      "model/server.ts imports engine/context.ts: 'model' (layer 0) may not import 'engine' (layer 6) above it",
    ]);
  });

  it('fails on an upward import of a top-level file: the import says .js, the file is .ts', () => {
    const src = tree({
      'model/server.ts': "import { run } from '../main.js';\nexport const x = run;\n",
      'inputs.ts':
        "import { y } from './state.js';\nimport { deploy } from './actions/deploy.js';\nexport const z = [y, deploy];\n",
      'state.ts': 'export const y = 1;\n',
      'actions/deploy.ts': 'export const deploy = 1;\n',
      'main.ts': 'export const run = 1;\n',
    });
    expect(check(src)).toEqual([
      "inputs.ts imports actions/deploy.ts: 'inputs.ts' (layer 2) may not import 'actions' (layer 8) above it",
      "model/server.ts imports main.ts: 'model' (layer 0) may not import 'main.ts' (layer 9) above it",
    ]);
  });

  it('fails on a file in no layer', () => {
    const src = tree({ 'misc/thing.ts': 'export const a = 1;\n' });
    expect(check(src)[0]).toMatch(/misc\/thing.ts: in no layer/);
  });

  it('the pure ALB modules import no I/O', () => {
    expect(pure(join(ROOT, 'src'))).toEqual([]);
  });

  it('fails on a pure module importing the SDK or the AWS calls; types are fine', () => {
    const src = tree({
      'lb/aws-alb/pools.ts':
        "import type { Action } from '@aws-sdk/client-elastic-load-balancing-v2';\nimport { AwsApi } from './api.js';\nimport { x } from '../../model/selectors.js';\n",
      'lb/aws-alb/ids.ts':
        "import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';\n",
      'lb/aws-alb/api.ts': 'export class AwsApi {}\n',
      'model/selectors.ts': 'export const x = 1;\n',
    });
    expect(pure(src, { 'lb/aws-alb': ['pools.ts', 'ids.ts'] })).toEqual([
      'lb/aws-alb/pools.ts imports lb/aws-alb/api.ts: a pure module may import only model/, the other pure modules of lb/aws-alb and types',
      'lb/aws-alb/ids.ts imports @aws-sdk/client-elastic-load-balancing-v2: a pure module may import only model/, the other pure modules of lb/aws-alb and types',
    ]);
  });
});
