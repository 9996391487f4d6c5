/** The one place that runs user commands: values go in as environment variables, never pasted into the text. */
import * as core from '@actions/core';
import { exec } from '@actions/exec';
import type { Server } from './model/server.js';

export interface CommandContext {
  readonly server: Server;
  readonly pool?: string;
  readonly version: string;
}

export function commandEnv(ctx: CommandContext): Record<string, string> {
  return {
    DEPLOY_TARGET: ctx.server.id,
    DEPLOY_BACKEND: ctx.server.backend,
    DEPLOY_SERVER: ctx.server.name,
    DEPLOY_ADDRESS: ctx.server.address,
    DEPLOY_HOST: ctx.server.host,
    DEPLOY_PORT: String(ctx.server.port),
    DEPLOY_POOL: ctx.pool ?? '',
    DEPLOY_VERSION: ctx.version,
  };
}

export interface CommandResult {
  readonly exitCode: number;
  /** The last lines the command printed, for error messages. */
  readonly tail: string;
}

/** Runs `command` with bash as a GitHub `run:` step does; output lines are prefixed with the server. */
export async function runCommand(command: string, ctx: CommandContext): Promise<CommandResult> {
  const tail: string[] = [];
  const remember = (line: string) => {
    core.info(`[${ctx.server.id}] ${line}`);
    tail.push(line);
    if (tail.length > 5) tail.shift();
  };
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  const exitCode = await exec('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', command], {
    env: { ...env, ...commandEnv(ctx) },
    ignoreReturnCode: true,
    silent: true,
    listeners: { stdline: remember, errline: remember },
  });
  return { exitCode, tail: tail.join(' | ') };
}
