/**
 * A batch's drain with its policy for long-lived connections (drain-long-lived): wait for them up to drain-timeout,
 * close them when draining starts, or close them at the deadline, before deploy-command restarts the process. Every
 * connection closed or left open is counted and named in the timeline (the log and the job summary).
 */
import type { OpenConnections } from '../lb/driver.js';
import { formatDuration } from '../model/durations.js';
import type { EngineContext } from './context.js';
import { waitDrained } from './gates.js';

/** `3 WebSocket connections and 1 request`; empty when nothing is open. */
export function describeOpen(open: OpenConnections): string {
  const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
  return [
    ...(open.webSockets ? [plural(open.webSockets, 'WebSocket connection')] : []),
    ...(open.requests ? [plural(open.requests, 'request')] : []),
  ].join(' and ');
}

/** One line per server with something open: `3 WebSocket connections closed on app/web1 at drain start`. */
export function describeConnections(list: readonly OpenConnections[], what: string): string[] {
  return list.flatMap((open) => {
    const text = describeOpen(open);
    return text ? [`${text} ${what.replace('{server}', open.server)}`] : [];
  });
}

/**
 * Waits out the batch's drain by the policy; the batch is in drain when called and still in drain on return.
 * close-at-start closes WebSockets at once and gives requests in flight drain-timeout; close-at-deadline closes
 * whatever is still open at drain-timeout; wait leaves it to deploy-command, counted. Returns what was closed or left
 * open, one line per server (for the summary's batches).
 */
export async function drainBatch(ctx: EngineContext, ids: readonly string[]): Promise<string[]> {
  const { settings, driver, timeline, signal } = ctx;
  const policy = settings.drainLongLived ?? 'wait';
  const control = driver.connections;
  const started = Date.now();
  const by = `drain-long-lived: ${policy}`;
  const seen: string[] = [];
  if (control && policy === 'close-at-start') {
    const lines = describeConnections(await control.close(ids, 'webSockets'), 'closed on {server} at drain start');
    seen.push(...lines);
    timeline.note(
      lines.length ? `${lines.join('; ')} (${by})` : `no WebSocket open on ${ids.join(', ')} at drain start`,
    );
  }
  const left = await waitDrained(driver, ids, settings.drainTimeoutMs, signal);
  const took = () => formatDuration(Date.now() - started);
  if (left === 0) {
    // Where nothing in flight is known (ALB), the load balancer's own drain comes with maint: no time to give here.
    if (driver.capabilities.inFlight) timeline.note(`${ids.join(', ')} drained in ${took()}`);
    return seen;
  }
  const deadline = `drain-timeout ${formatDuration(settings.drainTimeoutMs)}`;
  if (control && policy !== 'wait') {
    const closed = await control.close(ids, 'all');
    seen.push(...describeConnections(closed, 'closed on {server} at drain-timeout'));
    // Closed connections leave the load balancer's count within milliseconds: read back before maint.
    await waitDrained(driver, ids, 1000, signal);
    const named = describeConnections(closed, 'closed on {server}').join('; ');
    timeline.note(
      `${deadline} reached: ${named || `${left} requests in flight`} (${by}); ${ids.join(', ')} drained in ${took()}`,
    );
    return seen;
  }
  const open = control ? await control.open(ids).catch(() => undefined) : undefined;
  const named = open ? describeConnections(open, 'open on {server}').join('; ') : '';
  seen.push(
    ...(open ? describeConnections(open, 'left open on {server} at drain-timeout, cut by deploy-command') : []),
  );
  timeline.note(
    `${deadline} reached with ${named || `${left} requests in flight`}; taking the batch out anyway: deploy-command cuts what is still open (${by})`,
  );
  return seen;
}
