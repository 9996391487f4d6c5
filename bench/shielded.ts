/**
 * npm run bench:shielded: what users feel of a bad canary before its rollback, with and without retry lines
 * (issue 26, docs/strategies.md#shielded-canaries). Real HAProxy, 4 app processes, a canary failing 30% of its
 * requests at a 20% step under 300 GETs/s from clients that do not retry: the GETs that failed for users, the time
 * from the step's weights to the rollback, and the failure rate the judge named. Three runs per configuration.
 */
import { errors, runAction, summaryTimeline } from '../test/helpers/action.js';
import { documentedLines } from '../test/helpers/docs.js';
import { startLoad } from '../test/helpers/load.js';
import { poolInputs, startPools } from '../test/helpers/pools.js';

const RUNS = 3;
const CONFIGS = [
  { name: 'no retry lines', extra: [] as string[] },
  { name: 'the documented lines', extra: documentedLines('shielded-canaries:haproxy') },
];

async function once(extra: readonly string[]): Promise<{ failed: number; sent: number; ms: number; rate: string }> {
  const lab = await startPools({}, { extra: extra.join('\n') });
  try {
    const load = startLoad(lab.url, { rps: 300, maxMs: 40_000 });
    const run = await runAction(poolInputs(lab, { strategy: 'canary', steps: '20% 10s, 100%' }), {
      env: { ...lab.fleet.env, APP_NEXT_FAIL_RATE: '0.3' },
    });
    await load.through(50);
    const stats = await load.stop();
    const at = (text: string) => summaryTimeline(run).find(([, t]) => t.includes(text))?.[0] ?? 0;
    const failed = stats.requests.filter((r) => r.status === 0 || r.status >= 500).length;
    const rate = /new version ([\d.]+% failed \(\d+ of \d+\))/.exec(errors(run).join('\n'))?.[1] ?? run.outputs.result;
    return { failed, sent: stats.sent, ms: at('rollback: all traffic back on') - at('weights '), rate: rate ?? '' };
  } finally {
    await lab.stop();
  }
}

async function main(): Promise<void> {
  const rows: string[] = [];
  for (const config of CONFIGS) {
    const results = [];
    for (let i = 0; i < RUNS; i++) results.push(await once(config.extra));
    rows.push(
      `| ${config.name} | ${results.map((r) => `${r.failed} of ${r.sent}`).join(', ')} | ${results.map((r) => `${(r.ms / 1000).toFixed(2)} s`).join(', ')} | ${results.map((r) => r.rate).join('; ')} |`,
    );
  }
  console.log(
    [
      '| HAProxy backend | GETs failed for users (each run) | weights of the 20% step to the rollback | the judge named |',
      '|---|---|---|---|',
      ...rows,
    ].join('\n'),
  );
}

await main();
