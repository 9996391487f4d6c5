/**
 * AWS's published service models (the `aws-sdk` v2 package's `apis/*.min.json`) as a request checker for the ALB
 * stand-in: the operation must exist, every parameter must be a member of its input shape with the right type, and
 * every required member must be present. Those minified models drop enums and ranges, so the constraints the stand-in
 * also checks come from the v3 SDK's generated enum constants and, for ranges and lengths, from the table below
 * (figures from the ELBv2 and CloudWatch API references). Responses are serialized from the models' output shapes.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ActionTypeEnum } from '@aws-sdk/client-elastic-load-balancing-v2';
import { AlarmType, ScanBy, StateValue } from '@aws-sdk/client-cloudwatch';

export interface ShapeRef {
  readonly shape?: string;
  readonly type?: string;
  readonly members?: Record<string, ShapeRef>;
  readonly member?: ShapeRef;
  readonly key?: ShapeRef;
  readonly value?: ShapeRef;
  readonly required?: readonly string[];
  readonly locationName?: string;
  readonly flattened?: boolean;
  readonly resultWrapper?: string;
}

export interface ServiceModel {
  readonly metadata: { readonly xmlNamespace: string; readonly apiVersion: string };
  readonly operations: Record<string, { readonly input?: ShapeRef; readonly output?: ShapeRef }>;
  readonly shapes: Record<string, ShapeRef>;
}

export function loadModel(file: string): ServiceModel {
  const require = createRequire(import.meta.url);
  return JSON.parse(readFileSync(require.resolve(`aws-sdk/apis/${file}.min.json`), 'utf8')) as ServiceModel;
}

function resolve(model: ServiceModel, ref: ShapeRef): ShapeRef {
  return ref.shape ? { ...model.shapes[ref.shape], ...ref, shape: undefined } : ref;
}

type Constraint =
  | { readonly enum: readonly string[] }
  | { readonly min?: number; readonly max?: number }
  | { readonly length: readonly [number, number]; readonly pattern?: RegExp };

/** Keyed by `Parent.Member` (list elements take their list's name), or `Member` alone. */
const CONSTRAINTS: Record<string, Constraint> = {
  'Actions.Type': { enum: Object.values(ActionTypeEnum) },
  'DefaultActions.Type': { enum: Object.values(ActionTypeEnum) },
  'Actions.Order': { min: 1, max: 50_000 },
  'DefaultActions.Order': { min: 1, max: 50_000 },
  'TargetGroups.Weight': { min: 0, max: 999 },
  'TargetGroupStickinessConfig.DurationSeconds': { min: 1, max: 604_800 },
  Priority: { min: 1, max: 50_000 },
  'Targets.Port': { min: 1, max: 65_535 },
  'Tags.Key': { length: [1, 128], pattern: /^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$/u },
  'Tags.Value': { length: [0, 256] },
  TagKeys: { length: [1, 128] },
  PageSize: { min: 1, max: 400 },
  'HttpHeaderConfig.HttpHeaderName': { length: [1, 40] },
  'MetricDataQueries.Id': { length: [1, 255], pattern: /^[a-z][a-zA-Z0-9_]*$/ },
  'MetricStat.Period': { min: 1 },
  // CloudWatch's statistics and extended statistics (Statistics concepts, CloudWatch User Guide): percentiles pNN.NN,
  // trimmed and winsorized means, trimmed counts and sums, percentile ranks, IQM.
  'MetricStat.Stat': {
    length: [1, 255],
    pattern:
      /^(SampleCount|Average|Sum|Minimum|Maximum|IQM|(p|tm|wm|tc|ts)(\d{1,2}(\.\d{1,10})?|100)|(TM|WM|TC|TS|PR)\([^)]+\))$/,
  },
  'Dimensions.Name': { length: [1, 255] },
  'Dimensions.Value': { length: [1, 1024] },
  'Metric.Namespace': { length: [1, 255] },
  'Metric.MetricName': { length: [1, 255] },
  ScanBy: { enum: Object.values(ScanBy) },
  AlarmTypes: { enum: Object.values(AlarmType) },
  StateValue: { enum: Object.values(StateValue) },
  AlarmNames: { length: [1, 255] },
};

/** List sizes the references give: ResourceArns at most 20, MetricDataQueries at most 500, Dimensions at most 30. */
const LIST_MAX: Record<string, number> = {
  ResourceArns: 20,
  MetricDataQueries: 500,
  Dimensions: 30,
  TagKeys: 50,
  AlarmNames: 100,
};

