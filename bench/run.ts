/**
 * npm run bench: the measurements behind the README's promises, on real HAProxy and app processes on loopback, with
 * load from this process (bounded in requests and time). Writes bench/RESULTS.md. Takes about 7 minutes.
 *   npm run bench -- --runs 3
 * Section 7 (the canary judge in seeded simulation, no load balancer) comes from bench/judge.ts; `npm run bench:judge`
 * refreshes only that section and section 2's false-rollback column, in seconds.
 * Section 11 (the latency judge, simulated) comes from bench/judge-latency.ts: `npm run bench:latency`.
 * Section 2's shielded-canary table comes from bench/shielded.ts: `npm run bench:shielded`; section 11's healthy
 * canaries on real load balancers from bench/healthy.ts: `npm run bench:healthy`.
 */
import { execFileSync } from 'node:child_process';
import { execFile } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BUNDLE, ROOT, runAction, summaryTimeline, type ActionRun } from '../test/helpers/action.js';
import { APP_CTL, startFleet } from '../test/helpers/fleet.js';
import { startHaproxy } from '../test/helpers/haproxy.js';
import { startLoad, type LoadStats } from '../test/helpers/load.js';
import { poolInputs, startPools, type PoolsLab } from '../test/helpers/pools.js';
import { freePort, waitForPort } from '../test/helpers/ports.js';
import { startRelay } from '../test/helpers/relay.js';
import { startNginx } from '../test/helpers/nginx.js';
import { startPreviewLab } from '../test/helpers/previews.js';
import { falseRollbackCell, judgeSection, measureJudge, JUDGE_SEED } from './judge.js';
import { fleetOfLoadBalancers, fleetSection, medianOf, type FleetCost } from './lb-fleet.js';

const RUNS = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 3;
/**
 * `--only fleet` (or deploys, nginx, rollback, previews, cold, lb-fleet): measure one section and print it, leaving
 * RESULTS.md alone.
 */
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const wanted = (section: string) => !ONLY || ONLY === section;
const RPS = 300;
const exec = promisify(execFile);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function log(text: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}`);
}

async function withPools<T>(fn: (lab: PoolsLab) => Promise<T>): Promise<T> {
  const lab = await startPools();
  try {
    return await fn(lab);
  } finally {
    await lab.stop();
  }
}

// 1 + 3. Failed requests per strategy and baseline under keep-alive load; the blue-green mixed-version window.
type Scenario = 'rolling' | 'blue-green' | 'canary' | 'restart all at once' | 'restart one at a time, no drain';

async function scenario(name: Scenario): Promise<{ stats: LoadStats; run?: ActionRun }> {
  return withPools(async (lab) => {
    const load = startLoad(lab.url, { rps: RPS, maxMs: 90_000, maxRequests: 40_000 });
    await new Promise((r) => setTimeout(r, 500));
    let run: ActionRun | undefined;
    const restart = (port: number) =>
      exec(process.execPath, [APP_CTL, 'restart'], {
        env: { ...process.env, ...lab.fleet.env, DEPLOY_PORT: String(port), DEPLOY_VERSION: 'v2' },
      });
    if (name === 'rolling') {
      run = await runAction(
        { ...poolInputs(lab, {}), pools: '', strategy: 'rolling', targets: 'app/*', 'min-requests': '10' },
        { env: lab.fleet.env },
      );
    } else if (name === 'blue-green' || name === 'canary') {
      run = await runAction(
        poolInputs(
          lab,
          name === 'canary' ? { strategy: 'canary', steps: '20% 3s, 50% 3s, 100%' } : { strategy: 'blue-green' },
        ),
        { env: lab.fleet.env },
      );
    } else if (name === 'restart all at once') {
      await Promise.all(lab.fleet.ports.map(restart));
      await Promise.all(lab.fleet.ports.map((p) => waitForPort(p)));
      await new Promise((r) => setTimeout(r, 1000));
    } else {
      for (const port of lab.fleet.ports) {
        await restart(port);
        await waitForPort(port);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    const stats = await load.stop();
    if (run && run.outputs.result !== 'succeeded')
      throw new Error(`${name}: result ${run.outputs.result}\n${run.stdout.slice(-2000)}`);
    return { stats, run };
  });
}

/** Last old answer minus first new answer: 0 or less means the versions never overlapped. */
// 1b. The same on nginx: a client that retries an idempotent request once on a reset before any response.
async function nginxScenario(name: 'rolling' | 'blue-green'): Promise<LoadStats> {
  const fleet = await startFleet(4, 'v1');
  const [a, b, c, d] = fleet.ports as [number, number, number, number];
  const pools = name === 'blue-green';
  const nginx = await startNginx([
    { name: pools ? 'blue1' : 'web1', port: a },
    { name: pools ? 'blue2' : 'web2', port: b },
    { name: pools ? 'green1' : 'web3', port: c, down: pools },
    { name: pools ? 'green2' : 'web4', port: d, down: pools },
  ]);
  try {
    const load = startLoad(`http://127.0.0.1:${nginx.port}/`, {
      rps: RPS,
      maxMs: 90_000,
      maxRequests: 40_000,
      retryResets: true,
    });
    await new Promise((r) => setTimeout(r, 500));
    const common = {
      ...nginx.inputs,
      'deploy-command': fleet.restartCommand,
      'health-url': 'http://{address}/health',
      'probe-interval': '200ms',
      'probe-timeout': '1s',
      'analysis-interval': '2s',
      'min-requests': '10',
      version: 'v2',
    };
    const run = await runAction(
      pools
        ? { ...common, strategy: 'blue-green', pools: 'blue=app/blue*, green=app/green*' }
        : { ...common, strategy: 'rolling', targets: 'app/*' },
      { env: fleet.env },
    );
    await new Promise((r) => setTimeout(r, 500));
    const stats = await load.stop();
    if (run.outputs.result !== 'succeeded')
      throw new Error(`nginx ${name}: ${run.outputs.result}\n${run.stdout.slice(-2000)}`);
    return stats;
  } finally {
    await nginx.stop();
    fleet.stopAll();
  }
}

