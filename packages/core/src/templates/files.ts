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
}

const FILE = /^([a-z0-9][a-z0-9-]*)\.(html|markdown|md|blocks|params|text|txt)\.hbs$/;

/**
 * Read `<dir>/<notification>/<backend-or-protocol>.<format>.hbs`. A file may start with a front-matter block
 * (`---`, `subject: …`, `---`) to set the subject.
 */
export function loadTemplatesDir(dir: string): TemplateFile[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ConfigError(`templatesDir "${dir}" is not a folder`, { field: 'templatesDir' });
  }
  const out: TemplateFile[] = [];
  for (const notification of readdirSync(dir).sort()) {
    const sub = join(dir, notification);
    if (!statSync(sub).isDirectory()) continue;
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
      const { subject, body } = splitFrontMatter(readFileSync(file, 'utf8'));
      const spec: TemplateSpec = subject === undefined ? { format, body } : { format, subject, body };
      out.push({ notification, channel: m[1]!, file, spec });
    }
  }
  return out;
}

function splitFrontMatter(source: string): { subject?: string; body: string } {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(source);
  if (!m) return { body: source };
  const subject = /^subject:\s*(.*)$/m.exec(m[1]!)?.[1]?.trim();
  const body = source.slice(m[0].length);
  return subject === undefined ? { body } : { subject, body };
}
