/** The CLI's command line, environment and config file (src/cli/flags.ts) and its console (src/cli/console.ts). */
import { describe, expect, it } from 'vitest';
import { INPUT_DEFAULTS, INPUT_NAMES } from '../../src/inputs.js';
import { Console, humanRenderer, jsonRenderer, parseCommand } from '../../src/cli/console.js';
import { CLI_FLAGS, configInputs, envName, invocation, UsageError } from '../../src/cli/flags.js';
import { helpText, inputDescriptionsOf } from '../../src/cli/help.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../helpers/action.js';

const none = () => {
  throw new Error('no config expected');
};

describe('CLI flags', () => {
  it('every action input is a flag of the same name and a ZDD_ variable', () => {
    for (const name of INPUT_NAMES) {
      if (name === 'action') continue;
      const value = INPUT_DEFAULTS[name] === 'false' ? 'true' : 'x';
      expect(invocation(['deploy', `--${name}=${value}`], {}, INPUT_DEFAULTS, none).inputs[name]).toBe(value);
      expect(invocation(['deploy'], { [envName(name)]: value }, INPUT_DEFAULTS, none).inputs[name]).toBe(value);
    }
    expect(envName('load-balancer')).toBe('ZDD_LOAD_BALANCER');
  });

  it('a flag wins over the environment, the environment over the file; sources are remembered', () => {
    const config = { strategy: 'rolling', steps: ['20% 1m', '100%'], 'min-requests': 5, 'dry-run': true };
    const inv = invocation(
      ['deploy', '--strategy', 'canary', '--config', 'z.yml', '--dry-run'],
      { ZDD_STEPS: '50%, 100%', ZDD_JSON: 'true' },
      INPUT_DEFAULTS,
      () => config,
    );
    expect(inv.inputs).toMatchObject({
      action: 'deploy',
      strategy: 'canary',
      steps: '50%, 100%',
      'min-requests': '5',
      'dry-run': 'true',
    });
    expect(inv.sources.strategy).toEqual({ kind: 'flag' });
    expect(inv.sources.steps).toEqual({ kind: 'env', name: 'ZDD_STEPS' });
    expect(inv.sources['min-requests']).toEqual({ kind: 'config', file: 'z.yml' });
    expect(inv.cli).toMatchObject({ config: 'z.yml', json: 'true' });
    expect(configInputs({ pools: ['blue=a/b*', 'green=a/g*'] }, 'f', INPUT_DEFAULTS).pools).toBe(
      'blue=a/b*, green=a/g*',
    );
  });

  it('mistakes name the flag, variable or key, with the nearest known name', () => {
    const fails = (argv: string[], env: NodeJS.ProcessEnv = {}, config: unknown = undefined) => {
      try {
        invocation(argv, env, INPUT_DEFAULTS, () => config);
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
      throw new Error('no error');
    };
    expect(fails(['deploy', '--load-balancr=x'])).toBe('unknown flag --load-balancr (did you mean --load-balancer?)');
    expect(fails(['deploi'])).toMatch(/^unknown command 'deploi': give one of .* \(did you mean deploy\?\)$/);
    expect(fails(['deploy', '--steps'])).toBe('--steps needs a value (--steps VALUE or --steps=VALUE)');
    expect(fails(['deploy', '--steps', '--strategy', 'canary'])).toMatch(/^--steps needs a value/);
    expect(fails(['deploy', '--steps=1', '--steps=2'])).toBe('--steps is given twice');
    expect(fails(['deploy', 'promote'])).toBe("unexpected argument 'promote': the command is already deploy");
    expect(fails(['deploy'], { ZDD_STRATEGI: 'canary' })).toBe(
      'unknown environment variable ZDD_STRATEGI (did you mean ZDD_STRATEGY?)',
    );
    expect(fails(['deploy', '--config=c.yml'], {}, { stategy: 'canary' })).toBe(
      '--config c.yml: unknown key stategy (did you mean strategy?)',
    );
    expect(fails(['deploy', '--config=c.yml'], {}, ['a'])).toMatch(/must be a mapping/);
    expect(fails(['deploy', '--json=maybe'])).toBe("--json: 'maybe' is not true or false");
    expect(fails(['deploy'], { ZDD_JSON: '1' })).toBe("ZDD_JSON: '1' is not true or false");
    expect(fails(['deploy', '--action=promote'])).toBe(
      '--action says promote but the command is deploy: give one of them',
    );
  });
});

describe('CLI console', () => {
  it('parses workflow commands with their escapes', () => {
    expect(parseCommand('::set-output name=result::succeeded')).toEqual({
      name: 'set-output',
      props: { name: 'result' },
      message: 'succeeded',
    });
    expect(parseCommand('::error::a%0Ab %25')?.message).toBe('a\nb %');
    expect(parseCommand('[app/web1] ::not a command')).toBeUndefined();
  });

  it('renders groups, masks secrets, hands outputs and state over, holds errors back; --json is NDJSON', () => {
    const out: string[] = [];
    const err: string[] = [];
    const outputs: Record<string, string> = {};
    const state: Record<string, string> = {};
    const console = new Console(
      humanRenderer(
        (t) => out.push(t),
        (t) => err.push(t),
        false,
      ),
      { output: (n, v) => (outputs[n] = v), state: (n, v) => (state[n] = v) },
    );
    const original = process.stdout.write;
    console.capture();
    try {
      process.stdout.write('::add-mask::s3cr3t-token\nplain s3cr3t-token line\n::group::Step 1/2\n');
      process.stdout.write('weights a=1\n::endgroup::\n::warning::careful s3cr3t-token\n::debug::hidden\n');
      process.stdout.write('\n::set-output name=result::succeeded\n::save-state name=rollout::{"lb":"x"}\n');
      process.stdout.write('::error::Invalid input%0A- steps: bad\npartial');
    } finally {
      console.release();
    }
    expect(process.stdout.write).toBe(original);
    expect(out.join('')).toBe('plain *** line\n\n== Step 1/2\n  weights a=1\n  partial\n');
    expect(err.join('')).toBe('warning: careful ***\n');
    expect(outputs).toEqual({ result: 'succeeded' });
    expect(state).toEqual({ rollout: '{"lb":"x"}' });
    expect(console.takeErrors()).toEqual(['Invalid input\n- steps: bad']);

    const lines: string[] = [];
    const json = new Console(
      jsonRenderer((t) => lines.push(t), false),
      { output: () => undefined, state: () => undefined },
    );
    json.emit({ type: 'stage', name: 'Read' });
    json.emit({ type: 'log', message: 'x' });
    json.emit({ type: 'result', result: 'succeeded', exitCode: 0 });
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => [e.type, e.stage])).toEqual([
      ['stage', undefined],
      ['log', 'Read'],
      ['result', undefined],
    ]);
  });
});

