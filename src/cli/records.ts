/**
 * Rollout records without GitHub: each deployment the action would create on GitHub (its payload, the rollout
 * record, and its statuses) is kept in the CLI's state file instead, so promote, abort and status in a later process
 * find a paused rollout exactly as the action finds it on a GitHub deployment.
 */
import { parseRecord } from '../plan/record.js';
import type { Deployment, LocalRecords } from '../report/deployment.js';
import type { StateFile } from './state-file.js';

/** Records kept per environment; older ones beyond this are dropped. */
const KEEP = 20;

export function localRecords(file: StateFile): LocalRecords {
  const existing = (id: number): Deployment => ({
    id,
    async status(state, description) {
      file.update((data) => {
        const statuses = data.deployments.find((d) => d.id === id)?.statuses;
        statuses?.push({ state, description, at: new Date().toISOString() });
        // The latest is what counts; a few before it for a person reading the file.
        statuses?.splice(0, Math.max(0, statuses.length - 10));
      });
    },
  });
  return {
    start(_settings, environment, _description, payload) {
      const id = file.update((data) => {
        const next = Math.max(0, ...data.deployments.map((d) => d.id)) + 1;
        data.deployments.push({ id: next, environment, created: new Date().toISOString(), payload, statuses: [] });
        const mine = data.deployments.filter((d) => d.environment === environment);
        const drop = new Set(mine.slice(0, Math.max(0, mine.length - KEEP)).map((d) => d.id));
        data.deployments = data.deployments.filter((d) => !drop.has(d.id));
        return next;
      });
      return existing(id);
    },
    existing,
    latest(settings) {
      const deployments = file.read().deployments.filter((d) => d.environment === settings.environment);
      for (const candidate of deployments.reverse()) {
        const record = parseRecord(candidate.payload);
        if (!record) continue;
        const status = candidate.statuses.at(-1);
        return {
          deployment: existing(candidate.id),
          record,
          state: status?.state ?? '',
          description: status?.description ?? '',
        };
      }
      return undefined;
    },
    deactivate(environment, keep) {
      return file.update((data) => {
        let changed = 0;
        for (const d of data.deployments) {
          if (d.environment !== environment || d.id === keep || d.statuses.at(-1)?.state === 'inactive') continue;
          d.statuses.push({
            state: 'inactive',
            description: 'preview closed or replaced',
            at: new Date().toISOString(),
          });
          changed++;
        }
        return changed;
      });
    },
  };
}
