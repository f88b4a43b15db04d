import Handlebars from 'handlebars';

/** One isolated Handlebars environment for Herald: helpers registered here never leak into the app's. */
export const hb = Handlebars.create();

/** Runtime options: no prototype access (the default since 4.6, stated explicitly because it is a security boundary). */
export const RUNTIME_OPTIONS: Handlebars.RuntimeOptions = {
  allowProtoPropertiesByDefault: false,
  allowProtoMethodsByDefault: false,
};

export interface RenderFn {
  (context: unknown): string;
  /**
   * The output depends on the notification's data only (the source never names `recipient`, `contact`, `this`,
   * `@root`, a parent scope, `lookup` or a partial), so one `notify()` call renders it once for all recipients.
   */
  readonly dataOnly: boolean;
}

/** Conservative: anything that could reach the per-recipient part of the context. */
const PER_RECIPIENT = /recipient|contact|this|@root|\.\.|lookup|\{\{~?\s*[#]?>|\{\{~?\s*#\*inline|\{\{~?\s*\.\s*~?\}\}/;

const cache = new Map<string, RenderFn>();

/**
 * Parse now (so syntax errors surface at start-up), compile once per distinct source and escaping mode.
 * Throws Handlebars' own error; callers wrap it in a `TemplateError`.
 */
export function compile(source: string, escaping: boolean): RenderFn {
  const key = `${escaping ? 'e' : 'n'}\u0000${source}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const ast = hb.parse(source);
  const template = hb.compile(ast, { noEscape: !escaping, strict: false, knownHelpersOnly: false });
  const fn: RenderFn = Object.assign((context: unknown) => template(context, RUNTIME_OPTIONS), { dataOnly: !PER_RECIPIENT.test(source) });
  cache.set(key, fn);
  return fn;
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

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;', '`': '&#x60;', '=': '&#x3D;' };
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`=]/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * Backslash-escape characters that would turn a data value into Markdown formatting. Characters that matter to
 * HTML are left to HTML escaping (entities pass through marked intact).
 */
export function escapeMarkdown(value: string): string {
  return value.replace(/[\\*_[\]#+!|~]/g, '\\$&');
}

/** A string value that renders escaped in `{{x}}` (via Handlebars' `toHTML` hook) and raw in `{{{x}}}`. */
class Escaped {
  constructor(
    private readonly raw: string,
    private readonly escaped: string,
  ) {}
  toHTML(): string {
    return this.escaped;
  }
  toString(): string {
    return this.raw;
  }
}

/**
 * Deep-copy `value`, wrapping every non-empty string so `{{x}}` renders `escaping(x)`. Empty strings stay strings so
 * `{{#if}}` keeps working.
 */
export function wrapStrings(value: unknown, escaping: (s: string) => string): unknown {
  if (typeof value === 'string') return value === '' ? value : new Escaped(value, escaping(value));
  if (Array.isArray(value)) return value.map((v) => wrapStrings(v, escaping));
  if (value && typeof value === 'object' && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = wrapStrings(v, escaping);
    return out;
  }
  return value;
}
