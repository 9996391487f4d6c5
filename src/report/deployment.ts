/**
 * GitHub deployments: one per run when `environment` is set, its statuses kept current. Reporting never stops a
 * rollout: a missing permission or an unreachable API is a warning naming what to fix.
 */
import * as core from '@actions/core';
import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import type { Settings } from '../settings.js';
import { parseRecord, type RolloutRecord } from '../rollout/record.js';

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'inactive' | 'queued';

export interface Deployment {
  readonly id: number | undefined;
  status(state: DeploymentState, description: string): Promise<void>;
}

/** GitHub allows status descriptions of at most 140 characters. */
export function shortDescription(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= 140 ? oneLine : `${oneLine.slice(0, 139)}…`;
}

export function runUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run } = env;
  return server && repo && run ? `${server}/${repo}/actions/runs/${run}` : undefined;
}

function explain(error: unknown): string {
  const status = (error as { status?: number }).status;
  const message = error instanceof Error ? error.message : String(error);
  if (status === 403 || status === 404 || /Resource not accessible by integration/.test(message)) {
    return `${message}: add 'deployments: write' to the job's permissions: block`;
  }
  return message;
}

const NONE: Deployment = { id: undefined, status: async () => undefined };

function client(token: string) {
  return getOctokit(
    token,
    {
      userAgent: 'zero-downtime-deploy',
      throttle: {
        onRateLimit: (_after: number, _options: unknown, _octokit: unknown, retryCount: number) => retryCount < 2,
        onSecondaryRateLimit: (_after: number, _options: unknown, _octokit: unknown, retryCount: number) => retryCount < 2,
      },
      retry: { retries: 2 },
    },
    retry,
    throttling,
  );
}

/** Reports to an existing deployment (the post step, a later run). */
export function existingDeployment(settings: Settings, id: number): Deployment {
  const [owner, repo] = (process.env.GITHUB_REPOSITORY ?? '/').split('/') as [string, string];
  const octokit = client(settings.githubToken);
  return {
    id,
    async status(state, description) {
      try {
        await octokit.rest.repos.createDeploymentStatus({
          owner,
          repo,
          deployment_id: id,
          state,
          description: shortDescription(description),
          log_url: runUrl(),
          ...(settings.environmentUrl ? { environment_url: settings.environmentUrl } : {}),
        });
      } catch (error) {
        core.warning(`environment: could not set deployment ${id} to ${state}: ${explain(error)}`);
      }
    },
  };
}

export interface RolloutOnRecord {
  readonly deployment: Deployment;
  readonly record: RolloutRecord;
  /** The latest status's state and description ('' when it has none yet). */
  readonly state: string;
  readonly description: string;
}

/** Our newest deployment in the environment with its record and latest status; undefined when there is none. */
export async function latestRollout(settings: Settings): Promise<RolloutOnRecord | undefined> {
  const [owner, repo] = (process.env.GITHUB_REPOSITORY ?? '').split('/');
  if (!owner || !repo) throw new Error('GITHUB_REPOSITORY is not set: the rollout record lives on a GitHub deployment');
  const octokit = client(settings.githubToken);
  let deployments;
  try {
    deployments = await octokit.rest.repos.listDeployments({ owner, repo, environment: settings.environment, per_page: 20 });
  } catch (error) {
    throw new Error(`environment: cannot read the deployments of ${settings.environment}: ${explain(error)}`, { cause: error });
  }
  for (const candidate of deployments.data) {
    const record = parseRecord(candidate.payload);
    if (!record) continue;
    const latest = await octokit.rest.repos.listDeploymentStatuses({ owner, repo, deployment_id: candidate.id, per_page: 1 });
    const status = latest.data[0];
    return { deployment: existingDeployment(settings, candidate.id), record, state: status?.state ?? '', description: status?.description ?? '' };
  }
  return undefined;
}

/** A rollout whose latest status says it is still under way: running, or paused waiting for approval. */
export function isActive(rollout: RolloutOnRecord | undefined): boolean {
  return !!rollout && ['in_progress', 'queued', 'pending'].includes(rollout.state);
}

/** Creates the deployment for this commit, or reports nothing when `environment` is empty or GitHub refuses. */
export async function startDeployment(settings: Settings, description: string, payload: Record<string, unknown>): Promise<Deployment> {
  if (!settings.environment) return NONE;
  if (!settings.githubToken) {
    core.warning('github-token: empty, so no GitHub deployment is created; pass ${{ github.token }} with deployments: write');
    return NONE;
  }
  const [owner, repo] = (process.env.GITHUB_REPOSITORY ?? '').split('/');
  const ref = process.env.GITHUB_SHA;
  if (!owner || !repo || !ref) {
    core.warning('environment: GITHUB_REPOSITORY or GITHUB_SHA is not set (not on a runner?), so no deployment is created');
    return NONE;
  }
  try {
    const response = await client(settings.githubToken).rest.repos.createDeployment({
      owner,
      repo,
      ref,
      environment: settings.environment,
      auto_merge: false,
      required_contexts: [],
      description: shortDescription(description),
      production_environment: settings.productionEnvironment,
      transient_environment: false,
      payload,
    });
    if (response.status !== 201 || !('id' in response.data)) {
      core.warning(`environment: GitHub did not create a deployment (${response.status})`);
      return NONE;
    }
    const deployment = existingDeployment(settings, response.data.id);
    core.info(`GitHub deployment ${response.data.id} created for ${settings.environment}`);
    return deployment;
  } catch (error) {
    core.warning(`environment: could not create a GitHub deployment: ${explain(error)}`);
    return NONE;
  }
}
