/**
 * One comment per preview on its pull request, found again by a hidden marker and edited in place on every run.
 * Like deployments, commenting never fails the step: a refusal is a warning naming the permission.
 */
import * as core from '@actions/core';
import type { Settings } from '../settings.js';
import { client, explain, repository } from './deployment.js';

/** The hidden first line that identifies a preview's comment. */
export function commentMarker(key: string): string {
  return `<!-- zero-downtime-deploy preview ${key} -->`;
}

/** Creates the preview's comment, or edits the one an earlier run created. Returns its id, if GitHub answered. */
export async function upsertComment(settings: Settings, key: string, body: string): Promise<number | undefined> {
  const issue = settings.pullRequest;
  const where = repository();
  if (issue === undefined) {
    core.info('Not a pull_request event: no pull-request comment');
    return undefined;
  }
  if (!where || !settings.githubToken) {
    core.warning('github-token or GITHUB_REPOSITORY is empty: no pull-request comment');
    return undefined;
  }
  const { owner, repo } = where;
  const marker = commentMarker(key);
  const text = `${marker}\n${body}`;
  const octokit = client(settings.githubToken);
  try {
    const comments = await octokit.paginate(octokit.rest.issues.listComments, {
      owner,
      repo,
      issue_number: issue,
      per_page: 100,
    });
    const mine = comments.find((c) => c.body?.startsWith(marker));
    if (mine) {
      await octokit.rest.issues.updateComment({ owner, repo, comment_id: mine.id, body: text });
      core.info(`Updated the preview comment on pull request #${issue}`);
      return mine.id;
    }
    const created = await octokit.rest.issues.createComment({ owner, repo, issue_number: issue, body: text });
    core.info(`Commented on pull request #${issue}`);
    return created.data.id;
  } catch (error) {
    core.warning(`could not comment on pull request #${issue}: ${explain(error, 'pull-requests: write')}`);
    return undefined;
  }
}
