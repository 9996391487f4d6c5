/**
 * npm run bench:cli: the CLI's cold start against the action's, on the same dry run (a canary, HAProxy with nothing
 * listening), and `--help`; runs interleaved so the shared machine's load hits both alike. Writes section 10 of
 * bench/RESULTS.md (replacing an older one). Takes about 30 s. Target: the CLI within 20% of the action.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLE, ROOT } from '../test/helpers/action.js';
import { CLI_BUNDLE } from '../test/helpers/cli.js';
import { freePort } from '../test/helpers/ports.js';

const RUNS = 25;
const log = (text: string) => console.log(`[bench:cli] ${text}`);
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] ?? 0) : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2;
};

/** Process start to exit, in ms; the exit code must be `expect`. */
async function timed(args: string[], env: Record<string, string>, expect = 0): Promise<number> {
  const started = process.hrtime.bigint();
  const code = await new Promise<number | null>((done) =>
    spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' }).on('close', done),
  );
  if (code !== expect) throw new Error(`${args.join(' ')} exited ${code}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const port = await freePort();
const inputs: Record<string, string> = {
  strategy: 'canary',
  pools: 'a=app/a*, b=app/b*',
  'load-balancer': `haproxy://127.0.0.1:${port}`,
  'dry-run': 'true',
};
const dir = mkdtempSync(join(tmpdir(), 'zdd-cold-cli-'));
const files = { GITHUB_OUTPUT: join(dir, 'o'), GITHUB_STEP_SUMMARY: join(dir, 's'), GITHUB_STATE: join(dir, 'st') };
for (const f of Object.values(files)) writeFileSync(f, '');
const actionEnv: Record<string, string> = { ...files };
for (const [k, v] of Object.entries(inputs)) actionEnv[`INPUT_${k.toUpperCase()}`] = v;
const cliArgs = [CLI_BUNDLE, 'deploy', ...Object.entries(inputs).map(([k, v]) => `--${k}=${v}`)];
const cliEnv = { HOME: dir, XDG_STATE_HOME: join(dir, 'state') };

const times = { action: [] as number[], cli: [] as number[], help: [] as number[] };
for (let i = 0; i < RUNS; i++) {
  times.action.push(await timed([BUNDLE], actionEnv));
  times.cli.push(await timed(cliArgs, cliEnv));
  times.help.push(await timed([CLI_BUNDLE, '--help'], cliEnv));
}
const [action, cli, help] = [median(times.action), median(times.cli), median(times.help)];
const ratio = cli / action;
log(
  `action ${action.toFixed(1)} ms, cli ${cli.toFixed(1)} ms (${(100 * (ratio - 1)).toFixed(0)}%), --help ${help.toFixed(1)} ms`,
);

const kib = (file: string) => (statSync(file).size / 1024).toFixed(0);
const section = [
  '## 10. CLI cold start',
  '',
  `Measured by \`npm run bench:cli\` on ${new Date().toISOString().slice(0, 10)}, ${RUNS} runs of each, interleaved; process start to exit (Node ${process.versions.node}).`,
  '',
  '| | median | each run (ms) |',
  '|---|---|---|',
  `| action: \`node dist/index.js\`, canary dry run, nothing listening | ${action.toFixed(1)} ms | ${times.action.map((t) => t.toFixed(0)).join(', ')} |`,
  `| CLI: \`node dist/cli/index.js deploy --dry-run ...\`, the same | ${cli.toFixed(1)} ms | ${times.cli.map((t) => t.toFixed(0)).join(', ')} |`,
  `| CLI: \`--help\` | ${help.toFixed(1)} ms | ${times.help.map((t) => t.toFixed(0)).join(', ')} |`,
  '',
  `The CLI's dry run takes ${Math.abs(100 * (ratio - 1)).toFixed(0)}% ${ratio >= 1 ? 'longer' : 'less'} than the action's on this shared machine (target within 20%: ${Math.abs(ratio - 1) <= 0.2 ? 'met' : 'NOT met'}). \`dist/cli/index.js\`: ${kib(CLI_BUNDLE)} KiB, \`dist/index.js\`: ${kib(BUNDLE)} KiB (the CLI has its own copy of the lazily loaded AWS SDK chunks, and yaml in a chunk loaded only with --config).`,
  '',
].join('\n');
const path = join(ROOT, 'bench/RESULTS.md');
const previous = readFileSync(path, 'utf8');
const at = previous.indexOf('## 10. CLI cold start');
const next = at >= 0 ? previous.indexOf('\n## ', at + 5) : -1;
const updated =
  at >= 0
    ? `${previous.slice(0, at)}${section}${next >= 0 ? previous.slice(next + 1) : ''}`
    : `${previous.replace(/\n*$/, '\n\n')}${section}`;
writeFileSync(path, updated.replace(/\n*$/, '\n'));
log('wrote section 10 of bench/RESULTS.md');
