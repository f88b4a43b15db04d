import Handlebars from 'handlebars';
import { TemplateError } from '../errors';
import type { TemplateSpec } from '../types';
import { BUILTIN_HELPERS, CAPTURE_HELPER, lineOf, messageOf } from './_handlebars';
import type { TemplateLocation } from './compile';
import { paramsLines } from './params';

/**
 * What a template may look up in a value, read from a zod schema: an object's fields (and whether other keys
 * are allowed), an array's element, or nothing to check (`any`: records, `z.any()`, transforms …).
 */
export type Shape =
  | { kind: 'any' }
  | { kind: 'scalar' }
  | { kind: 'array'; element: Shape }
  | { kind: 'object'; fields: ReadonlyMap<string, Shape>; rest: Shape | null };

const ANY: Shape = { kind: 'any' };
const SCALAR: Shape = { kind: 'scalar' };

interface ZodDef {
  type?: string;
  shape?: Record<string, unknown>;
  catchall?: unknown;
  element?: unknown;
  innerType?: unknown;
  options?: readonly unknown[];
  in?: unknown;
  out?: unknown;
  left?: unknown;
  right?: unknown;
  items?: readonly unknown[];
  rest?: unknown;
  getter?: () => unknown;
}

const SCALARS = new Set(['string', 'number', 'int', 'boolean', 'bigint', 'symbol', 'null', 'undefined', 'void', 'never', 'nan', 'date', 'literal', 'enum', 'template_literal', 'file', 'success']);
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'nonoptional', 'catch', 'readonly']);

function defOf(schema: unknown): ZodDef | undefined {
  if (!schema || typeof schema !== 'object') return undefined;
  return (schema as { _zod?: { def?: ZodDef } })._zod?.def;
}

/** The {@link Shape} of a zod 4 schema's output. Kinds it does not know are `any`, so they are never wrongly refused. */
export function shapeOf(schema: unknown, seen: Set<unknown> = new Set()): Shape {
  const def = defOf(schema);
  if (!def?.type) return ANY;
  if (seen.has(schema)) return ANY;
  seen.add(schema);
  try {
    const t = def.type;
    if (SCALARS.has(t)) return SCALAR;
    if (WRAPPERS.has(t)) return shapeOf(def.innerType, seen);
    switch (t) {
      case 'object': {
        const fields = new Map<string, Shape>();
        for (const [key, value] of Object.entries(def.shape ?? {})) fields.set(key, shapeOf(value, seen));
        const catchall = defOf(def.catchall);
        const rest = !catchall || catchall.type === 'never' ? null : shapeOf(def.catchall, seen);
        return { kind: 'object', fields, rest };
      }
      case 'array':
        return { kind: 'array', element: shapeOf(def.element, seen) };
      case 'tuple': {
        const parts = [...(def.items ?? []), ...(def.rest ? [def.rest] : [])].map((s) => shapeOf(s, seen));
        return { kind: 'array', element: parts.length ? parts.reduce(merge) : ANY };
      }
      case 'union':
        return (def.options ?? []).map((s) => shapeOf(s, seen)).reduce(merge, { kind: 'scalar' } as Shape);
      case 'intersection':
        return merge(shapeOf(def.left, seen), shapeOf(def.right, seen));
      case 'pipe':
        return shapeOf(def.out, seen);
      case 'lazy':
        return def.getter ? shapeOf(def.getter(), seen) : ANY;
      default:
        return ANY;
    }
  } finally {
    seen.delete(schema);
  }
}

/** What a value of either shape may have: a union of objects has the union of their keys. */
function merge(a: Shape, b: Shape): Shape {
  if (a.kind === 'any' || b.kind === 'any') return ANY;
  if (a.kind === 'scalar') return b;
  if (b.kind === 'scalar') return a;
  if (a.kind === 'array' && b.kind === 'array') return { kind: 'array', element: merge(a.element, b.element) };
  if (a.kind === 'object' && b.kind === 'object') {
    const fields = new Map(a.fields);
    for (const [key, shape] of b.fields) fields.set(key, fields.has(key) ? merge(fields.get(key)!, shape) : shape);
    const rest = a.rest && b.rest ? merge(a.rest, b.rest) : (a.rest ?? b.rest);
    return { kind: 'object', fields, rest };
  }
  return ANY;
}

