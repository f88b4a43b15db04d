import type { z } from 'zod';
import { ConfigError } from './errors';

/**
 * One problem with a set of options or an input. `path` includes the prefix (`options.tls.servername`); `field` is
 * the same path without it (`tls.servername`), as `ConfigError.field` carries it.
 */
export interface OptionIssue {
  path: string;
  field: string;
  message: string;
  /** Set when the issue is an unknown key: that key (the last segment of `field`). */
  unknownKey?: string;
}

type Segment = PropertyKey;
type Schema = z.core.$ZodType;

/** `a.b[0].c` from path segments. */
function joinPath(segments: readonly Segment[]): string {
  return segments
    .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
    .join('.')
    .replace(/\.\[/g, '[');
}

const withPrefix = (prefix: string, field: string) => (field === '' ? prefix : field.startsWith('[') ? prefix + field : `${prefix}.${field}`);

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions: `hots` → `host` is 1). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i]!;
    const above = rows[i - 1]!;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(above[j]! + 1, row[j - 1]! + 1, above[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row[j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * The candidate closest to `name` by edit distance (case-insensitive), or `undefined` when none is close: at most
 * 40% of the name's length may differ (at least one character), so `zzz` suggests nothing. A name that is the start
 * of a candidate, or the other way round (`perSec` / `perSecond`, `password` / `pass`), counts as one edit.
 *
 * @example
 * ```ts
 * closestKey('hots', ['host', 'port']); // 'host'
 * closestKey('rejectUnauthorised', ['rejectUnauthorized', 'servername']); // 'rejectUnauthorized'
 * ```
 */
export function closestKey(name: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.floor(name.length * 0.4));
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    if (candidate === name) continue;
    const other = candidate.toLowerCase();
    const prefix = Math.min(lower.length, other.length) >= 3 && (other.startsWith(lower) || lower.startsWith(other));
    const d = prefix ? Math.min(1, editDistance(lower, other)) : editDistance(lower, other);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** The issue for one unknown key: ``unknown option `tls.rejectUnauthorised`; did you mean `tls.rejectUnauthorized`?`` */
export function unknownKeyIssue(
  prefix: string,
  at: readonly Segment[],
  key: string,
  candidates: Iterable<string>,
  noun = 'option',
): OptionIssue {
  const field = joinPath([...at, key]);
  const suggestion = closestKey(key, candidates);
  const hint = suggestion === undefined ? '' : `; did you mean \`${joinPath([...at, suggestion])}\`?`;
  return { path: withPrefix(prefix, field), field, message: `unknown ${noun} \`${field}\`${hint}`, unknownKey: key };
}

/**
 * Unknown-key issues for an object checked by hand (options that have no zod schema).
 *
 * @example
 * ```ts
 * unknownKeys({ concurency: 4 }, ['concurrency', 'pollMs'], 'worker options'); // [{ path: 'worker options.concurency', … }]
 * ```
 */
export function unknownKeys(value: unknown, known: readonly string[], prefix: string, noun = 'option'): OptionIssue[] {
  if (!isPlainObject(value)) return [];
  return Object.keys(value)
    .filter((key) => !known.includes(key))
    .map((key) => unknownKeyIssue(prefix, [], key, known, noun));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The schema under wrappers that do not change an object's keys (optional, default, refine-free pipes …). */
function unwrap(schema: Schema): z.core.$ZodTypes {
  let s = schema as z.core.$ZodTypes;
  for (let depth = 0; depth < 32; depth++) {
    const def = s._zod.def;
    switch (def.type) {
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
      case 'nonoptional':
      case 'readonly':
      case 'catch':
        s = def.innerType as z.core.$ZodTypes;
        break;
      case 'pipe':
        // `.transform()` pipes its input schema into a transform; `z.preprocess()` the other way round.
        s = ((def.in as z.core.$ZodTypes)._zod.def.type === 'transform' ? def.out : def.in) as z.core.$ZodTypes;
        break;
      case 'lazy':
        s = def.getter() as z.core.$ZodTypes;
        break;
      default:
        return s;
    }
  }
  return s;
}

/** Whether an object schema keeps unknown keys (`z.looseObject`, `.passthrough()`, `.catchall()`): those are not errors. */
const isOpen = (def: z.core.$ZodObjectDef) => def.catchall !== undefined && (def.catchall as z.core.$ZodTypes)._zod.def.type !== 'never';

/** The object schema's keys at `path` (the first union member that has one), for suggesting a known key. */
function keysAt(schema: Schema, path: readonly Segment[]): string[] | undefined {
  const s = unwrap(schema);
  const def = s._zod.def;
  if (def.type === 'union') {
    for (const option of def.options) {
      const keys = keysAt(option, path);
      if (keys) return keys;
    }
    return undefined;
  }
  if (path.length === 0) return def.type === 'object' ? Object.keys(def.shape) : undefined;
  const [head, ...rest] = path;
  switch (def.type) {
    case 'object': {
      const child = typeof head === 'string' && Object.hasOwn(def.shape, head) ? def.shape[head] : undefined;
      return child ? keysAt(child, rest) : undefined;
    }
    case 'array':
      return keysAt(def.element, rest);
    case 'record':
      return keysAt(def.valueType, rest);
    case 'tuple': {
      const item = typeof head === 'number' ? (def.items[head] ?? def.rest) : undefined;
      return item ? keysAt(item, rest) : undefined;
    }
    default:
      return undefined;
  }
}

export interface UnknownKeyOptions {
  /** Word for a key in messages. @default 'option' */
  noun?: string;
  /** More keys that are valid at the top level (checked elsewhere), offered as suggestions there. */
  alsoKnown?: readonly string[];
}

/**
 * Every key of `value` that `schema` does not declare, at any depth, with the closest declared key suggested. Works
 * on ordinary (stripping) `z.object()`s as well as strict ones, so a schema needs no `.strict()` to be checked;
 * objects that pass unknown keys through (`z.looseObject`, `.catchall()`) are not checked. Union members are tried
 * and the one that fits best is reported.
 */
export function unknownKeyIssues(schema: Schema, value: unknown, prefix: string, options: UnknownKeyOptions = {}): OptionIssue[] {
  const out: OptionIssue[] = [];
  walk(schema, value, [], out, { ...options, prefix });
  return out;
}

function walk(schema: Schema, value: unknown, at: Segment[], out: OptionIssue[], options: UnknownKeyOptions & { prefix?: string }): void {
  const s = unwrap(schema);
  const def = s._zod.def;
  const prefix = options.prefix ?? '';
  switch (def.type) {
    case 'object': {
      if (!isPlainObject(value)) return;
      const open = isOpen(def);
      const candidates = at.length === 0 && options.alsoKnown ? [...Object.keys(def.shape), ...options.alsoKnown] : Object.keys(def.shape);
      for (const key of Object.keys(value)) {
        const child = Object.hasOwn(def.shape, key) ? def.shape[key] : undefined;
        if (child) walk(child, value[key], [...at, key], out, options);
        else if (!open) out.push(unknownKeyIssue(prefix, at, key, candidates, options.noun));
      }
      return;
    }
    case 'array':
      if (Array.isArray(value)) for (const [i, item] of value.entries()) walk(def.element, item, [...at, i], out, options);
      return;
    case 'tuple':
      if (!Array.isArray(value)) return;
      for (const [i, item] of value.entries()) {
        const itemSchema = def.items[i] ?? def.rest;
        if (itemSchema) walk(itemSchema, item, [...at, i], out, options);
      }
      return;
    case 'record':
      if (isPlainObject(value)) for (const [key, item] of Object.entries(value)) walk(def.valueType, item, [...at, key], out, options);
      return;
    case 'union': {
      let best: OptionIssue[] | undefined;
      for (const option of def.options) {
        if (!fits(option, value)) continue;
        const found: OptionIssue[] = [];
        walk(option, value, at, found, options);
        if (best === undefined || found.length < best.length) best = found;
        if (found.length === 0) break;
      }
      out.push(...(best ?? []));
      return;
    }
    default:
      return;
  }
}

/** Whether a union member is meant for this kind of value: an object member for an object, an array for an array. */
function fits(schema: Schema, value: unknown): boolean {
  const def = unwrap(schema)._zod.def;
  switch (def.type) {
    case 'object':
    case 'record':
      return isPlainObject(value);
    case 'array':
    case 'tuple':
      return Array.isArray(value);
    case 'union':
      return def.options.some((option) => fits(option, value));
    case 'any':
    case 'unknown':
    case 'custom':
      return true;
    default:
      return false;
  }
}

/** zod's issues as {@link OptionIssue}s; `unrecognized_keys` become one issue per key, with a suggestion when `schema` is given. */
export function issuesOf(error: z.ZodError, prefix: string, schema?: Schema, noun = 'key'): OptionIssue[] {
  return error.issues.flatMap((issue): OptionIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      const candidates = (schema && keysAt(schema, issue.path)) ?? [];
      return issue.keys.map((key) => unknownKeyIssue(prefix, issue.path, key, candidates, noun));
    }
    const field = joinPath(issue.path);
    return [{ path: withPrefix(prefix, field), field, message: issue.message }];
  });
}

/** Render issues as `\n  - <path>: <message>` lines. */
export function formatIssues(issues: readonly { path: string; message: string }[]): string {
  return issues.map((i) => `\n  - ${i.path}: ${i.message}`).join('');
}

/** Render zod issues as `\n  - <prefix>.<path>: <message>` lines. */
export function formatZodIssues(error: z.ZodError, prefix: string, schema?: Schema): string {
  return formatIssues(issuesOf(error, prefix, schema, 'option'));
}

/**
 * Parse options strictly: zod's own checks plus an unknown-key check at every depth (see {@link unknownKeyIssues}),
 * unknown keys reported first (a misspelt key is usually why a value is missing).
 *
 * @example
 * ```ts
 * const result = strictParse(z.object({ host: z.string() }), { hots: 'x' }, 'options');
 * if (!result.ok) throw new ConfigError(`invalid options:${formatIssues(result.issues)}`, { field: result.issues[0]?.field });
 * // [herald] invalid options:
 * //   - options.hots: unknown option `hots`; did you mean `host`?
 * ```
 */
export function strictParse<S extends Schema>(
  schema: S,
  value: unknown,
  prefix: string,
  options: UnknownKeyOptions = {},
): { ok: true; data: z.core.output<S> } | { ok: false; issues: OptionIssue[] } {
  const unknown: OptionIssue[] = [];
  walk(schema, value, [], unknown, { ...options, prefix });
  const parsed = (schema as unknown as z.ZodType<z.core.output<S>>).safeParse(value);
  if (parsed.success && unknown.length === 0) return { ok: true, data: parsed.data };
  const seen = new Set(unknown.map((i) => i.path));
  const rest = parsed.success ? [] : issuesOf(parsed.error, prefix, schema, options.noun ?? 'option').filter((i) => !seen.has(i.path));
  return { ok: false, issues: [...unknown, ...rest] };
}

/**
 * {@link strictParse} that throws: a `ConfigError` listing every issue, `field` set to the first one's path.
 *
 * @example
 * ```ts
 * const options = parseOptions(schema, input, { prefix: 'options', what: 'sqliteStore options' });
 * // ConfigError: [herald] invalid sqliteStore options:
 * //   - options.pth: unknown option `pth`; did you mean `path`?
 * ```
 */
export function parseOptions<S extends Schema>(
  schema: S,
  value: unknown,
  where: UnknownKeyOptions & { prefix: string; what: string; backend?: string },
): z.core.output<S> {
  const result = strictParse(schema, value, where.prefix, where);
  if (result.ok) return result.data;
  throw new ConfigError(`invalid ${where.what}:${formatIssues(result.issues)}`, { backend: where.backend, field: result.issues[0]?.field });
}
