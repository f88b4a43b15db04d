import type { TemplateHelper } from './registry';
import Handlebars from 'handlebars';

/** Runtime options: no prototype access (the default since 4.6, stated explicitly because it is a security boundary). */
export const RUNTIME_OPTIONS: Handlebars.RuntimeOptions = {
  allowProtoPropertiesByDefault: false,
  allowProtoMethodsByDefault: false,
};

/** How `{{value}}` writes a data string in the render that is running now. */
export type Escaper = (raw: string) => string;

const identity: Escaper = (raw) => raw;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;', '`': '&#x60;', '=': '&#x3D;' };
/** Handlebars' own HTML escaping (the same characters, so `html` and `markdown` escape alike). */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`=]/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * The escaper of the render in progress. Rendering is synchronous, so one slot is enough: {@link RenderFn} sets
 * it for the duration of a render and restores it afterwards (partials and helpers run inside that window).
 */
let active: Escaper = escapeHtml;

/**
 * A data string as templates see it: `{{x}}` writes it through the active escaper (Handlebars calls `toHTML`),
 * `{{{x}}}` and unescaped templates write it raw (`toString`). The raw text is a private field so `#each` over
 * it finds nothing and templates cannot reach it by name.
 */
export class Data {
  readonly #raw: string;
  constructor(raw: string) {
    this.#raw = raw;
  }
  toHTML(): string {
    return active(this.#raw);
  }
  toString(): string {
    return this.#raw;
  }
  toJSON(): string {
    return this.#raw;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!value || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Deep-copy `value`, wrapping every non-empty string in {@link Data}. Empty strings stay strings so `{{#if}}`
 * keeps working. Arrays get a `toHTML` too, so `{{list}}` is escaped as one value rather than joined raw.
 */
export function wrapData(value: unknown): unknown {
  if (typeof value === 'string') return value === '' ? value : new Data(value);
  if (Array.isArray(value)) {
    const out = value.map(wrapData);
    Object.defineProperty(out, 'toHTML', { value: arrayToHTML, enumerable: false });
    return out;
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = wrapData(v);
    return out;
  }
  return value;
}

function arrayToHTML(this: unknown[]): string {
  return active(this.join(','));
}

/** The plain value behind {@link wrapData}'s wrappers, for helpers and typed `params` leaves. */
export function unwrapData(value: unknown): unknown {
  if (value instanceof Data) return value.toString();
  if (Array.isArray(value)) return value.map(unwrapData);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = unwrapData(v);
    return out;
  }
  return value;
}


/** Handlebars' own helpers, plus Herald's value capture for typed `params` leaves. */
export const BUILTIN_HELPERS: ReadonlySet<string> = new Set(['if', 'unless', 'each', 'with', 'lookup', 'log', 'blockHelperMissing', 'helperMissing']);
export const CAPTURE_HELPER = '__heraldValue';

export interface RenderFn {
  /** Render with `escapeData` applied to data in `{{x}}` (ignored by unescaped templates). */
  (context: unknown, escapeData?: Escaper, partials?: Record<string, Handlebars.Template>): string;
  /**
   * The output depends on the notification's data only (the source never names `recipient`, `contact`, `this`,
   * `@root`, a parent scope, `lookup`, a partial or an app helper), so one `notify()` call renders it once for
   * all recipients.
   */
  readonly dataOnly: boolean;
}

/** Conservative: anything that could reach the per-recipient part of the context. */
const PER_RECIPIENT = /recipient|contact|this|@root|\.\.|lookup|\{\{~?\s*[#]?>|\{\{~?\s*#\*inline|\{\{~?\s*\.\s*~?\}\}/;

/** What the public API shows of an {@link Environment}: an opaque handle (no Handlebars types in declarations). */
export interface TemplateEnvironment {
  readonly kind: 'herald.template-environment';
}

/**
 * One isolated Handlebars environment: its helpers and partials never leak into the app's Handlebars or into
 * another Herald instance's templates.
 */
export interface Environment extends TemplateEnvironment {
  readonly hb: typeof Handlebars;
  /** Helpers the app registered (Handlebars' built-ins are in {@link BUILTIN_HELPERS}). */
  readonly helpers: ReadonlySet<string>;
  /** Partial sources by name (for the schema check). */
  readonly partialSources: ReadonlyMap<string, string>;
  compile(source: string, escaping: boolean, options?: { dataOnly?: boolean }): RenderFn;
  /** Compile a `params` leaf that is exactly one expression so it yields the expression's value. */
  compileValue(source: string, escaping: boolean): ValueFn | null;
}

/** A typed `params` leaf: the value of its one expression (wrapped data included), not its text. */
export interface ValueFn {
  (context: unknown): unknown;
  readonly dataOnly: boolean;
  /** `{{x}}` rather than `{{{x}}}`. */
  readonly escaped: boolean;
}

export interface EnvironmentOptions {
  helpers?: Readonly<Record<string, TemplateHelper>>;
  partials?: Readonly<Record<string, string>>;
}

/** Thrown by {@link createEnvironment} for a partial that does not compile; the caller names it. */
export class PartialError extends Error {
  constructor(
    readonly partial: string,
    readonly original: unknown,
  ) {
    super(original instanceof Error ? original.message : String(original));
  }
}

export function createEnvironment(options: EnvironmentOptions = {}): Environment {
  const hb = Handlebars.create();
  const helperNames = new Set<string>();
  for (const [name, helper] of Object.entries(options.helpers ?? {})) {
    hb.registerHelper(name, plainHelper(helper));
    helperNames.add(name);
  }
  let captured: unknown;
  hb.registerHelper(CAPTURE_HELPER, (value: unknown) => {
    captured = value;
    return '';
  });
  const partialSources = new Map(Object.entries(options.partials ?? {}));
  // Partials are compiled here, once per escaping mode, and handed to each render: registered as source,
  // Handlebars would compile one on first use with the caller's options and cache that for both modes.
  const partials = { escaped: {} as Record<string, Handlebars.TemplateDelegate>, raw: {} as Record<string, Handlebars.TemplateDelegate> };
  for (const [name, source] of partialSources) {
    try {
      const ast = hb.parse(source);
      partials.escaped[name] = hb.compile(ast, { noEscape: false, strict: false });
      partials.raw[name] = hb.compile(ast, { noEscape: true, strict: false });
    } catch (error) {
      throw new PartialError(name, error);
    }
  }
  const cache = new Map<string, RenderFn>();
  const valueCache = new Map<string, ValueFn | null>();
  const isHelper = (name: string) => helperNames.has(name) || BUILTIN_HELPERS.has(name);
  const usesAppHelper = (ast: hbs.AST.Program) => helperNames.size > 0 && callsAny(ast, helperNames);

  return {
    kind: 'herald.template-environment',
    hb,
    helpers: helperNames,
    partialSources,
    compile(source, escaping, compileOptions = {}) {
      const key = `${escaping ? 'e' : 'n'}\u0000${source}`;
      const hit = cache.get(key);
      if (hit) return hit;
      const ast = hb.parse(source);
      const template = hb.compile(ast, { noEscape: !escaping, strict: false, knownHelpersOnly: false });
      const ownPartials = escaping ? partials.escaped : partials.raw;
      const runtime: Handlebars.RuntimeOptions = { ...RUNTIME_OPTIONS, partials: ownPartials };
      const render = (context: unknown, escapeData: Escaper = escaping ? escapeHtml : identity, extra?: Record<string, Handlebars.Template>) => {
        const previous = active;
        active = escapeData;
        try {
          return template(context, extra ? { ...RUNTIME_OPTIONS, partials: { ...ownPartials, ...extra } } : runtime);
        } finally {
          active = previous;
        }
      };
      const dataOnly = compileOptions.dataOnly ?? (!PER_RECIPIENT.test(source) && !usesAppHelper(ast));
      const fn: RenderFn = Object.assign(render, { dataOnly });
      cache.set(key, fn);
      return fn;
    },
    compileValue(source, escaping) {
      const key = `${escaping ? 'e' : 'n'}\u0000${source}`;
      if (valueCache.has(key)) return valueCache.get(key)!;
      const ast = hb.parse(source);
      const capture = captureProgram(ast, isHelper);
      let fn: ValueFn | null = null;
      if (capture) {
        const template = hb.compile(capture.program, { noEscape: true, strict: false });
        const runtime: Handlebars.RuntimeOptions = { ...RUNTIME_OPTIONS, partials: partials.raw };
        const value = (context: unknown) => {
          captured = undefined;
          template(context, runtime);
          const out = captured;
          captured = undefined;
          return out;
        };
        fn = Object.assign(value, { dataOnly: !PER_RECIPIENT.test(source) && !usesAppHelper(ast), escaped: capture.escaped });
      }
      valueCache.set(key, fn);
      return fn;
    },
  };
}

/** The environment for templates compiled without a registry (no app helpers or partials). */
export const defaultEnvironment: Environment = createEnvironment();

/**
 * An app helper as Handlebars calls it: plain arguments in, and a returned string treated as data so the active
 * escaper applies (HTML, Markdown placeholders, Slack mrkdwn). A block helper's result is rendered template
 * output already and passes as is.
 */
function plainHelper(helper: TemplateHelper): Handlebars.HelperDelegate {
  return function appHelper(this: unknown, ...args: unknown[]) {
    const options = args[args.length - 1] as Handlebars.HelperOptions & { fn?: unknown };
    const plain = args.slice(0, -1).map(unwrapData);
    const hash = options && typeof options === 'object' && options.hash ? (unwrapData(options.hash) as Record<string, unknown>) : undefined;
    const result = helper.apply(this, [...plain, hash ? { ...options, hash } : options]);
    if (options && typeof options === 'object' && typeof options.fn === 'function') return result;
    return typeof result === 'string' && result !== '' ? new Data(result) : result;
  };
}

/**
 * When a source is exactly one expression (`{{total}}`, `{{{total}}}`, `{{money total}}`, nothing around it,
 * not even a space: that is how a template asks for text), a program that passes that expression's value to the
 * capture helper instead of printing it.
 */
function captureProgram(ast: hbs.AST.Program, isHelper: (name: string) => boolean): { program: hbs.AST.Program; escaped: boolean } | null {
  if (ast.body.length !== 1 || ast.body[0]!.type !== 'MustacheStatement') return null;
  const m = ast.body[0] as hbs.AST.MustacheStatement;
  const hash = m.hash as hbs.AST.Hash | undefined;
  const path = m.path as hbs.AST.PathExpression;
  const helperCall =
    m.params.length > 0 ||
    (hash?.pairs.length ?? 0) > 0 ||
    (path.type === 'PathExpression' && !path.data && path.depth === 0 && path.parts.length === 1 && !/^\.|this\b/.test(path.original) && isHelper(path.parts[0]!));
  const value: hbs.AST.Expression = helperCall
    ? ({ type: 'SubExpression', path, params: m.params, hash, loc: m.loc } as hbs.AST.SubExpression)
    : m.path;
  const capture: hbs.AST.MustacheStatement = {
    type: 'MustacheStatement',
    path: { type: 'PathExpression', data: false, depth: 0, parts: [CAPTURE_HELPER], original: CAPTURE_HELPER, loc: m.loc } as hbs.AST.PathExpression,
    params: [value],
    hash: undefined as unknown as hbs.AST.Hash,
    escaped: false,
    strip: { open: false, close: false },
    loc: m.loc,
  };
  return { program: { ...ast, body: [capture] }, escaped: m.escaped };
}

/** Whether the program calls one of `names` as a helper (mustache, block or sub-expression). */
function callsAny(node: unknown, names: ReadonlySet<string>): boolean {
  if (!node || typeof node !== 'object') return false;
  if (Array.isArray(node)) return node.some((n) => callsAny(n, names));
  const n = node as { type?: string; path?: { type?: string; original?: unknown } };
  if ((n.type === 'MustacheStatement' || n.type === 'BlockStatement' || n.type === 'SubExpression') && n.path?.type === 'PathExpression' && names.has(String(n.path.original))) {
    return true;
  }
  for (const [key, value] of Object.entries(node)) {
    if (key === 'loc') continue;
    if (value && typeof value === 'object' && callsAny(value, names)) return true;
  }
  return false;
}

/** Line number from a Handlebars parse or runtime error, when it says one. */
export function lineOf(error: unknown): number | undefined {
  if (error && typeof error === 'object') {
    const e = error as { lineNumber?: unknown; message?: unknown };
    if (typeof e.lineNumber === 'number') return e.lineNumber;
    const m = /line (\d+)/i.exec(String(e.message ?? ''));
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** Handlebars' message without its multi-line source excerpt. */
export function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n').filter((l) => l.trim() && !/^-*\^$/.test(l.trim()))[0] ?? text;
}
