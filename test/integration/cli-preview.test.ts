/**
 * Previews through the built CLI on a real HAProxy configured with the README's preview lines, without GitHub:
 * `preview` routes the key to the build (1000 keyed requests, none elsewhere), `close-preview` removes it, with
 * keyed load flowing and 0 failed requests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, flags, runCli, workflowCommandLines } from '../helpers/cli.js';
import { requestsExactly, startLoad } from '../helpers/load.js';
import { startPreviewLab, type PreviewLab } from '../helpers/previews.js';

let lab: PreviewLab | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

describe('previews through the CLI', () => {
  it('preview routes pr-7 to its build and only it; close-preview takes it away; 0 failed requests', async () => {
    const l = (lab = await startPreviewLab());
    const address = await l.build('pr7-build');
    // No GitHub: the lab's github-token is left out.
    const inputs = l.inputs({ 'preview-key': 'pr-7', version: 'abc1234' });
    delete inputs['github-token'];
    const env = cleanEnv();
    const opened = await runCli(['preview', ...flags({ ...inputs, 'preview-address': address })], { env });
    expect(opened.code, opened.stdout + opened.stderr).toBe(0);
    expect(opened.stdout).toMatch(/result succeeded/);
    const keyed = await requestsExactly(l.url, 1000, { 'x-preview': 'pr-7' });
    const other = await requestsExactly(l.url, 200, { 'x-preview': 'pr-8' });
    expect(keyed.versions).toEqual({ 'pr7-build': 1000 });
    expect(other.versions).toEqual({ v1: 200 });

    const during = startLoad(l.url, { rps: 200, maxMs: 30_000, headers: { 'x-preview': 'pr-7' } });
    await new Promise((r) => setTimeout(r, 300));
    const closed = await runCli(['close-preview', ...flags(inputs)], { env });
    await new Promise((r) => setTimeout(r, 300));
    const stats = await during.stop();
    expect(closed.code, closed.stdout + closed.stderr).toBe(0);
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
    expect((await requestsExactly(l.url, 200, { 'x-preview': 'pr-7' })).versions).toEqual({ v1: 200 });
    expect(workflowCommandLines(opened.stdout + opened.stderr + closed.stdout + closed.stderr)).toEqual([]);
  }, 55_000);
});