function checkConstraint(path: readonly string[], value: unknown, errors: string[]): void {
  const name = path[path.length - 1] ?? '';
  const key = `${path[path.length - 2] ?? ''}.${name}`;
  const c = CONSTRAINTS[key] ?? CONSTRAINTS[name];
  if (!c) return;
  const where = path.join('.');
  if ('enum' in c) {
    if (!c.enum.includes(String(value))) errors.push(`${where}: '${String(value)}' is not one of ${c.enum.join('|')}`);
  } else if ('length' in c) {
    const text = String(value);
    if (text.length < c.length[0] || text.length > c.length[1])
      errors.push(`${where}: length ${text.length} outside ${c.length[0]}-${c.length[1]}`);
    if (c.pattern && !c.pattern.test(text)) errors.push(`${where}: '${text}' does not match ${String(c.pattern)}`);
  } else {
    const n = Number(value);
    if ((c.min !== undefined && n < c.min) || (c.max !== undefined && n > c.max))
      errors.push(`${where}: ${n} outside ${c.min ?? '-inf'}-${c.max ?? 'inf'}`);
  }
}

/** Decodes a Query-protocol request (`Action`, `Version` and flattened members) against the operation's input. */
export function decodeQuery(
  model: ServiceModel,
  params: URLSearchParams,
): { operation: string; input: Record<string, unknown>; errors: string[] } {
  const errors: string[] = [];
  const operation = params.get('Action') ?? '';
  const op = model.operations[operation];
  if (!op) return { operation, input: {}, errors: [`unknown operation '${operation}'`] };
  if (params.get('Version') !== model.metadata.apiVersion)
    errors.push(`Version '${params.get('Version') ?? ''}' is not ${model.metadata.apiVersion}`);
  const keys = [...params.keys()].filter((k) => k !== 'Action' && k !== 'Version');
  const used = new Set<string>();
  const has = (prefix: string) => keys.some((k) => k === prefix || k.startsWith(`${prefix}.`));

  const read = (ref: ShapeRef, prefix: string, path: string[]): unknown => {
    const shape = resolve(model, ref);
    const type = shape.type ?? 'string';
    if (type === 'structure') {
      if (prefix && !has(prefix)) return undefined;
      const out: Record<string, unknown> = {};
      for (const [name, member] of Object.entries(shape.members ?? {})) {
        const key = `${prefix ? `${prefix}.` : ''}${member.locationName ?? name}`;
        const value = read(member, key, [...path, name]);
        if (value !== undefined) out[name] = value;
      }
      for (const name of shape.required ?? [])
        if (out[name] === undefined) errors.push(`${[...path, name].join('.')}: required member missing`);
      return out;
    }
    if (type === 'list') {
      if (params.get(prefix) === '' && !keys.some((k) => k.startsWith(`${prefix}.`))) {
        used.add(prefix);
        return [];
      }
      const items: unknown[] = [];
      for (let i = 1; has(`${prefix}.member.${i}`); i++)
        items.push(read(shape.member ?? {}, `${prefix}.member.${i}`, path));
      if (!items.length) return undefined;
      const max = LIST_MAX[path[path.length - 1] ?? ''];
      if (max !== undefined && items.length > max)
        errors.push(`${path.join('.')}: ${items.length} items, at most ${max}`);
      return items;
    }
    if (type === 'map') {
      if (params.get(prefix) === '' && !keys.some((k) => k.startsWith(`${prefix}.`))) {
        used.add(prefix);
        return {};
      }
      const map: Record<string, unknown> = {};
      for (let i = 1; has(`${prefix}.entry.${i}`); i++) {
        const key = read(shape.key ?? {}, `${prefix}.entry.${i}.key`, [...path, 'key']);
        if (typeof key !== 'string') errors.push(`${path.join('.')}: entry ${i} has no key`);
        else map[key] = read(shape.value ?? {}, `${prefix}.entry.${i}.value`, [...path, key]);
      }
      return Object.keys(map).length ? map : undefined;
    }
    const text = params.get(prefix);
    if (text === null) return undefined;
    used.add(prefix);
    let value: unknown = text;
    if (type === 'integer' || type === 'long') {
      if (!/^-?\d+$/.test(text)) errors.push(`${path.join('.')}: '${text}' is not an integer`);
      value = Number(text);
    } else if (type === 'double' || type === 'float') {
      if (!Number.isFinite(Number(text))) errors.push(`${path.join('.')}: '${text}' is not a number`);
      value = Number(text);
    } else if (type === 'boolean') {
      if (text !== 'true' && text !== 'false') errors.push(`${path.join('.')}: '${text}' is not a boolean`);
      value = text === 'true';
    } else if (type === 'timestamp') {
      if (Number.isNaN(Date.parse(text))) errors.push(`${path.join('.')}: '${text}' is not a timestamp`);
      value = new Date(text);
    }
    checkConstraint(path, value, errors);
    return value;
  };
  const input = (op.input ? read(op.input, '', []) : {}) as Record<string, unknown>;
  for (const key of keys) if (!used.has(key)) errors.push(`unknown parameter '${key}' for ${operation}`);
  return { operation, input, errors };
}

