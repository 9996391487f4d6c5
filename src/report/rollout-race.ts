/**
 * Two deploys started in the same second both find no rollout in progress. The deployments themselves break the tie:
 * after creating ours, an earlier deployment of ours (lower id) that is still under way, or was created moments ago
 * and has no status yet, goes first.
 */
import * as core from '@actions/core';
import { parseRecord } from '../plan/record.js';
import type { Settings } from '../settings.js';
import { ACTIVE_STATES, client, explain, latestStatus, localRecords, repository } from './deployment.js';

/** A deployment without any status younger than this is a run that is just starting. */
const STARTING_MS = 10 * 60_000;

export interface EarlierRollout {
  readonly id: number;
  readonly version: string;
  readonly state: string;
  readonly description: string;
}

/** Our earlier rollout in the environment still under way, if any; an unreadable API is a warning. */
export async function earlierActiveRollout(settings: Settings, ourId: number): Promise<EarlierRollout | undefined> {
  const where = repository();
  // Local records: runs on one load balancer are serialised by its lock, and one process writes at a time.
  if (!where || !settings.environment || localRecords()) return undefined;
  const { owner, repo } = where;
  const octokit = client(settings.githubToken);
  try {
    const deployments = await octokit.rest.repos.listDeployments({
      owner,
      repo,
      environment: settings.environment,
      per_page: 20,
    });
    for (const candidate of deployments.data) {
      if (candidate.id >= ourId) continue;
      const record = parseRecord(candidate.payload);
      if (!record) continue;
      const status = await latestStatus(octokit, where, candidate.id);
      const starting = !status && Date.now() - Date.parse(candidate.created_at) < STARTING_MS;
      if (starting || ACTIVE_STATES.includes(status?.state ?? '')) {
        return {
          id: candidate.id,
          version: record.version,
          state: status?.state ?? 'starting',
          description: status?.description ?? '',
        };
      }
      // A finished rollout: anything older was settled before it started.
      if (status?.state === 'success') return undefined;
    }
  } catch (error) {
    core.warning(
      `environment: cannot read the deployments of ${settings.environment} to check that no other rollout started at the same time: ${explain(error)}`,
    );
  }
  return undefined;
}
