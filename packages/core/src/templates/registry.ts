import Handlebars from 'handlebars';
import { ConfigError } from '../errors';
import type { Notification } from '../notification';
import { isProtocol, PROTOCOLS } from '../protocols';
import type { Backend, TemplateSpec } from '../types';
import { BUILTIN_HELPERS, CAPTURE_HELPER, createEnvironment, type Environment, lineOf, messageOf, PartialError } from './_handlebars';
import { type CompiledTemplate, compileTemplate, type TemplateLocation } from './compile';
import { loadTemplateFolder, type SharedTemplateFile } from './files';
import { type CheckOptions, checkSource, checkTemplate, rootShape, suggest } from './schema-check';

/**
 * A helper as the app registers it: arguments arrive as plain values (strings, numbers, objects), the last one
 * is Handlebars' options object. A returned string is data (escaped like `{{value}}`); return
 * `new Handlebars.SafeString(html)` for trusted markup.
 */
export type TemplateHelper = { bivarianceHack(...args: unknown[]): unknown }['bivarianceHack'];

/** Shared template parts: `createHerald({ templates: { partials, helpers, layouts } })`. */
export interface TemplateOptions {
  /** Partial sources by name, used as `{{> name}}` in every template (the folder's `_partials/<name>.hbs` add to them). */
  partials?: Record<string, string>;
  /**
   * Helpers by name, used as `{{name arg}}` in every template. They get plain values; a returned string is data
   * (escaped like `{{value}}`), `new Handlebars.SafeString(html)` is trusted markup.
   */
  helpers?: Record<string, TemplateHelper>;
  /**
   * HTML layouts by backend name or protocol (`email`), wrapping every `html` and `markdown` body of that channel
   * where the layout says `{{> body}}` or `{{{body}}}` (the folder's `_layouts/<channel>.hbs` add to them). A
   * backend's own layout wins over its protocol's.
   */
  layouts?: Record<string, string>;
}

export interface TemplateRegistryOptions extends TemplateOptions {
  notifications: readonly Notification[];
  /** Configured backends by name. */
  backends: ReadonlyMap<string, Backend>;
  /** Folder of `<notification>/<backend-or-protocol>.<format>.hbs` files, `_partials/` and `_layouts/`. */
  templatesDir?: string;
}

/** Every notification's templates, compiled and checked once at start-up. */
export interface TemplateRegistry {
  /** The template a backend renders for a notification (its own, else its protocol's), or `null`. */
  for(notificationId: string, backendName: string): CompiledTemplate | null;
  /** Templates for protocols with no backend configured (compiled so `preview()` and start-up checks cover them). */
  standalone(notificationId: string): readonly CompiledTemplate[];
  /** `[backend name, template]` for every backend that has a template for the notification, in backend order. */
  entries(notificationId: string): Iterable<[string, CompiledTemplate]>;
}

interface Source {
  spec: TemplateSpec;
  file?: string;
  lineOffset?: number;
}

/**
 * Collect, compile and check every template: inline specs and the templates folder (the same channel in both
 * is an error), channel names checked (a typo such as `emial` is an error), one template per (notification,
 * backend) with the backend's own winning over its protocol's, formats checked against the backend, templates
 * for protocols without a backend compiled too, and every variable checked against the notification's schema
 * (unless `strictTemplates: false`). Templates with `enabled: false` are left out, as if absent.
 */