const object = (fields: Record<string, Shape>, rest: Shape | null = null): Shape => ({ kind: 'object', fields: new Map(Object.entries(fields)), rest });

/**
 * The context every template sees for this data schema (`recipient` and `contact` beside the data), or `null`
 * when the schema is not an object (records, `z.any()` …): then there is nothing to check against.
 */
export function rootShape(schema: unknown, extra: Record<string, Shape> = {}): Shape | null {
  const data = shapeOf(schema);
  if (data.kind !== 'object') return null;
  const fields = new Map(data.fields);
  fields.set('recipient', object({ id: SCALAR, name: SCALAR }));
  fields.set('contact', object({ protocol: SCALAR, address: SCALAR }));
  for (const [key, shape] of Object.entries(extra)) fields.set(key, shape);
  return { kind: 'object', fields, rest: data.rest };
}

export interface CheckOptions {
  /** The context shape from {@link rootShape}. */
  root: Shape;
  /** Helpers the app registered. */
  helpers: ReadonlySet<string>;
  /** Partial sources by name. */
  partials: ReadonlyMap<string, string>;
  /** Partials supplied at render time (a layout's `body`). */
  runtimePartials?: ReadonlySet<string>;
}

interface Problem {
  line: number | undefined;
  message: string;
}

const DATA_VARIABLES = new Set(['index', 'key', 'first', 'last', 'root', 'level', 'partial-block']);

/** Walks one Handlebars program against a context shape, collecting problems. */
class Checker {
  readonly problems: Problem[] = [];
  private readonly visiting = new Set<string>();
  private readonly inline = new Set<string>();
  /** How to name a context entered by `#each`/`#with` in messages ("an item of `items`"). */
  private readonly labels = new WeakMap<Shape, string>();

  constructor(
    private readonly options: CheckOptions,
    private readonly extraHelpers: ReadonlySet<string> = new Set(),
  ) {}

  private isHelper(name: string): boolean {
    return BUILTIN_HELPERS.has(name) || name === CAPTURE_HELPER || this.options.helpers.has(name) || this.extraHelpers.has(name);
  }

  program(program: hbs.AST.Program | undefined, ctx: readonly Shape[], params: readonly Map<string, Shape>[]): void {
    if (!program) return;
    for (const statement of program.body) this.statement(statement, ctx, params);
  }

  private statement(node: hbs.AST.Statement, ctx: readonly Shape[], params: readonly Map<string, Shape>[]): void {
    switch (node.type) {
      case 'MustacheStatement': {
        const m = node as hbs.AST.MustacheStatement;
        this.call(m.path, m.params, m.hash, ctx, params, false);
        return;
      }
      case 'BlockStatement':
        this.block(node as hbs.AST.BlockStatement, ctx, params);
        return;
      case 'DecoratorBlock': {
        const d = node as hbs.AST.DecoratorBlock;
        const name = d.params[0];
        if (d.path.original === 'inline' && name?.type === 'StringLiteral') this.inline.add((name as hbs.AST.StringLiteral).value);
        this.program(d.program, ctx, params);
        return;
      }
      case 'PartialStatement':
      case 'PartialBlockStatement': {
        const p = node as hbs.AST.PartialStatement | hbs.AST.PartialBlockStatement;
        this.partial(p, ctx, params);
        if ('program' in p) this.program(p.program, ctx, params);
        return;
      }
      default:
        return;
    }
  }

