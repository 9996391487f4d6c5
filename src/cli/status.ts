/**
 * What `status` adds outside a runner: the action's status use case puts its weights table in the job summary, so
 * the CLI prints that table, and who holds the load balancer's lock (read only, one quick try).
 */
import { readFileSync } from 'node:fs';
import { describeHolder } from '../actions/lock.js';
import { createDriver } from '../lb/registry.js';
import { errorMessage } from '../model/errors.js';
import type { Settings } from '../settings.js';

export async function lockLine(settings: Settings): Promise<string> {
  const driver = createDriver(settings.loadBalancer, settings.driverOptions, { retries: 0, timeoutMs: 3000 });
  try {
    if (!driver.lock) return `lock: ${settings.loadBalancer.display} offers no lock`;
    const holder = await driver.lock.holder();
    return holder ? `lock: held by ${describeHolder(holder)}` : 'lock: free';
  } catch (error) {
    return `lock: could not be read (${errorMessage(error)})`;
  } finally {
    await driver.close();
  }
}

/** The summary's table rows (pools' servers with weight, state and health), as plain lines. */
export function tableLines(summaryFile: string): string[] {
  let text: string;
  try {
    text = readFileSync(summaryFile, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('|---'))
    .map((line) =>
      line
        .slice(2, -2)
        .split(' | ')
        .map((cell) => cell.replace(/\\(.)/g, '$1').padEnd(12))
        .join(' ')
        .trimEnd(),
    );
}
