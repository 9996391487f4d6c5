/**
 * Every input the action reads, in one place: raw strings -> zod -> one typed Settings object.
 * All problems are reported at once, each prefixed with the input's name.
 */
import { readFileSync } from 'node:fs';
import * as core from '@actions/core';
import { z } from 'zod';
import { formatDuration, parseDuration } from './model/durations.js';
import { rawTextProblem } from './model/raw-text.js';
import { DEFAULT_LATENCY_INCREASE, parseLatencyLimit, parseLatencyTolerance } from './model/latency.js';
import { NAME_PATTERN, parseSelector, splitList, type Selector } from './model/selectors.js';
import { InputError } from './model/errors.js';
import { redactUrlPasswords, urlPasswords } from './model/credentials.js';
import { notifySecrets, parseNotifyTargets } from './model/notify.js';
import { parseCheckSecrets, parseChecks, secretsUsed } from './model/checks.js';
import {
  capabilitiesOf,
  driverInputs,
  driverOptions,
  exampleUrl,
  inputOwners,
  kindsOf,
  parseLoadBalancer,
  schemesWith,
} from './lb/registry.js';
import {
  ACTIONS,
  DRAIN_LONG_LIVED,
  STRATEGIES,
  type ActionName,
  type BatchSize,
  type CanaryStep,
  type PoolSpec,
  type PreviewCanary,
  type Settings,
  type StatusRanges,
  type Strategy,
  type StrategyName,
} from './settings.js';

/**
 * Defaults applied when an input is empty. action.yml declares the same ones (a test keeps them equal), so a
 * run outside the Actions runner, where nothing fills INPUT_* from action.yml, behaves the same.
 */
const CORE_DEFAULTS = {
  action: 'deploy',
  strategy: '',
  'load-balancer': '',
  'load-balancer-token': '',
  targets: '',
  pools: '',
  steps: '10% 1m, 50% 1m, 100%',
  'batch-size': '1',
  'one-version-per-user': 'false',
  'deploy-command': '',
  'rollback-command': '',
  'health-url': '',
  'check-url': '',
  'expect-status': '200-399',
  'expect-body': '',
  'probe-interval': '2s',
  'probe-timeout': '2s',
  'healthy-threshold': '2',
  'unhealthy-threshold': '2',
  'max-error-rate': '1%',
  'min-requests': '20',
  'false-rollback-rate': '1%',
  'max-latency-increase': DEFAULT_LATENCY_INCREASE,
  'max-latency': '',
  'analysis-interval': '30s',
  'drain-timeout': '30s',
  'drain-long-lived': 'wait',
  'startup-timeout': '2m',
  timeout: '30m',
  version: '',
  environment: '',
  'environment-url': '',
  'production-environment': 'false',
  'github-token': '',
  'preview-key': '',
  'preview-address': '',
  'preview-canary': '',
  'dry-run': 'false',
  'take-over-lock': '',
  notify: '',
  checks: '',
  'check-secrets': '',
} as const satisfies Record<string, string>;

export type InputName = keyof typeof CORE_DEFAULTS;

/** Every input with its default: the action's own, then each load balancer driver's. */
export const INPUT_DEFAULTS: Readonly<Record<string, string>> = { ...CORE_DEFAULTS, ...driverInputs() };
export const INPUT_NAMES = Object.keys(INPUT_DEFAULTS);

/** Inputs whose values are masked in every log line. */
export const SECRET_INPUTS: readonly InputName[] = ['load-balancer-token', 'github-token', 'check-secrets'];

/** Reads one input's raw text (core.getInput in the action, a map in tests). */
export type InputReader = (name: string) => string;

/** What the run's context supplies for defaults: the commit (a pull request's head, not its merge commit) and the pull request, if any. */
export interface RunContext {
  readonly sha: string;
  readonly pullRequestNumber: number | undefined;
}

/** A zod schema from a string through a parser that returns a value or `{ error }`. */
function parsed<T>(parse: (text: string) => T | { error: string }) {
  return z.string().transform((text, ctx): T => {
    const result = parse(text);
    if (typeof result === 'object' && result !== null && 'error' in result && typeof result.error === 'string') {
      ctx.addIssue({ code: 'custom', message: result.error });
      return z.NEVER;
    }
    return result as T;
  });
}

