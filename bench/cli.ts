/**
 * npm run bench:cli: the CLI's cold start against the action's, on the same dry run (a canary, HAProxy with nothing
 * listening), and `--help`; runs interleaved so the shared machine's load hits both alike. Writes section 10 of
 * bench/RESULTS.md (replacing an older one). Takes about 30 s. Target: the CLI at most 20% over the action (CPU time).
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

/**
 * Process start to exit (wall) and the CPU time it used (user + system, from bash's `time`), in ms; CPU time hardly
 * moves with the other work on a shared machine, wall time does. The exit code must be `expect`.
 */
async function timed(args: string[], env: Record<string, string>, expect = 0): Promise<{ wall: number; cpu: number }> {
  const started = process.hrtime.bigint();
  const script = 'TIMEFORMAT="%3U %3S"; { time "$@" >/dev/null 2>&1; } 2>&1; exit ${PIPESTATUS[0]}';
  let stderr = '';
  const code = await new Promise<number | null>((done) => {
    const child = spawn('bash', ['-c', `${script}`, '_', process.execPath, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', done);
  });
  const wall = Number(process.hrtime.bigint() - started) / 1e6;
  const [user = NaN, system = NaN] = stderr.trim().split(/\s+/).map(Number);
  if (code !== expect || Number.isNaN(user + system)) throw new Error(`${args.join(' ')} exited ${code}: ${stderr}`);
  return { wall, cpu: (user + system) * 1000 };
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

type Run = { wall: number; cpu: number };
const runs = { action: [] as Run[], cli: [] as Run[], help: [] as Run[] };
for (let i = 0; i < RUNS; i++) {
  runs.action.push(await timed([BUNDLE], actionEnv));
  runs.cli.push(await timed(cliArgs, cliEnv));
  runs.help.push(await timed([CLI_BUNDLE, '--help'], cliEnv));
}
const of = (list: readonly Run[], key: keyof Run) => median(list.map((r) => r[key]));
const cpuRatio = of(runs.cli, 'cpu') / of(runs.action, 'cpu');
const wallRatio = of(runs.cli, 'wall') / of(runs.action, 'wall');
const percent = (ratio: number) => `${ratio >= 1 ? '+' : ''}${(100 * (ratio - 1)).toFixed(0)}%`;
log(
  `cpu: action ${of(runs.action, 'cpu').toFixed(0)} ms, cli ${of(runs.cli, 'cpu').toFixed(0)} ms (${percent(cpuRatio)}), --help ${of(runs.help, 'cpu').toFixed(0)} ms; wall ${percent(wallRatio)}`,
);
const kib = (file: string) => (statSync(file).size / 1024).toFixed(0);
const row = (what: string, list: readonly Run[]) =>
  `| ${what} | ${of(list, 'cpu').toFixed(0)} ms | ${of(list, 'wall').toFixed(0)} ms | ${list.map((r) => r.wall.toFixed(0)).join(', ')} |`;
const section = [
  '## 10. CLI cold start',
  '',
  `Measured by \`npm run bench:cli\` on ${new Date().toISOString().slice(0, 10)}, ${RUNS} runs of each, interleaved (Node ${process.versions.node}): CPU time (user + system, which the other work on this shared 2-core machine hardly moves) and wall time from process start to exit (which it does).`,
  '',
  '| | median CPU | median wall | each run, wall (ms) |',
  '|---|---|---|---|',
  row('action: `node dist/index.js`, canary dry run, nothing listening', runs.action),
  row('CLI: `node dist/cli/index.js deploy --dry-run ...`, the same', runs.cli),
  row('CLI: `--help`', runs.help),
  '',
  `The CLI's dry run against the action's: CPU ${percent(cpuRatio)}, wall ${percent(wallRatio)} (target: at most 20% more CPU: ${cpuRatio <= 1.2 ? 'met' : 'NOT met'}). \`dist/cli/index.js\`: ${kib(CLI_BUNDLE)} KiB, \`dist/index.js\`: ${kib(BUNDLE)} KiB (the CLI has its own copy of the lazily loaded AWS SDK chunks, and yaml in a chunk loaded only with --config).`,
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