describe('CLI help', () => {
  it('names every input flag with the first sentence of its description, and the CLI flags', () => {
    const text = helpText(INPUT_DEFAULTS, '9.9.9', {
      steps: 'canary: WEIGHT% [PAUSE]. More text.',
      'dry-run': 'e.g. x. y',
    });
    expect(text.split('\n')[0]).toBe('zero-downtime-deploy 9.9.9');
    for (const name of INPUT_NAMES.filter((n) => n !== 'action'))
      expect(text).toMatch(new RegExp(`^  --${name}( |$)`, 'm'));
    for (const name of Object.keys(CLI_FLAGS)) expect(text).toMatch(new RegExp(`^  --${name}( |$)`, 'm'));
    expect(text).toMatch(/^ {2}--steps +canary: WEIGHT% \[PAUSE\] \(default: 10% 1m, 50% 1m, 100%\)$/m);
    expect(text).toMatch(/^ {2}--dry-run +e\.g\. x \(default: false\)$/m);
  });
});

describe('CLI help descriptions', () => {
  it('reads the same input descriptions from action.yml as a YAML parser does', () => {
    const text = readFileSync(join(ROOT, 'action.yml'), 'utf8');
    const inputs = (parse(text) as { inputs: Record<string, { description: string }> }).inputs;
    expect(inputDescriptionsOf(text)).toEqual(
      Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.description])),
    );
  });
});