export function createTemplateRegistry(options: TemplateRegistryOptions): TemplateRegistry {
  const { backends } = options;
  const folder = options.templatesDir ? loadTemplateFolder(options.templatesDir) : { templates: [], partials: [], layouts: [] };
  const helpers = checkHelpers(options.helpers);
  const partials = combine('partials', options.partials, folder.partials);
  const env = environment(helpers, partials);
  const layouts = checkLayouts(combine('layouts', options.layouts, folder.layouts), backends, env);
  const protocols = new Set<string>([...backends.values()].map((b) => b.protocol));

  const ids = new Set(options.notifications.map((n) => n.id));
  const specs = new Map<string, Map<string, Source>>();
  const channels = new Map<string, Set<string>>();
  for (const n of options.notifications) {
    const own = new Map<string, Source>();
    const named = new Set<string>();
    for (const [channel, spec] of Object.entries(n.templates ?? {})) {
      checkSpecKeys(n.id, channel, spec);
      named.add(channel);
      if (spec.enabled !== false) own.set(channel, { spec });
    }
    specs.set(n.id, own);
    channels.set(n.id, named);
  }
  for (const t of folder.templates) {
    if (!ids.has(t.notification)) continue;
    const own = specs.get(t.notification)!;
    channels.get(t.notification)!.add(t.channel);
    if (t.spec.enabled === false) continue;
    if (own.has(t.channel)) {
      throw new ConfigError(`notification "${t.notification}" has both an inline template and ${t.file} for "${t.channel}"; keep one`, { field: 'templatesDir' });
    }
    own.set(t.channel, { spec: t.spec, file: t.file, lineOffset: t.lineOffset });
  }

  const compiled = new Map<string, Map<string, CompiledTemplate>>();
  const standalone = new Map<string, CompiledTemplate[]>();
  for (const n of options.notifications) {
    const { id } = n;
    const own = specs.get(id)!;
    for (const channel of channels.get(id)!) {
      if (!isProtocol(channel) && !backends.has(channel)) {
        throw new ConfigError(
          `notification "${id}" has a template for "${channel}", which is neither a protocol (${PROTOCOLS.join(', ')}) nor a configured backend (${[...backends.keys()].join(', ') || 'none'})`,
          { field: `notifications.${id}.templates.${channel}` },
        );
      }
    }
    const root = n.strictTemplates === false ? null : rootShape(n.schema);
    const check: CheckOptions | null = root ? { root, helpers: env.helpers, partials: env.partialSources } : null;
    const checked = new Set<TemplateSpec>();
    const checkedLayouts = new Set<string>();
    const build = (channel: string, source: Source, layoutKey: string | undefined, escapeText: Backend['escapeText']) => {
      const { spec, file, lineOffset } = source;
      const location: TemplateLocation = {
        notification: id,
        channel,
        ...(file ? { file } : {}),
        ...(lineOffset ? { lineOffset } : {}),
        ...(escapeText ? { escapeText } : {}),
      };
      const layout = layoutKey !== undefined && (spec.format === 'html' || spec.format === 'markdown') ? layouts.get(layoutKey) : undefined;
      const template = compileTemplate(spec, location, { environment: env, ...(layout ? { layout: layout.source } : {}) });
      if (check && !checked.has(spec)) {
        checked.add(spec);
        checkTemplate(spec, location, check);
      }
      if (check && layout && layoutKey !== undefined && !checkedLayouts.has(layoutKey)) {
        checkedLayouts.add(layoutKey);
        const withBody = rootShape(n.schema, { body: { kind: 'scalar' } })!;
        checkSource(layout.source, { notification: id, channel: `layout ${layoutKey}`, ...(layout.file ? { file: layout.file } : {}) }, { ...check, root: withBody, runtimePartials: new Set(['body']) });
      }
      return template;
    };

    const perBackend = new Map<string, CompiledTemplate>();
    for (const backend of backends.values()) {
      const channel = own.has(backend.name) ? backend.name : own.has(backend.protocol) ? backend.protocol : null;
      if (!channel) continue;
      const source = own.get(channel)!;
      if (!backend.formats.includes(source.spec.format)) {
        throw new ConfigError(
          `notification "${id}": the ${channel} template is in format "${source.spec.format}", but backend "${backend.name}" renders ${backend.formats.join(', ')}. Write a ${backend.formats[0]} template for "${backend.name}" or "${backend.protocol}".`,
          { field: `notifications.${id}.templates.${channel}.format` },
        );
      }
      const layoutKey = layouts.has(backend.name) ? backend.name : layouts.has(backend.protocol) ? backend.protocol : undefined;
      perBackend.set(backend.name, build(channel, source, layoutKey, backend.escapeText));
    }
    compiled.set(id, perBackend);
    const extra: CompiledTemplate[] = [];
    for (const [channel, source] of own) {
      if (isProtocol(channel) && !protocols.has(channel)) extra.push(build(channel, source, layouts.has(channel) ? channel : undefined, undefined));
    }
    standalone.set(id, extra);
  }

  const none: readonly CompiledTemplate[] = [];
  return {
    for: (notificationId, backendName) => compiled.get(notificationId)?.get(backendName) ?? null,
    standalone: (notificationId) => standalone.get(notificationId) ?? none,
    entries: (notificationId) => compiled.get(notificationId)?.entries() ?? new Map<string, CompiledTemplate>().entries(),
  };
}

const SPEC_KEYS = ['format', 'subject', 'body', 'enabled', 'from'];

/** A misspelt key (`subjet`) would silently do nothing: name it and the closest known one. */
function checkSpecKeys(id: string, channel: string, spec: TemplateSpec): void {
  const field = `notifications.${id}.templates.${channel}`;
  if (!spec || typeof spec !== 'object') throw new ConfigError(`notification "${id}": the ${channel} template must be { format, body, subject?, from?, enabled? }`, { field });
  for (const key of Object.keys(spec)) {
    if (!SPEC_KEYS.includes(key)) {
      throw new ConfigError(`notification "${id}": the ${channel} template has an unknown key "${key}"${suggest(key, SPEC_KEYS)}`, { field: `${field}.${key}` });
    }
  }
}

