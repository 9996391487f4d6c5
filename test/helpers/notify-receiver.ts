/**
 * A local stand-in for Slack incoming webhooks, Microsoft Teams workflow webhooks and a generic webhook receiver:
 * a real HTTP server on 127.0.0.1 that checks every request as the provider would. Slack: the Block Kit shapes and
 * limits of the blocks we send (the types are `@slack/types`, checked by tsc in src/notify/slack.ts). Teams: the
 * Adaptive Card against the Adaptive Card JSON schema (as shipped in adaptivecards-designer@2.4.4, MIT, vendored in
 * test/fixtures) and Microsoft's own parser (`adaptivecards`), which must raise no event. Webhook: the JSON schema
 * the README documents (docs/notify-webhook-v1.schema.json) and the HMAC signature, as a receiver verifies it.
 *
 * A path says what the receiver does: /ok/KIND/TOKEN answers (Slack `200 ok`, Teams `202`, webhook `204`),
 * /hang/KIND/TOKEN never answers, /fail/KIND/TOKEN answers 500, /limit/KIND/TOKEN answers 429 with Retry-After: 1
 * to every other request (as Slack limits a webhook to about one message a second).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { ROOT } from './action.js';
import { freePort } from './ports.js';

export type Kind = 'slack' | 'teams' | 'webhook';
export type Behaviour = 'ok' | 'hang' | 'fail' | 'limit';

export interface Received {
  readonly kind: Kind;
  readonly behaviour: Behaviour;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly raw: string;
  readonly body: unknown;
  /** When the request had fully arrived (Date.now). */
  readonly at: number;
  /** What the stand-in found wrong with it (empty: the provider would take it). */
  readonly problems: readonly string[];
}

const require = createRequire(import.meta.url);

function cardValidator() {
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as object);
  const { id, ...schema } = JSON.parse(
    readFileSync(join(ROOT, 'test/fixtures/adaptive-card.schema.json'), 'utf8'),
  ) as Record<string, unknown>;
  // The file says `id` (draft-04 style) in a draft-06 schema; Ajv takes the same as `$id`.
  return ajv.compile({ $id: String(id), ...schema });
}

function payloadValidator() {
  const ajv = new Ajv({ strict: true, allErrors: true });
  (addFormatsModule as unknown as (a: Ajv) => void)(ajv);
  const schema = JSON.parse(readFileSync(join(ROOT, 'docs/notify-webhook-v1.schema.json'), 'utf8')) as object;
  return ajv.compile(schema);
}

const validateCard = cardValidator();
const validatePayload = payloadValidator();

