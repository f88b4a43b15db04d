// Every ```ts block of README.md, docs/ and the package READMEs is a small complete program a reader can paste:
// each is written as a module into a folder inside this package (so `@herald/*` resolve to the workspace sources
// through the `@herald/source` condition, without a build) and all are type-checked in ONE strict program.
// Nothing is added to a block: it imports what it uses. A block whose first line is a file
// comment (`// herald.ts — …`) is that file of its page, so the page's other blocks can import it (`./herald.js`).
// ```ts fragment blocks are skipped, and may be at most one block in five.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { type CodeBlock, codeBlocks, isFragment, markdownFiles, pageFolder, root } from './_blocks';

const blocks = markdownFiles().flatMap(codeBlocks);
const programs = blocks.filter((block) => !isFragment(block));
const fragments = blocks.filter(isFragment);

// Inside the workspace, not the OS temp folder: module resolution walks up from the written files to
// test/node_modules. `.herald-tmp/` is git-ignored; the folder is removed afterwards unless HERALD_KEEP_DOCS is set.
mkdirSync(join(import.meta.dirname, '.herald-tmp'), { recursive: true });
const work = mkdtempSync(join(import.meta.dirname, '.herald-tmp', 'docs-'));
afterAll(() => {
  if (process.env.HERALD_KEEP_DOCS) console.log(`docs-compile: programs kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
});

/**
 * An app's strict settings (ESM, top-level await, Node's types), with the workspace's `lib` (the sources compiled
 * here are the packages' own). `skipLibCheck` skips only third-party declarations: the workspace sources are
 * checked in full, Herald's published declarations with `skipLibCheck: false` by the packed-install test, and
 * drizzle-orm's declarations do not compile without it (drizzle documents `skipLibCheck: true`).
 */
const COMPILER_OPTIONS = {
  target: 'ES2022',
  lib: ['ES2023'],
  module: 'ESNext',
  moduleResolution: 'Bundler',
  customConditions: ['@herald/source'],
  types: ['node'],
  strict: true,
  noUncheckedIndexedAccess: true,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  skipLibCheck: true,
  noEmit: true,
};

const where = (block: CodeBlock) => `${block.doc}:${block.line}`;

/** Write every block under work/<page>/<file>; a block's line n is the file's line n. */
function writePrograms(): Map<string, CodeBlock> {
  const byFile = new Map<string, CodeBlock>();
  for (const block of programs) {
    const path = join(work, pageFolder(block.doc), block.file);
    const taken = byFile.get(path);
    if (taken) throw new Error(`${where(block)}: the page already has a block named ${block.file} (${where(taken)})`);
    byFile.set(path, block);
    mkdirSync(dirname(path), { recursive: true });
    // `export {}` keeps a block without imports a module, so top-level names of different blocks never collide.
    writeFileSync(path, `${block.code}\nexport {};\n`);
  }
  writeFileSync(join(work, 'package.json'), `${JSON.stringify({ type: 'module', private: true })}\n`);
  writeFileSync(join(work, 'tsconfig.json'), `${JSON.stringify({ compilerOptions: COMPILER_OPTIONS, include: ['**/*.ts'] }, null, 2)}\n`);
  return byFile;
}

describe('docs code blocks', () => {
  it('are at most one fragment in five', () => {
    console.log(`docs-compile: ${blocks.length} ts blocks, ${programs.length} compiled, ${fragments.length} fragments`);
    expect(blocks.length).toBeGreaterThan(0);
    expect(fragments.length * 5, `fragments:\n${fragments.map(where).join('\n')}`).toBeLessThanOrEqual(blocks.length);
  });

  it('import sibling blocks as a Node ESM app does: ./file.js, a block of the same page', () => {
    const problems: string[] = [];
    for (const block of programs) {
      const files = new Set(programs.filter((b) => b.doc === block.doc).map((b) => b.file));
      for (const [, specifier = ''] of block.code.matchAll(/\bfrom\s+['"](\.[^'"]*)['"]/g)) {
        const target = specifier.replace(/^\.\//, '').replace(/\.js$/, '.ts');
        if (!specifier.endsWith('.js')) problems.push(`${where(block)}: import '${specifier}' needs its .js extension under Node ESM`);
        else if (!files.has(target)) problems.push(`${where(block)}: imports '${specifier}', but no block of ${block.doc} starts with // ${target}`);
      }
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('type-check as complete programs (strict, one program)', () => {
    const started = Date.now();
    const byFile = writePrograms();
    const config = ts.parseJsonConfigFileContent({ compilerOptions: COMPILER_OPTIONS, files: [...byFile.keys()] }, ts.sys, work);
    expect(config.errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
    const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
    // Only the blocks are checked (the checker then reads just the declarations they use, which is most of the
    // speed): the packages' own sources are `pnpm typecheck`'s job, and an error there is not a docs error.
    const diagnostics = [
      ...program.getOptionsDiagnostics(),
      ...program.getGlobalDiagnostics(),
      ...program.getSourceFiles().filter((file) => byFile.has(file.fileName)).flatMap((file) => [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]),
    ];
    const failures = diagnostics.map((diagnostic) => {
      const message = `TS${diagnostic.code}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ')}`;
      if (!diagnostic.file || diagnostic.start === undefined) return message;
      const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
      const block = byFile.get(diagnostic.file.fileName);
      if (!block) return `${relative(root, diagnostic.file.fileName)}:${line + 1}:${character + 1} ${message}`;
      return `${block.doc}:${block.line + line}:${character + 1} (block at line ${block.line}) ${message}`;
    });
    console.log(`docs-compile: type-checked ${byFile.size} blocks in ${Date.now() - started} ms`);
    expect(failures, `\n${failures.join('\n')}\n`).toEqual([]);
  });
});
