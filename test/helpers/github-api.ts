/**
 * A local stand-in for api.github.com that checks every request against GitHub's published OpenAPI description
 * (@octokit/openapi): the endpoint must exist for the method, path parameters must have their declared types,
 * the JSON body must match the operation's request schema, and documented limits the schema does not encode
 * (a status description is at most 140 characters) must hold. Requests are recorded for tests to assert.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

interface Operation {
  readonly method: string;
  readonly template: string;
  readonly pattern: RegExp;
  readonly params: readonly { name: string; schema: { type?: string } }[];
  readonly validate: ValidateFunction | undefined;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  /** The OpenAPI path template it matched, e.g. POST /repos/{owner}/{repo}/deployments */
  readonly operation: string;
  readonly body: Record<string, unknown> | undefined;
}

let operations: Operation[] | undefined;

/** OpenAPI 3.0 `nullable: true` in JSON Schema terms: the value may also be null. */
function toJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (!schema || typeof schema !== 'object') return schema;
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) if (key !== 'nullable') result[key] = toJsonSchema(value);
  if ((schema as { nullable?: boolean }).nullable !== true) return result;
  if (typeof result.type === 'string') return { ...result, type: [result.type, 'null'] };
  return { anyOf: [result, { type: 'null' }] };
}

function loadOperations(): Operation[] {
  if (operations) return operations;
  const require = createRequire(import.meta.url);
  const path = require.resolve('@octokit/openapi/generated/api.github.com.deref.json');
  const spec = JSON.parse(readFileSync(path, 'utf8')) as {
    paths: Record<
      string,
      Record<
        string,
        {
          parameters?: { in: string; name: string; schema: { type?: string } }[];
          requestBody?: { content?: Record<string, { schema: object }> };
        }
      >
    >;
  };
  // OpenAPI 3.0 schemas: `nullable` and vendor keywords; formats such as uri and date-time.
  const ajv = new Ajv({ strict: false, allErrors: true });
  const addFormats = addFormatsModule as unknown as (a: Ajv) => void;
  addFormats(ajv);
  ajv.addFormat('repo.nwo', /^[^/]+\/[^/]+$/); // GitHub's own format: owner/name
  const result: Operation[] = [];
  for (const [template, methods] of Object.entries(spec.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '([^/]+)')}$`);
    for (const [method, op] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const schema = op.requestBody?.content?.['application/json']?.schema;
      result.push({
        method: method.toUpperCase(),
        template,
        pattern,
        params: (op.parameters ?? []).filter((p) => p.in === 'path'),
        validate:
          schema && (method === 'post' || method === 'patch' || method === 'put')
            ? ajv.compile(toJsonSchema(schema) as object)
            : undefined,
      });
    }
  }
  // Most specific template first: literal segments beat parameters.
  operations = result.sort((a, b) =>
    (b.template.match(/\{/g)?.length ?? 0) < (a.template.match(/\{/g)?.length ?? 0) ? 1 : -1,
  );
  return operations;
}

export interface GithubApi {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Requests that broke the OpenAPI description, with why. */
  readonly violations: string[];
  /** Issue and pull-request comments as stored, oldest first. */
  readonly comments: { id: number; issue: number; body: string; updates: number }[];
  /** Deployments as stored, newest first, each with its statuses newest first. */
  deployments(): { id: number; environment: string; transient: boolean; payload: unknown; states: string[] }[];
  /** Forget every deployment (a fresh repository). */
  reset(): void;
  /** Answer every request with 403 "Resource not accessible by integration", as for a token without the permission. */
  forbid(on: boolean): void;
  close(): Promise<void>;
}

export async function startGithubApi(): Promise<GithubApi> {
  const ops = loadOperations();
  const requests: RecordedRequest[] = [];
  const violations: string[] = [];
  let forbidden = false;
  let nextId = 1000;
  // Stored like GitHub stores them: deployments with their statuses, listed newest first.
  const deployments: Record<string, unknown>[] = [];
  const statuses = new Map<number, Record<string, unknown>[]>();
  const comments: { id: number; issue: number; body: string; updates: number }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const method = req.method ?? 'GET';
      const op = ops.find((o) => o.method === method && o.pattern.test(path));
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (!op) {
        violations.push(`${method} ${path}: no such endpoint in GitHub's OpenAPI description`);
        return send(404, { message: 'Not Found' });
      }
      const values = op.pattern.exec(path)?.slice(1) ?? [];
      op.params.forEach((p, i) => {
        if (p.schema.type === 'integer' && !/^\d+$/.test(values[i] ?? ''))
          violations.push(`${method} ${op.template}: ${p.name}=${values[i]} is not an integer`);
      });
      let body: Record<string, unknown> | undefined;
      const text = Buffer.concat(chunks).toString();
      if (text) {
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          violations.push(`${method} ${op.template}: body is not JSON`);
        }
      }
      if (op.validate && !op.validate(body ?? {})) {
        violations.push(`${method} ${op.template}: ${JSON.stringify(op.validate.errors)}`);
      }
      if (op.template.endsWith('/statuses') && typeof body?.description === 'string' && body.description.length > 140) {
        violations.push(
          `${method} ${op.template}: description is ${body.description.length} characters, GitHub allows 140`,
        );
      }
      if (!/^(token|Bearer) \S+/.test(req.headers.authorization ?? ''))
        violations.push(`${method} ${op.template}: no Authorization header`);
      requests.push({ method, path, operation: `${method} ${op.template}`, body });
      if (forbidden)
        return send(403, {
          message: 'Resource not accessible by integration',
          documentation_url: 'https://docs.github.com/rest',
        });
      const [owner, repo] = path.split('/').slice(2, 4);
      const now = new Date().toISOString();
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      if (op.template === '/repos/{owner}/{repo}/deployments' && method === 'GET') {
        const environment = query.get('environment');
        const perPage = Number(query.get('per_page') ?? 30);
        return send(200, deployments.filter((d) => !environment || d.environment === environment).slice(0, perPage));
      }
      if (op.template === '/repos/{owner}/{repo}/deployments/{deployment_id}/statuses' && method === 'GET') {
        const perPage = Number(query.get('per_page') ?? 30);
        return send(200, (statuses.get(Number(values[2])) ?? []).slice(0, perPage));
      }
      if (op.template === '/repos/{owner}/{repo}/deployments' && method === 'POST') {
        const id = nextId++;
        deployments.unshift({
          id,
          node_id: `DE_${id}`,
          sha: body?.ref,
          ref: body?.ref,
          task: 'deploy',
          environment: body?.environment,
          payload: body?.payload ?? {},
          description: body?.description ?? null,
          creator: null,
          statuses_url: '',
          repository_url: '',
          url: '',
          created_at: now,
          updated_at: now,
          transient_environment: body?.transient_environment ?? false,
          production_environment: body?.production_environment ?? false,
        });
        return send(201, {
          id,
          node_id: `DE_${id}`,
          sha: body?.ref,
          ref: body?.ref,
          task: 'deploy',
          environment: body?.environment,
          payload: body?.payload ?? {},
          description: body?.description ?? null,
          creator: null,
          statuses_url: `${owner}/${repo}/deployments/${id}/statuses`,
          repository_url: `${owner}/${repo}`,
          url: `${owner}/${repo}/deployments/${id}`,
          created_at: now,
          updated_at: now,
          transient_environment: body?.transient_environment ?? false,
          production_environment: body?.production_environment ?? false,
        });
      }
      if (op.template === '/repos/{owner}/{repo}/deployments/{deployment_id}/statuses' && method === 'POST') {
        const list = statuses.get(Number(values[2])) ?? [];
        list.unshift({ id: nextId, state: body?.state, description: body?.description ?? '', created_at: now });
        statuses.set(Number(values[2]), list);
        return send(201, {
          id: nextId++,
          node_id: 'DES_1',
          state: body?.state,
          description: body?.description ?? '',
          environment: body?.environment ?? '',
          created_at: now,
          updated_at: now,
        });
      }
      const comment = (c: (typeof comments)[number]) => ({
        id: c.id,
        node_id: `IC_${c.id}`,
        url: `${owner}/${repo}/issues/comments/${c.id}`,
        html_url: `https://github.example.com/${owner}/${repo}/pull/${c.issue}#issuecomment-${c.id}`,
        issue_url: `${owner}/${repo}/issues/${c.issue}`,
        body: c.body,
        user: null,
        author_association: 'NONE',
        created_at: now,
        updated_at: now,
      });
      if (op.template === '/repos/{owner}/{repo}/issues/{issue_number}/comments' && method === 'GET') {
        return send(200, comments.filter((c) => c.issue === Number(values[2])).map(comment));
      }
      if (op.template === '/repos/{owner}/{repo}/issues/{issue_number}/comments' && method === 'POST') {
        const created = { id: nextId++, issue: Number(values[2]), body: String(body?.body ?? ''), updates: 0 };
        comments.push(created);
        return send(201, comment(created));
      }
      if (op.template === '/repos/{owner}/{repo}/issues/comments/{comment_id}' && method === 'PATCH') {
        const found = comments.find((c) => c.id === Number(values[2]));
        if (!found) return send(404, { message: 'Not Found' });
        found.body = String(body?.body ?? '');
        found.updates++;
        return send(200, comment(found));
      }
      return send(200, []);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    violations,
    comments,
    deployments: () =>
      deployments.map((d) => ({
        id: Number(d.id),
        environment: String(d.environment),
        transient: d.transient_environment === true,
        payload: d.payload,
        states: (statuses.get(Number(d.id)) ?? []).map((st) => String(st.state)),
      })),
    forbid: (on) => (forbidden = on),
    reset: () => {
      nextId = 1000;
      deployments.length = 0;
      statuses.clear();
      comments.length = 0;
      requests.length = 0;
      violations.length = 0;
      forbidden = false;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The environment the runner gives a step, pointing the GitHub API at the local server. */
export function githubEnv(api: GithubApi): Record<string, string> {
  return {
    GITHUB_API_URL: api.url,
    GITHUB_SERVER_URL: 'https://github.example.com',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_WORKFLOW: 'deploy',
    GITHUB_ACTOR: 'octocat',
    GITHUB_EVENT_NAME: 'push',
  };
}