function oneOf<T extends string>(allowed: readonly T[]) {
  return parsed((text): T | { error: string } =>
    (allowed as readonly string[]).includes(text)
      ? (text as T)
      : { error: `'${text}' is not one of ${allowed.join(', ')}` },
  );
}

function duration(min: number, minText: string) {
  return parsed((text) => {
    const ms = parseDuration(text);
    if (typeof ms !== 'number') return ms;
    return ms < min ? { error: `'${text}' is shorter than ${minText}` } : ms;
  });
}

function integer(min: number, max: number) {
  return parsed((text) => {
    if (!/^\d+$/.test(text.trim())) return { error: `'${text}' is not a whole number` };
    const n = Number(text);
    return n < min || n > max ? { error: `${n} is outside ${min}-${max}` } : n;
  });
}

function percent(text: string): number | { error: string } {
  const match = /^(\d+(?:\.\d+)?)\s*%$/.exec(text.trim());
  if (!match) return { error: `'${text}' is not a percentage (e.g. 1% or 0.5%)` };
  const value = Number(match[1]);
  return value > 100 ? { error: `${value}% is over 100%` } : value;
}

function selectors(text: string): Selector[] | { error: string } {
  const items = splitList(text);
  if (items.length === 0) return { error: 'names no servers (e.g. app/*)' };
  const result: Selector[] = [];
  for (const item of items) {
    const selector = parseSelector(item);
    if ('error' in selector) return selector;
    result.push(selector);
  }
  return result;
}

export function parseSteps(text: string): CanaryStep[] | { error: string } {
  const items = text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) return { error: 'needs at least one step, ending with 100%' };
  const steps: CanaryStep[] = [];
  for (const item of items) {
    const match = /^(\d+(?:\.\d+)?)%(?:\s+(\S+))?$/.exec(item);
    if (!match) return { error: `'${item}' is not WEIGHT% [PAUSE] (e.g. 10% 1m, 50% approval, 100%)` };
    const weight = Number(match[1]);
    if (weight > 100) return { error: `weight ${weight}% is over 100%` };
    if (weight <= 0) return { error: `weight ${weight}% must be above 0%` };
    const previous = steps.at(-1);
    if (previous && weight <= previous.weight) {
      return { error: `weights must increase: ${weight}% comes after ${previous.weight}%` };
    }
    const pauseText = match[2];
    let pause: CanaryStep['pause'] = { kind: 'none' };
    if (pauseText === 'approval') pause = { kind: 'approval' };
    else if (pauseText !== undefined) {
      const ms = parseDuration(pauseText);
      if (typeof ms !== 'number') return { error: `pause of step ${weight}%: ${ms.error}` };
      pause = { kind: 'duration', ms };
    }
    steps.push({ weight, pause });
  }
  const last = steps.at(-1);
  if (last && last.weight !== 100) return { error: `the last step must be 100%, got ${last.weight}%` };
  if (last && last.pause.kind === 'approval')
    return { error: 'the last step (100%) cannot wait for approval: nothing follows it' };
  return steps;
}

export function parsePools(text: string): [PoolSpec, PoolSpec] | { error: string } {
  const items = text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
  const pools: PoolSpec[] = [];
  for (const item of items) {
    const match = /^([A-Za-z0-9_-]+)\s*=\s*(.+)$/.exec(item);
    if (!match) return { error: `'${item}' is not NAME=SELECTOR [SELECTOR...] (e.g. blue=app/blue*)` };
    const list = selectors(match[2] ?? '');
    if ('error' in list) return { error: `pool ${match[1]}: ${list.error}` };
    const name = match[1] ?? '';
    if (pools.some((p) => p.name === name)) return { error: `pool '${name}' is named twice` };
    pools.push({ name, selectors: list });
  }
  if (pools.length !== 2)
    return { error: `needs exactly two pools, got ${pools.length} (e.g. blue=app/blue*, green=app/green*)` };
  return [pools[0], pools[1]] as [PoolSpec, PoolSpec];
}