function checkHelpers(helpers: TemplateOptions['helpers']): Record<string, TemplateHelper> {
  if (helpers === undefined) return {};
  if (!helpers || typeof helpers !== 'object') throw new ConfigError('templates.helpers must be an object of functions by name', { field: 'templates.helpers' });
  for (const [name, helper] of Object.entries(helpers)) {
    const field = `templates.helpers.${name}`;
    if (typeof helper !== 'function') throw new ConfigError(`helper "${name}" must be a function`, { field });
    if (BUILTIN_HELPERS.has(name) || name === CAPTURE_HELPER || name === 'block') {
      throw new ConfigError(`helper "${name}" would replace a built-in helper; give it another name`, { field });
    }
    if (!/^[A-Za-z_$][\w$-]*$/.test(name)) throw new ConfigError(`helper name "${name}" must be letters, digits, "_", "$" or "-"`, { field });
  }
  return helpers;
}

/** Inline sources and the folder's, by name; the same name in both is an error. */
function combine(kind: 'partials' | 'layouts', inline: Record<string, string> | undefined, files: readonly SharedTemplateFile[]): Map<string, { source: string; file?: string }> {
  const out = new Map<string, { source: string; file?: string }>();
  if (inline !== undefined && (!inline || typeof inline !== 'object')) {
    throw new ConfigError(`templates.${kind} must be an object of template sources by name`, { field: `templates.${kind}` });
  }
  for (const [name, source] of Object.entries(inline ?? {})) {
    if (typeof source !== 'string') throw new ConfigError(`templates.${kind}.${name} must be a template source (a string)`, { field: `templates.${kind}.${name}` });
    out.set(name, { source });
  }
  for (const f of files) {
    if (out.has(f.name)) {
      throw new ConfigError(`${kind === 'partials' ? 'partial' : 'layout'} "${f.name}" is given both in templates.${kind} and as ${f.file}; keep one`, { field: `templates.${kind}.${f.name}` });
    }
    out.set(f.name, { source: f.source, file: f.file });
  }
  return out;
}

function environment(helpers: Record<string, TemplateHelper>, partials: ReadonlyMap<string, { source: string; file?: string }>): Environment {
  try {
    return createEnvironment({ helpers, partials: Object.fromEntries([...partials].map(([name, p]) => [name, p.source])) });
  } catch (error) {
    if (!(error instanceof PartialError)) throw error;
    const file = partials.get(error.partial)?.file;
    const line = lineOf(error.original);
    throw new ConfigError(`partial "${error.partial}"${file ? ` (${file})` : ''}${line ? `, line ${line}` : ''}: ${messageOf(error.original)}`, {
      field: `templates.partials.${error.partial}`,
      cause: error.original,
    });
  }
}

/** Layout channels must exist, layouts must compile and insert the body unescaped. */
function checkLayouts(
  layouts: Map<string, { source: string; file?: string }>,
  backends: ReadonlyMap<string, Backend>,
  env: Environment,
): Map<string, { source: string; file?: string }> {
  for (const [channel, layout] of layouts) {
    const field = `templates.layouts.${channel}`;
    const name = `layout "${channel}"${layout.file ? ` (${layout.file})` : ''}`;
    if (!isProtocol(channel) && !backends.has(channel)) {
      throw new ConfigError(
        `${name} is for "${channel}", which is neither a protocol (${PROTOCOLS.join(', ')}) nor a configured backend (${[...backends.keys()].join(', ') || 'none'})`,
        { field },
      );
    }
    let ast: hbs.AST.Program;
    try {
      ast = Handlebars.parse(layout.source);
      env.compile(layout.source, true);
    } catch (error) {
      const line = lineOf(error);
      throw new ConfigError(`${name}${line ? `, line ${line}` : ''}: ${messageOf(error)}`, { field, cause: error });
    }
    if (!insertsBody(ast.body)) {
      const escaped = /\{\{\s*body\s*\}\}/.test(layout.source);
      throw new ConfigError(`${name} never inserts the body: write {{> body}} or {{{body}}} where it goes${escaped ? ' ({{body}} would escape its HTML)' : ''}`, { field });
    }
  }
  return layouts;
}

/** Whether statements (at any depth of blocks) say `{{> body}}` or `{{{body}}}`. */
function insertsBody(statements: readonly hbs.AST.Statement[]): boolean {
  return statements.some((s) => {
    if (s.type === 'PartialStatement') return ((s as hbs.AST.PartialStatement).name as hbs.AST.PathExpression).original === 'body';
    if (s.type === 'MustacheStatement') {
      const m = s as hbs.AST.MustacheStatement;
      return !m.escaped && (m.path as hbs.AST.PathExpression).original === 'body';
    }
    if (s.type === 'BlockStatement') {
      const b = s as hbs.AST.BlockStatement;
      return insertsBody(b.program?.body ?? []) || insertsBody(b.inverse?.body ?? []);
    }
    return false;
  });
}
