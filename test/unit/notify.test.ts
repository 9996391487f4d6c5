/**
 * The notify input and the three formats, without a rollout: what is refused (naming the input, never echoing a
 * URL), and that the stand-in receiver's checks do fail on what Slack, Teams or a verifying receiver would refuse.
 */
import crypto, { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import MarkdownIt from 'markdown-it';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import { EVENT_KINDS, notifySecrets, parseNotifyTargets } from '../../src/model/notify.js';
import { Channel, type Render } from '../../src/notify/deliver.js';
import type { Envelope } from '../../src/notify/event.js';
import { Notifier } from '../../src/notify/registry.js';
import { slackMessage } from '../../src/notify/slack.js';
import { teamsMessage } from '../../src/notify/teams.js';
import { signature, webhookHeaders, webhookPayload } from '../../src/notify/webhook.js';
import { ROOT } from '../helpers/action.js';
import { fakeSettings } from '../helpers/engine-kit.js';
import { checkSlackMessage, checkTeamsMessage, checkWebhook } from '../helpers/notify-receiver.js';

const SLACK = 'https://hooks.slack.com/services/T000/B000/XXXXtok3nXXXX';
const TEAMS = 'https://prod-01.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=s3cr3tsig';

function refusal(notify: string): string {
  try {
    fakeSettings({ strategy: 'canary', pools: 'blue=app/blue*, green=app/green*', notify });
  } catch (error) {
    if (error instanceof InputError) return error.message;
    throw error;
  }
  return '';
}

const envelope = (over: Partial<Envelope> = {}): Envelope => ({
  event: 'paused',
  verdict: 'Paused at 50% on green (step 2/3), waiting for approval: <b>&</b>',
  step: { index: 2, of: 3 },
  share: 50,
  pools: { stable: 'blue', new: 'green' },
  counts: { requests: 120, failed: 0 },
  id: '0b1c2d3e-4f50-4612-8a7b-8c9d0e1f2a3b',
  sequence: 4,
  at: new Date('2026-12-07T12:00:00Z'),
  facts: {
    action: 'deploy',
    strategy: 'canary',
    version: 'v2',
    environment: 'production',
    loadBalancer: 'haproxy://127.0.0.1:9999',
    runUrl: 'https://github.com/acme/shop/actions/runs/1',
    workflowUrl: 'https://github.com/acme/shop/actions/workflows/deploy.yml',
  },
  links: {
    run: 'https://github.com/acme/shop/actions/runs/1',
    promote: 'https://github.com/acme/shop/actions/workflows/deploy.yml',
    abort: 'https://github.com/acme/shop/actions/workflows/deploy.yml',
  },
  ...over,
});

describe('the notify input', () => {
  it('reads one target a line, with events, secret and timeout; labels never show the URL', () => {
    const targets = parseNotifyTargets(
      `slack ${SLACK} events=paused,rolled-back\n# comment\n\nteams ${TEAMS}\nwebhook https://hooks.example/zdd secret=k3y timeout=2s\nslack ${SLACK}`,
    );
    if ('error' in targets) throw new Error(targets.error);
    expect(targets.map((t) => [t.label, t.kind, [...t.events].join(','), t.secret, t.timeoutMs])).toEqual([
      ['slack #1', 'slack', 'paused,rolled-back', '', 5000],
      ['teams #1', 'teams', EVENT_KINDS.join(','), '', 5000],
      ['webhook #1', 'webhook', EVENT_KINDS.join(','), 'k3y', 2000],
      ['slack #2', 'slack', EVENT_KINDS.join(','), '', 5000],
    ]);
  });

  it('masks what stands where a URL goes, with or without a scheme, and refuses it without showing it', () => {
    const bare = 'hooks.slack.com/services/T000/B000/XXXXtok3nXXXX';
    expect(notifySecrets(`slack ${bare}\n${bare}\nwebhook https:/h.example/tok3n2 timeuot=k3y`)).toEqual([
      bare,
      bare,
      'https:/h.example/tok3n2',
      'timeuot=k3y',
    ]);
    expect(notifySecrets('pagerduty https://h.example/x')).toEqual(['https://h.example/x']);
    // The URL's secret unset: the key in the URL's place is masked too.
    expect(notifySecrets('webhook secret=k3y')).toContain('k3y');
    expect(refusal(bare)).toContain("notify: line 1: 'URL' is not a target kind");
    expect(refusal(bare)).not.toContain('tok3n');
  });

  it('masks every URL and secret before parsing', () => {
    expect(notifySecrets(`slack ${SLACK}\nwebhook https://h.example/x secret=k3y`)).toEqual([
      SLACK,
      'https://h.example/x',
      'k3y',
    ]);
  });

  it.each([
    [`pagerduty ${SLACK}`, "notify: line 1: 'pagerduty' is not a target kind (slack, teams, webhook)"],
    [SLACK, "notify: line 1: 'URL' is not a target kind"],
    ['slack', 'notify: line 1: slack needs its URL after the kind'],
    [
      'webhook  secret=k3y events=failed',
      'notify: line 1: webhook needs its URL after the kind (is the secret holding it unset?)',
    ],
    ['slack ftp://files.example/tok3n-path', 'notify: line 1: the URL is ftp://, not https:// or http://'],
    ['slack https://user:pw@hooks.slack.com/x', 'notify: line 1: the URL holds a user or password'],
    [`slack ${SLACK} events=paused,deployed`, "notify: line 1: events: 'deployed' is not one of all, started"],
    [`slack ${SLACK} secret=abc`, 'notify: line 1: secret= signs the generic webhook only'],
    [`webhook ${SLACK} secret=`, 'notify: line 1: secret= is empty'],
    [`webhook ${SLACK} timeout=1m`, 'notify: line 1: timeout= must be 100ms to 30s'],
    [`webhook ${SLACK} ${TEAMS}`, "notify: line 1: '(masked)' is not an option"],
    [`teams ${TEAMS}\nteams nota-url`, 'notify: line 2: the URL is not a URL (it is masked, so it is not shown here)'],
  ])('refuses %j naming the input and the line, never the URL', (notify, message) => {
    const text = refusal(notify);
    expect(text).toContain(message);
    expect(text).not.toMatch(/tok3n|s3cr3t|pw@|files\.example/i);
  });
});

describe('the formats, as their receivers check them', () => {
  it('Slack: Block Kit within its limits, mrkdwn escaped, link buttons for promote, abort and the run', () => {
    const message = slackMessage(envelope());
    expect(checkSlackMessage(message)).toEqual([]);
    expect(JSON.stringify(message)).toContain('&lt;b&gt;&amp;&lt;/b&gt;');
    const actions = message.blocks.find((b) => b.type === 'actions');
    expect(JSON.stringify(actions)).toMatch(/Promote.*Abort.*Workflow run/);
    // A verdict longer than a section takes is shortened, not refused by Slack.
    expect(checkSlackMessage(slackMessage(envelope({ verdict: 'x'.repeat(5000) })))).toEqual([]);
    // Never in the middle of a character: no lone surrogate (`\ud83d`) in what is sent, at either parity.
    for (const verdict of ['😀'.repeat(2000), `x${'😀'.repeat(2000)}`]) {
      const clipped = slackMessage(envelope({ verdict }));
      expect(JSON.stringify(clipped)).not.toMatch(/\\ud[89ab]/);
      expect(checkSlackMessage(clipped)).toEqual([]);
    }
  });

  it("Slack: the stand-in refuses what Slack would (a header over 150 characters, a block we don't know)", () => {
    const message = slackMessage(envelope());
    const long = { ...message, blocks: [{ type: 'header', text: { type: 'plain_text', text: 'x'.repeat(151) } }] };
    expect(checkSlackMessage(long)).toEqual(['blocks[0].text: text is 151 characters, over 150']);
    expect(checkSlackMessage({ ...message, blocks: [{ type: 'fancy' }] })).toEqual([
      'blocks[0]: block type fancy is not one we send',
    ]);
  });

  it('Teams: an Adaptive Card the schema and the adaptivecards parser take; they refuse a bad one', () => {
    const message = teamsMessage(envelope());
    expect(checkTeamsMessage(message)).toEqual([]);
    const card = message.attachments[0].content;
    const bad = {
      ...message,
      attachments: [{ ...message.attachments[0], content: { ...card, body: [{ type: 'Fancy', text: 'x' }] } }],
    };
    const problems = checkTeamsMessage(bad);
    expect(problems.some((p) => p.startsWith('schema:'))).toBe(true);
    expect(problems).toContain('adaptivecards: Unknown element type "Fancy". Fallback will be used if present.');
  });

  it('webhook: the documented payload, signed over TIMESTAMP.BODY with the attempt time', () => {
    const e = envelope();
    const body = JSON.stringify(webhookPayload(e));
    const now = new Date();
    const headers = webhookHeaders(e, body, 'k3y', now);
    const timestamp = Math.floor(now.getTime() / 1000);
    // Computed as a receiver would, independently of the code under test.
    const expected = `v1=${createHmac('sha256', 'k3y').update(`${timestamp}.${body}`).digest('hex')}`;
    expect(headers).toEqual({
      'x-zdd-event': 'paused',
      'x-zdd-delivery': e.id,
      'x-zdd-timestamp': String(timestamp),
      'x-zdd-signature': expected,
    });
    expect(checkWebhook(headers, body, JSON.parse(body), 'k3y')).toEqual([]);
    expect(webhookHeaders(e, body, '', now)['x-zdd-signature']).toBeUndefined();
  });

  it('webhook: a receiver rejects a changed body, a wrong key, a replay from 10 minutes ago, an unknown field', () => {
    const e = envelope();
    const body = JSON.stringify(webhookPayload(e));
    const headers = webhookHeaders(e, body, 'k3y', new Date());
    const changed = body.replace('"failed":0', '"failed":1');
    expect(checkWebhook(headers, changed, JSON.parse(changed), 'k3y')).toEqual(['x-zdd-signature: wrong']);
    expect(checkWebhook(headers, body, JSON.parse(body), 'other')).toEqual(['x-zdd-signature: wrong']);
    const old = new Date(Date.now() - 600_000);
    const replay = webhookHeaders(e, body, 'k3y', old);
    expect(replay['x-zdd-signature']).toBe(signature('k3y', Math.floor(old.getTime() / 1000), body));
    expect(checkWebhook(replay, body, JSON.parse(body), 'k3y')).toEqual([
      'x-zdd-timestamp: missing or more than 5 minutes off',
    ]);
    const extra = JSON.stringify({ ...webhookPayload(e), secretUrl: 'x' });
    expect(checkWebhook(webhookHeaders(e, extra, 'k3y', new Date()), extra, JSON.parse(extra), 'k3y')).toEqual([
      'schema:  must NOT have additional properties',
    ]);
  });
});

/** A receiver on 127.0.0.1 doing what `handler` says; its requests counted. */
async function hostile(handler: http.RequestListener): Promise<{ url: string; hits: () => number; close(): void }> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/services/T0/B0/s3cr3tt0k3n`,
    hits: () => hits,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** A receiver that answers 200 and keeps each request's path and body. */
async function capturing() {
  const bodies: { path: string; raw: string }[] = [];
  const server = await hostile((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      bodies.push({ path: req.url ?? '', raw });
      res.end();
    });
  });
  return { ...server, bodies };
}

/** One started event to a webhook at `url` (2s per attempt, 3 attempts 50ms and 100ms apart), waited for. */
async function sendOne(url: string, extra = '') {
  const targets = parseNotifyTargets(`webhook ${url} timeout=2s ${extra}`.trim());
  if ('error' in targets) throw new Error(targets.error);
  const warnings: string[] = [];
  const facts = envelope().facts;
  const notifier = new Notifier(targets, facts, {
    warn: (w) => warnings.push(w),
    policy: { attempts: 3, backoffMs: 50 },
  });
  const started = Date.now();
  notifier.send({ event: 'started', verdict: 'Started.' });
  const report = await notifier.close();
  return { warnings, report, ms: Date.now() - started };
}

describe('hostile or broken receivers', () => {
  it('an enormous refusal body is not downloaded: its first bytes are read, the rest never sent', async () => {
    const written: number[] = [];
    const chunk = Buffer.alloc(1 << 20, 'a');
    const server = await hostile((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      let sent = 0;
      const more = () => {
        while (sent < 200 && res.write(chunk)) sent++;
        if (sent >= 200) res.end();
      };
      res.on('drain', () => {
        sent++;
        more();
      });
      res.on('close', () => written.push(sent));
      more();
    });
    try {
      const run = await sendOne(server.url);
      expect(server.hits()).toBe(3);
      // 200 MB offered per request; what was written is what the sockets buffered before we hung up.
      await expect.poll(() => written.length).toBe(3);
      expect(Math.max(...written)).toBeLessThan(32);
      expect(run.report.problems).toEqual([
        expect.stringMatching(/^webhook #1: event 1 \(started\) not delivered after 3 attempts: HTTP 500 \(a+\)$/),
      ]);
      expect(run.ms).toBeLessThan(2000);
    } finally {
      server.close();
    }
  });

  it.each([
    [
      'drips its body for longer than the timeout',
      (res: http.ServerResponse) => {
        res.writeHead(200);
        const timer = setInterval(() => res.write('.'), 200);
        res.on('close', () => clearInterval(timer));
      },
    ],
    [
      'breaks the connection off mid-body',
      (res: http.ServerResponse) => {
        res.writeHead(200, { 'content-length': '100' });
        res.write('ok');
        setTimeout(() => res.socket?.destroy(), 50);
      },
    ],
  ])('a receiver that answers 2xx and %s took the event: delivered once, not retried', async (_name, answer) => {
    const server = await hostile((_req, res) => answer(res));
    try {
      const run = await sendOne(server.url);
      expect(run.warnings).toEqual([]);
      expect(run.report.delivered).toEqual(new Map([['webhook #1', 1]]));
      expect(server.hits()).toBe(1);
      expect(run.ms).toBeLessThan(1500);
    } finally {
      server.close();
    }
  });

  it('a redirect is not followed (the body and signature never reach another host) and not retried', async () => {
    const elsewhere = await hostile((_req, res) => res.end());
    const server = await hostile((_req, res) => {
      res.writeHead(307, { location: `${elsewhere.url}/steal` });
      res.end('moved');
    });
    try {
      const run = await sendOne(server.url, 'secret=k3y');
      expect(elsewhere.hits()).toBe(0);
      expect(server.hits()).toBe(1);
      expect(run.report.problems).toEqual([
        'webhook #1: event 1 (started) not delivered after 1 attempt: HTTP 307 (moved)',
      ]);
    } finally {
      server.close();
      elsewhere.close();
    }
  });
});

describe('a receiver echoing its URL', () => {
  it('never gets the URL, its path or token, plain or percent-encoded, into a warning or the summary', async () => {
    const server = await hostile((req, res) => {
      const url = `http://${req.headers.host}${req.url}`;
      res.writeHead(404);
      res.end(`no hook ${encodeURIComponent(url)} at ${req.url} (token ${req.url?.split('/').pop()})`);
    });
    try {
      const run = await sendOne(`${server.url}?sig=t0p5ecr3tsig`);
      const said = [...run.warnings, ...run.report.problems].join('\n');
      expect(said).toContain('HTTP 404 (no hook ***');
      expect(said).not.toMatch(/s3cr3t|t0p5ecr3t|services%2F|\/T0\/B0/);
    } finally {
      server.close();
    }
  });
});