function batchSize(text: string): BatchSize | { error: string } {
  const value = text.trim();
  if (value.endsWith('%')) {
    const p = percent(value);
    if (typeof p !== 'number') return p;
    return p <= 0 ? { error: 'must be above 0%' } : { kind: 'percent', percent: p };
  }
  if (!/^\d+$/.test(value) || Number(value) < 1)
    return { error: `'${value}' is not a whole number of servers (1 or more) or a percentage` };
  return { kind: 'count', count: Number(value) };
}

function statusRanges(text: string): StatusRanges | { error: string } {
  const ranges: [number, number][] = [];
  for (const item of splitList(text)) {
    const match = /^(\d{3})(?:-(\d{3}))?$/.exec(item);
    if (!match) return { error: `'${item}' is not a status code or range (e.g. 200, 200-299)` };
    const low = Number(match[1]);
    const high = Number(match[2] ?? match[1]);
    if (low < 100 || high > 599 || low > high) return { error: `'${item}' is not a range within 100-599` };
    ranges.push([low, high]);
  }
  return ranges.length ? ranges : { error: 'is empty' };
}

const PLACEHOLDERS = ['address', 'host', 'port', 'server', 'backend', 'pool'];

function httpUrl(text: string, allowPlaceholders: boolean): string | { error: string } {
  if (text === '') return '';
  let sample = text;
  if (allowPlaceholders) {
    for (const name of text.match(/\{[^}]*\}/g) ?? []) {
      if (!PLACEHOLDERS.includes(name.slice(1, -1))) {
        return { error: `unknown placeholder ${name}; use ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}` };
      }
    }
    sample = text
      .replaceAll('{address}', '127.0.0.1:80')
      .replaceAll('{host}', '127.0.0.1')
      .replaceAll('{port}', '80')
      .replace(/\{(server|backend|pool)\}/g, 'x');
  }
  if (urlPasswords(text).length)
    return {
      error: `'${redactUrlPasswords(text)}' holds a password: it would be printed in logs and the job summary; give a URL without credentials`,
    };
  try {
    const url = new URL(sample);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return { error: `'${text}' must start with http:// or https://` };
  } catch {
    return { error: `'${text}' is not a URL (e.g. http://{address}/health)` };
  }
  return text;
}

function boolean(text: string): boolean | { error: string } {
  if (['true', 'True', 'TRUE'].includes(text)) return true;
  if (['false', 'False', 'FALSE'].includes(text)) return false;
  return { error: `'${text}' is not true or false` };
}

/** A load balancer resolves no names for servers added at run time, so a preview address is an IPv4 address and a port. */
function previewAddress(text: string): string | { error: string } {
  if (text === '') return '';
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/.exec(text);
  if (!match) {
    return {
      error: `'${text}' is not IP:PORT (e.g. 10.0.3.7:8080); the load balancer does not resolve host names for servers added at run time`,
    };
  }
  const port = Number(match[5]);
  if (match.slice(1, 5).some((octet) => Number(octet) > 255) || port < 1 || port > 65535)
    return { error: `'${text}' is not a valid IPv4 address and port` };
  return text;
}

/** `BACKEND PERCENT% DURATION`: the preview also serves that share of the backend's real traffic for that long. */
export function parsePreviewCanary(text: string): PreviewCanary | { error: string } {
  const match = /^(\S+)\s+(\d+(?:\.\d+)?)%\s+(\S+)$/.exec(text.trim());
  if (!match) return { error: `'${text}' is not BACKEND PERCENT% DURATION (e.g. app 5% 10m)` };
  const [, backend = '', percentText = '', durationText = ''] = match;
  if (!NAME_PATTERN.test(backend))
    return { error: `'${backend}' is not a backend name (letters, digits, '-', '_', '.', ':')` };
  const percent = Number(percentText);
  if (percent <= 0 || percent > 50)
    return { error: `${percent}% is not a canary share: give more than 0% and at most 50%` };
  const durationMs = parseDuration(durationText);
  if (typeof durationMs !== 'number') return { error: `duration ${durationMs.error}` };
  return { backend, percent, durationMs };
}