/** Microsoft's Adaptive Cards parser: every event it raises (unknown element, bad value) is a problem. */
function parseWithSdk(card: unknown): string[] {
  const AC = require('adaptivecards/dist/adaptivecards.js') as typeof import('adaptivecards');
  const context = new AC.SerializationContext();
  new AC.AdaptiveCard().parse(card, context);
  return Array.from({ length: context.eventCount }, (_, i) => `adaptivecards: ${context.getEventAt(i).message}`);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function textObject(v: unknown, where: string, types: readonly string[], max: number): string[] {
  if (!isObj(v)) return [`${where}: not a text object`];
  const problems: string[] = [];
  if (!types.includes(String(v.type))) problems.push(`${where}: type ${String(v.type)} is not ${types.join(' or ')}`);
  if (typeof v.text !== 'string' || v.text.length === 0) problems.push(`${where}: text is empty`);
  else if (v.text.length > max) problems.push(`${where}: text is ${v.text.length} characters, over ${max}`);
  const extra = Object.keys(v).filter((k) => !['type', 'text', 'emoji', 'verbatim'].includes(k));
  if (extra.length) problems.push(`${where}: unknown keys ${extra.join(', ')}`);
  return problems;
}

function only(v: Obj, keys: readonly string[], where: string): string[] {
  const extra = Object.keys(v).filter((k) => !keys.includes(k));
  return extra.length ? [`${where}: unknown keys ${extra.join(', ')}`] : [];
}

/** Block Kit, as https://docs.slack.dev/reference/block-kit/blocks documents the blocks we send, limits included. */
export function checkSlackMessage(body: unknown): string[] {
  if (!isObj(body)) return ['not a JSON object'];
  const problems = only(body, ['text', 'blocks'], 'message');
  if (typeof body.text !== 'string' || !body.text) problems.push('text: the fallback text is missing');
  if (!Array.isArray(body.blocks) || body.blocks.length === 0 || body.blocks.length > 50)
    return [...problems, 'blocks: must be 1 to 50 blocks'];
  for (const [i, block] of body.blocks.entries()) {
    const where = `blocks[${i}]`;
    if (!isObj(block)) {
      problems.push(`${where}: not an object`);
      continue;
    }
    switch (block.type) {
      case 'header':
        problems.push(...only(block, ['type', 'text', 'block_id'], where));
        problems.push(...textObject(block.text, `${where}.text`, ['plain_text'], 150));
        break;
      case 'section': {
        problems.push(...only(block, ['type', 'text', 'fields', 'block_id', 'accessory'], where));
        if (block.text === undefined && block.fields === undefined) problems.push(`${where}: needs text or fields`);
        if (block.text !== undefined)
          problems.push(...textObject(block.text, `${where}.text`, ['mrkdwn', 'plain_text'], 3000));
        if (block.fields !== undefined) {
          if (!Array.isArray(block.fields) || block.fields.length > 10) problems.push(`${where}.fields: 1 to 10`);
          else
            block.fields.forEach((f, j) =>
              problems.push(...textObject(f, `${where}.fields[${j}]`, ['mrkdwn', 'plain_text'], 2000)),
            );
        }
        break;
      }
      case 'context':
        problems.push(...only(block, ['type', 'elements', 'block_id'], where));
        if (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 10)
          problems.push(`${where}.elements: 1 to 10`);
        else
          block.elements.forEach((e, j) =>
            problems.push(...textObject(e, `${where}.elements[${j}]`, ['mrkdwn', 'plain_text'], 3000)),
          );
        break;
      case 'actions':
        problems.push(...only(block, ['type', 'elements', 'block_id'], where));
        if (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 25)
          problems.push(`${where}.elements: 1 to 25`);
        else
          block.elements.forEach((e, j) => {
            const at = `${where}.elements[${j}]`;
            if (!isObj(e) || e.type !== 'button') return problems.push(`${at}: not a button`);
            problems.push(...only(e, ['type', 'text', 'url', 'action_id', 'style', 'value'], at));
            problems.push(...textObject(e.text, `${at}.text`, ['plain_text'], 75));
            if (typeof e.url !== 'string' || e.url.length > 3000 || !/^https?:\/\//.test(e.url))
              problems.push(`${at}.url: not an http(s) URL of at most 3000 characters`);
            if (typeof e.action_id !== 'string' || e.action_id.length > 255) problems.push(`${at}.action_id`);
            if (e.style !== undefined && e.style !== 'primary' && e.style !== 'danger') problems.push(`${at}.style`);
          });
        break;
      default:
        problems.push(`${where}: block type ${String(block.type)} is not one we send`);
    }
  }
  return problems;
}

/** The message a Teams workflow takes: one Adaptive Card attachment, valid by schema and by Microsoft's parser. */
export function checkTeamsMessage(body: unknown): string[] {
  if (!isObj(body) || body.type !== 'message' || !Array.isArray(body.attachments) || body.attachments.length !== 1)
    return ['not a message with one attachment'];
  const attachment = body.attachments[0] as Obj;
  if (attachment.contentType !== 'application/vnd.microsoft.card.adaptive')
    return [`contentType ${String(attachment.contentType)}`];
  const card = attachment.content;
  const problems: string[] = [];
  if (!validateCard(card))
    problems.push(...(validateCard.errors ?? []).map((e) => `schema: ${e.instancePath} ${e.message}`));
  problems.push(...parseWithSdk(card));
  return problems;
}

/** As a receiver verifies it: signature over TIMESTAMP.BODY, a timestamp at most 5 minutes off, the schema. */
export function checkWebhook(headers: http.IncomingHttpHeaders, raw: string, body: unknown, secret: string): string[] {
  const problems: string[] = [];
  if (!validatePayload(body))
    problems.push(...(validatePayload.errors ?? []).map((e) => `schema: ${e.instancePath} ${e.message}`));
  if (headers['x-zdd-event'] !== (body as Obj | undefined)?.event) problems.push('x-zdd-event differs from event');
  if (headers['x-zdd-delivery'] !== (body as Obj | undefined)?.id) problems.push('x-zdd-delivery differs from id');
  if (!secret) return problems;
  const timestamp = Number(headers['x-zdd-timestamp']);
  if (!Number.isInteger(timestamp) || Math.abs(Date.now() / 1000 - timestamp) > 300)
    problems.push('x-zdd-timestamp: missing or more than 5 minutes off');
  const expected = Buffer.from(`v1=${createHmac('sha256', secret).update(`${timestamp}.${raw}`).digest('hex')}`);
  const given = Buffer.from(String(headers['x-zdd-signature'] ?? ''));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) problems.push('x-zdd-signature: wrong');
  return problems;
}

export interface Receiver {
  /** A target URL, e.g. http://127.0.0.1:PORT/ok/slack/T0K3N (the token makes each URL unique, like a real one). */
  url(kind: Kind, behaviour?: Behaviour): string;
  readonly received: Received[];
  /** Every request of one kind and behaviour, in arrival order. */
  of(kind: Kind, behaviour?: Behaviour): Received[];
  close(): Promise<void>;
}

export async function startReceiver(secret = ''): Promise<Receiver> {
  const received: Received[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString();
      const [, behaviour = 'ok', kind = 'webhook'] = (req.url ?? '').split('/') as [string, Behaviour, Kind];
      let body: unknown;
      const problems: string[] = [];
      if (req.method !== 'POST') problems.push(`method ${req.method}`);
      if (req.headers['content-type'] !== 'application/json') problems.push('content-type is not application/json');
      try {
        body = JSON.parse(raw);
      } catch {
        problems.push('body is not JSON');
      }
      if (body !== undefined) {
        if (kind === 'slack') problems.push(...checkSlackMessage(body));
        else if (kind === 'teams') problems.push(...checkTeamsMessage(body));
        else problems.push(...checkWebhook(req.headers, raw, body, secret));
      }
      received.push({
        kind,
        behaviour,
        path: req.url ?? '',
        headers: req.headers,
        raw,
        body,
        at: Date.now(),
        problems,
      });
      if (behaviour === 'hang') return void hanging.add(res);
      if (behaviour === 'fail') return void res.writeHead(500).end('internal error');
      if (behaviour === 'limit' && received.filter((r) => r.path === req.url).length % 2 === 1)
        return void res.writeHead(429, { 'retry-after': '1' }).end('rate_limited');
      if (problems.length) return void res.writeHead(400).end('invalid_payload');
      if (kind === 'slack') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      res.writeHead(kind === 'teams' ? 202 : 204).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  let count = 0;
  return {
    url: (kind, behaviour = 'ok') => `http://127.0.0.1:${port}/${behaviour}/${kind}/T${++count}s3cr3t${port}`,
    received,
    of: (kind, behaviour = 'ok') => received.filter((r) => r.kind === kind && r.behaviour === behaviour),
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

/** The event a message reports, read back as its reader sees it: the webhook's `event`, a chat message's headline. */
export function eventOf(kind: Kind, body: unknown): string {
  if (kind === 'webhook') return (body as { event: string }).event;
  const title =
    kind === 'slack'
      ? (body as { blocks: { text: { text: string } }[] }).blocks[0]?.text.text
      : (body as { attachments: { content: { body: { text: string }[] } }[] }).attachments[0]?.content.body[0]?.text;
  return String(title);
}
