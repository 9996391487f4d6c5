import { describe, expect, it } from 'vitest';
import { retryShield } from '../../src/lb/haproxy/counting.js';
import { nextUpstreamLines, nginxRetryShield } from '../../src/lb/nginx/retries.js';

const dump = (body: string) => `# configuration file /etc/nginx/nginx.conf:\nhttp {\n${body}\n}\n`;

describe('whether users are shielded: nginx, from nginx -T', () => {
  it('yes with the 5xx values, naming the lines in force', () => {
    const r = nginxRetryShield(
      dump('  location / {\n    proxy_next_upstream error timeout http_500 http_502 http_503 http_504;\n  }'),
    );
    expect(r.shielded).toBe('yes');
    expect(r.text).toMatch(
      /^proxy_next_upstream error timeout http_500 http_502 http_503 http_504: a failed idempotent/,
    );
  });

  it("partly with nginx's default (error timeout), naming what to add", () => {
    const r = nginxRetryShield(dump('  location / { proxy_pass http://app; proxy_next_upstream_tries 2; }'));
    expect(r.shielded).toBe('partly');
    expect(r.text).toMatch(/^no proxy_next_upstream line \(nginx retries on error timeout\): resets and timeouts/);
    expect(r.text).toContain('add http_500 http_502 http_503 http_504');
  });

  it('no with off in any location; a warning for non_idempotent; comments ignored', () => {
    expect(nginxRetryShield(dump('  proxy_next_upstream off;\n  # proxy_next_upstream http_500;')).shielded).toBe('no');
    const posts = nginxRetryShield(
      dump('  proxy_next_upstream error timeout http_500 http_502 http_503 http_504 non_idempotent;'),
    );
    expect(posts.text).toContain('non_idempotent also retries POST and PATCH requests');
    expect(
      nextUpstreamLines('proxy_next_upstream error;# proxy_next_upstream off;\n{proxy_next_upstream timeout;}'),
    ).toEqual([['error'], ['timeout']]);
  });

  it('not known when the test command printed no configuration', () => {
    expect(nginxRetryShield('nginx: configuration file /etc/nginx/nginx.conf test is successful').shielded).toBe(
      'unknown',
    );
  });
});

describe('whether users are shielded: HAProxy, from its counters', () => {
  it('says what each backend retried since HAProxy started, and stays not known', () => {
    const r = retryShield([
      { backend: 'app', row: { wretr: '57', wredis: '57' } },
      { backend: 'api', row: { wretr: '0', wredis: '0' } },
    ]);
    expect(r.shielded).toBe('unknown');
    expect(r.text).toMatch(
      /^backend app retried 57 times and redispatched 57 since HAProxy started; backend api retried nothing since HAProxy started\. HAProxy retries a failed answer/,
    );
  });
});