/** Letters, digits, '.', '_', '-', '+' and '/': a version label, a tag or a branch name, nothing a shell interprets. */
export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+/-]{0,127}$/;

/** Whether the text holds a control character (tab and newline allowed when `lines`). */
function hasControl(text: string, lines = false): boolean {
  return [...text].some((c) => {
    const code = c.charCodeAt(0);
    return (code < 32 || code === 127) && !(lines && (c === '\t' || c === '\n'));
  });
}

/** A token: one line, no control characters (never echoed: it is masked). */
function secret(text: string): string | { error: string } {
  return hasControl(text)
    ? { error: 'holds a line break or control character; give the token alone (it is masked, so it is not shown here)' }
    : text;
}

/** A shell command: text bash can take (no NUL or other control characters than tab and newline). */
function command(text: string): string | { error: string } {
  return hasControl(text, true)
    ? { error: 'holds a control character (other than tab or newline), which bash cannot be given' }
    : text;
}

function optional<T>(parse: (text: string) => T | { error: string }) {
  return (text: string) => (text.trim() === '' ? undefined : parse(text));
}

const schema = z.object({
  action: oneOf(ACTIONS),
  strategy: parsed(
    optional((t) =>
      (STRATEGIES as readonly string[]).includes(t)
        ? (t as StrategyName)
        : { error: `'${t}' is not one of ${STRATEGIES.join(', ')}` },
    ),
  ),
  'load-balancer': parsed((t) =>
    t.trim() === '' ? { error: `is required (e.g. ${exampleUrl()})` } : parseLoadBalancer(t),
  ),
  'load-balancer-token': parsed(secret),
  targets: parsed(optional(selectors)),
  pools: parsed(optional(parsePools)),
  steps: parsed(parseSteps),
  'batch-size': parsed(batchSize),
  'one-version-per-user': parsed(boolean),
  'deploy-command': parsed(command),
  'rollback-command': parsed(command),
  'health-url': parsed((t) => httpUrl(t, true)),
  'check-url': parsed((t) => httpUrl(t, false)),
  'expect-status': parsed(statusRanges),
  'expect-body': parsed((t) =>
    t.length <= 1000 && !hasControl(t)
      ? t
      : { error: 'must be one line of at most 1000 characters (text the probe body must contain)' },
  ),
  'probe-interval': duration(100, '100ms'),
  'probe-timeout': duration(100, '100ms'),
  'healthy-threshold': integer(1, 100),
  'unhealthy-threshold': integer(1, 100),
  'max-error-rate': parsed(percent),
  'min-requests': integer(0, 1_000_000),
  'false-rollback-rate': parsed((t) => {
    const p = percent(t);
    if (typeof p !== 'number') return p;
    return p <= 0 || p > 10 ? { error: `${p}% is not a false-rollback bound: give more than 0% and at most 10%` } : p;
  }),
  'max-latency-increase': parsed(parseLatencyTolerance),
  'max-latency': parsed(parseLatencyLimit),
  'analysis-interval': duration(1000, '1s'),
  'drain-timeout': duration(0, '0s'),
  'drain-long-lived': oneOf(DRAIN_LONG_LIVED),
  'startup-timeout': duration(1000, '1s'),
  timeout: duration(1000, '1s'),
  // A label, never shell syntax: it reaches remote shells through commands users write (see docs/connecting.md).
  version: parsed((t) =>
    VERSION_PATTERN.test(t)
      ? t
      : {
          error: `'${t}' may hold only letters, digits, '.', '_', '-', '+' and '/' (a branch name such as feature/x is fine), starting with a letter or digit, at most 128`,
        },
  ),
  environment: parsed((t) =>
    t.length <= 255 && !/[\n\r]/.test(t)
      ? t
      : { error: 'must be a GitHub environment name (one line, at most 255 characters)' },
  ),
  'environment-url': parsed((t) => httpUrl(t, false)),
  'production-environment': parsed(boolean),
  'github-token': parsed(secret),
  'preview-key': parsed((t) =>
    t === '' || /^[A-Za-z0-9._-]{1,63}$/.test(t)
      ? t
      : { error: `'${t}' may hold only letters, digits, '.', '_' and '-' (at most 63)` },
  ),
  'preview-address': parsed(previewAddress),
  'preview-canary': parsed(optional(parsePreviewCanary)),
  'dry-run': parsed((t) => (t === 'checks' ? ('checks' as const) : boolean(t))),
  'take-over-lock': parsed((t) =>
    t === '' || NAME_PATTERN.test(t)
      ? t
      : { error: `'${t}' is not a lock holder's id (letters, digits, '.', '_', ':', '-'), as the refusal names it` },
  ),
  notify: parsed(parseNotifyTargets),
  checks: parsed(parseChecks),
  'check-secrets': parsed(parseCheckSecrets),
});

