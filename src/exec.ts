/**
 * The one place that runs user commands: values go in as environment variables, never pasted into the text. Every
 * command runs in a process group of its own under the run's deadline and cancel signal: when either fires, the
 * whole group gets SIGTERM, then SIGKILL after a grace period, and the result says why it was stopped.
 */
import { spawn } from 'node:child_process';
import * as core from '@actions/core';
import { formatDuration } from './model/durations.js';
import { errorMessage } from './model/errors.js';
import { childEnv } from './model/env.js';
import type { Server } from './model/server.js';

export interface CommandContext {
  readonly server: Server;
  readonly pool?: string;
  readonly version: string;
}

/** How long a stopped command gets between SIGTERM and SIGKILL (the runner's own cancel allows ~7.5s in all). */
export const KILL_GRACE_MS = 3000;

export function commandEnv(ctx: CommandContext): Record<string, string> {
  return {
    DEPLOY_TARGET: ctx.server.id,
    DEPLOY_BACKEND: ctx.server.backend,
    DEPLOY_SERVER: ctx.server.name,
    DEPLOY_ADDRESS: ctx.server.address,
    // ssh and most tools want an IPv6 host without the brackets an address needs around it.
    DEPLOY_HOST: ctx.server.host.replace(/^\[(.*)\]$/, '$1'),
    DEPLOY_PORT: String(ctx.server.port),
    DEPLOY_POOL: ctx.pool ?? '',
    DEPLOY_VERSION: ctx.version,
  };
}

export interface CommandResult {
  readonly exitCode: number;
  /** The last lines the command printed, for error messages. */
  readonly tail: string;
  /** Set when the deadline or a cancel stopped the command: why, and how (SIGTERM, then SIGKILL). */
  readonly stopped?: string;
}

/** Sends a signal to the child's whole process group (it leads one of its own). */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

/**
 * Runs `command` with bash as a GitHub `run:` step does, with the runner's environment (without the action's own
 * INPUT_* variables) and DEPLOY_*; output lines are prefixed with the server. `signal` (the run's deadline and
 * cancel) stops the whole process group.
 */
export function runCommand(command: string, ctx: CommandContext, signal?: AbortSignal): Promise<CommandResult> {
  return runLabelled(command, ctx.server.id, commandEnv(ctx), signal);
}

/** runCommand with its own environment and log prefix (a check's command runs for a stage, not one server). */
export function runLabelled(
  command: string,
  label: string,
  env: Readonly<Record<string, string>>,
  signal?: AbortSignal,
): Promise<CommandResult> {
  const tail: string[] = [];
  const remember = (line: string) => {
    core.info(`[${label}] ${line}`);
    tail.push(line);
    if (tail.length > 5) tail.shift();
  };
  if (signal?.aborted)
    return Promise.resolve({ exitCode: -1, tail: '', stopped: `not started: ${errorMessage(signal.reason)}` });
  return new Promise((resolve) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', command], {
      env: { ...childEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stopped: string | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      const why = errorMessage(signal?.reason);
      stopped = `${why}: sent SIGTERM to its process group`;
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => {
        stopped = `${why}: sent SIGTERM to its process group, then SIGKILL after ${formatDuration(KILL_GRACE_MS)}`;
        killGroup(child.pid, 'SIGKILL');
      }, KILL_GRACE_MS);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const lines = (stream: NodeJS.ReadableStream) => {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const parts = (partial + chunk).split(/\r?\n/);
        partial = parts.pop() ?? '';
        parts.forEach(remember);
      });
      stream.on('end', () => {
        if (partial) remember(partial);
        partial = '';
      });
    };
    lines(child.stdout);
    lines(child.stderr);
    const done = (exitCode: number) => {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      // Whatever the command left running in its group (a background job) goes with it.
      if (stopped) killGroup(child.pid, 'SIGKILL');
      resolve({ exitCode, tail: tail.join(' | '), ...(stopped ? { stopped } : {}) });
    };
    child.on('error', (error) => {
      remember(`cannot run bash: ${error.message}`);
      done(127);
    });
    child.on('close', (code, killedBy) => done(code ?? (killedBy ? 128 + signalNumber(killedBy) : 1)));
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 1;
}

/** The sentence for a command that did not succeed: its name, the server, and what happened. */
export function commandFailure(name: string, server: string, result: CommandResult): string {
  if (result.stopped) return `${name} on ${server} was stopped (${result.stopped})`;
  return `${name} exited ${result.exitCode}${result.tail ? `: ${result.tail}` : ''}`;
}
