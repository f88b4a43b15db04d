import { compile as compileHtmlToText } from 'html-to-text';
import { Marked } from 'marked';
import { TemplateError } from '../errors';
import type { JsonObject, JsonValue, ParamsSource, RenderedContent, TemplateFormat, TemplateSpec } from '../types';
import { compile, escapeHtml, escapeMarkdown, lineOf, messageOf, type RenderFn, wrapStrings } from './_handlebars';
import { parseParamsLines } from './params';

export interface TemplateLocation {
  notification: string;
  /** Backend name or protocol the template was written for. */
  channel: string;
  /** Source file, for templates loaded from a folder. */
  file?: string;
  /** Escape for data rendered into `text` templates (a backend's `escapeText`, e.g. Slack mrkdwn). */
  escapeText?: (value: string) => string;
}

/** The per-delivery values templates see besides the notification's data. */
export interface RenderScope {
  data: Record<string, unknown>;
  recipient: { id?: string; name?: string };
  contact: { protocol: string; address: string };
  /** Memo of escaped copies of `data`, shared by every render of one `notify()` call. */
  memo?: Map<unknown, unknown>;
}

export interface CompiledTemplate {
  readonly format: TemplateFormat;
  readonly location: TemplateLocation;
  render(scope: RenderScope): RenderedContent;
}

const htmlToText = compileHtmlToText({
  wordwrap: 78,
  selectors: [
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
    { selector: 'img', format: 'skip' },
  ],
});
const markdown = new Marked({ gfm: true, async: false });

