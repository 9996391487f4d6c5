/**
 * The nginx upstreams file as users really keep it: directives the parser cannot read are refused (file and line)
 * before anything changes, and a symlinked file is edited through the link, keeping its mode.
 */
import { chmodSync, lstatSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { errors, FAST_ROLLOUT, runAction } from '../helpers/action.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { startNginx, type NginxInstance } from '../helpers/nginx.js';

let nginx: NginxInstance | undefined;
let fleet: Fleet | undefined;

afterEach(async () => {
  await nginx?.stop();
  fleet?.stopAll();
  nginx = undefined;
  fleet = undefined;
});

const ROLLING = {
  ...FAST_ROLLOUT,
  strategy: 'rolling',
  targets: 'app/*',
  'min-requests': '0',
  'health-url': 'http://{address}/health',
};

async function setup() {
  fleet = await startFleet(3, 'v1');
  nginx = await startNginx(fleet.ports.map((port, i) => ({ name: `web${i + 1}`, port })));
  return { fleet, nginx };
}

describe('nginx upstreams files', () => {
  it.each([
    [
      'a server directive split over two lines',
      (ports: readonly number[]) =>
        `    server 127.0.0.1:${ports[0]} weight=100; # name=web1\n    server 127.0.0.1:${ports[1]} # name=web2\n        weight=100;\n    server 127.0.0.1:${ports[2]} weight=100; # name=web3\n`,
      /line 3 of upstream app: .* is a server directive that goes on over more than one line/,
    ],
    [
      'two server directives on one line',
      (ports: readonly number[]) =>
        `    server 127.0.0.1:${ports[0]} weight=100; # name=web1\n    server 127.0.0.1:${ports[1]} weight=100; server 127.0.0.1:${ports[2]} weight=100;\n`,
      /line 3 of upstream app: .* is more than one directive on one line/,
    ],
  ])('refuses %s before anything moves, naming load-balancer, the file and the line', async (_why, body, message) => {
    const { fleet, nginx } = await setup();
    const text = `upstream app {\n${body(fleet.ports)}    keepalive 16;\n}\n`;
    writeFileSync(nginx.upstreams, text);
    const run = await runAction(
      { ...ROLLING, ...nginx.inputs, 'deploy-command': fleet.restartCommand },
      { env: fleet.env },
    );
    const error = errors(run).join('\n');
    expect(run.code).toBe(1);
    expect(error).toContain(`load-balancer: nginx+file://${nginx.upstreams}: line`);
    expect(error).toMatch(message);
    expect(error).not.toMatch(/All \d servers run/);
    expect(readFileSync(nginx.upstreams, 'utf8')).toBe(text);
  });

  it('edits a symlinked upstreams file through the link, keeping the link and the mode 640', async () => {
    const { fleet, nginx } = await setup();
    const real = `${nginx.upstreams}.real`;
    renameSync(nginx.upstreams, real);
    symlinkSync(real, nginx.upstreams);
    chmodSync(real, 0o640);
    const run = await runAction(
      { ...ROLLING, ...nginx.inputs, targets: 'app/web1', 'deploy-command': fleet.restartCommand },
      { env: fleet.env },
    );
    expect(errors(run)).toEqual([]);
    expect(run.outputs.result).toBe('succeeded');
    expect(lstatSync(nginx.upstreams).isSymbolicLink()).toBe(true);
    expect(statSync(real).mode & 0o777).toBe(0o640);
    expect(readFileSync(real, 'utf8')).toMatch(/name=web1 weight=100 state=ready/);
  });
});
