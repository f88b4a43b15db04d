import { compile as compileHtmlToText } from 'html-to-text';
import { Marked } from 'marked';
import { TemplateError } from '../errors';
import type { JsonObject, JsonValue, ParamsSource, RenderedContent, TemplateFormat, TemplateSpec } from '../types';
import { Data, defaultEnvironment, type Environment, type Escaper, type TemplateEnvironment, escapeHtml, lineOf, messageOf, type RenderFn, type ValueFn, wrapData } from './_handlebars';
import { Slots } from './_slots';
import { parseParamsLines } from './params';

export interface TemplateLocation {
  notification: string;
  /** Backend name or protocol the template was written for. */
  channel: string;
  /** Source file, for templates loaded from a folder. */
  file?: string;
  /** Lines before the body in its file (a front-matter block), added to line numbers in errors. */
  lineOffset?: number;
  /** Escape for data rendered into `text` and `params` templates (a backend's `escapeText`, e.g. Slack mrkdwn). */
  escapeText?: (value: string) => string;
}

/** The per-delivery values templates see besides the notification's data. */
export interface RenderScope {
  data: Record<string, unknown>;
  recipient: { id?: string; name?: string };
  contact: { protocol: string; address: string };
  /** Memo shared by every render of one `notify()` call (wrapped data, data-only output). */
  memo?: Map<unknown, unknown>;
}

export interface CompiledTemplate {
  readonly format: TemplateFormat;
  readonly location: TemplateLocation;
  render(scope: RenderScope): RenderedContent;
}

export interface CompileOptions {
  /** Helpers and partials, as a template registry holds them; default: none. */
  environment?: TemplateEnvironment;
  /**
   * HTML layout wrapping an `html` or `markdown` body: the body goes where the layout says `{{> body}}` or
   * `{{{body}}}`. The text part is generated from the wrapped HTML.
   */
  layout?: string;
}

/** Headings and table headers keep their case: uppercasing them would change the data they show. */
const keepCase = [
  ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
  { selector: 'table', options: { uppercaseHeaderCells: false } },
];
const htmlToText = compileHtmlToText({
  wordwrap: 78,
  selectors: [{ selector: 'a', options: { hideLinkHrefIfSameAsText: true } }, { selector: 'img', format: 'skip' }, ...keepCase],
});
const markdown = new Marked({ gfm: true, async: false });

