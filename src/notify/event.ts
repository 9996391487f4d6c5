/** What every notification says, whatever its format: the event, its verdict, the run's facts and links. */
import type { EventKind } from '../model/notify.js';
import { formatPercent } from '../model/format.js';
import { runUrl } from '../report/deployment.js';
import type { Settings } from '../settings.js';

/** One event as a use case or the engine reports it. */
export interface Notification {
  readonly event: EventKind;
  /** One sentence: for an end of run, the same the job summary's headline writes. */
  readonly verdict: string;
  readonly step?: { readonly index: number; readonly of: number };
  /** The new version's share of traffic, in percent. */
  readonly share?: number;
  /** The new version's requests and failed ones (the step's, or the run's at its end). */
  readonly counts?: { readonly requests: number; readonly failed: number };
  /** The pool that serves (stable) and the one with the new version. */
  readonly pools?: { readonly stable: string; readonly new: string };
  readonly previewKey?: string;
}

/** What stays the same for every event of one run. */
export interface RunFacts {
  readonly action: string;
  readonly strategy: string | undefined;
  readonly version: string;
  readonly environment: string | undefined;
  readonly loadBalancer: string;
  readonly runUrl: string | undefined;
  /** The workflow's page, where it can be run again (e.g. with action: promote or abort). */
  readonly workflowUrl: string | undefined;
}

/** A notification ready to send: numbered in the run's order, with its facts and links. */
export interface Envelope extends Notification {
  /** Unique per event and the same on every attempt, so a receiver can drop a retried duplicate. */
  readonly id: string;
  /** 1, 2, 3... among the events this target gets: a gap is a lost delivery. */
  readonly sequence: number;
  readonly at: Date;
  readonly facts: RunFacts;
  readonly links: { readonly run?: string; readonly promote?: string; readonly abort?: string };
}

/** The workflow file's page, from GITHUB_WORKFLOW_REF (`owner/repo/.github/workflows/deploy.yml@refs/heads/main`). */
export function workflowUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const match = /^([^/]+\/[^/]+)\/\.github\/workflows\/([^@]+)@/.exec(env.GITHUB_WORKFLOW_REF ?? '');
  const server = env.GITHUB_SERVER_URL;
  return match && server ? `${server}/${match[1]}/actions/workflows/${match[2]}` : undefined;
}

export function runFacts(settings: Settings, env: NodeJS.ProcessEnv = process.env): RunFacts {
  return {
    action: settings.action,
    strategy: settings.strategy?.name,
    version: settings.version,
    environment: settings.environment || undefined,
    loadBalancer: settings.loadBalancer.display,
    runUrl: runUrl(env),
    workflowUrl: workflowUrl(env),
  };
}

/** A paused rollout is continued or undone by running the workflow again (promote or abort), or in this run's page. */
export function linksOf(event: EventKind, facts: RunFacts): Envelope['links'] {
  const run = facts.runUrl;
  if (event !== 'paused') return run ? { run } : {};
  const next = facts.workflowUrl ?? run;
  return { ...(run ? { run } : {}), ...(next ? { promote: next, abort: next } : {}) };
}

const TITLES: Record<EventKind, string> = {
  started: '🚀 Started',
  promoted: '▶️ Promoted',
  'step-passed': '✅ Step passed',
  paused: '⏸️ Paused for approval',
  'rolled-back': '↩️ Rolled back',
  succeeded: '✅ Succeeded',
  failed: '❌ Failed',
  aborted: '🛑 Aborted',
  'preview-opened': '🔎 Preview opened',
  'preview-closed': '🧹 Preview closed',
};

/** `✅ Step 2/3 passed: v2 to production`, the headline of chat messages. */
export function titleOf(e: Envelope): string {
  const what = e.event === 'step-passed' && e.step ? `✅ Step ${e.step.index}/${e.step.of} passed` : TITLES[e.event];
  const where = e.facts.environment ? ` to ${e.facts.environment}` : '';
  const preview = e.previewKey ? ` (preview ${e.previewKey})` : '';
  return `${what}: ${e.facts.version}${where}${preview}`;
}

/** The facts chat messages list, as label and value. */
export function factsOf(e: Envelope): [string, string][] {
  const facts: [string, string][] = [];
  const strategy = e.facts.strategy ?? e.facts.action;
  facts.push(['Strategy', strategy], ['Version', e.facts.version]);
  if (e.facts.environment) facts.push(['Environment', e.facts.environment]);
  if (e.step) facts.push(['Step', `${e.step.index} of ${e.step.of}`]);
  if (e.share !== undefined) facts.push(['Share on new version', formatPercent(e.share)]);
  if (e.pools) facts.push(['Pools', `${e.pools.stable} (stable), ${e.pools.new} (new)`]);
  if (e.counts) facts.push(['New version: requests / failed', `${e.counts.requests} / ${e.counts.failed}`]);
  if (e.previewKey) facts.push(['Preview key', e.previewKey]);
  return facts;
}