type Parsed = z.infer<typeof schema>;

/** Rules between inputs; each problem names the input to change. */
function crossCheck(v: Parsed, raw: Readonly<Record<string, string>>): string[] {
  const problems: string[] = [];
  const action: ActionName = v.action;
  const strategy = v.strategy;
  const usesPools = strategy === 'blue-green' || strategy === 'canary';
  if (action === 'deploy' && !strategy)
    problems.push(`strategy: is required for action deploy (${STRATEGIES.join(', ')})`);
  if (strategy === 'rolling' && !v.targets) problems.push('targets: is required for strategy rolling (e.g. app/*)');
  if (strategy === 'rolling' && v.pools)
    problems.push('pools: strategy rolling updates targets in place; use targets, or strategy blue-green or canary');
  if (usesPools && !v.pools)
    problems.push(`pools: is required for strategy ${strategy} (e.g. blue=app/blue*, green=app/green*)`);
  if (usesPools && v.targets && action !== 'preview')
    problems.push(`targets: strategy ${strategy} moves traffic between pools; use pools instead`);
  for (const use of secretsUsed(v.checks))
    if (!v['check-secrets'].has(use.name))
      problems.push(
        `checks: ${use.check}: ${use.field}: check-secrets has no ${use.name} (give ${use.name}=\${{ secrets.${use.name} }} in check-secrets)`,
      );
  if (strategy === 'rolling')
    for (const check of v.checks.filter((c) => c.at === 'before-promotion' || c.at === 'after'))
      problems.push(
        `checks: ${check.name}: at: ${check.at} is for strategy canary and blue-green; rolling runs before-traffic and during per batch, and rollback when a batch fails`,
      );
  if (raw.steps !== INPUT_DEFAULTS.steps && raw.steps !== '' && strategy !== 'canary')
    problems.push('steps: only used by strategy canary');
  if (v['one-version-per-user'] && action === 'deploy' && !usesPools)
    problems.push(
      `one-version-per-user: needs strategy canary or blue-green${strategy === 'rolling' ? ' (rolling restarts the servers a user is on, one batch after another)' : ''}`,
    );
  if (raw['batch-size'] !== INPUT_DEFAULTS['batch-size'] && raw['batch-size'] !== '' && strategy !== 'rolling')
    problems.push('batch-size: only used by strategy rolling');
  if (!usesPools && v['health-url'].includes('{pool}'))
    problems.push('health-url: {pool} needs strategy blue-green or canary');
  if (v['environment-url'] && !v.environment && action !== 'preview' && action !== 'close-preview')
    problems.push('environment-url: needs environment');
  if (v['production-environment'] && !v.environment) problems.push('production-environment: needs environment');
  if (v['dry-run'] && action !== 'deploy') problems.push(`dry-run: only applies to action deploy, not ${action}`);
  if (strategy === 'canary' && v.steps.some((s) => s.pause.kind === 'approval') && !v.environment) {
    problems.push(
      'steps: an approval step needs environment (the paused rollout is recorded on its GitHub deployment)',
    );
  }
  if (v['deploy-command'] && action !== 'deploy' && action !== 'preview')
    problems.push(`deploy-command: only used by action deploy and preview, not ${action}`);
  if (v['rollback-command'] && action !== 'deploy')
    problems.push(`rollback-command: only used by action deploy, not ${action}`);
  if (v['rollback-command'] && !v['deploy-command'] && action === 'deploy') {
    problems.push('rollback-command: needs deploy-command (there is nothing of ours to roll back)');
  }
  if (action === 'promote' || action === 'abort' || action === 'status') {
    if (!v.environment)
      problems.push(
        `environment: action ${action} needs the environment whose GitHub deployment holds the rollout record`,
      );
    // abort also ends a rolling rollout, which has no pools: the record says whether it needs them.
    if (!v.pools && action !== 'abort')
      problems.push(`pools: action ${action} needs the pools of the rollout (e.g. blue=app/blue*, green=app/green*)`);
  }
  if (action === 'preview' && !v['preview-address'] && !v.targets)
    problems.push('preview-address: action preview needs preview-address or targets');
  if (action === 'preview' && v['preview-address'] && v.targets)
    problems.push('preview-address: give preview-address or targets, not both');
  const previewing = action === 'preview' || action === 'close-preview';
  if (previewing && !v['preview-key']) {
    problems.push(`preview-key: action ${action} needs preview-key outside a pull_request event`);
  }
  const lb = v['load-balancer'];
  if (previewing && !capabilitiesOf(lb).previews) {
    problems.push(
      `load-balancer: action ${action} needs a load balancer that routes previews (${schemesWith('previews')}); ${lb.kind === 'fleet' ? 'a fleet of several load balancers' : `${lb.scheme}://`} cannot in this release`,
    );
  }
  if (previewing && strategy)
    problems.push(
      `strategy: action ${action} takes no strategy (it routes one preview key, nobody else's traffic moves)`,
    );
  if (previewing && v.pools) problems.push(`pools: action ${action} takes no pools; use preview-address or targets`);
  const closeTakesKeyOnly = 'close-preview removes whatever the key routes to; give only preview-key';
  if (action === 'close-preview' && v.targets) problems.push(`targets: ${closeTakesKeyOnly}`);
  if (action !== 'preview' && v['preview-canary']) problems.push('preview-canary: only used by action preview');
  if (v['preview-canary'] && v['preview-canary'].durationMs < v['analysis-interval']) {
    problems.push('preview-canary: its duration is shorter than analysis-interval, so no window could be judged');
  }
  if (action !== 'preview' && v['preview-address']) {
    problems.push(`preview-address: ${action === 'close-preview' ? closeTakesKeyOnly : 'only used by action preview'}`);
  }
  const kinds = kindsOf(lb);
  const owners = inputOwners();
  // An input two drivers share (preview-backend) is refused only when no driver of this run reads it.
  const used = new Set(owners.filter((o) => kinds.includes(o.kind)).flatMap((o) => Object.keys(o.inputs)));
  for (const owner of owners) {
    if (kinds.includes(owner.kind)) continue;
    const where = owner.schemes.map((s) => `${s}://`).join(' or ');
    for (const [name, fallback] of Object.entries(owner.inputs)) {
      if (!used.has(name) && (raw[name] ?? fallback) !== fallback)
        problems.push(`${name}: only used with load-balancer ${where}`);
    }
  }
  if (
    v['take-over-lock'] &&
    !['deploy', 'promote', 'abort'].includes(action) &&
    !(action === 'preview' && v['preview-canary'])
  )
    problems.push(
      `take-over-lock: only used by action deploy, promote and abort, and by preview with preview-canary, not ${action}${action === 'preview' ? ' without preview-canary' : ''}`,
    );
  problems.push(...drainLongLivedProblems(v));
  if (v['take-over-lock'] && v['dry-run']) problems.push('take-over-lock: a dry run takes no lock');
  if (v['dry-run'] === 'checks' && v.checks.length === 0)
    problems.push('dry-run: checks tries the checks input once, and there are no checks; give dry-run: true');
  const pausesMs = v.steps.reduce((sum, s) => sum + (s.pause.kind === 'duration' ? s.pause.ms : 0), 0);
  if (strategy === 'canary' && action === 'deploy' && pausesMs > v.timeout)
    problems.push(
      `timeout: ${raw.timeout} is shorter than the pauses of steps alone (${formatDuration(pausesMs)} in '${raw.steps}'), so the run could end only by its timeout and a rollback; raise timeout or shorten the steps' pauses`,
    );
  if (v['probe-timeout'] > v['probe-interval'] * 10)
    problems.push('probe-timeout: is more than ten probe-intervals; a hung server would stall the checks');
  return problems;
}