describe('a verdict quoting a notify URL', () => {
  it('sends neither the URL nor its token, plain or percent-encoded', async () => {
    const server = await capturing();
    const bodies = server.bodies;
    try {
      const url = `${server.url}?sig=t0p5ecr3tsig`;
      const targets = parseNotifyTargets(`webhook ${url}`);
      if ('error' in targets) throw new Error(targets.error);
      const notifier = new Notifier(targets, envelope().facts, { warn: () => undefined });
      notifier.send({ event: 'failed', verdict: `curl said: ${encodeURIComponent(url)}; token s3cr3tt0k3n` });
      await notifier.close();
      expect(bodies).toHaveLength(1);
      expect(bodies[0]?.raw).toContain('curl said: ***; token ***');
      expect(bodies[0]?.raw).not.toMatch(/s3cr3t|t0p5ecr3t/);
    } finally {
      server.close();
    }
  });
});

describe('text we did not write, in each chat format', () => {
  const hostileText = '[Approve](https://evil.example) <https://evil.example> **now** <!channel> @here app/green* _x_';
  const e = envelope({
    verdict: `deploy-command exited 1: ${hostileText}`,
    facts: { ...envelope().facts, version: `v2 ${hostileText}`, environment: 'prod [x](https://evil.example)' },
  });

  it('Teams: every TextBlock and fact value renders as written (CommonMark, as Teams reads it): no link, no emphasis', () => {
    const md = new MarkdownIt();
    const card = teamsMessage(e).attachments[0].content;
    const texts = [
      ...card.body.flatMap((b) => (b.type === 'TextBlock' ? [String(b.text)] : [])),
      ...card.body.flatMap((b) => (b.type === 'FactSet' ? (b.facts as { value: string }[]).map((f) => f.value) : [])),
    ];
    expect(texts.filter((t) => t.includes('evil.example'))).toHaveLength(4);
    for (const text of texts) {
      const rendered = md.renderInline(text);
      expect(rendered).not.toMatch(/<a |<strong>|<em>/);
      // Exactly the characters we meant, nothing eaten as syntax.
      expect(rendered).toBe(md.utils.escapeHtml(text.replace(/\\([\\`*_~[\]<>])/g, '$1')));
    }
    expect(checkTeamsMessage(teamsMessage(e))).toEqual([]);
  });
});

describe('text we did not write, in Slack', () => {
  it('is escaped (no <!channel>, no <url|label> link) and every mrkdwn text is verbatim (no @here parsed)', () => {
    const hostileText = '<https://evil.example|Approve> <!channel> @here #general https://evil.example';
    const message = slackMessage(
      envelope({ verdict: `exited 1: ${hostileText}`, facts: { ...envelope().facts, version: `v2 ${hostileText}` } }),
    );
    const mrkdwn: { text: string; verbatim?: boolean }[] = [];
    JSON.stringify(message, (_key, value: unknown) => {
      if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'mrkdwn')
        mrkdwn.push(value as { text: string; verbatim?: boolean });
      return value;
    });
    expect(mrkdwn.length).toBeGreaterThan(3);
    expect(mrkdwn.filter((m) => m.verbatim !== true)).toEqual([]);
    for (const text of [message.text, ...mrkdwn.map((m) => m.text)]) expect(text).not.toMatch(/<[!h]/);
    expect(checkSlackMessage(message)).toEqual([]);
  });
});

describe('the signature check of docs/notifications.md', () => {
  it('runs as written and accepts a delivery, refuses a changed body, a wrong key and a replay', () => {
    const readme = readFileSync(join(ROOT, 'docs/notifications.md'), 'utf8');
    const code = /To verify:[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(code).toContain('timingSafeEqual');
    const verify = new Function('crypto', 'req', 'rawBody', 'key', `${code}\nreturn ok;`) as (
      c: typeof crypto,
      req: { headers: Record<string, string> },
      rawBody: string,
      key: string,
    ) => boolean;
    const e = envelope();
    const body = JSON.stringify(webhookPayload(e));
    const headers = webhookHeaders(e, body, 'k3y', new Date());
    expect(verify(crypto, { headers }, body, 'k3y')).toBe(true);
    expect(verify(crypto, { headers }, body.replace('"failed":0', '"failed":1'), 'k3y')).toBe(false);
    expect(verify(crypto, { headers }, body, 'other')).toBe(false);
    const old = webhookHeaders(e, body, 'k3y', new Date(Date.now() - 600_000));
    expect(verify(crypto, { headers: old }, body, 'k3y')).toBe(false);
    expect(verify(crypto, { headers: { ...headers, 'x-zdd-signature': '' } }, body, 'k3y')).toBe(false);
  });
});

describe('a run cancelled while it waits for its notifications', () => {
  it('stops waiting 2s after the cancel, not after the worst case (3 attempts of 5s)', async () => {
    const server = await hostile(() => undefined);
    try {
      const targets = parseNotifyTargets(`webhook ${server.url}`);
      if ('error' in targets) throw new Error(targets.error);
      const warnings: string[] = [];
      const notifier = new Notifier(targets, envelope().facts, { warn: (w) => warnings.push(w) });
      notifier.send({ event: 'succeeded', verdict: 'Done.' });
      const cancel = new AbortController();
      setTimeout(() => cancel.abort(), 300);
      const started = Date.now();
      const report = await notifier.close(Infinity, cancel.signal, 2000);
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(2200);
      expect(waited).toBeLessThan(3500);
      expect(report.problems).toEqual([
        'webhook #1: event 1 (succeeded) not delivered: the run stopped waiting for it',
      ]);
    } finally {
      server.close();
    }
  });
});

describe('an event without a sentence', () => {
  it('(an error thrown without a message) still makes a message Slack and Teams take', async () => {
    const server = await capturing();
    const bodies = server.bodies;
    try {
      const targets = parseNotifyTargets(`slack ${server.url}/slack\nteams ${server.url}/teams`);
      if ('error' in targets) throw new Error(targets.error);
      const notifier = new Notifier(targets, envelope().facts, { warn: () => undefined });
      notifier.send({ event: 'failed', verdict: ' ' });
      await notifier.close();
      const of = (kind: string) => JSON.parse(bodies.find((b) => b.path.endsWith(kind))?.raw ?? '{}') as unknown;
      expect(checkSlackMessage(of('slack'))).toEqual([]);
      expect(checkTeamsMessage(of('teams'))).toEqual([]);
      expect(JSON.stringify(of('slack'))).toContain("No details were given; the run's log has them.");
    } finally {
      server.close();
    }
  });
});

describe('a fault in a format (fault injection)', () => {
  it('loses that event only: later events still go out and the end of the run does not throw', async () => {
    const server = await capturing();
    const bodies = server.bodies;
    try {
      const targets = parseNotifyTargets(`webhook ${server.url}`);
      if ('error' in targets) throw new Error(targets.error);
      const [target] = targets;
      if (!target) throw new Error('no target');
      const warnings: string[] = [];
      const closing = new AbortController();
      const dispatcher = new Agent();
      const render: Render = (e) => {
        if (e.sequence === 1) throw new Error('format bug');
        return { body: JSON.stringify({ event: e.event, sequence: e.sequence }), headers: {} };
      };
      const channel = new Channel(target, render, { attempts: 1, backoffMs: 10 }, dispatcher, closing.signal, (w) =>
        warnings.push(w),
      );
      const base = { ...envelope(), event: 'started' as const };
      channel.enqueue(base);
      channel.enqueue({ ...base, event: 'succeeded' });
      await expect(channel.idle()).resolves.toBeUndefined();
      await dispatcher.destroy();
      expect(bodies.map((b) => b.raw)).toEqual(['{"event":"succeeded","sequence":2}']);
      expect(channel.problems).toEqual(['webhook #1: event 1 (started) not delivered: internal error (format bug)']);
      expect(warnings).toHaveLength(1);
    } finally {
      server.close();
    }
  });
});

describe('a verdict quoting a command that printed a 1 MB line', () => {
  it('is shortened, so Teams (28 KB a message) and the webhook still take the event', async () => {
    const server = await capturing();
    const bodies = server.bodies;
    try {
      const targets = parseNotifyTargets(`teams ${server.url}/teams\nwebhook ${server.url}/hook`);
      if ('error' in targets) throw new Error(targets.error);
      const notifier = new Notifier(targets, envelope().facts, { warn: () => undefined });
      notifier.send({ event: 'failed', verdict: `deploy-command exited 1: ${'x'.repeat(1 << 20)}` });
      await notifier.close();
      expect(bodies).toHaveLength(2);
      for (const { raw } of bodies) expect(Buffer.byteLength(raw)).toBeLessThan(28 * 1024);
      const teams = JSON.parse(bodies.find((b) => b.path.endsWith('/teams'))?.raw ?? '{}') as unknown;
      expect(checkTeamsMessage(teams)).toEqual([]);
      expect(bodies[0]?.raw).toContain('deploy-command exited 1: xxx');
    } finally {
      server.close();
    }
  });
});
