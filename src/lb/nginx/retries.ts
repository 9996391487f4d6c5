/**
 * What nginx's configuration (`nginx -T`) says of its retries: `proxy_next_upstream` decides which failed attempts
 * nginx sends on to another server (by default `error timeout`: a reset or a timeout, never a 5xx answer), and
 * requests that are not idempotent (POST, LOCK, PATCH) are retried only with `non_idempotent`. Pure: text in.
 */
import type { RetryShield } from '../driver.js';

const LINES = 'docs/strategies.md#shielded-canaries';
const FIVE_XX = ['http_500', 'http_502', 'http_503', 'http_504'];

/** Every `proxy_next_upstream` directive's values, comments left out (`_tries` and `_timeout` are other directives). */
export function nextUpstreamLines(config: string): string[][] {
  const text = config
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join('\n');
  return [...text.matchAll(/(?:^|[\s;{}])proxy_next_upstream\s+([^;{}]+);/g)].map((m) =>
    (m[1] ?? '').trim().split(/\s+/),
  );
}

export function nginxRetryShield(config: string): RetryShield {
  if (!/^# configuration file /m.test(config))
    return {
      shielded: 'unknown',
      text: `the test command with -T printed no configuration, so whether nginx retries failed attempts on another server is not known (${LINES})`,
    };
  const lines = nextUpstreamLines(config);
  const said = lines.length
    ? lines.map((l) => `proxy_next_upstream ${l.join(' ')}`).join('; ')
    : 'no proxy_next_upstream line (nginx retries on error timeout)';
  const every = lines.length ? lines : [['error', 'timeout']];
  const off = every.some((l) => l.includes('off'));
  const fiveXx = every.every((l) => FIVE_XX.every((v) => l.includes(v)));
  const posts = every.some((l) => l.includes('non_idempotent'))
    ? ' non_idempotent also retries POST and PATCH requests, which a server may already have carried out (a payment twice): take it out.'
    : '';
  const shielded = off ? 'no' : fiveXx ? 'yes' : 'partly';
  const what =
    shielded === 'yes'
      ? 'a failed idempotent request (a reset, a timeout or a 5xx answer) is retried on another server, so users are shielded from a bad version'
      : shielded === 'no'
        ? 'nginx does not retry failed attempts, so users get a bad version’s failures until its rollback'
        : `resets and timeouts are retried on another server, 5xx answers reach users until the rollback (add ${FIVE_XX.join(' ')}: ${LINES})`;
  return {
    shielded,
    text: `${said}: ${what}.${posts} The judge counts every failed attempt of the access log, retried or not, against the server that failed it`,
  };
}
