// The ```ts code blocks of README.md, docs/ and the package READMEs, and how each becomes a file of a program.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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

export interface ScriptRun {
  code: number | null;
  stdout: string;
  /** stdout and stderr interleaved as they came. */
  output: string;
}

const tsx = createRequire(join(root, 'package.json')).resolve('tsx/cli');

/**
 * Run one of a page's files as the page says to (`tsx <file>`), on the workspace's TypeScript sources (the
 * `@herald/source` condition, as `pnpm quickstart` runs them). A script that does not exit on its own within
 * `timeoutMs` is killed and fails: a drain() without close() hangs that way.
 */
export function runScript(file: string, cwd: string, env: Record<string, string>, timeoutMs = 30_000): Promise<ScriptRun> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [tsx, '--conditions=@herald/source', file], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      output += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    const timer = setTimeout(() => {
      output += `\n[still running after ${timeoutMs} ms: killed — does the script end with herald.close()?]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, output });
    });
  });
}

/**
 * Write a page's named blocks (`// send.ts`) into a fresh folder under test/docs/.herald-tmp (inside the workspace,
 * so `@herald/*` resolve) as an app's files, with a `"type": "module"` package.json. Returns the folder.
 */
export function writePage(doc: string): { dir: string; files: string[] } {
  mkdirSync(join(import.meta.dirname, '.herald-tmp'), { recursive: true });
  const dir = mkdtempSync(join(import.meta.dirname, '.herald-tmp', `${pageFolder(doc).replace(/\//g, '-')}-`));
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'my-app', private: true, type: 'module' })}\n`);
  const named = codeBlocks(doc).filter((block) => !isFragment(block) && !block.file.startsWith('line-'));
  for (const block of named) writeFileSync(join(dir, block.file), `${block.code}\n`);
  return { dir, files: named.map((block) => block.file).sort() };
}
