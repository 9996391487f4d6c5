/**
 * npm run bench:alb: the ALB driver on the local stand-in (test/helpers/aws-alb.ts), not on AWS: API calls per
 * traffic change and per rolling batch, and the bundle's size and cold start with and without the AWS SDK loaded.
 * Writes section 9 of bench/RESULTS.md (replacing an older one). Takes about a minute.
 *   npm run bench:alb -- --before /path/to/old/dist/index.js   (cold starts of an older bundle, HAProxy and ALB, beside)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLE, ROOT, runAction, summaryTimeline } from '../test/helpers/action.js';
import { albInputs, type AlbLab } from '../test/helpers/alb-inputs.js';
import { startAlbStandIn, type RecordedCall } from '../test/helpers/aws-alb.js';
import { startFleet } from '../test/helpers/fleet.js';
import { startLoad } from '../test/helpers/load.js';
import { freePort } from '../test/helpers/ports.js';

const RUNS = 10;
const log = (text: string) => console.log(`[bench:alb] ${text}`);
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] ?? 0) : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2;
};

/** Process start to exit of `node BUNDLE` as the runner starts it, for a dry run with these inputs. */
async function coldRun(
  bundle: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {},
): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'zdd-cold-'));
  const files = { GITHUB_OUTPUT: join(dir, 'o'), GITHUB_STEP_SUMMARY: join(dir, 's'), GITHUB_STATE: join(dir, 'st') };
  for (const f of Object.values(files)) writeFileSync(f, '');
  const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '', ...files, ...env };
  for (const [k, v] of Object.entries(inputs)) childEnv[`INPUT_${k.toUpperCase()}`] = v;
  const started = process.hrtime.bigint();
  const code = await new Promise<number | null>((done) =>
    spawn(process.execPath, [bundle], { env: childEnv, stdio: 'ignore' }).on('close', done),
  );
  if (code !== 0) throw new Error(`dry run of ${bundle} exited ${code}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function bundleBytes(dir: string): { main: number; chunks: number; files: string[] } {
  const files = readdirSync(dir).filter((f) => f.endsWith('.js'));
  const main = statSync(join(dir, 'index.js')).size;
  return { main, chunks: files.reduce((s, f) => s + statSync(join(dir, f)).size, 0) - main, files };
}

function between(calls: readonly RecordedCall[], from: number, to: number): RecordedCall[] {
  return calls.filter((c) => c.at >= from && c.at <= to && c.operation !== 'GetMetricData');
}

function describeOps(calls: readonly RecordedCall[]): string {
  const counts = new Map<string, number>();
  for (const c of calls) counts.set(c.operation, (counts.get(c.operation) ?? 0) + 1);
  return [...counts].map(([op, n]) => `${n} ${op}`).join(', ');
}

async function lab(): Promise<AlbLab & { stop(): Promise<void> }> {
  const fleet = await startFleet(4, 'v1');
  const [b1, b2, g1, g2] = fleet.ports as [number, number, number, number];
  const alb = await startAlbStandIn({
    groups: [
      { name: 'shop-blue', weight: 100, ports: [b1, b2] },
      { name: 'shop-green', weight: 0, ports: [g1, g2] },
    ],
  });
  return {
    alb,
    fleet,
    async stop() {
      await alb.stop();
      fleet.stopAll();
    },
  };
}

const at = process.argv.indexOf('--before');
const before = at >= 0 ? process.argv[at + 1] : undefined;
const started = Date.now();

// Cold start: a HAProxy dry run with nothing listening (the AWS SDK is never loaded), and an ALB dry run on the
// stand-in (it loads both SDK clients); runs interleaved so the shared machine's load hits both alike.
const port = await freePort();
const haproxyInputs = {
  strategy: 'canary',
  pools: 'a=app/a*, b=app/b*',
  'load-balancer': `haproxy://127.0.0.1:${port}`,
  'dry-run': 'true',
};
const cold = { now: [] as number[], before: [] as number[], alb: [] as number[], albBefore: [] as number[] };
const dry = await lab();
const albDryCalls: string[] = [];
const albDry = { ...albInputs(dry, { strategy: 'canary', 'dry-run': 'true' }), 'check-url': '' };
for (let i = 0; i < RUNS; i++) {
  cold.now.push(await coldRun(BUNDLE, haproxyInputs));
  if (before) cold.before.push(await coldRun(before, haproxyInputs));
  const from = dry.alb.calls.length;
  cold.alb.push(await coldRun(BUNDLE, albDry, dry.alb.env));
  albDryCalls.push(describeOps(dry.alb.calls.slice(from)));
  if (before) cold.albBefore.push(await coldRun(before, albDry, dry.alb.env));
}
await dry.stop();
log(
  `cold start haproxy ${median(cold.now)} ms, before ${median(cold.before)} ms, alb ${median(cold.alb)} ms, alb before ${median(cold.albBefore)} ms`,
);

// A canary, 3 steps: the calls of each traffic change (from the moment it was sent to the moment it had taken),
// and the read of the new pool before each step.
const c = await lab();
const load = startLoad(c.alb.trafficUrl, { rps: 100, maxMs: 60_000 });
const canary = await runAction(albInputs(c, { strategy: 'canary', steps: '20% 2s, 50% 2s, 100%' }), {
  env: { ...c.fleet.env, ...c.alb.env },
});
const canaryLoad = await load.stop();
if (canary.outputs.result !== 'succeeded') throw new Error(`canary: ${canary.outputs.result}\n${canary.stdout}`);
const splits = summaryTimeline(canary).filter(([, text]) => text.startsWith('split '));
const changes = splits.map(([noted, , sent]) => between(c.alb.calls, sent ?? noted, noted));
const canaryCalls = c.alb.calls.length;
await c.stop();

