/**
 * Every change to the load balancer, verified: applied in one call, then the servers it touched are read back. A
 * refused, partial or lost write is reported with the state read back, never the state intended, so the caller can
 * restore the last safe state knowing where traffic really is.
 */
import type { Driver } from '../lb/driver.js';
import { errorMessage, UnconfirmedChange } from '../model/errors.js';
import { exactSelectors } from '../model/selectors.js';
import type { Change, Server } from '../model/server.js';

/** Where a change's servers differ from what was read: `app/web1: weight 100 wanted, 0 read`. */
function differences(changes: readonly Change[], read: readonly Server[]): string[] {
  const byId = new Map(read.map((s) => [s.id, s]));
  return changes.flatMap((c) => {
    const s = byId.get(c.server);
    if (!s) return [`${c.server}: not on the load balancer any more`];
    const wrong: string[] = [];
    if (c.weight !== undefined && s.weight !== c.weight) wrong.push(`weight ${c.weight} wanted, ${s.weight} read`);
    if (c.admin !== undefined && s.admin !== c.admin) wrong.push(`${c.admin} wanted, ${s.admin} read`);
    return wrong.length ? [`${c.server}: ${wrong.join(', ')}`] : [];
  });
}

/** Reads the servers by id; undefined when the load balancer cannot be read (`unread` is told why). */
export async function readBack(
  driver: Driver,
  ids: readonly string[],
  unread?: (why: string) => void,
): Promise<Server[] | undefined> {
  try {
    return await driver.servers(exactSelectors([...new Set(ids)]));
  } catch (error) {
    unread?.(errorMessage(error));
    return undefined;
  }
}

/** Applies the changes and confirms them by reading the servers back; throws UnconfirmedChange otherwise. */
export async function applyVerified(driver: Driver, changes: readonly Change[]): Promise<readonly Server[]> {
  if (changes.length === 0) return [];
  const ids = changes.map((c) => c.server);
  try {
    await driver.apply(changes);
  } catch (error) {
    let why: string | undefined;
    const read = await readBack(driver, ids, (w) => (why = w));
    throw new UnconfirmedChange(errorMessage(error), read, false, why);
  }
  let read: Server[];
  try {
    read = await driver.servers(exactSelectors([...new Set(ids)]));
  } catch (error) {
    const why = `the load balancer took the change, then could not be read back (${errorMessage(error)})`;
    throw new UnconfirmedChange(why, undefined, true);
  }
  const wrong = differences(changes, read);
  if (wrong.length)
    throw new UnconfirmedChange(`the load balancer did not take the change as sent: ${wrong.join('; ')}`, read);
  return read;
}
