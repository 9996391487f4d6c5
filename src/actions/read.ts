/** Reading the load balancer for a use case: the servers the strategy names, and the plan built from them. */
import * as core from '@actions/core';
import type { Driver } from '../lb/driver.js';
import { InputError } from '../model/errors.js';
import { matchesSelector, type Selector } from '../model/selectors.js';
import { sleep } from '../model/time.js';
import { probeUrl, Prober } from '../probes/http.js';
import type { Server } from '../model/server.js';
import { checkRollingTargets } from '../engine/rolling.js';
import { isPreviewCanary } from '../engine/preview/names.js';
import { buildPlan, checkPlanFitsTimeout } from '../plan/build.js';
import type { Plan } from '../plan/plan.js';
import { markdownToLog, renderPlan } from '../report/plan.js';
import type { Settings } from '../settings.js';

function poolOf(settings: Settings, server: Server): string | undefined {
  return settings.pools?.find((p) => p.selectors.some((sel) => matchesSelector(sel, server.backend, server.name)))
    ?.name;
}

export function selectorsOf(settings: Settings): readonly Selector[] {
  const strategy = settings.strategy;
  if (!strategy) return [];
  return strategy.name === 'rolling' ? strategy.targets : strategy.pools.flatMap((p) => p.selectors);
}

/** Every selector must name at least one server: a typo is refused, naming its input, before anything moves. */
async function checkSelectors(settings: Settings, driver: Driver, servers: readonly Server[]): Promise<string[]> {
  const strategy = settings.strategy;
  if (!strategy) return [];
  const named =
    strategy.name === 'rolling'
      ? strategy.targets.map((selector) => ({ input: 'targets', selector }))
      : strategy.pools.flatMap((pool) =>
          pool.selectors.map((selector) => ({ input: `pools: pool ${pool.name}`, selector })),
        );
  const none = named.filter(({ selector }) => !servers.some((s) => matchesSelector(selector, s.backend, s.name)));
  if (!none.length) return [];
  const all = await (driver.survey ? driver.survey() : driver.servers(EVERY_SERVER)).catch(() => []);
  const backends = [...new Set(all.map((s) => s.backend))];
  return none.map(({ input, selector }) => {
    const sameBackend = all.filter((s) => matchesSelector({ ...selector, server: '*' }, s.backend, s.name));
    const where = sameBackend.length
      ? `backend ${selector.backend} has ${sameBackend.map((s) => s.name).join(', ')}`
      : `the load balancer has no backend ${selector.backend}${backends.length ? ` (it has ${backends.join(', ')})` : ''}`;
    return `${input}: ${selector.text} matches no server on the load balancer: ${where}`;
  });
}

/**
 * health-url must get an accepted answer from the servers in traffic now: a typo (a wrong path or port) is found
 * here, before the first batch is drained and deployed, not after. Some servers failing is only a warning.
 */
async function checkHealthUrl(
  settings: Settings,
  servers: readonly Server[],
  pool: string | undefined,
): Promise<string[]> {
  const template = settings.probe.healthUrl;
  const serving = servers.filter((s) => s.admin === 'ready' && s.weight > 0);
  if (!template || !serving.length) return [];
  const prober = new Prober(settings.probe);
  try {
    const results = await Promise.all(
      serving.map(async (server) => {
        const url = probeUrl(template, server, pool);
        let result = await prober.probe(url);
        // One more try after probe-interval: a server may be between two requests' worth of trouble.
        if (!result.ok) {
          await sleep(settings.probe.intervalMs);
          result = await prober.probe(url);
        }
        return { server, url, result };
      }),
    );
    const failed = results.filter((r) => !r.result.ok);
    if (!failed.length) return [];
    const list = failed.map((r) => `${r.url} (${r.server.id}): ${r.result.reason}`).join('; ');
    if (failed.length < results.length) {
      core.warning(`health-url: ${list}; the other servers in traffic pass it`);
      return [];
    }
    const expected = settings.probe.expectStatus.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ');
    return [
      `health-url: none of the servers in traffic passes it now (${list}), so it could not tell a working new version either; check its path and port (expect-status ${expected}${settings.probe.expectBody ? `, expect-body '${settings.probe.expectBody}'` : ''})`,
    ];
  } finally {
    await prober.close();
  }
}

/** A pool split needs run-time weights: a backend whose algorithm cannot take them is refused before anything moves. */
export async function weightProblems(
  settings: Settings,
  driver: Driver,
  servers: readonly Server[],
  readOnly = false,
): Promise<string[]> {
  if (!settings.strategy || settings.strategy.name === 'rolling' || !driver.weightProblems) return [];
  const backends = [...new Set(servers.map((s) => s.backend))];
  return (await driver.weightProblems(backends, readOnly)).map((p) => `pools: ${p}`);
}

/**
 * one-version-per-user: every backend of the pools must hash on a user key (consistently), or a user moves between
 * versions from one request to the next; refused before anything moves. Reads only.
 */
