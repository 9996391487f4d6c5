import { describe, expect, it } from 'vitest';
import {
  affinityProblem,
  effectiveConfig,
  parseUpstreams,
  renderUpstreams,
  type UpstreamLine,
} from '../../src/lb/nginx/upstreams.js';

const USER_FILE = `# written by hand
upstream app {
    zone app 64k;
    server 10.0.0.1:8080 weight=100 max_fails=3; # name=blue1
    server 10.0.0.2:8080;
    server 10.0.0.3:8080 weight=100 down; # name=green1
    keepalive 16;
}
`;

function servers(lines: UpstreamLine[]) {
  return lines.flatMap((l) => ('server' in l ? [l.server] : []));
}

describe('nginx upstreams file', () => {
  it('reads servers, names, weights and what a user means by down', () => {
    const lines = parseUpstreams(USER_FILE);
    if ('error' in lines) throw new Error(lines.error);
    expect(servers(lines)).toEqual([
      { backend: 'app', name: 'blue1', address: '10.0.0.1:8080', weight: 100, admin: 'ready', params: ['max_fails=3'] },
      { backend: 'app', name: '10.0.0.2:8080', address: '10.0.0.2:8080', weight: 1, admin: 'ready', params: [] },
      // An idle pool as users write it: out of rotation, weight 0, not in maintenance.
      { backend: 'app', name: 'green1', address: '10.0.0.3:8080', weight: 0, admin: 'ready', params: [] },
    ]);
  });

  it('writes weight 0 and any state but ready as down, keeping the state in the comment, and reads it back', () => {
    const lines = parseUpstreams(USER_FILE);
    if ('error' in lines) throw new Error(lines.error);
    const changed = lines.map((l) =>
      'server' in l && l.server.name === 'blue1' ? { server: { ...l.server, admin: 'drain' as const } } : l,
    );
    const text = renderUpstreams(changed);
    expect(text).toContain('    server 10.0.0.1:8080 weight=100 max_fails=3 down; # name=blue1 weight=100 state=drain');
    expect(text).toContain('    server 10.0.0.3:8080 weight=1 down; # name=green1 weight=0 state=ready');
    expect(text).toContain('    zone app 64k;');
    const again = parseUpstreams(text);
    if ('error' in again) throw new Error(again.error);
    expect(servers(again)[0]).toMatchObject({ name: 'blue1', weight: 100, admin: 'drain' });
  });

  it('sees that drain then maint changes nothing nginx reads, so no reload is needed', () => {
    const lines = parseUpstreams(USER_FILE);
    if ('error' in lines) throw new Error(lines.error);
    const set = (admin: 'drain' | 'maint') =>
      lines.map((l) => ('server' in l && l.server.name === 'blue1' ? { server: { ...l.server, admin } } : l));
    expect(effectiveConfig(set('drain'))).toBe(effectiveConfig(set('maint')));
    expect(effectiveConfig(set('drain'))).not.toBe(effectiveConfig(lines));
  });

  it('refuses a file it cannot read safely', () => {
    expect(parseUpstreams('upstream app {\n  server 10.0.0.1:80;\n')).toEqual({
      error: "upstream app is not closed with '}'",
    });
  });
});

describe('nginx driver: changes by hand', () => {
  it('names the file, the server lines and the commands, not HAProxy ones', async () => {
    const { NginxDriver } = await import('../../src/lb/nginx/driver.js');
    const { LocalHost } = await import('../../src/lb/nginx/host.js');
    const driver = new NginxDriver({
      host: new LocalHost(),
      path: '/etc/nginx/conf.d/up.conf',
      testCommand: 'nginx -t',
      reloadCommand: 'nginx -s reload',
      pidFile: '/run/nginx.pid',
      accessLog: '',
    });
    expect(
      driver.manualSteps([
        { server: 'app/blue1', weight: 100 },
        { server: 'app/green1', weight: 0 },
      ]),
    ).toBe(
      'in /etc/nginx/conf.d/up.conf on this machine, set app/blue1: weight=100, without down; app/green1: down, then nginx -t and nginx -s reload',
    );
  });

  it.each([
    [
      'a server directive over two lines',
      'upstream app {\n    server 10.0.0.1:8080 # name=web1\n        weight=100;\n    server 10.0.0.2:8080; # name=web2\n}\n',
      "line 2 of upstream app: 'server 10.0.0.1:8080 # name=web1' is a server directive that goes on over more than one line",
    ],
    [
      'two server directives on one line',
      'upstream app {\n    server 10.0.0.1:8080; server 10.0.0.2:8080;\n    server 10.0.0.3:8080;\n}\n',
      "line 2 of upstream app: 'server 10.0.0.1:8080; server 10.0.0.2:8080;' is more than one directive on one line",
    ],
    [
      'a directive and a server on one line',
      'upstream app {\n    keepalive 16; server 10.0.0.2:8080;\n}\n',
      "line 2 of upstream app: 'keepalive 16; server 10.0.0.2:8080;' is more than one directive on one line",
    ],
    [
      'an upstream block on one line',
      'upstream app { server 10.0.0.1:8080; }\n',
      "line 1: 'upstream app { server 10.0.0.1:8080; }' is an upstream block the action cannot read",
    ],
    [
      'an opening brace on the next line',
      'upstream app\n{\n    server 10.0.0.1:8080;\n}\n',
      "line 1: 'upstream app' is an upstream block the action cannot read",
    ],
  ])('refuses %s, naming the line, rather than skip a server', (_why, text, message) => {
    const parsed = parseUpstreams(text);
    expect(parsed).toHaveProperty('error');
    expect((parsed as { error: string }).error).toContain(message);
  });

  it('still reads comments, blank lines and other directives inside a block', () => {
    const parsed = parseUpstreams(
      'upstream app {\n    # the pool\n\n    zone app 64k;\n    server 10.0.0.1:8080; # name=a\n    keepalive 16; # reuse\n}\n',
    );
    expect(parsed).not.toHaveProperty('error');
  });
});

describe('one-version-per-user on an upstream', () => {
  const parsed = (text: string) => {
    const lines = parseUpstreams(text);
    if ('error' in lines) throw new Error(lines.error);
    return lines;
  };
  it('passes a consistent hash on a user key, in that upstream only', () => {
    const two = `upstream app {\n    hash $zdd_user consistent; # users\n    server 10.0.0.1:80;\n}\nupstream api {\n    server 10.0.0.2:80;\n}\n`;
    expect(affinityProblem(parsed(two), 'app')).toBeUndefined();
    expect(affinityProblem(parsed(two), 'api')).toMatch(/^upstream api balances round-robin, which does not keep/);
  });
  it.each([
    ['hash $cookie_user;', "balances with 'hash $cookie_user;'"],
    ['ip_hash;', "balances with 'ip_hash;'"],
    ['least_conn;', "balances with 'least_conn;'"],
  ])('names %s, which remaps users as weights change', (directive, named) => {
    const text = `upstream app {\n    ${directive}\n    server 10.0.0.1:80;\n}\n`;
    expect(affinityProblem(parsed(text), 'app')).toContain(named);
    expect(affinityProblem(parsed(text), 'app')).toContain('hash $zdd_user consistent;');
  });
});