function mixedWindowMs(stats: LoadStats): number {
  const firstNew = Math.min(...stats.requests.filter((r) => r.version === 'v2').map((r) => r.end));
  const lastOld = Math.max(...stats.requests.filter((r) => r.version === 'v1').map((r) => r.end));
  return lastOld - firstNew;
}

// 2. A bad canary: first failed response to all traffic back on stable, and the bad version's share.
async function badCanary(): Promise<{ detectMs: number; badShare: number; requests: number }> {
  return withPools(async (lab) => {
    const load = startLoad(lab.url, { rps: RPS, maxMs: 90_000 });
    const run = await runAction(
      poolInputs(lab, { strategy: 'canary', steps: '20% 30s, 100%', 'analysis-interval': '5s' }),
      { env: { ...lab.fleet.env, APP_NEXT_FAIL_RATE: '0.3' } },
    );
    await new Promise((r) => setTimeout(r, 500));
    const stats = await load.stop();
    const rollback = summaryTimeline(run).find(([, text]) => text.includes('rollback: all traffic back'))?.[0];
    const firstFailure = Math.min(...stats.requests.filter((r) => r.status >= 500).map((r) => r.end));
    if (run.outputs.result !== 'rolled-back' || rollback === undefined)
      throw new Error(`bad canary: result ${run.outputs.result}`);
    return {
      detectMs: rollback - firstFailure,
      badShare: (100 * stats.requests.filter((r) => r.version === 'v2').length) / stats.requests.length,
      requests: stats.requests.length,
    };
  });
}

