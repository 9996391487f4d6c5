/**
 * Refreshes docs/images/job-summary.png, the README's picture of a real job summary:
 *   npx tsx scripts/summary-picture.ts [--bad] [--out FILE] [--from SUMMARY.md]
 * (--from renders a summary saved before instead of running the demo; each run saves its summary beside the page.)
 * Runs the demo's canary (HAProxy and four app processes on loopback, load flowing, the bundled action run as the
 * runner runs it), renders the job summary it wrote with marked and its Mermaid chart with mermaid (both dev
 * dependencies, loaded from node_modules), and takes a headless screenshot with Debian's chromium
 * (`apt-get install chromium fonts-noto-color-emoji`: the summary's ✅ and ❌ need the emoji font). Needs dist/ built and
 * haproxy installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { marked } from 'marked';
import { ROOT, runAction } from '../test/helpers/action.js';
import { startLoad } from '../test/helpers/load.js';
import { poolInputs, startPools } from '../test/helpers/pools.js';

const WIDTH = 1012;
const bad = process.argv.includes('--bad');
const outAt = process.argv.indexOf('--out');
const fromAt = process.argv.indexOf('--from');
const out = resolve(outAt > 0 ? (process.argv[outAt + 1] ?? '') : join(ROOT, 'docs/images/job-summary.png'));

/** The job summary of one demo canary, as the action wrote it to GITHUB_STEP_SUMMARY. */
async function demoSummary(): Promise<string> {
  const lab = await startPools();
  try {
    const load = startLoad(lab.url, { rps: 100, maxMs: 110_000 });
    const run = await runAction(
      poolInputs(lab, { strategy: 'canary', steps: '20% 6s, 50% 6s, 100%', 'analysis-interval': '3s', version: 'v2' }),
      { env: { ...lab.fleet.env, ...(bad ? { APP_NEXT_FAIL_RATE: '0.3' } : {}) } },
    );
    const stats = await load.stop();
    console.log(`result=${run.outputs.result}; ${stats.sent} requests sent during the rollout, ${stats.failed} failed`);
    return run.summary;
  } finally {
    await lab.stop();
  }
}

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The summary as GitHub shows it: Markdown to HTML, ```mermaid blocks as diagrams, <details> closed. */
export function summaryPage(summary: string, mermaidUrl: string): string {
  const mermaidBlocks: string[] = [];
  const markdown = summary.replace(/^```mermaid\n([\s\S]*?)^```$/gm, (_m, chart: string) => {
    mermaidBlocks.push(chart);
    return `<pre class="mermaid">${escapeHtml(chart)}</pre>`;
  });
  const body = marked.parse(markdown, { async: false }) as string;
  if (mermaidBlocks.length === 0) throw new Error('the job summary has no Mermaid chart');
  return `<!doctype html><html><head><meta charset="utf-8"><style>
body { font: 14px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; color: #1f2328;
       margin: 0; padding: 24px 32px; width: ${WIDTH - 64}px; background: #fff; }
h1, h2, h3 { border-bottom: 1px solid #d1d9e0; padding-bottom: .3em; } h2 { font-size: 1.4em; } h3 { font-size: 1.15em; }
table { border-collapse: collapse; margin: 12px 0; display: block; overflow: auto; }
th, td { border: 1px solid #d1d9e0; padding: 5px 11px; } tr:nth-child(2n) { background: #f6f8fa; }
code { background: #eff1f3; padding: .1em .35em; border-radius: 6px; font-size: 85%; }
pre.mermaid { background: none; text-align: center; }
</style><script src="${mermaidUrl}"></script></head><body>${body}
<script>
mermaid.initialize({ startOnLoad: false, theme: 'default',
  themeVariables: { xyChart: { plotColorPalette: '#0969da', backgroundColor: '#ffffff' } } });
mermaid.run().then(() => { document.title = 'height=' + document.documentElement.scrollHeight; });
</script></body></html>`;
}

function chromium(args: string[]): string {
  const profile = mkdtempSync(join(tmpdir(), 'zdd-chromium-'));
  try {
    return execFileSync(
      'chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--hide-scrollbars',
        `--user-data-dir=${profile}`,
        '--virtual-time-budget=15000',
        ...args,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, maxBuffer: 64 << 20 },
    );
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

if (spawnSync('sh', ['-c', 'command -v chromium'], { stdio: 'ignore' }).status !== 0) {
  console.error("summary-picture needs Debian's chromium: apt-get install -y chromium");
  process.exit(1);
}
const require = createRequire(import.meta.url);
const mermaidUrl = pathToFileURL(join(dirname(require.resolve('mermaid/package.json')), 'dist/mermaid.min.js')).href;
const dir = mkdtempSync(join(tmpdir(), 'zdd-summary-'));
const page = join(dir, 'summary.html');
const summary = fromAt > 0 ? readFileSync(process.argv[fromAt + 1] ?? '', 'utf8') : await demoSummary();
writeFileSync(join(dir, 'summary.md'), summary);
console.log(`summary saved as ${join(dir, 'summary.md')}`);
writeFileSync(page, summaryPage(summary, mermaidUrl));
// First pass: the page's height once the chart is drawn; second: the screenshot at that height.
const dom = chromium(['--dump-dom', pathToFileURL(page).href]);
const height = Number(/<title>height=(\d+)<\/title>/.exec(dom)?.[1]);
if (!height) throw new Error('the chart did not render (no height in the page title)');
chromium([`--window-size=${WIDTH},${height}`, `--screenshot=${out}`, pathToFileURL(page).href]);
console.log(`wrote ${out} (${WIDTH}x${height})`);