const BLOCK = /\{\{#block\s+["'](subject|text|html)["']\s*\}\}([\s\S]*?)\{\{\/block\}\}/g;
const LAYOUT_BODY = /\{\{~?>\s*body\s*~?\}\}/g;
const WRAPPED = Symbol('herald.wrapped-data');
const raw: Escaper = (value) => value;

/**
 * A sender is usually `"Display name" <address>`: data in it is escaped for a quoted string, and line breaks
 * and control characters become spaces, so a value can neither end the quotes nor add a header.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
const escapeQuoted: Escaper = (value) => value.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/["\\]/g, '\\$&');

/**
 * Compile a template spec now (syntax errors raise a {@link TemplateError} naming the notification, channel and line).
 *
 * Formats:
 * - `html`: body → HTML (data HTML-escaped), text part generated from it.
 * - `markdown`: body → Markdown → HTML via marked, text part generated; data never reaches marked (it stands in
 *   as placeholders until marked ran), so it is HTML-escaped once in the HTML part, as typed in the text part,
 *   and creates no structure.
 * - `blocks`: `{{#block "subject"}}…{{/block}}`, `text` and `html` blocks in one source; no blocks = all text.
 * - `params`: `key: value` lines or an object of templates → an object; data escaped only with the backend's
 *   `escapeText` (it becomes JSON). A leaf that is exactly one expression keeps the value's JSON type.
 * - `text`: plain text (data escaped only with the backend's `escapeText`).
 *
 * `subject` and `from` are rendered unescaped (`from` escapes data for a quoted display name) and folded to one line.
 */
export function compileTemplate(spec: TemplateSpec, location: TemplateLocation, options: CompileOptions = {}): CompiledTemplate {
  const env = (options.environment as Environment | undefined) ?? defaultEnvironment;
  const offset = location.lineOffset ?? 0;
  const where = { notification: location.notification, channel: location.channel, ...(location.file ? { file: location.file } : {}) };
  const fail = (error: unknown, part?: string): never => {
    const line = lineOf(error);
    const message = part ? `${part}: ${messageOf(error)}` : messageOf(error);
    throw new TemplateError(message, { ...where, ...(line === undefined ? {} : { line: line + offset }) }, { cause: error });
  };
  const tryCompile = (source: string, escaping: boolean, part?: string, dataOnly?: boolean): RenderFn => {
    try {
      return env.compile(source, escaping, dataOnly === undefined ? {} : { dataOnly });
    } catch (error) {
      return fail(error, part);
    }
  };
  const run = (fn: RenderFn, context: unknown, escapeData?: Escaper, partials?: Record<string, () => string>): string => {
    try {
      return fn(context, escapeData, partials);
    } catch (error) {
      return fail(error);
    }
  };
  /** This template's own corner of the per-call memo, keyed by usage (body, subject, each params leaf …). */
  const memoKey = {};
  const memoOf = (scope: RenderScope): Map<unknown, unknown> | null => {
    if (!scope.memo) return null;
    let mine = scope.memo.get(memoKey) as Map<unknown, unknown> | undefined;
    if (!mine) {
      mine = new Map();
      scope.memo.set(memoKey, mine);
    }
    return mine;
  };
  /** Compute a data-only part once per `notify()` call, everything else per recipient. */
  const once = <T>(usage: object, dataOnly: boolean, scope: RenderScope, compute: () => T): T => {
    const memo = dataOnly ? memoOf(scope) : null;
    if (!memo) return compute();
    if (memo.has(usage)) return memo.get(usage) as T;
    const out = compute();
    memo.set(usage, out);
    return out;
  };
  const contextOf = (scope: RenderScope): Record<string, unknown> => {
    let data = scope.memo?.get(WRAPPED) as Record<string, unknown> | undefined;
    if (!data) {
      data = wrapData(scope.data) as Record<string, unknown>;
      scope.memo?.set(WRAPPED, data);
    }
    return { ...data, recipient: wrapData(scope.recipient), contact: wrapData(scope.contact) };
  };
  const line = (source: string | undefined, escapeData: Escaper, part: string) => {
    if (source === undefined) return undefined;
    const fn = tryCompile(source, escapeData !== raw, part);
    const usage = {};
    return (scope: RenderScope) => once(usage, fn.dataOnly, scope, () => oneLine(run(fn, contextOf(scope), escapeData)));
  };
  const renderSubject = line(spec.subject, raw, 'subject') ?? (() => undefined);
  const renderFrom = line(spec.from, escapeQuoted, 'from') ?? (() => undefined);
  const finish = (content: RenderedContent, scope: RenderScope, subject = renderSubject(scope)): RenderedContent => {
    if (subject !== undefined) content.subject = subject;
    const from = renderFrom(scope);
    if (from !== undefined) content.from = from;
    if (content.html !== undefined) flatten(content.html);
    if (content.text !== undefined) flatten(content.text);
    return content;
  };
  /**
   * An html or markdown body that depends on data only is rendered, converted and given its text part once per
   * `notify()` call; each message gets its own copy of the result.
   */
  const bodyUsage = {};
  const bodyOnce = (dataOnly: boolean, scope: RenderScope, render: () => RenderedContent): RenderedContent =>
    finish({ ...once(bodyUsage, dataOnly, scope, render) }, scope);
  const stringBody = (): string => {
    if (typeof spec.body !== 'string') {
      throw new TemplateError(`format "${spec.format}" needs a string body`, where);
    }
    return spec.body;
  };
  const layout =
    options.layout === undefined
      ? undefined
      : // `{{> body}}` is the body itself, not a per-recipient partial.
        tryCompile(options.layout, true, 'layout', undefined);
  const layoutDataOnly = options.layout === undefined || !/recipient|contact|this|@root|\.\.|lookup|\{\{~?\s*#?>|#\*inline/.test(options.layout.replace(LAYOUT_BODY, ''));
  const wrap = (html: string, ctx: Record<string, unknown>, escapeData: Escaper): string =>
    layout ? run(layout, { ...ctx, body: html }, escapeData, { body: () => html }) : html;
  const { format } = spec;

  switch (format) {
    case 'html': {
      const body = tryCompile(stringBody(), true);
      const dataOnly = body.dataOnly && layoutDataOnly;
      return {
        format,
        location,
        render(scope) {
          return bodyOnce(dataOnly, scope, () => {
            const ctx = contextOf(scope);
            const html = wrap(run(body, ctx, escapeHtml), ctx, escapeHtml);
            return { format, html, text: htmlToText(html) };
          });
        },
      };
    }
    case 'markdown': {
      const body = tryCompile(stringBody(), true);
      const dataOnly = body.dataOnly && layoutDataOnly;
      return {
        format,
        location,
        render(scope) {
          return bodyOnce(dataOnly, scope, () => {
            const ctx = contextOf(scope);
            const slots = new Slots();
            const html = wrap(markdown.parse(run(body, ctx, slots.escape)) as string, ctx, slots.escape);
            return { format, html: slots.fill(html, escapeHtml), text: slots.fill(htmlToText(html), raw) };
          });
        },
      };
    }
    case 'blocks': {
      const source = stringBody();
      const blocks: Partial<Record<'subject' | 'text' | 'html', RenderFn>> = {};
      for (const m of source.matchAll(BLOCK)) {
        const name = m[1] as 'subject' | 'text' | 'html';
        blocks[name] = tryCompile(m[2]!.trim(), name === 'html', `${name} block`);
      }
      if (!blocks.text && !blocks.html) blocks.text = tryCompile(source.trim(), false);
      return {
        format,
        location,
        render(scope) {
          const ctx = contextOf(scope);
          const html = blocks.html ? run(blocks.html, ctx, escapeHtml).trim() : undefined;
          const text = blocks.text ? run(blocks.text, ctx, raw).trim() : html !== undefined ? htmlToText(html) : undefined;
          const out: RenderedContent = { format };
          if (text !== undefined) out.text = text;
          if (html !== undefined) out.html = html;
          return finish(out, scope, blocks.subject ? oneLine(run(blocks.subject, ctx, raw)) : renderSubject(scope));
        },
      };
    }
    case 'params': {
      const escapeData = location.escapeText;
      const tree: ParamsSource = typeof spec.body === 'string' ? parseParamsLines(spec.body) : spec.body;
      const compiled = compileTree(tree, (source, path) => {
        const part = `params ${path}`;
        let value: ValueFn | null = null;
        try {
          value = env.compileValue(source, escapeData !== undefined);
        } catch (error) {
          fail(error, part);
        }
        return value ? new ValueLeaf(value) : new TextLeaf(tryCompile(source, escapeData !== undefined, part));
      });
      return {
        format,
        location,
        render(scope) {
          let ctx: Record<string, unknown> | undefined;
          const context = () => (ctx ??= contextOf(scope));
          const params = renderTree(compiled, (leaf) => {
            if (leaf instanceof TextLeaf) return once(leaf, leaf.fn.dataOnly, scope, () => run(leaf.fn, context(), escapeData ?? raw));
            const value = once(leaf, leaf.fn.dataOnly, scope, () => {
              try {
                return toJson(leaf.fn(context()), leaf.fn.escaped ? escapeData : undefined);
              } catch (error) {
                return fail(error);
              }
            });
            // A value shared by the call's messages is copied, so no message can change another's.
            return value !== null && typeof value === 'object' ? structuredClone(value) : value;
          }) as JsonObject;
          return finish({ format, params }, scope);
        },
      };
    }
    case 'text': {
      const escapeData = location.escapeText;
      const body = tryCompile(stringBody(), escapeData !== undefined);
      const usage = {};
      return {
        format,
        location,
        render(scope) {
          const text = once(usage, body.dataOnly, scope, () => run(body, contextOf(scope), escapeData ?? raw).trim());
          return finish({ format, text }, scope);
        },
      };
    }
    default:
      throw new TemplateError(`unknown format "${String(format)}"; use html, markdown, blocks, params or text`, where);
  }
}

/**
 * Make V8 flatten a string built by concatenation (Handlebars, marked and html-to-text build their output piece by
 * piece) while its pieces are still young. A rendered message is kept until it is enqueued; unflattened, its
 * thousands of pieces are promoted to the old generation with it and become old garbage once the store
 * serializes it, which grows the heap by about the size of every message of a large `notify()` call.
 */
function flatten(value: string): void {
  // ToNumber flattens its argument in place; the result is irrelevant.
  void Number(value);
}

/** Subjects are one line (django-vox replaces newlines with spaces). */
function oneLine(value: string): string {
  return value.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** A `params` leaf rendered as text. */
class TextLeaf {
  constructor(readonly fn: RenderFn) {}
}
/** A `params` leaf that is exactly one expression: its value keeps its JSON type. */
class ValueLeaf {
  constructor(readonly fn: ValueFn) {}
}
type Leaf = TextLeaf | ValueLeaf;
type CompiledTree = Leaf | JsonValue | CompiledTree[] | { [key: string]: CompiledTree };

function compileTree(node: unknown, compileLeaf: (source: string, path: string) => Leaf, path = ''): CompiledTree {
  if (typeof node === 'string') return node.includes('{{') ? compileLeaf(node, path || '(root)') : node;
  if (Array.isArray(node)) return node.map((n, i) => compileTree(n, compileLeaf, `${path}[${i}]`));
  if (node && typeof node === 'object') {
    const out: Record<string, CompiledTree> = {};
    for (const [k, v] of Object.entries(node)) out[k] = compileTree(v, compileLeaf, path ? `${path}.${k}` : k);
    return out;
  }
  return node as JsonValue;
}

function renderTree(node: CompiledTree, render: (leaf: Leaf) => JsonValue): JsonValue {
  if (node instanceof TextLeaf || node instanceof ValueLeaf) return render(node);
  if (Array.isArray(node)) return node.map((n) => renderTree(n, render));
  if (node && typeof node === 'object') {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(node)) out[k] = renderTree(v as CompiledTree, render);
    return out;
  }
  return node;
}

/**
 * A typed leaf's value as JSON: strings (data included) through `escapeData` when given, numbers that JSON cannot
 * hold and missing values as `null`, dates as ISO strings, plain objects and arrays element by element.
 */
function toJson(value: unknown, escapeData: Escaper | undefined): JsonValue {
  if (value instanceof Data || typeof value === 'string') {
    const text = String(value);
    return escapeData ? escapeData(text) : text;
  }
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map((v) => toJson(v, escapeData));
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJson(v, escapeData);
      return out;
    }
    // Handlebars' SafeString (trusted markup from a helper) and other objects with their own text.
    return String(value);
  }
  return null;
}