// 4. Control-plane cost as the fleet grows: the same 10 batches of one server each, in backends of N servers.
async function fleetCost(
  servers: number,
): Promise<{ batches: number; roundTripsPerBatch: number; overheadMs: number; totalMs: number }> {
  const fleet = await startFleet(1, 'v1');
  const app = fleet.ports[0] ?? 0;
  const haproxy = await startHaproxy({
    // Distinct addresses (nothing connects to them: no checks, no load; health-url names the one app): servers at
    // one address are one process, which a rolling deploy moves as one.
    servers: Array.from({ length: servers }, (_, i) => ({ name: `s${i + 1}`, port: 30000 + i, options: '' })),
  });
  const relay = await startRelay(haproxy.adminPort);
  try {
    const windowMs = 1000;
    const run = await runAction({
      strategy: 'rolling',
      targets: Array.from({ length: 10 }, (_, i) => `app/s${i + 1}`).join(' '),
      'batch-size': '1',
      'load-balancer': `haproxy://127.0.0.1:${relay.port}`,
      'deploy-command': 'true',
      'health-url': `http://127.0.0.1:${app}/health`,
      'healthy-threshold': '1',
      'probe-interval': '100ms',
      'probe-timeout': '1s',
      'analysis-interval': '1s',
      'min-requests': '0',
      'drain-timeout': '1s',
    });
    if (run.outputs.result !== 'succeeded')
      throw new Error(`fleet ${servers}: ${run.outputs.result}\n${run.stdout.slice(-2000)}`);
    const batches = (run.summary.match(/^\| \d+ \| app\//gm) ?? []).length;
    // Batch to batch, from one window's verdict to the next (ms timestamps of the timeline), less the window itself.
    const verdicts = summaryTimeline(run)
      .filter(([, text]) => /^batch \d+ window:/.test(text))
      .map(([at]) => at);
    const gaps = verdicts.slice(1).map((at, i) => at - (verdicts[i] ?? at));
    // The action's own read before the first batch (discovery) is one round trip.
    return {
      batches,
      roundTripsPerBatch: (relay.connections() - 1) / batches,
      overheadMs: median(gaps) - windowMs,
      totalMs: run.durationMs,
    };
  } finally {
    await relay.close();
    await haproxy.stop();
    fleet.stopAll();
  }
}

// 6. Previews: open one, replace its build (a new push) and close it, under load on the key.
interface PreviewCost {
  readonly openMs: number;
  readonly updateMs: number;
  readonly closeMs: number;
  readonly requests: number;
  readonly failed: number;
  /** Keyed requests the normal site answered before the close began: must be 0 (the key never routed nowhere). */
  readonly strays: number;
}

async function previewCost(): Promise<PreviewCost> {
  const lab = await startPreviewLab();
  try {
    const inputs = (extra: Record<string, string>) =>
      lab.inputs({ action: 'preview', 'preview-key': 'pr-1', 'github-token': '', ...extra });
    const open = await runAction(inputs({ version: 'b1', 'preview-address': await lab.build('build-1') }));
    if (open.code !== 0) throw new Error(`preview failed: ${open.stdout.slice(-500)}`);
    const second = await lab.build('build-2');
    const load = startLoad(lab.url, { rps: RPS, maxMs: 60_000, headers: { 'x-preview': 'pr-1' } });
    await sleep(1000);
    const update = await runAction(inputs({ version: 'b2', 'preview-address': second }));
    await sleep(1000);
    const closingAt = Date.now();
    const close = await runAction(inputs({ action: 'close-preview' }));
    await sleep(500);
    const stats = await load.stop();
    if (update.code !== 0 || close.code !== 0) throw new Error('preview update or close failed');
    const strays = stats.requests.filter((r) => r.start < closingAt && r.version === 'v1').length;
    return {
      openMs: open.durationMs,
      updateMs: update.durationMs,
      closeMs: close.durationMs,
      requests: stats.sent,
      failed: stats.failed,
      strays,
    };
  } finally {
    await lab.stop();
  }
}

// 5. Cold start of the bundle for a dry run, and its size.
async function coldStart(): Promise<number> {
  const port = await freePort();
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const run = await runAction({
      strategy: 'canary',
      pools: 'a=app/a*, b=app/b*',
      'load-balancer': `haproxy://127.0.0.1:${port}`,
      'dry-run': 'true',
    });
    if (run.code !== 0) throw new Error('dry run failed');
    times.push(run.durationMs);
  }
  return median(times);
}

function versionOf(command: string, args: string[]): string {
  try {
    return execFileSync(command, args).toString().split('\n')[0]?.trim() ?? '';
  } catch {
    return 'not found';
  }
}

const results: string[] = [];
const started = Date.now();
log(`${RUNS} runs of each scenario at ${RPS} requests/s`);
const scenarios: Scenario[] = [
  'rolling',
  'blue-green',
  'canary',
  'restart all at once',
  'restart one at a time, no drain',
];
const failed: Record<string, number[]> = {};
const sent: Record<string, number[]> = {};
const mixed: number[] = [];
for (const name of wanted('deploys') ? scenarios : []) {
  for (let i = 0; i < RUNS; i++) {
    const { stats } = await scenario(name);
    (failed[name] ??= []).push(stats.failed);
    (sent[name] ??= []).push(stats.sent);
    if (name === 'blue-green') mixed.push(mixedWindowMs(stats));
    log(`${name}: ${stats.failed} of ${stats.sent} failed ${JSON.stringify(stats.failures)}`);
  }
}
const nginxRuns: Record<string, LoadStats[]> = {};
for (const name of wanted('deploys') || wanted('nginx') ? (['rolling', 'blue-green'] as const) : []) {
  for (let i = 0; i < RUNS; i++) {
    const stats = await nginxScenario(name);
    (nginxRuns[name] ??= []).push(stats);
    log(`nginx ${name}: ${stats.failed} of ${stats.sent} failed, ${stats.resets} resets retried`);
  }
}
const bad: { detectMs: number; badShare: number; requests: number }[] = [];
for (let i = 0; i < (wanted('rollback') ? RUNS : 0); i++) {
  bad.push(await badCanary());
  log(
    `bad canary: rollback ${bad.at(-1)?.detectMs}ms after the first failure, bad share ${bad.at(-1)?.badShare.toFixed(1)}%`,
  );
}
const fleets: { servers: number; cost: Awaited<ReturnType<typeof fleetCost>> }[] = [];
for (const servers of wanted('fleet') ? [10, 100, 1000] : []) {
  // A few ms of scheduling noise per batch on 2 cores: the median of RUNS runs per size.
  const runs: Awaited<ReturnType<typeof fleetCost>>[] = [];
  for (let i = 0; i < RUNS; i++) {
    const cost = await fleetCost(servers);
    runs.push(cost);
    log(
      `fleet ${servers}: ${cost.batches} batches, ${cost.roundTripsPerBatch.toFixed(1)} round trips/batch, overhead ${cost.overheadMs.toFixed(0)}ms/batch`,
    );
  }
  const overheadMs = median(runs.map((r) => r.overheadMs));
  const cost = runs.find((r) => r.overheadMs === overheadMs) ?? { ...(runs[0] as (typeof runs)[number]), overheadMs };
  fleets.push({ servers, cost });
}
const previews: PreviewCost[] = [];
for (let i = 0; i < (wanted('previews') ? RUNS : 0); i++) {
  previews.push(await previewCost());
  const p = previews.at(-1) as PreviewCost;
  log(
    `preview: open ${p.openMs}ms, update ${p.updateMs}ms, close ${p.closeMs}ms; ${p.failed} of ${p.requests} keyed requests failed, ${p.strays} reached the normal site`,
  );
}
let lbFleet: FleetCost[] = [];
if (wanted('lb-fleet')) {
  lbFleet = await fleetOfLoadBalancers();
  for (const r of lbFleet)
    log(
      `lb-fleet ${r.members}: ${r.changes} changes, skew median ${medianOf(r.skewMs).toFixed(1)}ms max ${Math.max(...r.skewMs).toFixed(1)}ms, ${r.roundTripsPerChange.toFixed(1)} round trips/change`,
    );
  if (ONLY === 'lb-fleet') console.log(fleetSection(lbFleet).join('\n'));
}
const cold = wanted('cold') ? await coldStart() : 0;
if (ONLY) process.exit(0);
const bundleBytes = statSync(BUNDLE).size;
log(`cold start ${cold}ms, bundle ${bundleBytes} bytes`);

const yes = (ok: boolean) => (ok ? 'met' : '**missed**');
const ours = ['rolling', 'blue-green', 'canary'].every((n) => (failed[n] ?? []).every((f) => f === 0));
const detect = median(bad.map((b) => b.detectMs));
const overheads = fleets.map((f) => f.cost.overheadMs);
const spread = (Math.max(...overheads) - Math.min(...overheads)) / Math.min(...overheads);
const cpu = cpus()[0]?.model ?? 'unknown';
const judge = measureJudge(JUDGE_SEED);
log(`judge simulation (seed ${JUDGE_SEED}): ${Math.round(judge.ms / 1000)}s`);
results.push(
  '# Benchmark results',
  '',
  `Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ` +
    `Node ${process.version}; ${versionOf('haproxy', ['-v'])}. Everything on loopback: HAProxy, app processes (each request takes 20ms, ` +
    'SIGTERM ends a process at once, a new one listens after 1s), and keep-alive load from the benchmark process. ' +
    `Medians of ${RUNS} runs. Total time ${Math.round((Date.now() - started) / 1000)}s.`,
  '',
  '## 1. Failed requests during a deploy of 4 servers',
  '',
  `Steady keep-alive load of ${RPS} requests/s through HAProxy; every failure a client sees (5xx, reset, timeout) counts.`,
  '',
  '| how | failed requests (median) | each run | requests per run |',
  '|---|---|---|---|',
  ...scenarios.map(
    (n) =>
      `| ${n}${n.startsWith('restart') ? ' (baseline)' : ''} | ${median(failed[n] ?? [])} | ${(failed[n] ?? []).join(', ')} | ${median(sent[n] ?? [])} |`,
  ),
  '',
  `Target: 0 failed in every strategy: ${yes(ours)}.`,
  '',
  'On nginx (open-source, `nginx+file://`), same app and load, with a client that retries an idempotent request once when its connection is reset before any response; each reload closes idle keep-alive connections, so resets are counted apart:',
  '',
  '| how | failed requests (median) | resets retried (each run) | requests per run |',
  '|---|---|---|---|',
  ...Object.entries(nginxRuns).map(
    ([n, runs]) =>
      `| ${n} on nginx | ${median(runs.map((r) => r.failed))} | ${runs.map((r) => r.resets).join(', ')} | ${median(runs.map((r) => r.sent))} |`,
  ),
  '',
  '## 2. Time to roll back a bad canary',
  '',
  'The new version fails 30% of its requests; steps `20% 30s, 100%`, `analysis-interval: 5s`, `min-requests: 20`. Measured from the first failed response a client saw to the moment the rollback call had returned.',
  '',
  '| | first failure to all traffic on stable | share of all requests the bad version answered | false rollbacks: same plan, a healthy version (0.5% errors on both versions) |',
  '|---|---|---|---|',
  `| zero-downtime-deploy (median of ${RUNS}) | ${(detect / 1000).toFixed(2)} s (runs: ${bad.map((b) => (b.detectMs / 1000).toFixed(2)).join(', ')}) | ${median(bad.map((b) => b.badShare)).toFixed(1)}% of ${median(bad.map((b) => b.requests))} | ${falseRollbackCell(judge)} |`,
  '| Flagger: `interval` default 60s, `threshold: 5` failed checks before rollback (as in its examples) | up to 5 min (interval x threshold) | the first `stepWeight` (10% in its examples) for up to 5 min | not measured |',
  '| AWS CodeDeploy `Canary10Percent5Minutes` | rollback only on a CloudWatch alarm (1-minute metrics); without one, 5 min at 10% then 100% | 10% of traffic for up to 5 min | not measured |',
  '',
  `Target: within 10 s of the first bad response with analysis-interval 5s: ${yes(detect <= 10_000)}. The sequential judge reads the counters every 250 ms and acts as soon as its evidence is strong enough (a handful of failed requests against a clean stable pool), not at the end of a window.`,
  '',
  '## 3. Blue-green mixed-version window',
  '',
  `Time from the first response by the new version to the last by the old one, under ${RPS} requests/s keep-alive load, one batched Runtime API call for the switch.`,
  '',
  `Median ${median(mixed)} ms (runs: ${mixed.join(', ')} ms; last answer of the old version minus first answer of the new one). Target under 1 s: ${yes(median(mixed) < 1000)}. ` +
    (median(mixed) <= 0
      ? "At or below zero the versions never overlapped: the old version's last answer arrived before the new version's first."
      : "Requests already in flight on the old pool (20 ms each here) finish there, so the overlap is about one request's duration."),
  '',
  '## 4. Control-plane cost as the fleet grows',
  '',
  'The same rolling deploy (10 target servers, `batch-size: 1`, so 10 batches; no-op `deploy-command`; `analysis-interval: 1s`) in a backend of N servers, median of ' +
    RUNS +
    " runs per size. Round trips counted at a TCP relay in front of the Runtime API; overhead per batch is the time from one batch's verdict to the next, less the 1 s analysis window.",
  '',
  '| servers | batches | Runtime API round trips per batch | overhead per batch | whole run |',
  '|---|---|---|---|---|',
  ...fleets.map(
    (f) =>
      `| ${f.servers} | ${f.cost.batches} | ${f.cost.roundTripsPerBatch.toFixed(1)} | ${f.cost.overheadMs.toFixed(0)} ms | ${(f.cost.totalMs / 1000).toFixed(1)} s |`,
  ),
  '',
  `Round trips per batch do not grow with the fleet (every change is one batched call; polls read only the batch's own servers). Overhead per batch varies by ${(spread * 100).toFixed(0)}% from 10 to 1000 servers; target within 20%: ${yes(spread <= 0.2)}.` +
    (spread > 0.2
      ? " What grows is the re-read of the whole backend before each drain (never drain the last healthy server): HAProxy answering `show stat` and `show servers state` for 1000 servers. About 7 of the round trips per batch are the analysis window's own counter reads (every 250 ms)."
      : ''),
  '',
  '## 5. Cold start and bundle size',
  '',
  `- \`node dist/index.js\` for a canary dry run with no load balancer listening: median ${cold} ms over 10 runs, process start to exit (target under 150 ms: ${yes(cold < 150)}).`,
  `- \`dist/index.js\`: ${(bundleBytes / 1024).toFixed(0)} KiB (target under 1.5 MB: ${yes(bundleBytes < 1.5 * 1024 * 1024)}).`,
  '',
  '## 6. Pull-request previews',
  '',
  `HAProxy with the README's preview lines. \`preview\` for a new key, then a new build at another address (a push), then \`close-preview\`, with ${RPS} requests/s carrying \`X-Preview\` from before the update to after the close. Times are whole runs of \`node dist/index.js\` (process start to exit; \`probe-interval: 200ms\`, \`healthy-threshold: 2\`, no GitHub calls).`,
  '',
  '| | median | each run |',
  '|---|---|---|',
  `| open a preview (register, probe, HAProxy check, route) | ${(median(previews.map((p) => p.openMs)) / 1000).toFixed(2)} s | ${previews.map((p) => (p.openMs / 1000).toFixed(2)).join(', ')} |`,
  `| replace its build (register, check, switch, drain and delete the old) | ${(median(previews.map((p) => p.updateMs)) / 1000).toFixed(2)} s | ${previews.map((p) => (p.updateMs / 1000).toFixed(2)).join(', ')} |`,
  `| close it (route removed, server drained and deleted) | ${(median(previews.map((p) => p.closeMs)) / 1000).toFixed(2)} s | ${previews.map((p) => (p.closeMs / 1000).toFixed(2)).join(', ')} |`,
  `| keyed requests failed | ${median(previews.map((p) => p.failed))} | ${previews.map((p) => `${p.failed} of ${p.requests}`).join(', ')} |`,
  `| keyed requests answered by the normal site before the close | ${median(previews.map((p) => p.strays))} | ${previews.map((p) => p.strays).join(', ')} |`,
  '',
  `Target: 0 failed and 0 answered by the normal site while the build is replaced: ${yes(previews.every((p) => p.failed === 0 && p.strays === 0))}.`,
  '',
  ...judgeSection(judge),
  '',
  ...fleetSection(lbFleet),
);
// The sections from the ALB one on (bench/alb.ts, then bench/cli.ts) are written by their own scripts: kept as they were.
const previous = readFileSync(join(ROOT, 'bench/RESULTS.md'), 'utf8');
const alb = previous.search(/^## \d+\. AWS ALB/m);
writeFileSync(
  join(ROOT, 'bench/RESULTS.md'),
  `${results.join('\n').replace(/\n*$/, '')}${alb >= 0 ? `\n\n${previous.slice(alb)}` : '\n'}`,
);
log('wrote bench/RESULTS.md');
