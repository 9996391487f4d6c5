/** `command`: a bash command with the rollout's context in DEPLOY_* variables; its exit status is the verdict. */
import { runLabelled } from '../exec.js';
import type { CommandCheck } from '../model/checks.js';
import type { CheckContext, CheckKindRunner } from './kind.js';

/** The rollout's context as environment variables (values never pasted into the command's text). */
export function checkEnv(check: CommandCheck, context: CheckContext): Record<string, string> {
  return {
    DEPLOY_CHECK: check.name,
    DEPLOY_CHECK_POINT: context.point,
    DEPLOY_VERSION: context.version,
    DEPLOY_STEP: String(context.step),
    DEPLOY_STEPS: String(context.steps),
    DEPLOY_WEIGHT: String(Math.round(context.share * 10) / 10),
    DEPLOY_POOL: context.pool,
    DEPLOY_STABLE_POOL: context.stablePool,
    DEPLOY_SERVERS: context.servers.map((s) => s.address).join(' '),
    DEPLOY_TARGETS: context.servers.map((s) => s.id).join(' '),
    DEPLOY_STABLE_SERVERS: context.stableServers.map((s) => s.address).join(' '),
  };
}

export const commandKind: CheckKindRunner<CommandCheck> = {
  async evaluate(check, context, _target, signal) {
    const result = await runLabelled(check.run, `check ${check.name}`, checkEnv(check, context), signal);
    if (result.stopped) return { verdict: 'fail', value: 'stopped', detail: `stopped (${result.stopped})` };
    const tail = result.tail ? `: ${result.tail}` : '';
    return result.exitCode === 0
      ? { verdict: 'pass', value: 'exit 0', detail: 'exited 0' }
      : { verdict: 'fail', value: `exit ${result.exitCode}`, detail: `exited ${result.exitCode}${tail}` };
  },
};
