import { describe, expect, it } from 'vitest';
import { retryShield } from '../../src/lb/haproxy/counting.js';
import { dumpCommand, nginxRetryShield } from '../../src/lb/nginx/retries.js';

/** An nginx -T dump: the main file and an included site, as nginx prints them. */
const dump = (location: string, http = '') =>
  [
    '# configuration file /etc/nginx/nginx.conf:',
    'events {}',
    `http {\n  ${http}\n  include /etc/nginx/conf.d/*.conf;\n}`,
    '',
    '# configuration file /etc/nginx/conf.d/shop.conf:',
    `server {\n  listen 80;\n  location / {\n    proxy_pass http://app;\n    ${location}\n  }\n  location /other { proxy_pass http://other; proxy_next_upstream off; }\n}`,
    '',
  ].join('\n');

describe('whether users are shielded: nginx, from nginx -T, where it proxies to the pools', () => {
  it('yes with the 5xx values in the location that proxies to the pools, through an include', () => {
    const r = nginxRetryShield(dump('proxy_next_upstream error timeout http_500 http_502 http_503 http_504;'), ['app']);
    expect(r.shielded).toBe('yes');
    expect(r.text).toMatch(
      /^proxy_next_upstream error timeout http_500 http_502 http_503 http_504 \(where nginx proxies to app\): a failed idempotent/,
    );
  });

  it("partly with nginx's default (error timeout), naming what to add; the http block's line is inherited", () => {
    expect(nginxRetryShield(dump(''), ['app'])).toMatchObject({ shielded: 'partly' });
    expect(nginxRetryShield(dump(''), ['app']).text, 'default').toContain('add http_500 http_502 http_503 http_504');
    const inherited = nginxRetryShield(
      dump('', 'proxy_next_upstream error timeout http_500 http_502 http_503 http_504;'),
      ['app'],
    );
    expect(inherited.shielded).toBe('yes');
  });

  it("no with tries 1; another location's off does not count; a warning for non_idempotent", () => {
    expect(nginxRetryShield(dump('proxy_next_upstream_tries 1;'), ['app']).shielded).toBe('no');
    expect(
      nginxRetryShield(dump('proxy_next_upstream error timeout http_500 http_502 http_503 http_504 non_idempotent;'), [
        'app',
      ]).text,
    ).toContain('non_idempotent also retries POST and PATCH requests');
    expect(nginxRetryShield(dump(''), ['other']).shielded).toBe('no');
  });

  it('prints only nginx value words, never other text of the configuration; comments and strings are not directives', () => {
    const r = nginxRetryShield(
      dump(
        'set $x " proxy_next_upstream Bearer abc.def ;"; # proxy_next_upstream off;\n    proxy_next_upstream error Bearer;',
      ),
      ['app'],
    );
    expect(r.text).not.toContain('Bearer');
    expect(r.text).toMatch(/^proxy_next_upstream error \(where/);
  });

  it('not known without a dump, or without a location proxying to the pools', () => {
    expect(
      nginxRetryShield('nginx: configuration file /etc/nginx/nginx.conf test is successful', ['app']).shielded,
    ).toBe('unknown');
    expect(nginxRetryShield(dump(''), ['shop']).text).toMatch(
      /^no location of nginx's configuration proxies to upstream shop/,
    );
  });

  it('runs only a plain nginx command with -T, never a shell line', () => {
    expect(dumpCommand('nginx -t')).toBe('nginx -t -T');
    expect(dumpCommand('sudo nginx -t -c /etc/nginx/nginx.conf')).toBe('sudo nginx -t -c /etc/nginx/nginx.conf -T');
    expect(dumpCommand('docker exec web nginx -t')).toBe('docker exec web nginx -t -T');
    for (const shell of [
      'nginx -t | tee log',
      'nginx -t && echo ok',
      "sh -c 'nginx -t'",
      'nginx -t > /dev/null',
      'nginx -t # x',
      './check.sh',
    ])
      expect(dumpCommand(shell), shell).toBeUndefined();
  });
});

describe('whether users are shielded: HAProxy, from its counters', () => {
  it('says what each backend retried since HAProxy started, and stays not known', () => {
    const r = retryShield([
      { backend: 'app', row: { wretr: '57', wredis: '57' } },
      { backend: 'api', row: { wretr: '0', wredis: '0' } },
    ]);
    expect(r.shielded).toBe('unknown');
    expect(retryShield([{ backend: 'gone', row: undefined }]).text).toMatch(/^backend gone could not be read/);
    expect(r.text).toMatch(
      /^backend app retried 57 times and redispatched 57 since HAProxy started; backend api retried nothing since HAProxy started\. HAProxy retries a failed answer/,
    );
  });
});