  /** A mustache or sub-expression: a helper call, or a value lookup when it has no arguments. */
  private call(
    path: hbs.AST.PathExpression | hbs.AST.Literal,
    args: readonly hbs.AST.Expression[],
    hash: hbs.AST.Hash | undefined,
    ctx: readonly Shape[],
    params: readonly Map<string, Shape>[],
    subExpression: boolean,
  ): Shape {
    if (path.type !== 'PathExpression') return SCALAR;
    const p = path as hbs.AST.PathExpression;
    const simple = !p.data && p.depth === 0 && p.parts.length === 1 && !/^\.|this\b/.test(p.original) && !this.blockParam(p.parts[0]!, params);
    const withArgs = args.length > 0 || (hash?.pairs.length ?? 0) > 0;
    if (simple && this.isHelper(p.parts[0]!)) {
      this.args(args, hash, ctx, params);
      return ANY;
    }
    if (withArgs || subExpression) {
      if (simple) this.report(p, `unknown helper \`${p.original}\`${this.suggestHelper(p.original)}`);
      this.args(args, hash, ctx, params);
      return ANY;
    }
    return this.resolve(p, ctx, params);
  }

  private args(args: readonly hbs.AST.Expression[], hash: hbs.AST.Hash | undefined, ctx: readonly Shape[], params: readonly Map<string, Shape>[]): Shape[] {
    const shapes = args.map((a) => this.expression(a, ctx, params));
    for (const pair of hash?.pairs ?? []) this.expression(pair.value, ctx, params);
    return shapes;
  }

  private expression(node: hbs.AST.Expression, ctx: readonly Shape[], params: readonly Map<string, Shape>[]): Shape {
    if (node.type === 'PathExpression') return this.resolve(node as hbs.AST.PathExpression, ctx, params);
    if (node.type === 'SubExpression') {
      const s = node as hbs.AST.SubExpression;
      return this.call(s.path, s.params, s.hash, ctx, params, true);
    }
    return SCALAR;
  }

  private blockParam(name: string, params: readonly Map<string, Shape>[]): Shape | undefined {
    for (let i = params.length - 1; i >= 0; i--) {
      const hit = params[i]!.get(name);
      if (hit) return hit;
    }
    return undefined;
  }

  private resolve(p: hbs.AST.PathExpression, ctx: readonly Shape[], params: readonly Map<string, Shape>[]): Shape {
    let shape: Shape;
    let parts = p.parts;
    let atRoot = true;
    if (p.data) {
      const head = parts[0] ?? '';
      if (!DATA_VARIABLES.has(head)) {
        this.report(p, `unknown data variable \`@${head}\`; Handlebars knows @index, @key, @first, @last and @root`);
        return ANY;
      }
      if (head !== 'root') return head === 'partial-block' ? ANY : SCALAR;
      shape = ctx[0] ?? ANY;
      parts = parts.slice(1);
    } else {
      const param = p.depth === 0 && !/^\.|this\b/.test(p.original) && parts.length ? this.blockParam(parts[0]!, params) : undefined;
      if (param) {
        shape = param;
        parts = parts.slice(1);
        atRoot = false;
      } else {
        shape = ctx[ctx.length - 1 - p.depth] ?? ANY;
        atRoot = ctx.length - 1 - p.depth === 0;
      }
    }
    const walked: string[] = [];
    for (const part of parts) {
      if (shape.kind === 'object') {
        const next = shape.fields.get(part) ?? shape.rest;
        if (!next) {
          const shown = walked.length ? `\`${walked.join('.')}\` has` : atRoot ? 'the data has' : `${this.labels.get(shape) ?? 'this context'} has`;
          this.report(p, `unknown variable \`${p.original}\`: ${shown} no field \`${part}\`${suggest(part, [...shape.fields.keys()])}`);
          return ANY;
        }
        shape = next;
      } else if (shape.kind === 'array') {
        if (part === 'length') shape = SCALAR;
        else if (/^\d+$/.test(part)) shape = shape.element;
        else return ANY;
      } else {
        // Strings have `length`; anything else on a scalar renders nothing, which is not a schema question.
        return ANY;
      }
      walked.push(part);
    }
    return shape;
  }

