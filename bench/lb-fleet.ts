/**
 * Load balancer fleets (issue 17): the same weight changes a canary sends, through 1, 2 and 4 real HAProxy instances
 * in front of the same app processes, each change applied and read back on every member as the engine does
 * (`applyVerified`). Per change: the skew between members (from the first member's write answered to the last's)
 * and the Runtime API round trips summed over the members.
 */
import { cpus } from 'node:os';
import { applyVerified } from '../src/engine/writes.js';
import { FleetDriver } from '../src/lb/fleet/driver.js';
import { createDriver, driverModule, driverOptions, parseLoadBalancer } from '../src/lb/registry.js';
import type { Change } from '../src/model/server.js';
import { skewMs } from '../src/report/fleet.js';
import { startFleet } from '../test/helpers/fleet.js';
import { startHaproxy, type HaproxyInstance } from '../test/helpers/haproxy.js';

export interface FleetCost {
  readonly members: number;
  readonly changes: number;
  readonly skewMs: readonly number[];
  readonly roundTripsPerChange: number;
  /** Apply and read back on every member, per change. */
  readonly changeMs: readonly number[];
}

/** A canary's changes, back and forth: 25%, 50%, 100% on green, then back to blue. */
const STEPS: readonly Change[][] = [
  [85, 256],
  [256, 256],
  [256, 0],
  [0, 100],
].map(([green, blue]) => [
  { server: 'app/green1', weight: green },
  { server: 'app/green2', weight: green },
  { server: 'app/blue1', weight: blue },
  { server: 'app/blue2', weight: blue },
]);

function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

export function medianOf(values: readonly number[]): number {
  const s = sorted(values);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** `rounds` times the canary's changes through the first `count` of the instances. */
async function measure(instances: readonly HaproxyInstance[], count: number, rounds: number): Promise<FleetCost> {
  const members = instances.slice(0, count).map((m) => {
    const url = parseLoadBalancer(`haproxy://127.0.0.1:${m.adminPort}`);
    if ('error' in url) throw new Error(url.error);
    // The driver's options as the action reads them when its inputs are left at their defaults.
    const defaults = driverModule('haproxy').inputs;
    const options = driverOptions(url, (name) => defaults[name] ?? '', {
      action: 'deploy',
      dryRun: false,
      minRequests: 20,
    });
    if ('errors' in options) throw new Error(options.errors.join('; '));
    return { url, driver: createDriver(url, options.options) };
  });
  const fleet = new FleetDriver(members);
  try {
    // A first read learns each server's id (later reads ask for exactly those rows), as the engine's first read does.
    await applyVerified(fleet, STEPS[3] ?? []);
    const skews: number[] = [];
    const times: number[] = [];
    const before = fleet.roundTrips;
    const writesBefore = fleet.writes.length;
    for (let round = 0; round < rounds; round++)
      for (const changes of STEPS) {
        const started = performance.now();
        await applyVerified(fleet, changes);
        times.push(performance.now() - started);
      }
    for (const write of fleet.writes.slice(writesBefore)) skews.push(skewMs(write) ?? Number.NaN);
    return {
      members: count,
      changes: times.length,
      skewMs: skews,
      roundTripsPerChange: (fleet.roundTrips - before) / times.length,
      changeMs: times,
    };
  } finally {
    await fleet.close();
  }
}

export async function fleetOfLoadBalancers(rounds = 25): Promise<FleetCost[]> {
  const apps = await startFleet(4, 'v1');
  const [p1, p2, p3, p4] = apps.ports as [number, number, number, number];
  const servers = [
    { name: 'blue1', port: p1 },
    { name: 'blue2', port: p2 },
    { name: 'green1', port: p3, options: 'check weight 0' },
    { name: 'green2', port: p4, options: 'check weight 0' },
  ];
  const instances = await Promise.all(Array.from({ length: 4 }, () => startHaproxy({ servers })));
  try {
    const results: FleetCost[] = [];
    for (const count of [1, 2, 4]) results.push(await measure(instances, count, rounds));
    return results;
  } finally {
    await Promise.all(instances.map((m) => m.stop()));
    apps.stopAll();
  }
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

export function fleetSection(results: readonly FleetCost[]): string[] {
  const two = results.find((r) => r.members === 2);
  const twoMax = two ? Math.max(...two.skewMs) : Number.NaN;
  return [
    '## 8. Load balancer fleets: members moved as one',
    '',
    `Real HAProxy instances on loopback in front of the same four app processes; the ${results[0]?.changes ?? 0} weight changes of ${(results[0]?.changes ?? 0) / STEPS.length} canaries (25%, 50%, 100%, back), each sent to every member at once and read back on all before the next (\`applyVerified\`, as the engine does). Skew: from the first member's write answered to the last's. Round trips: Runtime API connections summed over the members.`,
    '',
    '| members | skew per change, median | skew, max | round trips per change | apply + read back per change, median |',
    '|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.members} | ${r.members > 1 ? ms(medianOf(r.skewMs)) : '-'} | ${r.members > 1 ? ms(Math.max(...r.skewMs)) : '-'} | ${r.roundTripsPerChange.toFixed(1)} | ${ms(medianOf(r.changeMs))} |`,
    ),
    '',
    `Target: skew under 50 ms for two members on loopback: ${twoMax < 50 ? 'met' : '**missed**'} (max ${ms(twoMax)}). ` +
      `Round trips per change are one write and one read-back per member (${results.map((r) => r.roundTripsPerChange.toFixed(0)).join(', ')} for ${results.map((r) => r.members).join(', ')} members): they grow with the members, not with the servers a change touches. ` +
      `The members are written in parallel: applying and reading back one change took ${ms(medianOf(results[0]?.changeMs ?? []))} (median) with ${results[0]?.members} member and ${ms(medianOf(results.at(-1)?.changeMs ?? []))} with ${results.at(-1)?.members}, on ${cpus().length} cores shared by every HAProxy and the action.`,
  ];
}
