#!/usr/bin/env node
/** Entry of the CLI bundle (dist/cli/index.js, the package's `bin`). */
import { cli } from './main.js';

// A closed pipe (`| head`) must not stop a rollout half way: output is dropped, the run goes on.
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);
const out = process.stdout.write.bind(process.stdout);
const err = process.stderr.write.bind(process.stderr);
const code = await cli(
  process.argv.slice(2),
  process.env,
  (t) => void out(t),
  (t) => void err(t),
);
// Everything is closed by now; an open handle (a keep-alive socket) must not keep a finished run waiting.
process.stdout.write('', () => process.exit(code));
