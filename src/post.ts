/** The post step: runs after the job's steps, even when the main step failed or was cancelled. */
import * as core from '@actions/core';

export async function runPost(): Promise<void> {
  // The rolling engine restores servers it had not yet changed before it exits on cancel; nothing else is pending.
  core.info('Post step: nothing to restore.');
}
