/**
 * GitHub deployments: one per run when `environment` is set, its statuses kept current. Reporting never stops a
 * rollout: a missing permission or an unreachable API is a warning naming what to fix.
 */
import * as core from '@actions/core';
import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import Bottleneck from 'bottleneck/light.js';
import type { Settings } from '../settings.js';
import type { Result } from '../model/outcome.js';
import { parseRecord, type RolloutRecord } from '../plan/record.js';

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'inactive' | 'queued';

export interface Deployment {
  readonly id: number | undefined;
  /** environmentUrl: shown on the deployment instead of the environment-url input. */
  status(state: DeploymentState, description: string, environmentUrl?: string): Promise<void>;
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

/** The repository the run belongs to, from GITHUB_REPOSITORY (`owner/repo`); undefined off a runner. */
export function repository(env: NodeJS.ProcessEnv = process.env): { owner: string; repo: string } | undefined {
  const [owner, repo] = (env.GITHUB_REPOSITORY ?? '').split('/');
  return owner && repo ? { owner, repo } : undefined;
}

/** An API error in words, with the permission to add when GitHub refused. */
export function explain(error: unknown, permission = 'deployments: write'): string {
  const status = (error as { status?: number }).status;
  const message = error instanceof Error ? error.message : String(error);
  if (status === 403 || status === 404 || /Resource not accessible by integration/.test(message)) {
    return `${message}: add '${permission}' to the job's permissions: block`;
  }
  return message;
}

/** A deployment's id as the `deployment-id` output and the checkpoint carry it. */
export function deploymentIdText(deployment: Deployment | undefined): string | undefined {
  return deployment?.id === undefined ? undefined : String(deployment.id);
}

/** The deployment state that reports a run's result. */
export function deploymentState(result: Result): DeploymentState {
  switch (result) {
    case 'succeeded':
      return 'success';
    case 'paused':
    case 'unchanged':
      return 'in_progress';
    case 'aborted':
      return 'inactive';
    case 'rolled-back':
    case 'failed':
      return 'failure';
  }
}

/**
 * Where rollout records live when they are not on GitHub: the CLI run without github-token and a repository keeps
 * them in its state file. Unset (the action): GitHub deployments.
 */
export interface LocalRecords {
  start(settings: Settings, environment: string, description: string, payload: Record<string, unknown>): Deployment;
  existing(id: number): Deployment;
  latest(settings: Settings): RolloutOnRecord | undefined;
  /** Marks the environment's deployments inactive but `keep`; returns how many changed. */
  deactivate(environment: string, keep?: number): number;
}

let local: LocalRecords | undefined;

/** Sets (or clears) the local records in place of GitHub's deployments. */
export function useLocalRecords(records: LocalRecords | undefined): void {
  local = records;
}

export function localRecords(): LocalRecords | undefined {
  return local;
}

/** No GitHub deployment: statuses go nowhere. */
export const NONE: Deployment = { id: undefined, status: async () => undefined };

/**
 * GitHub asks integrations to space write requests (1 s apart; 3 s for those that notify people, such as comments),
 * and the throttling plugin does. `ZERO_DOWNTIME_DEPLOY_GITHUB_WRITE_SPACING_MS` scales both: the tests set it to 0 against their
 * local GitHub stand-in, which has no secondary rate limit to respect. Users leave it unset.
 */
export function writeSpacingMs(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.ZERO_DOWNTIME_DEPLOY_GITHUB_WRITE_SPACING_MS;
  const ms = text === undefined || text.trim() === '' ? NaN : Number(text);
  return Number.isFinite(ms) && ms >= 0 ? ms : 1000;
}

/** One set of limiters per process, as the plugin's own are, so that every client's writes share the spacing. */
const limiters = new Map<number, { write: Bottleneck.Group; notifications: Bottleneck.Group }>();
function spacedGroups(spacingMs: number) {
  const group = (id: string, minTime: number) =>
    new Bottleneck.Group({ id, maxConcurrent: 1, minTime, timeout: 120_000 });
  const groups = limiters.get(spacingMs) ?? {
    write: group('zdd-write', spacingMs),
    notifications: group('zdd-notifications', spacingMs * 3),
  };
  limiters.set(spacingMs, groups);
  return groups;
}

export function client(token: string) {
  return getOctokit(
    token,
    {
      userAgent: 'zero-downtime-deploy',
      throttle: {
        ...spacedGroups(writeSpacingMs()),
        onRateLimit: (_after: number, _options: unknown, _octokit: unknown, retryCount: number) => retryCount < 2,
        onSecondaryRateLimit: (_after: number, _options: unknown, _octokit: unknown, retryCount: number) =>
          retryCount < 2,
      },
      retry: { retries: 2 },
    },
    retry,
    throttling,
  );
}

/** Reports to an existing deployment (the post step, a later run). */
export function existingDeployment(settings: Settings, id: number): Deployment {
  if (local) return local.existing(id);
  const { owner, repo } = repository() ?? { owner: '', repo: '' };
  const octokit = client(settings.githubToken);
  return {
    id,
    async status(state, description, environmentUrl) {
      const url = environmentUrl ?? settings.environmentUrl;
      try {
        await octokit.rest.repos.createDeploymentStatus({
          owner,
          repo,
          deployment_id: id,
          state,
          description: shortDescription(description),
          log_url: runUrl(),
          ...(url ? { environment_url: url } : {}),
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

/** A deployment's latest status (GitHub lists them newest first); undefined when it has none yet. */
export async function latestStatus(
  octokit: ReturnType<typeof client>,
  where: { owner: string; repo: string },
  id: number,
): Promise<{ state: string; description: string | null | undefined } | undefined> {
  const latest = await octokit.rest.repos.listDeploymentStatuses({ ...where, deployment_id: id, per_page: 1 });
  return latest.data[0];
}

/** Our newest deployment in the environment with its record and latest status; undefined when there is none. */
export async function latestRollout(settings: Settings): Promise<RolloutOnRecord | undefined> {
  if (local) return local.latest(settings);
  const where = repository();
  if (!where) throw new Error('GITHUB_REPOSITORY is not set: the rollout record lives on a GitHub deployment');
  const { owner, repo } = where;
  const octokit = client(settings.githubToken);
  let deployments;
  try {
    deployments = await octokit.rest.repos.listDeployments({
      owner,
      repo,
      environment: settings.environment,
      per_page: 20,
    });
  } catch (error) {
    throw new Error(`environment: cannot read the deployments of ${settings.environment}: ${explain(error)}`, {
      cause: error,
    });
  }
  for (const candidate of deployments.data) {
    const record = parseRecord(candidate.payload);
    if (!record) continue;
    const status = await latestStatus(octokit, where, candidate.id);
    return {
      deployment: existingDeployment(settings, candidate.id),
      record,
      state: status?.state ?? '',
      description: status?.description ?? '',
    };
  }
  return undefined;
}

/** Latest status states of a rollout still under way: running, or paused waiting for approval. */
export const ACTIVE_STATES: readonly string[] = ['in_progress', 'queued', 'pending'];

/** A rollout whose latest status says it is still under way: running, or paused waiting for approval. */
export function isActive(rollout: RolloutOnRecord | undefined): boolean {
  return !!rollout && ACTIVE_STATES.includes(rollout.state);
}

export interface DeploymentOptions {
  /** The environment, when not the `environment` input (a preview's own). */
  readonly environment?: string;
  /** A preview: GitHub shows it as transient, and it is made inactive when closed. */
  readonly transient?: boolean;
}

/** Creates the deployment for this commit, or reports nothing when there is no environment or GitHub refuses. */
export async function startDeployment(
  settings: Settings,
  description: string,
  payload: Record<string, unknown>,
  options: DeploymentOptions = {},
): Promise<Deployment> {
  const environment = options.environment ?? settings.environment;
  if (!environment) return NONE;
  if (local) return local.start(settings, environment, description, payload);
  if (!settings.githubToken) {
    core.warning(
      'github-token: empty, so no GitHub deployment is created; pass ${{ github.token }} with deployments: write',
    );
    return NONE;
  }
  const where = repository();
  const ref = settings.ref;
  if (!where || !ref) {
    core.warning(
      'environment: GITHUB_REPOSITORY or GITHUB_SHA is not set (not on a runner?), so no deployment is created',
    );
    return NONE;
  }
  const { owner, repo } = where;
  try {
    const response = await client(settings.githubToken).rest.repos.createDeployment({
      owner,
      repo,
      ref,
      environment,
      auto_merge: false,
      required_contexts: [],
      description: shortDescription(description),
      production_environment: options.transient ? false : settings.productionEnvironment,
      transient_environment: options.transient ?? false,
      payload,
    });
    if (response.status !== 201 || !('id' in response.data)) {
      core.warning(`environment: GitHub did not create a deployment (${response.status})`);
      return NONE;
    }
    const deployment = existingDeployment(settings, response.data.id);
    core.info(`GitHub deployment ${response.data.id} created for ${environment}`);
    return deployment;
  } catch (error) {
    core.warning(`environment: could not create a GitHub deployment: ${explain(error)}`);
    return NONE;
  }
}

/**
 * Marks every deployment of the environment inactive whose latest status is not (GitHub does this by itself only
 * for non-transient environments). Returns how many were changed; a refusal is a warning.
 */
export async function deactivateDeployments(settings: Settings, environment: string, keep?: number): Promise<number> {
  if (local) return local.deactivate(environment, keep);
  const where = repository();
  if (!where || !settings.githubToken) return 0;
  const { owner, repo } = where;
  const octokit = client(settings.githubToken);
  let changed = 0;
  try {
    const deployments = await octokit.rest.repos.listDeployments({ owner, repo, environment, per_page: 100 });
    for (const deployment of deployments.data) {
      if (deployment.id === keep) continue;
      const latest = await octokit.rest.repos.listDeploymentStatuses({
        owner,
        repo,
        deployment_id: deployment.id,
        per_page: 1,
      });
      if (latest.data[0]?.state === 'inactive') continue;
      await octokit.rest.repos.createDeploymentStatus({
        owner,
        repo,
        deployment_id: deployment.id,
        state: 'inactive',
        description: 'preview closed or replaced',
        log_url: runUrl(),
      });
      changed++;
    }
  } catch (error) {
    core.warning(`could not mark the deployments of ${environment} inactive: ${explain(error)}`);
  }
  return changed;
}
