/** `--help`: the commands, the CLI's own flags, and every input flag with its default. */
import { CLI_FLAGS, COMMANDS, envName } from './flags.js';
import { EXIT } from './exit-codes.js';

/**
 * action.yml's input descriptions without a YAML parser (help stays as quick to start as a run): each input is
 * `  NAME:` with a one-line double-quoted `    description: "..."` (JSON's escapes); a unit test keeps this equal to
 * what yaml reads from action.yml.
 */
export function inputDescriptionsOf(actionYml: string): Record<string, string> {
  const result: Record<string, string> = {};
  let section = '';
  let input = '';
  for (const line of actionYml.split('\n')) {
    const top = /^([a-z]+):/.exec(line);
    if (top) section = top[1] ?? '';
    if (section !== 'inputs') continue;
    const name = /^ {2}([a-z][a-z0-9-]*):\s*$/.exec(line);
    if (name) input = name[1] ?? '';
    const description = /^ {4}description: (".*")\s*$/.exec(line);
    if (input && description) {
      try {
        result[input] = JSON.parse(description[1] ?? '') as string;
      } catch {
        // not a simple quoted string: this input's help line goes without it
      }
    }
  }
  return result;
}

/** The first sentence of a description, for one line of help. */
function firstSentence(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  const end = oneLine.search(/(?<!\be\.g|\bi\.e)\.(\s|$)/);
  const sentence = end > 0 ? oneLine.slice(0, end) : oneLine;
  return sentence.length > 110 ? `${sentence.slice(0, 109)}…` : sentence;
}

/**
 * `descriptions`: action.yml's input descriptions (the package ships action.yml), so each flag says what it does;
 * empty when unreadable.
 */
export function helpText(
  defaults: Readonly<Record<string, string>>,
  version: string,
  descriptions: Readonly<Record<string, string>> = {},
): string {
  const width = Math.max(...[...Object.keys(defaults), ...Object.keys(CLI_FLAGS)].map((n) => n.length)) + 4;
  const pad = (text: string) => text.padEnd(width);
  const inputs = Object.entries(defaults)
    .filter(([name]) => name !== 'action')
    .map(([name, value]) => {
      const what = descriptions[name] ? firstSentence(descriptions[name]) : '';
      const fallback = value === '' ? '' : ` (default: ${value.replace(/\n/g, ' ')})`;
      return `  ${pad(`--${name}`)}${what}${fallback}`.trimEnd();
    });
  return [
    `zero-downtime-deploy ${version}`,
    '',
    'Usage: zero-downtime-deploy <command> [flags]',
    '',
    "Rolling, blue-green and canary deploys through your load balancer, outside GitHub Actions (the action's engine).",
    '',
    `Commands: ${COMMANDS.join(', ')}`,
    "  deploy, promote, abort, status, preview, close-preview: the action's `action` input",
    "  restore: put traffic back from what a killed run left in the state file (as the action's post step does)",
    '',
    'Flags of the CLI:',
    ...Object.entries(CLI_FLAGS).map(([name, flag]) => `  ${pad(`--${name}`)}${flag.text}`),
    '',
    'Inputs (as the action\'s, same checks; see README "Inputs"): --NAME VALUE or --NAME=VALUE, or the environment',
    `variable ZDD_NAME in upper case with '_' for '-' (e.g. ${envName('load-balancer')}), or NAME: in --config FILE.`,
    'A flag wins over the environment, the environment over the file. Boolean flags alone mean true.',
    ...inputs,
    '',
    'State file (--state): default $XDG_STATE_HOME/zero-downtime-deploy/<hash of --load-balancer>.json',
    '(~/.local/state when XDG_STATE_HOME is unset). Without --github-token and GITHUB_REPOSITORY, rollout records',
    '(for promote, abort and status) are kept there too.',
    '',
    `Exit codes: ${EXIT.ok} succeeded (or aborted, unchanged), ${EXIT.failed} failed, ${EXIT.badInput} bad input (nothing changed),`,
    `${EXIT.rolledBack} rolled back, ${EXIT.paused} paused for approval, ${EXIT.sigint}/${EXIT.sigterm} cancelled by SIGINT/SIGTERM (traffic made safe).`,
    '',
    'Docs: docs/cli.md',
    '',
  ].join('\n');
}