  private block(b: hbs.AST.BlockStatement, ctx: readonly Shape[], params: readonly Map<string, Shape>[]): void {
    const p = b.path;
    const name = p.type === 'PathExpression' && !p.data && p.depth === 0 && p.parts.length === 1 ? p.parts[0]! : null;
    const blockParams = b.program?.blockParams ?? [];
    const bind = (...shapes: Shape[]) => (blockParams.length ? [...params, new Map(blockParams.map((n, i) => [n, shapes[i] ?? ANY]))] : params);
    if (name && this.isHelper(name) && !this.blockParam(name, params)) {
      const [first = ANY] = this.args(b.params, b.hash, ctx, params);
      const subject = b.params[0]?.type === 'PathExpression' ? (b.params[0] as hbs.AST.PathExpression).original : null;
      if (name === 'each') {
        const element = first.kind === 'array' ? first.element : first.kind === 'object' ? valuesOf(first) : ANY;
        if (subject && !this.labels.has(element)) this.labels.set(element, `an item of \`${subject}\``);
        this.program(b.program, [...ctx, element], bind(element, SCALAR));
      } else if (name === 'with') {
        if (subject && !this.labels.has(first)) this.labels.set(first, `\`${subject}\``);
        this.program(b.program, [...ctx, first], bind(first));
      } else {
        this.program(b.program, ctx, bind());
      }
      this.program(b.inverse, ctx, params);
      return;
    }
    if (b.params.length || (b.hash?.pairs.length ?? 0) > 0) {
      this.report(p, `unknown helper \`${p.original}\`${this.suggestHelper(p.original)}`);
      this.args(b.params, b.hash, ctx, params);
      this.program(b.program, ctx, bind());
      this.program(b.inverse, ctx, params);
      return;
    }
    // A section (`{{#items}}…{{/items}}`): iterates an array, enters an object, keeps the context for `true`.
    const shape = this.resolve(p, ctx, params);
    const inner = shape.kind === 'array' ? shape.element : shape.kind === 'object' ? shape : ANY;
    this.program(b.program, [...ctx, inner], bind(inner));
    this.program(b.inverse, ctx, params);
  }

  private partial(p: hbs.AST.PartialStatement | hbs.AST.PartialBlockStatement, ctx: readonly Shape[], params: readonly Map<string, Shape>[]): void {
    const [first] = this.args(p.params, p.hash, ctx, params);
    const nameNode = p.name as hbs.AST.Node;
    let name: string | null = null;
    if (nameNode.type === 'PathExpression') {
      const path = nameNode as hbs.AST.PathExpression;
      if (path.data) return; // @partial-block
      name = path.original;
    } else if (nameNode.type === 'StringLiteral' || nameNode.type === 'NumberLiteral') {
      name = String((nameNode as hbs.AST.StringLiteral).value);
    }
    if (name === null) return; // a dynamic partial name: nothing to check
    if (this.inline.has(name) || this.options.runtimePartials?.has(name)) return;
    const source = this.options.partials.get(name);
    if (source === undefined) {
      if (p.type !== 'PartialBlockStatement') {
        this.report(nameNode, `unknown partial \`${name}\`${suggest(name, [...this.options.partials.keys()])}`);
      }
      return;
    }
    if (this.visiting.has(name)) return;
    let inner: Shape = first ?? ctx[ctx.length - 1] ?? ANY;
    if (p.hash?.pairs.length && inner.kind === 'object') {
      const fields = new Map(inner.fields);
      for (const pair of p.hash.pairs) fields.set(pair.key, ANY);
      inner = { kind: 'object', fields, rest: inner.rest };
    }
    const sub = new Checker(this.options, this.extraHelpers);
    for (const v of this.visiting) sub.visiting.add(v);
    sub.visiting.add(name);
    sub.program(Handlebars.parse(source), [...ctx.slice(0, -1), inner], []);
    for (const problem of sub.problems) {
      this.problems.push({ line: p.loc?.start.line, message: `in partial \`${name}\` (line ${problem.line ?? '?'}): ${problem.message}` });
    }
  }

  private suggestHelper(name: string): string {
    return suggest(name, [...BUILTIN_HELPERS, ...this.options.helpers].filter((h) => !/Missing$/.test(h)));
  }

