// The ```ts code blocks of README.md, docs/ and the package READMEs, and how each becomes a file of a program.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '../..');

export interface CodeBlock {
  /** Markdown file, relative to the repository root. */
  doc: string;
  /** Line of the block's first code line in the markdown file (1-based). */
  line: number;
  /** Words after the language on the opening fence (`fragment`). */
  meta: string[];
  code: string;
  /**
   * The file the block is, inside its page's folder: the name a first-line comment gives (`// herald.ts — …`),
   * so that other blocks of the page can import it (`./herald.js`), or one named after its line.
   */
  file: string;
}

/** README.md, docs/**\/*.md and packages/*\/README.md, sorted. */
export function markdownFiles(): string[] {
  const docs = readdirSync(join(root, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', name));
  const readmes = readdirSync(join(root, 'packages'))
    .map((name) => join('packages', name, 'README.md'))
    .filter((path) => existsSync(join(root, path)));
  return ['README.md', ...docs.sort(), ...readmes.sort()];
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/;
const FILE_COMMENT = /^\/\/\s*([\w.-]+\.(?:ts|mts|tsx))(?:\s|$)/;

/** Every ```ts / ```typescript block of one markdown file (CommonMark fences, nested ones included). */
export function codeBlocks(doc: string): CodeBlock[] {
  const lines = readFileSync(join(root, doc), 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] ?? '');
    if (!open) continue;
    const [, fence = '', lang = '', rest = ''] = open;
    let end = i + 1;
    while (end < lines.length && !new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`).test(lines[end] ?? '')) end++;
    if (lang === 'ts' || lang === 'typescript') {
      const code = lines.slice(i + 1, end).join('\n');
      const named = FILE_COMMENT.exec(lines[i + 1] ?? '');
      blocks.push({ doc, line: i + 2, meta: rest.split(/\s+/).filter(Boolean), code, file: named?.[1] ?? `line-${i + 2}.ts` });
    }
    i = end;
  }
  return blocks;
}

export const isFragment = (block: CodeBlock) => block.meta.includes('fragment');

/** Where a markdown file's blocks are written: one folder per page, e.g. `docs/getting-started`. */
export const pageFolder = (doc: string) => relative(root, join(root, doc)).replace(/\.md$/, '').replace(/[^\w/-]/g, '_');