/** Where a drain-long-lived policy other than wait can act: a rolling deploy on a load balancer that closes connections. */
function drainLongLivedProblems(v: Parsed): string[] {
  const policy = v['drain-long-lived'];
  if (policy === 'wait') return [];
  if (v.strategy !== 'rolling' || v.action !== 'deploy')
    return [
      `drain-long-lived: ${policy} applies to strategy rolling, which drains each batch before its deploy-command; blue-green and canary leave the old pool's connections open`,
    ];
  const lb = v['load-balancer'];
  if (capabilitiesOf(lb).closesConnections) return [];
  const why: Record<string, string> = {
    nginx:
      "nginx cannot close one server's connections: a reload leaves them on the old workers until they end or worker_shutdown_timeout passes (docs/strategies.md#long-lived-connections)",
    'aws-alb':
      "ALB keeps a deregistered target's connections for the target group's deregistration delay and has no call that closes them sooner: lower deregistration_delay.timeout_seconds instead (docs/strategies.md#long-lived-connections)",
  };
  // A fleet names only the members that cannot (HAProxy members can).
  const reasons = [...new Set(kindsOf(lb).flatMap((k) => (why[k] ? [why[k]] : [])))];
  const because = reasons.length ? reasons.join('; ') : "this load balancer cannot close a server's connections";
  return [
    `drain-long-lived: ${policy} needs a load balancer that closes a server's connections (haproxy); ${because}; use wait`,
  ];
}