  private report(node: hbs.AST.Node, message: string): void {
    this.problems.push({ line: node.loc?.start.line, message });
  }
}

/** What `#each` over an object gives each iteration: any of its values. */
function valuesOf(shape: Shape & { kind: 'object' }): Shape {
  const all = [...shape.fields.values(), ...(shape.rest ? [shape.rest] : [])];
  return all.length ? all.reduce(merge) : ANY;
}

/** `; did you mean \`x\`?` for the closest candidate, when one is close enough to be a typo. */
export function suggest(name: string, candidates: readonly string[]): string {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const d = candidate.toLowerCase() === name.toLowerCase() ? 0 : distance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best !== null && bestDistance <= Math.max(2, Math.floor(name.length / 3))) return `; did you mean \`${best}\`?`;
  return candidates.length ? ` (known: ${candidates.slice(0, 12).join(', ')}${candidates.length > 12 ? ', …' : ''})` : '';
}

/** Levenshtein distance (optimal string alignment: a swap of two neighbours counts once). */
function distance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

/** One source of a spec (subject, from, body, a `params` leaf) and where its lines start. */
interface Part {
  label: string | null;
  source: string;
  /** Line of the part's first line within the template's body (for params lines). */
  line?: number;
  helpers?: ReadonlySet<string>;
}

function partsOf(spec: TemplateSpec): Part[] {
  const parts: Part[] = [];
  if (spec.subject !== undefined) parts.push({ label: 'subject', source: spec.subject });
  if (spec.from !== undefined) parts.push({ label: 'from', source: spec.from });
  if (spec.format === 'params') {
    if (typeof spec.body === 'string') {
      for (const { key, value, line } of paramsLines(spec.body)) if (value.includes('{{')) parts.push({ label: `params ${key}`, source: value, line });
    } else {
      const walk = (node: unknown, path: string): void => {
        if (typeof node === 'string') {
          if (node.includes('{{')) parts.push({ label: `params ${path || '(root)'}`, source: node });
        } else if (Array.isArray(node)) {
          for (const [i, n] of node.entries()) walk(n, `${path}[${i}]`);
        }
        else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
      };
      walk(spec.body, '');
    }
  } else if (typeof spec.body === 'string') {
    parts.push({ label: null, source: spec.body, ...(spec.format === 'blocks' ? { helpers: new Set(['block']) } : {}) });
  }
  return parts;
}

/**
 * Check a template spec's variables against the notification's schema: a name the data does not have is a
 * {@link TemplateError} naming the notification, channel, line and the closest field. Runs after the spec
 * compiled, so sources parse.
 */
export function checkTemplate(spec: TemplateSpec, location: TemplateLocation, options: CheckOptions): void {
  for (const part of partsOf(spec)) checkSource(part.source, location, options, part);
}

/** Check one source (also used for layouts, whose root has `body`). */
export function checkSource(source: string, location: TemplateLocation, options: CheckOptions, part: Omit<Part, 'source'> = { label: null }): void {
  const where = { notification: location.notification, channel: location.channel, ...(location.file ? { file: location.file } : {}) };
  let ast: hbs.AST.Program;
  try {
    ast = Handlebars.parse(source);
  } catch (error) {
    const line = lineOf(error);
    throw new TemplateError(messageOf(error), { ...where, ...(line === undefined ? {} : { line }) }, { cause: error });
  }
  const checker = new Checker(options, part.helpers);
  checker.program(ast, [options.root], []);
  const [first, ...more] = checker.problems;
  if (!first) return;
  const base = part.line !== undefined ? part.line - 1 : 0;
  const line = first.line === undefined ? undefined : first.line + base + (part.label === null || part.line !== undefined ? (location.lineOffset ?? 0) : 0);
  const label = part.label ? `${part.label}: ` : '';
  const others = more.length ? ` (and ${more.length} more: ${more.map((p) => p.message.split(':')[0]).join(', ')})` : '';
  throw new TemplateError(`${label}${first.message}${others}`, { ...where, ...(line === undefined ? {} : { line }) });
}
