/**
 * npm run demo: a real canary on this machine. Starts HAProxy and four app processes on loopback (blue1/blue2 serve
 * v1 and carry traffic, green1/green2 are idle), puts steady load through HAProxy, runs the bundled action
 * (node dist/index.js, as the runner does) for a canary 20% -> 50% -> 100%, prints progress, then the job summary,
 * and stops everything it started. `npm run demo -- --bad` ships a version that fails 30% of its requests.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { runAction } from '../test/helpers/action.js';
import { startLoad, type LoadStats } from '../test/helpers/load.js';
import { poolInputs, startPools, type PoolsLab } from '../test/helpers/pools.js';

const bad = process.argv.includes('--bad');

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** HAProxy from the system's packages: installed when missing and we may (root, or sudo without a password). */
function ensureHaproxy(): void {
  if (has('haproxy')) return;
  const root = process.getuid?.() === 0;
  const sudo = !root && has('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
  if (!has('apt-get') || (!root && !sudo)) {
    console.error(
      'The demo needs HAProxy. Install it (Debian/Ubuntu: sudo apt-get install haproxy; macOS: brew install haproxy), then run npm run demo again.',
    );
    process.exit(1);
  }
  console.log('HAProxy is missing: installing it with apt-get...');
  const prefix = root ? [] : ['sudo', '-n'];
  const run = (args: string[]) =>
    execFileSync(prefix[0] ?? args[0] ?? '', [...prefix.slice(1), ...(root ? args.slice(1) : args)], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', 'haproxy']);
}

function shareLine(stats: LoadStats, since: number): string {
  const recent = stats.requests.filter((r) => r.end >= since);
  const v2 = recent.filter((r) => r.version === 'v2').length;
  const failed = recent.filter((r) => r.status !== 200).length;
  const pct = recent.length ? Math.round((100 * v2) / recent.length) : 0;
  return `   traffic: ${recent.length} requests in the last 2s, ${pct}% answered by v2, ${failed} failed (${stats.failed} failed in all)`;
}

let lab: PoolsLab | undefined;
async function stopAll(): Promise<void> {
  await lab?.stop();
  lab = undefined;
}
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));

ensureHaproxy();
try {
  lab = await startPools();
  console.log(
    `HAProxy on 127.0.0.1:${lab.haproxy.frontendPort}: blue1, blue2 serve v1 (live); green1, green2 are idle at weight 0.`,
  );
  console.log(
    `Shipping v2${bad ? ', which fails 30% of its requests,' : ''} as a canary 20% -> 50% -> 100% with 100 requests/s flowing.\n`,
  );
  const load = startLoad(lab.url, { rps: 100, maxMs: 110_000 });
  const progress = setInterval(() => console.log(shareLine(load.snapshot(), Date.now() - 2000)), 2000);
  const run = await runAction(
    poolInputs(lab, { strategy: 'canary', steps: '20% 6s, 50% 6s, 100%', 'analysis-interval': '3s' }),
    {
      env: { ...lab.fleet.env, ...(bad ? { APP_NEXT_FAIL_RATE: '0.3' } : {}) },
      onLine: (line) => {
        if (line.startsWith('::group::')) console.log(`\n▶ ${line.slice(9).replace(/%25/g, '%')}`);
        else if (line.startsWith('::error::'))
          console.log(`✖ ${line.slice(9).replace(/%0A/g, '\n  ').replace(/%25/g, '%')}`);
        else if (!line.startsWith('::')) console.log(`  ${line}`);
      },
    },
  );
  clearInterval(progress);
  const stats = await load.stop();
  console.log('\n──────── job summary (as GitHub shows it, in Markdown) ────────\n');
  console.log(run.summary.replace(/<\/?details>|<\/?summary>/g, ''));
  console.log('───────────────────────────────────────────────────────────────');
  console.log(`result=${run.outputs.result}, live-pool=${run.outputs['live-pool']}, weight=${run.outputs.weight}`);
  console.log(
    `Users sent ${stats.sent} requests during the rollout: ${stats.failed} failed` +
      (bad ? " (the bad version's own errors, until the rollback)." : '.'),
  );
} finally {
  await stopAll();
}