function toStrategy(v: Parsed): Strategy | undefined {
  switch (v.strategy) {
    case 'rolling':
      return v.targets ? { name: 'rolling', targets: v.targets, batchSize: v['batch-size'] } : undefined;
    case 'blue-green':
      return v.pools ? { name: 'blue-green', pools: v.pools } : undefined;
    case 'canary':
      return v.pools ? { name: 'canary', pools: v.pools, steps: v.steps } : undefined;
    default:
      return undefined;
  }
}

/** Inputs that may span lines (lists and commands); every other input is one line. */
const MULTI_LINE: ReadonlySet<string> = new Set([
  'load-balancer',
  'targets',
  'pools',
  'steps',
  'deploy-command',
  'rollback-command',
  'notify',
  'checks',
  'nginx-test-command',
  'nginx-reload-command',
]);

/** Every input's raw text checked before it is parsed: no parser can drop what it holds unseen. */
function rawTextProblems(raw: Readonly<Record<string, string>>): string[] {
  return Object.entries(raw).flatMap(([name, text]) => {
    // A token's own check says what to do without showing it.
    if ((SECRET_INPUTS as readonly string[]).includes(name)) return [];
    const problem = rawTextProblem(text, MULTI_LINE.has(name));
    return problem ? [`${name}: ${problem}`] : [];
  });
}