/** Checks an AWS JSON 1.0 request body against the operation's input (timestamps are epoch seconds). */
export function checkJson(model: ServiceModel, operation: string, body: unknown): string[] {
  const errors: string[] = [];
  const op = model.operations[operation];
  if (!op) return [`unknown operation '${operation}'`];
  const check = (ref: ShapeRef, value: unknown, path: string[]): void => {
    const shape = resolve(model, ref);
    const type = shape.type ?? 'string';
    const where = path.join('.') || 'body';
    if (type === 'structure') {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return void errors.push(`${where}: not an object`);
      const members = shape.members ?? {};
      for (const [name, v] of Object.entries(value)) {
        const member = members[name];
        if (!member) errors.push(`${[...path, name].join('.')}: unknown member`);
        else if (v !== null && v !== undefined) check(member, v, [...path, name]);
      }
      for (const name of shape.required ?? [])
        if ((value as Record<string, unknown>)[name] === undefined)
          errors.push(`${[...path, name].join('.')}: required member missing`);
      return;
    }
    if (type === 'list') {
      if (!Array.isArray(value)) return void errors.push(`${where}: not a list`);
      const max = LIST_MAX[path[path.length - 1] ?? ''];
      if (max !== undefined && value.length > max) errors.push(`${where}: ${value.length} items, at most ${max}`);
      value.forEach((v) => check(shape.member ?? {}, v, path));
      return;
    }
    const ok =
      type === 'string'
        ? typeof value === 'string'
        : type === 'boolean'
          ? typeof value === 'boolean'
          : type === 'integer' || type === 'long'
            ? Number.isInteger(value)
            : typeof value === 'number';
    if (!ok) errors.push(`${where}: ${JSON.stringify(value)} is not a ${type}`);
    checkConstraint(path, value, errors);
  };
  check(op.input ?? { type: 'structure', members: {} }, body, []);
  return errors;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The Query protocol's XML answer for an operation, from its output shape. */
export function queryResponse(
  model: ServiceModel,
  operation: string,
  output: Record<string, unknown>,
  requestId: string,
): string {
  const op = model.operations[operation];
  const write = (ref: ShapeRef, value: unknown): string => {
    const shape = resolve(model, ref);
    const type = shape.type ?? 'string';
    if (type === 'structure') {
      return Object.entries(shape.members ?? {})
        .filter(([name]) => (value as Record<string, unknown>)[name] !== undefined)
        .map(([name, member]) => {
          const tag = member.locationName ?? name;
          return `<${tag}>${write(member, (value as Record<string, unknown>)[name])}</${tag}>`;
        })
        .join('');
    }
    if (type === 'list')
      return (value as unknown[]).map((v) => `<member>${write(shape.member ?? {}, v)}</member>`).join('');
    if (type === 'map')
      return Object.entries(value as Record<string, unknown>)
        .map(([k, v]) => `<entry><key>${escapeXml(k)}</key><value>${write(shape.value ?? {}, v)}</value></entry>`)
        .join('');
    if (type === 'timestamp') return (value as Date).toISOString();
    return escapeXml(String(value));
  };
  const wrapper = op?.output?.resultWrapper ?? `${operation}Result`;
  const body = op?.output ? write(op.output, output) : '';
  return `<${operation}Response xmlns="${model.metadata.xmlNamespace}"><${wrapper}>${body}</${wrapper}><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${operation}Response>`;
}

export function queryError(model: ServiceModel, code: string, message: string, requestId: string): string {
  return `<ErrorResponse xmlns="${model.metadata.xmlNamespace}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}