// A rolling deploy of 2 targets in batches of 1: the calls from the batch's drain to its verified return.
const r = await lab();
const rollingLoad = startLoad(r.alb.trafficUrl, { rps: 100, maxMs: 60_000 });
const rolling = await runAction(albInputs(r, { strategy: 'rolling', targets: 'shop-blue/*', 'batch-size': '1' }), {
  env: { ...r.fleet.env, ...r.alb.env },
});
const rollingStats = await rollingLoad.stop();
if (rolling.outputs.result !== 'succeeded') throw new Error(`rolling: ${rolling.outputs.result}\n${rolling.stdout}`);
const timeline = summaryTimeline(rolling);
// A batch starts after the timeline's entry before its drain (the plan, or the last batch's window): the read
// before the drain (the last healthy target of a group is never taken out) counts as the batch's.
const batches = timeline.flatMap(([, text], i) => {
  // The first batch's start is not told apart from the run's first reads: batches after it are counted.
  if (!text.includes('state drain (new requests stop') || i === 0 || !/ window: /.test(timeline[i - 1]?.[1] ?? ''))
    return [];
  const end = timeline.slice(i).find(([, t]) => /ready weight \d+ \(verified\)/.test(t))?.[0] ?? 0;
  return [between(r.alb.calls, (timeline[i - 1]?.[0] ?? 0) + 1, end)];
});
const rollingCalls = r.alb.calls.length;
await r.stop();

const now = bundleBytes(join(ROOT, 'dist'));
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
const section = [
  '## 9. AWS ALB, on the local stand-in (not AWS)',
  '',
  `Measured by \`npm run bench:alb\` on ${new Date().toISOString().slice(0, 10)} in ${Math.round((Date.now() - started) / 1000)} s. The ALB driver runs against test/helpers/aws-alb.ts, a stand-in that speaks the ELBv2 Query and CloudWatch JSON protocols and checks every request against AWS's published models; weights take effect at once there, so one read-back verifies a change (AWS may need more, each one more DescribeRules call). Calls are counted by the stand-in; GetMetricData polls of the judge (one per probe interval) are left out of the per-change figures.`,
  '',
  '| | AWS API calls | which |',
  '|---|---|---|',
  ...changes.map(
    (calls, i) =>
      `| traffic change ${i + 1} of the canary (${splits[i]?.[1].replace(/ \(.*$/, '') ?? ''}) | ${calls.length} | ${describeOps(calls)} |`,
  ),
  ...batches.map(
    (calls, i) =>
      `| rolling batch ${i + 2} of 2 (1 target: from the read before its drain to verified back in traffic) | ${calls.length} | ${describeOps(calls)} |`,
  ),
  `| whole canary run (3 steps, windows of 2 s, probes every 200 ms) | ${canaryCalls} | all, GetMetricData included; ${canaryLoad.sent} requests, ${canaryLoad.failed} failed${canaryLoad.failed ? ` (${JSON.stringify(canaryLoad.failures)})` : ''} |`,
  `| whole rolling run (2 batches) | ${rollingCalls} | all, GetMetricData included; ${rollingStats.sent} requests, ${rollingStats.failed} failed${rollingStats.failed ? ` (${JSON.stringify(rollingStats.failures)})` : ''} |`,
  `| a dry run | ${albDryCalls[0]?.split(', ').reduce((n, op) => n + Number(op.split(' ')[0]), 0) ?? 0} | ${albDryCalls[0] ?? ''} (reads only) |`,
  '',
  `- Bundle: \`dist/index.js\` ${kib(now.main)}, plus ${kib(now.chunks)} in ${now.files.length - 1} chunk files (${now.files.filter((f) => f !== 'index.js').join(', ')}) that ncc emits for the AWS SDK's dynamic \`import()\`: loaded only by an \`aws-alb:\` run.`,
  `- Cold start, process start to exit, median of ${RUNS}, on 2 cores shared with other test runs (compare the figures of one run, not across runs): HAProxy canary dry run with nothing listening ${median(cold.now).toFixed(0)} ms${before ? ` (the older bundle: ${median(cold.before).toFixed(0)} ms)` : ''}; ALB canary dry run on the stand-in, loading the ELBv2 client only and reading the rule, groups and targets: ${median(cold.alb).toFixed(0)} ms${before ? `, the older bundle (\`--before\`) in the same runs, interleaved: ${median(cold.albBefore).toFixed(0)} ms` : ''}.`,
  '',
].join('\n');
console.log(section);
const path = join(ROOT, 'bench/RESULTS.md');
const text = readFileSync(path, 'utf8');
const start = text.indexOf('## 9. AWS ALB');
const next = start >= 0 ? text.indexOf('\n## ', start + 1) : -1;
const out =
  start >= 0
    ? text.slice(0, start) + section + (next >= 0 ? text.slice(next + 1) : '')
    : `${text.replace(/\n*$/, '')}\n\n${section}`;
writeFileSync(path, out);
log(`wrote ${path}`);