/** Reads and checks every input. Throws InputError naming every problem; touches nothing. */
export function readInputs(read: InputReader, context: RunContext): Settings {
  const raw: Record<string, string> = {};
  for (const name of INPUT_NAMES) {
    const text = read(name).trim();
    raw[name] = text === '' ? (INPUT_DEFAULTS[name] ?? '') : text;
  }
  if (raw.version === '') raw.version = context.sha ? context.sha.slice(0, 7) : 'unversioned';
  if (raw['preview-key'] === '' && context.pullRequestNumber !== undefined)
    raw['preview-key'] = `pr-${context.pullRequestNumber}`;

  const unreadable = rawTextProblems(raw);
  const result = schema.safeParse(raw);
  if (!result.success || unreadable.length) {
    const named = new Set(unreadable.map((p) => p.slice(0, p.indexOf(':'))));
    const issues = result.success ? [] : result.error.issues;
    const problems = issues
      .map((issue) => `${String(issue.path[0] ?? 'input')}: ${issue.message}`)
      .filter((p) => !named.has(p.slice(0, p.indexOf(':'))));
    throw new InputError([...unreadable, ...problems]);
  }
  const v = result.data;
  const problems = crossCheck(v, raw);
  const driver = driverOptions(v['load-balancer'], (name) => raw[name] ?? read(name).trim(), {
    action: v.action,
    dryRun: v['dry-run'] !== false,
    minRequests: v['min-requests'],
  });
  if ('errors' in driver) problems.push(...driver.errors);
  if (problems.length || 'errors' in driver) throw new InputError(problems);
  return {
    action: v.action,
    strategy: toStrategy(v),
    pools: v.pools,
    loadBalancer: v['load-balancer'],
    driverOptions: driver.options,
    loadBalancerToken: v['load-balancer-token'],
    deployCommand: v['deploy-command'],
    rollbackCommand: v['rollback-command'],
    probe: {
      healthUrl: v['health-url'],
      checkUrl: v['check-url'],
      expectStatus: v['expect-status'],
      expectBody: v['expect-body'],
      intervalMs: v['probe-interval'],
      timeoutMs: v['probe-timeout'],
      healthyThreshold: v['healthy-threshold'],
      unhealthyThreshold: v['unhealthy-threshold'],
    },
    analysis: {
      maxErrorRate: v['max-error-rate'] / 100,
      minRequests: v['min-requests'],
      falseRollbackRate: v['false-rollback-rate'] / 100,
      intervalMs: v['analysis-interval'],
      latency: { tolerance: v['max-latency-increase'], limit: v['max-latency'] },
    },
    drainTimeoutMs: v['drain-timeout'],
    drainLongLived: v['drain-long-lived'],
    startupTimeoutMs: v['startup-timeout'],
    timeoutMs: v.timeout,
    version: v.version,
    environment: v.environment,
    environmentUrl: v['environment-url'],
    productionEnvironment: v['production-environment'],
    githubToken: v['github-token'],
    previewKey: v['preview-key'],
    previewAddress: v['preview-address'],
    previewTargets: v.action === 'preview' ? v.targets : undefined,
    previewCanary: v['preview-canary'],
    pullRequest: context.pullRequestNumber,
    ref: context.sha,
    dryRun: v['dry-run'] !== false,
    dryRunChecks: v['dry-run'] === 'checks',
    takeOverLock: v['take-over-lock'],
    notify: v.notify,
    oneVersionPerUser: v['one-version-per-user'],
    checks: v.checks,
    checkSecrets: v['check-secrets'],
  };
}

function runContext(): RunContext {
  let pullRequestNumber: number | undefined;
  let headSha: string | undefined;
  const eventPath = process.env.GITHUB_EVENT_PATH;
  if (eventPath) {
    try {
      const event = JSON.parse(readFileSync(eventPath, 'utf8')) as {
        pull_request?: { number?: number; head?: { sha?: string } };
      };
      pullRequestNumber = event.pull_request?.number;
      headSha = event.pull_request?.head?.sha;
    } catch {
      // No readable event (a local run): no pull request default.
    }
  }
  return { sha: headSha ?? process.env.GITHUB_SHA ?? '', pullRequestNumber };
}

/**
 * The action's inputs as the runner gives them (main and post alike); secrets are masked as they are read. `get`
 * replaces where the raw text comes from (the CLI: flags, environment, config file), `context` the commit and pull
 * request; validation and masking stay the same.
 */
export function readActionInputs(
  get: InputReader = (name) => core.getInput(name),
  context: RunContext = runContext(),
): Settings {
  return readInputs((name) => {
    const value = get(name);
    if (value && (SECRET_INPUTS as readonly string[]).includes(name)) core.setSecret(value);
    // A password written into a URL (refused below) is masked too, wherever it would show.
    for (const password of urlPasswords(value)) core.setSecret(password);
    // Every notification URL and signing key, before the input is parsed (its errors never repeat them either).
    if (name === 'notify') for (const token of notifySecrets(value)) core.setSecret(token);
    // Each check secret on its own (the masked whole would not hide one value printed alone).
    if (name === 'check-secrets') {
      const secrets = parseCheckSecrets(value);
      if (!('error' in secrets)) for (const v of secrets.values()) if (v) core.setSecret(v);
    }
    return value;
  }, context);
}