const BLOCK = /\{\{#block\s+["'](subject|text|html)["']\s*\}\}([\s\S]*?)\{\{\/block\}\}/g;

const mdEscape = (s: string) => escapeMarkdown(escapeHtml(s));

/**
 * Compile a template spec now (syntax errors raise a {@link TemplateError} naming the notification, channel and line).
 *
 * Formats:
 * - `html`: body → HTML (data HTML-escaped), text part generated from it.
 * - `markdown`: body → Markdown (data escaped for HTML and Markdown) → HTML via marked, text part generated.
 * - `blocks`: `{{#block "subject"}}…{{/block}}`, `text` and `html` blocks in one source; no blocks = all text.
 * - `params`: `key: value` lines or an object of templates → an object (nothing escaped: it becomes JSON).
 * - `text`: plain text (data escaped only with the backend's `escapeText`).
 */
export function compileTemplate(spec: TemplateSpec, location: TemplateLocation): CompiledTemplate {
  const fail = (error: unknown): never => {
    throw new TemplateError(messageOf(error), { ...location, line: lineOf(error) }, { cause: error });
  };
  const tryCompile = (source: string, escaping: boolean): RenderFn => {
    try {
      return compile(source, escaping);
    } catch (error) {
      return fail(error);
    }
  };
  const run = (fn: RenderFn, context: unknown): string => {
    try {
      return fn(context);
    } catch (error) {
      return fail(error);
    }
  };
  /** This template's own corner of the per-call memo (keys below are its functions, or 'body'). */
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
  /** Render a data-only template once per `notify()` call, everything else per recipient. */
  const once = (fn: RenderFn, scope: RenderScope, context: () => unknown): string => {
    const memo = fn.dataOnly ? memoOf(scope) : null;
    if (!memo) return run(fn, context());
    let out = memo.get(fn) as string | undefined;
    if (out === undefined) {
      out = run(fn, context());
      memo.set(fn, out);
    }
    return out;
  };
  const contextOf = (scope: RenderScope, escaping?: (s: string) => string): Record<string, unknown> => {
    if (!escaping) return { ...scope.data, recipient: scope.recipient, contact: scope.contact };
    let data = scope.memo?.get(escaping) as Record<string, unknown> | undefined;
    if (!data) {
      data = wrapStrings(scope.data, escaping) as Record<string, unknown>;
      scope.memo?.set(escaping, data);
    }
    return { ...data, recipient: wrapStrings(scope.recipient, escaping), contact: scope.contact };
  };

  const subject = spec.subject === undefined ? undefined : tryCompile(spec.subject, false);
  const renderSubject = (scope: RenderScope) => (subject ? oneLine(once(subject, scope, () => contextOf(scope))) : undefined);
  /**
   * An html or markdown body that depends on data only is rendered, converted and given its text part once per
   * `notify()` call; each message gets its own copy of the result.
   */
  const bodyOnce = (body: RenderFn, scope: RenderScope, render: () => RenderedContent): RenderedContent => {
    const memo = body.dataOnly ? memoOf(scope) : null;
    let content: RenderedContent;
    if (memo) {
      let cached = memo.get('body') as RenderedContent | undefined;
      if (!cached) {
        cached = render();
        memo.set('body', cached);
      }
      content = { ...cached };
    } else {
      content = render();
    }
    return withSubject(content, renderSubject(scope));
  };
  const stringBody = (): string => {
    if (typeof spec.body !== 'string') {
      throw new TemplateError(`format "${spec.format}" needs a string body`, location);
    }
    return spec.body;
  };
  const { format } = spec;

  switch (format) {
    case 'html': {
      const body = tryCompile(stringBody(), true);
      return {
        format,
        location,
        render(scope) {
          return bodyOnce(body, scope, () => {
            const html = run(body, contextOf(scope));
            return { format, html, text: htmlToText(html) };
          });
        },
      };
    }
    case 'markdown': {
      const body = tryCompile(stringBody(), true);
      return {
        format,
        location,
        render(scope) {
          return bodyOnce(body, scope, () => {
            const html = markdown.parse(run(body, contextOf(scope, mdEscape))) as string;
            return { format, html, text: htmlToText(html) };
          });
        },
      };
    }
    case 'blocks': {
      const source = stringBody();
      const blocks: Partial<Record<'subject' | 'text' | 'html', RenderFn>> = {};
      for (const m of source.matchAll(BLOCK)) {
        const name = m[1] as 'subject' | 'text' | 'html';
        blocks[name] = tryCompile(m[2]!.trim(), name === 'html');
      }
      if (!blocks.text && !blocks.html) blocks.text = tryCompile(source.trim(), false);
      return {
        format,
        location,
        render(scope) {
          const ctx = contextOf(scope);
          const html = blocks.html ? run(blocks.html, ctx).trim() : undefined;
          const text = blocks.text ? run(blocks.text, ctx).trim() : html !== undefined ? htmlToText(html) : undefined;
          const subjectText = blocks.subject ? oneLine(run(blocks.subject, ctx)) : renderSubject(scope);
          const out: RenderedContent = { format };
          if (text !== undefined) out.text = text;
          if (html !== undefined) out.html = html;
          return withSubject(out, subjectText);
        },
      };
    }
    case 'params': {
      const tree: ParamsSource = typeof spec.body === 'string' ? parseParamsLines(spec.body) : spec.body;
      const compiled = compileTree(tree, (s) => tryCompile(s, false));
      return {
        format,
        location,
        render(scope) {
          let ctx: unknown;
          const context = () => (ctx ??= contextOf(scope));
          const params = renderTree(compiled, (fn) => once(fn, scope, context)) as JsonObject;
          return withSubject({ format, params }, renderSubject(scope));
        },
      };
    }
    case 'text': {
      const escaping = location.escapeText;
      const body = tryCompile(stringBody(), escaping !== undefined);
      return {
        format,
        location,
        render(scope) {
          const text = once(body, scope, () => contextOf(scope, escaping)).trim();
          return withSubject({ format, text }, renderSubject(scope));
        },
      };
    }
    default:
      throw new TemplateError(`unknown format "${String(format)}"; use html, markdown, blocks, params or text`, location);
  }
}

function withSubject(content: RenderedContent, subject: string | undefined): RenderedContent {
  if (subject !== undefined) content.subject = subject;
  if (content.html !== undefined) flatten(content.html);
  if (content.text !== undefined) flatten(content.text);
  return content;
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

type CompiledTree = RenderFn | JsonValue | CompiledTree[] | { [key: string]: CompiledTree };

function compileTree(node: unknown, compileLeaf: (s: string) => RenderFn): CompiledTree {
  if (typeof node === 'string') return node.includes('{{') ? compileLeaf(node) : node;
  if (Array.isArray(node)) return node.map((n) => compileTree(n, compileLeaf));
  if (node && typeof node === 'object') {
    const out: Record<string, CompiledTree> = {};
    for (const [k, v] of Object.entries(node)) out[k] = compileTree(v, compileLeaf);
    return out;
  }
  return node as JsonValue;
}

function renderTree(node: CompiledTree, render: (fn: RenderFn) => string): JsonValue {
  if (typeof node === 'function') return render(node);
  if (Array.isArray(node)) return node.map((n) => renderTree(n, render));
  if (node && typeof node === 'object') {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(node)) out[k] = renderTree(v, render);
    return out;
  }
  return node;
}
