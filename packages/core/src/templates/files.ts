import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors';
import { TEMPLATE_FORMATS, type TemplateFormat, type TemplateSpec } from '../types';

export interface TemplateFile {
  notification: string;
  /** Backend name or protocol. */
  channel: string;
  file: string;
  spec: TemplateSpec;
  /** Lines before the body (its front-matter block), so errors give the file's own line numbers. */
  lineOffset: number;
}

/** A shared source from the folder: `_partials/<name>.hbs` or `_layouts/<backend-or-protocol>.hbs`. */
export interface SharedTemplateFile {
  name: string;
  file: string;
  source: string;
}

export interface TemplateFolder {
  templates: TemplateFile[];
  partials: SharedTemplateFile[];
  layouts: SharedTemplateFile[];
}

const FILE = /^([a-z0-9][a-z0-9-]*)\.(html|markdown|md|blocks|params|text|txt)\.hbs$/;
const SHARED = /^([A-Za-z0-9][A-Za-z0-9._-]*)\.hbs$/;

/**
 * Read `<dir>/<notification>/<backend-or-protocol>.<format>.hbs`. A file may start with a front-matter block
 * (`---`, `subject: …`, `from: …`, `enabled: false`, `---`).
 */
export function loadTemplatesDir(dir: string): TemplateFile[] {
  return loadTemplateFolder(dir).templates;
}

/**
 * {@link loadTemplatesDir}, plus the folder's partials (`_partials/<name>.hbs`, used as `{{> name}}`) and
 * layouts (`_layouts/<backend-or-protocol>.hbs`, wrapping that channel's html and markdown bodies).
 */
export function loadTemplateFolder(dir: string): TemplateFolder {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ConfigError(`templatesDir "${dir}" is not a folder`, { field: 'templatesDir' });
  }
  const out: TemplateFolder = { templates: [], partials: [], layouts: [] };
  for (const notification of readdirSync(dir).sort()) {
    const sub = join(dir, notification);
    if (!statSync(sub).isDirectory()) continue;
    if (notification === '_partials' || notification === '_layouts') {
      (notification === '_partials' ? out.partials : out.layouts).push(...readShared(sub));
      continue;
    }
    for (const name of readdirSync(sub).sort()) {
      const file = join(sub, name);
      const m = FILE.exec(name);
      if (!m) {
        if (name.endsWith('.hbs')) {
          throw new ConfigError(
            `template file "${file}" must be named <backend-or-protocol>.<format>.hbs with format one of ${TEMPLATE_FORMATS.join(', ')}`,
            { field: 'templatesDir' },
          );
        }
        continue;
      }
      const format = ({ md: 'markdown', txt: 'text' } as Record<string, TemplateFormat>)[m[2]!] ?? (m[2] as TemplateFormat);
      const { meta, body, lineOffset } = splitFrontMatter(readFileSync(file, 'utf8'), file);
      out.templates.push({ notification, channel: m[1]!, file, spec: { format, ...meta, body }, lineOffset });
    }
  }
  return out;
}

function readShared(dir: string): SharedTemplateFile[] {
  const out: SharedTemplateFile[] = [];
  for (const name of readdirSync(dir).sort()) {
    const file = join(dir, name);
    if (!name.endsWith('.hbs')) continue;
    const m = SHARED.exec(name);
    if (!m) throw new ConfigError(`template file "${file}" must be named <name>.hbs (letters, digits, ".", "_", "-")`, { field: 'templatesDir' });
    out.push({ name: m[1]!, file, source: readFileSync(file, 'utf8') });
  }
  return out;
}

function splitFrontMatter(source: string, file: string): { meta: Pick<TemplateSpec, 'subject' | 'from' | 'enabled'>; body: string; lineOffset: number } {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(source);
  if (!m) return { meta: {}, body: source, lineOffset: 0 };
  const meta: Pick<TemplateSpec, 'subject' | 'from' | 'enabled'> = {};
  for (const line of m[1]!.split(/\r?\n/)) {
    const kv = /^([A-Za-z]+):\s*(.*)$/.exec(line);
    if (!kv) continue;
    const [, key, value] = kv as unknown as [string, string, string];
    if (key === 'subject') meta.subject = value.trim();
    else if (key === 'from') meta.from = value.trim();
    else if (key === 'enabled') {
      if (value.trim() !== 'true' && value.trim() !== 'false') {
        throw new ConfigError(`template file "${file}": front matter "enabled" must be true or false, not "${value.trim()}"`, { field: 'templatesDir' });
      }
      meta.enabled = value.trim() === 'true';
    } else {
      throw new ConfigError(`template file "${file}": unknown front-matter key "${key}"; use subject, from or enabled`, { field: 'templatesDir' });
    }
  }
  const lineOffset = m[0].split('\n').length - (m[0].endsWith('\n') ? 1 : 0);
  return { meta, body: source.slice(m[0].length), lineOffset };
}