export async function affinityProblems(
  settings: Settings,
  driver: Driver,
  servers: readonly Server[],
): Promise<string[]> {
  if (!settings.oneVersionPerUser || !settings.strategy || settings.strategy.name === 'rolling') return [];
  if (!driver.affinityProblems)
    return ['one-version-per-user: this load balancer cannot keep a user on one version yet (HAProxy and nginx can)'];
  const backends = [...new Set(servers.map((s) => s.backend))];
  return (await driver.affinityProblems(backends)).map((p) => `one-version-per-user: ${p}`);
}

/**
 * What the load balancer's own split cannot drive (ALB: a pool over two target groups, a group holding weight outside
 * both pools): a deploy refuses it before anything is written, the lock included, and so does its dry run.
 */
export async function splitProblems(settings: Settings, driver: Driver): Promise<string[]> {
  const strategy = settings.strategy;
  if (settings.action !== 'deploy' || !strategy || strategy.name === 'rolling' || !driver.splitProblems) return [];
  return driver.splitProblems(strategy.pools);
}

/** Every server on the load balancer (backends kept serving, addresses shared with other backends). */
const EVERY_SERVER: readonly Selector[] = [{ text: '*/*', backend: '*', server: '*' }];

/**
 * Every server on the load balancer, and those the strategy names picked from it: other backends' entries at the same
 * addresses (one process behind two backends) matter to every strategy. A preview's canary is the action's own,
 * never a target or a pool member.
 */
export async function readServers(driver: Driver, settings: Settings): Promise<{ servers: Server[]; all: Server[] }> {
  const selectors = selectorsOf(settings);
  const named = (list: readonly Server[]) =>
    list.filter((s) => selectors.some((sel) => matchesSelector(sel, s.backend, s.name)));
  if (!driver.survey) {
    const all = (await driver.servers(EVERY_SERVER)).filter((s) => !isPreviewCanary(s.name));
    return { all, servers: named(all) };
  }
  // A fleet: members may differ elsewhere, but must agree on every backend the rollout reads or moves: those of the
  // named servers and of other entries at their addresses. Read strictly here, so a difference is refused before
  // anything moves, never at a later batch.
  const survey = (await driver.survey()).filter((s) => !isPreviewCanary(s.name));
  const addresses = new Set(named(survey).map((s) => s.address));
  const backends = [...new Set(survey.filter((s) => addresses.has(s.address)).map((s) => s.backend))];
  const strict = backends.length
    ? (await driver.servers(backends.map((b) => ({ text: `${b}/*`, backend: b, server: '*' })))).filter(
        (s) => !isPreviewCanary(s.name),
      )
    : [];
  const all = [...strict, ...survey.filter((s) => !backends.includes(s.backend))];
  return { all, servers: named(strict) };
}

/**
 * Whether users are shielded from a bad version's failed requests (the load balancer retrying them on another
 * server), as the load balancer says it: one plan line, undefined where the driver cannot tell. Reads only.
 */
export async function retryLine(driver: Driver, servers: readonly Server[]): Promise<string | undefined> {
  if (!driver.retries || !servers.length) return undefined;
  const backends = [...new Set(servers.map((s) => s.backend))];
  const shield = await driver
    .retries(backends)
    .catch((e: Error) => ({ shielded: 'unknown', text: `could not be read: ${e.message}` }));
  const said = { yes: 'yes', partly: 'partly', no: 'no', unknown: 'not known' }[shield.shielded] ?? 'not known';
  return `Users shielded from a bad version's failed requests: ${said}: ${shield.text}.`;
}

/** Reads the servers the strategy names and builds the plan; throws InputError for anything the user must fix. */
export async function readAndPlan(
  settings: Settings,
  driver: Driver,
): Promise<{ servers: Server[]; all: Server[]; plan: Plan }> {
  let all: Server[] = [];
  const servers = await core.group('Read the load balancer', async () => {
    const read = await readServers(driver, settings);
    all = read.all;
    const found = read.servers;
    core.info(
      found
        .map((s) => `${s.id} ${s.address} weight ${s.weight} ${s.admin} ${s.check?.status ?? 'no check'}`)
        .join('\n'),
    );
    return found;
  });
  const missing = await checkSelectors(settings, driver, servers);
  if (missing.length) throw new InputError(missing);
  const plan = buildPlan(settings, { reachable: true, servers, all }, driver);
  if ('error' in plan) throw new InputError([plan.error]);
  const live = plan.pools?.live;
  const current = live
    ? servers.filter((s) => settings.strategy?.name !== 'rolling' && poolOf(settings, s) === live)
    : servers;
  const unhealthy = await checkHealthUrl(settings, current, live);
  if (unhealthy.length) throw new InputError(unhealthy);
  const idle = servers.filter((s) => plan.stages.some((st) => st.kind === 'deploy-idle' && st.servers?.includes(s.id)));
  const problems = [
    checkRollingTargets(settings, settings.strategy?.name === 'rolling' ? servers : idle, driver.advice),
    checkPlanFitsTimeout(plan, settings),
  ];
  problems.push(...(await weightProblems(settings, driver, servers)));
  problems.push(...(await affinityProblems(settings, driver, servers)));
  const found = problems.filter((p): p is string => !!p);
  if (found.length) throw new InputError(found);
  core.info(markdownToLog(renderPlan(plan, settings)));
  const retries = await retryLine(driver, servers);
  if (retries) core.info(retries);
  return { servers, all, plan };
}
