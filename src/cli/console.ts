/**
 * The CLI's console: the engine logs through @actions/core, which writes plain lines and GitHub workflow commands
 * (`::group::`, `::warning::`, `::add-mask::`, `::set-output`, `::save-state`) to stdout. Here every line core
 * writes is taken apart and rendered for a terminal or a CI log (groups as stage headings, warnings and errors on
 * stderr), or as NDJSON events with --json. Masks are applied to everything printed; outputs and step state are
 * handed to the CLI, never printed. No workflow command reaches the user's log.
 */

export interface WorkflowCommand {
  readonly name: string;
  readonly props: Readonly<Record<string, string>>;
  readonly message: string;
}

const unescapeData = (text: string) => text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
const unescapeProp = (text: string) => unescapeData(text).replace(/%3A/g, ':').replace(/%2C/g, ',');

/** A `::name key=value,...::message` line as @actions/core writes it; undefined for a plain line. */
export function parseCommand(line: string): WorkflowCommand | undefined {
  const match = /^::([A-Za-z-]+)(?: ([^:]*))?::(.*)$/s.exec(line);
  if (!match) return undefined;
  const props: Record<string, string> = {};
  for (const pair of (match[2] ?? '').split(',').filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq > 0) props[pair.slice(0, eq)] = unescapeProp(pair.slice(eq + 1));
  }
  return { name: match[1] ?? '', props, message: unescapeData(match[3] ?? '') };
}

export type Event =
  | { readonly type: 'stage'; readonly name: string }
  | { readonly type: 'log' | 'debug' | 'notice' | 'warning' | 'error'; readonly message: string }
  | { readonly type: 'result'; readonly [key: string]: unknown };

export interface Renderer {
  event(event: Event): void;
}

type Write = (text: string) => void;

/** For people: stage headings, indented lines under them, warnings and errors on stderr. */
export function humanRenderer(out: Write, err: Write, verbose: boolean): Renderer {
  let inStage = false;
  return {
    event(event) {
      switch (event.type) {
        case 'stage':
          inStage = true;
          return out(`\n== ${event.name}\n`);
        case 'log':
          return out(`${event.message.replace(/^/gm, inStage ? '  ' : '')}\n`);
        case 'debug':
          return verbose ? err(`debug: ${event.message}\n`) : undefined;
        case 'notice':
        case 'warning':
        case 'error':
          return err(`${event.type}: ${event.message}\n`);
        case 'result':
          inStage = false;
          return undefined;
      }
    },
  };
}

/** For machines: one JSON object a line, each with the time; the result is the last. */
export function jsonRenderer(out: Write, verbose: boolean): Renderer {
  let stage: string | undefined;
  return {
    event(event) {
      if (event.type === 'debug' && !verbose) return;
      if (event.type === 'stage') stage = event.name;
      const withStage = event.type !== 'stage' && event.type !== 'result' && stage ? { stage } : {};
      out(`${JSON.stringify({ time: new Date().toISOString(), ...event, ...withStage })}\n`);
    },
  };
}

export interface ConsoleHooks {
  /** `core.setOutput`. */
  output(name: string, value: string): void;
  /** `core.saveState`. */
  state(name: string, value: string): void;
}

/** Everything written to stdout, line by line, into events; masks applied; outputs and state to the hooks. */
export class Console {
  private readonly masks = new Set<string>();
  private partial = '';
  private restoreWrite: (() => void) | undefined;
  private groupDepth = 0;
  private readonly errors: string[] = [];

  constructor(
    private readonly renderer: Renderer,
    private readonly hooks: ConsoleHooks,
  ) {}

  mask(secret: string): void {
    for (const part of secret.split(/\r?\n/)) if (part.trim().length > 2) this.masks.add(part);
  }

  redact(text: string): string {
    let result = text;
    for (const secret of [...this.masks].sort((a, b) => b.length - a.length)) result = result.split(secret).join('***');
    return result;
  }

  /**
   * The errors core.setFailed reported since the last call: held back, so the CLI prints one error at the end (an
   * input error rewritten to name the flag).
   */
  takeErrors(): string[] {
    return this.errors.splice(0).map((e) => this.redact(e));
  }

  emit(event: Event): void {
    if (event.type === 'stage') this.renderer.event({ ...event, name: this.redact(event.name) });
    else if (event.type === 'result') this.renderer.event(event);
    else this.renderer.event({ ...event, message: this.redact(event.message) });
  }

  /** Takes over process.stdout.write until `release`. */
  capture(): void {
    const stdout = process.stdout;
    const original = stdout.write;
    stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      this.take(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof stdout.write;
    this.restoreWrite = () => {
      stdout.write = original;
    };
  }

  release(): void {
    this.flush();
    this.restoreWrite?.();
    this.restoreWrite = undefined;
  }

  flush(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  private take(text: string): void {
    const lines = (this.partial + text).split(/\r?\n/);
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    const command = parseCommand(line);
    if (!command) {
      // core.setOutput writes an empty line before its command.
      if (line !== '' || this.groupDepth > 0) this.emit({ type: 'log', message: line });
      return;
    }
    this.command(command);
  }

  private command({ name, props, message }: WorkflowCommand): void {
    switch (name) {
      case 'add-mask':
        return this.mask(message);
      case 'set-output':
        return this.hooks.output(props.name ?? '', message);
      case 'save-state':
        return this.hooks.state(props.name ?? '', message);
      case 'group':
        this.groupDepth++;
        return this.emit({ type: 'stage', name: message });
      case 'endgroup':
        this.groupDepth = Math.max(0, this.groupDepth - 1);
        return undefined;
      case 'error':
        this.errors.push(message);
        return undefined;
      case 'debug':
      case 'notice':
      case 'warning':
        return this.emit({ type: name, message });
      default:
        // echo, stop-commands and the like mean nothing outside a runner.
        return undefined;
    }
  }
}
