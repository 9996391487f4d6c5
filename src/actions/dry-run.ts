/** dry-run: read the load balancer once, print the plan, change nothing. */
import * as core from '@actions/core';
import type { Driver } from '../lb/driver.js';
import { errorMessage, InputError, MembersDisagree } from '../model/errors.js';
import { buildPlan, checkPlanFitsTimeout, type LbState } from '../plan/build.js';
import type { Outcome } from '../model/outcome.js';
import { ASSUMED_TRAFFIC, latencyLines, markdownToLog, renderPlan, type Traffic } from '../report/plan.js';
import type { Counters, Server } from '../model/server.js';
import { sleep } from '../model/time.js';
import { formatDuration } from '../model/durations.js';
import { headline, writeSummary } from '../report/summary.js';
import { renderCheckPlan, renderCheckTrial } from '../report/checks.js';
import type { Settings } from '../settings.js';
import { affinityProblems, readServers, retryLine, splitProblems, weightProblems } from './read.js';
import { quietSteps } from '../plan/traffic.js';
import { tryChecks } from './try-checks.js';

async function readState(driver: Driver, settings: Settings): Promise<LbState> {
  try {
    // As the deploy reads it.
    return { reachable: true, ...(await readServers(driver, settings)) };
  } catch (error) {
    // Members of a fleet that disagree are refused by the deploy: the dry run refuses them too.
    if (error instanceof MembersDisagree) throw new InputError([`load-balancer: ${error.message}`]);
    return { reachable: false, reason: errorMessage(error) };
  }
}

const SAMPLE_MS = 1000;

/** Requests per second and failure share over the servers, from two counter reads a second apart. */
async function measureTraffic(driver: Driver, servers: readonly Server[]): Promise<Traffic> {
  const ids = servers.map((s) => s.id);
  const sum = (counters: Map<string, Counters>) =>
    ids.reduce(
      (t, id) => ({
        requests: t.requests + (counters.get(id)?.requests ?? 0),
        failures: t.failures + (counters.get(id)?.failures ?? 0),
      }),
      { requests: 0, failures: 0 },
    );
  // Counters that move once a minute (ALB's CloudWatch) show nothing in a second: not read, no second waited.
  const period = driver.capabilities.countsPerMs;
  if (period !== undefined && period > SAMPLE_MS)
    return {
      ...ASSUMED_TRAFFIC,
      source: `assumed: this load balancer counts requests per ${formatDuration(period)}, too coarse to sample`,
    };
  try {
    const before = sum(await driver.counters(ids));
    await sleep(SAMPLE_MS);
    const after = sum(await driver.counters(ids));
    const requests = after.requests - before.requests;
    if (requests <= 0)
      return { ...ASSUMED_TRAFFIC, source: `assumed: no traffic in ${SAMPLE_MS / 1000}s on the load balancer` };
    return {
      requestsPerSecond: Math.round((requests * 1000) / SAMPLE_MS),
      // Never assume a perfect service: that would make any failure look infinitely worse.
      failureShare: Math.max((after.failures - before.failures) / requests, 0.001),
      source: `measured over ${SAMPLE_MS / 1000}s on the load balancer`,
    };
  } catch (error) {
    return { ...ASSUMED_TRAFFIC, source: `assumed: counters not read (${errorMessage(error)})` };
  }
}

export async function dryRun(
  settings: Settings,
  driver: Driver,
  cancel = new AbortController().signal,
): Promise<Outcome> {
  // An absent load balancer still gets a plan.
  const state = await readState(driver, settings);
  const plan = buildPlan(settings, state, driver);
  if ('error' in plan) throw new InputError([plan.error]);
  // What the deploy would refuse, the dry run refuses too: a backend that cannot take the pool split's weights.
  if (state.reachable) {
    const problems = [
      ...(await splitProblems(settings, driver)),
      ...(await weightProblems(settings, driver, state.servers, true)),
      ...(await affinityProblems(settings, driver, state.servers)),
    ];
    if (problems.length) throw new InputError(problems);
  }
  const traffic = state.reachable && state.servers.length ? await measureTraffic(driver, state.servers) : undefined;
  // What this kind of load balancer adds to the plan (e.g. ALB: target groups, deregistration and detection delays).
  const facts = state.reachable ? await driver.describe?.().catch(() => undefined) : undefined;
  const signal = driver.latency
    ? state.reachable
      ? await driver.latency.missing().then(
          (missing) => (missing ? { missing } : { source: driver.latency?.source, periodMs: driver.latency?.periodMs }),
          (e: Error) => ({ missing: `could not be read: ${e.message}` }),
        )
      : {
          source: `${driver.latency.source} (not checked: the load balancer was not reached)`,
          periodMs: driver.latency.periodMs,
        }
    : {};
  const latency = latencyLines(plan, settings, traffic ?? ASSUMED_TRAFFIC, signal);
  const retries = state.reachable ? await retryLine(driver, state.servers) : undefined;
  // dry-run: checks: each check that only reads, tried once (nothing on the load balancer changes).
  const tried = settings.dryRunChecks
    ? await core.group('Checks tried once (dry run)', () =>
        tryChecks(settings, plan, state.reachable ? state.servers : [], driver.capabilities.nativeSplit, cancel),
      )
    : undefined;
  const trial = tried ? renderCheckTrial(tried.records, tried.skipped) : '';
  const markdown = `${renderPlan(plan, settings, traffic)}\n\n### Latency\n\n${latency.join('\n')}${retries ? `\n\n### Retries\n\n- ${retries}` : ''}${facts?.length ? `\n\n### Load balancer\n\n${facts.map((f) => `- ${f}`).join('\n')}` : ''}${renderCheckPlan(settings.checks ?? [])}${trial}`;
  await core.group('Plan (dry run: nothing is changed)', async () => core.info(markdownToLog(markdown)));
  const tooLong = checkPlanFitsTimeout(plan, settings);
  if (tooLong) core.warning(tooLong);
  const measured = traffic?.source.startsWith('measured') ? traffic.requestsPerSecond : undefined;
  const quiet = measured === undefined ? undefined : quietSteps(plan, settings.analysis, measured, settings.timeoutMs);
  if (quiet) core.warning(quiet);
  await writeSummary(
    `${headline('unchanged', 'Dry run: this is the plan; the load balancer was not changed.')}\n\n${markdown}`,
  );
  return { result: 'unchanged', livePool: plan.pools?.live, weight: 0 };
}
