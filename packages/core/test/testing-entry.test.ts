import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const core = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const tsxLoader = pathToFileURL(join(dirname(require.resolve('tsx/package.json')), 'dist/loader.mjs')).href;

/** What a user of `@herald/core/testing` does outside vitest: a memory store, a capture backend, a loopback peer. */
const PROBE = `
import assert from 'node:assert/strict';
import { z } from 'zod';
import { createHerald, defineNotification } from '@herald/core';
import { captureBackend, loopback, makeOutboundMessage, makeSendContext, memoryStore } from '@herald/core/testing';

export async function probe() {
  // The sandbox is only meaningful if vitest cannot be found from here.
  await assert.rejects(import('vitest'), { code: 'ERR_MODULE_NOT_FOUND' });
  const welcome = defineNotification({
    id: 'welcome',
    schema: z.object({ name: z.string() }),
    templates: { email: { format: 'text', subject: 'Welcome, {{name}}', body: 'Hello {{name}}' } },
  });
  const email = captureBackend({ protocol: 'email' });
  const herald = createHerald({ store: memoryStore(), backends: [email], notifications: [welcome], logger: false });
  await herald.notify(welcome, { name: 'Ada' }, [{ id: 'u1', contacts: [{ protocol: 'email', address: 'ada@example.com' }] }]);
  await herald.drain();
  assert.equal(email.messages[0]?.content.subject, 'Welcome, Ada');
  await herald.close?.();

  const api = await loopback(() => ({ status: 200, body: 'ok' }));
  const res = await fetch(api.origin + '/hook', { method: 'POST', body: 'hi' });
  assert.equal(await res.text(), 'ok');
  assert.equal(api.requests[0]?.body, 'hi');
  await api.close();

  const message = makeOutboundMessage({ protocol: 'sms' });
  assert.equal(makeSendContext(message).idempotencyKey, message.deliveryId);
}
`;

const FILES: Record<string, string> = {
  'probe.mjs': PROBE,
  'script.mjs': `import { probe } from './probe.mjs';\nawait probe();\nconsole.log('probe ok');\n`,
  'probe.test.mjs': `import { test } from 'node:test';\nimport { probe } from './probe.mjs';\ntest('@herald/core/testing under node:test', probe);\n`,
};

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/** dist/ built after the last source change, with this layout (else the sources are what the tests check). */
const freshDist = existsSync(join(core, 'dist/testing/vitest.js')) && newest(join(core, 'dist')) >= newest(join(core, 'src'));

/**
 * A directory where `@herald/core` and its dependencies resolve and vitest does not. Core's files are copied,
 * not linked: node resolves a symlink to its real path, and from packages/core vitest would be found.
 */
function sandbox(): string {
  const dir = mkdtempSync(join(tmpdir(), 'herald-testing-entry-'));
  const pkg = JSON.parse(readFileSync(join(core, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  };
  // What a user installs with core: its dependencies and required peers (vitest is an optional one).
  const installed = [
    ...Object.keys(pkg.dependencies ?? {}),
    ...Object.keys(pkg.peerDependencies ?? {}).filter((name) => !pkg.peerDependenciesMeta?.[name]?.optional),
  ];
  for (const part of ['package.json', 'src', ...(freshDist ? ['dist'] : [])]) cpSync(join(core, part), join(dir, 'core', part), { recursive: true });
  mkdirSync(join(dir, 'node_modules/@herald'), { recursive: true });
  symlinkSync(join(dir, 'core'), join(dir, 'node_modules/@herald/core'), 'dir');
  for (const dep of installed) {
    symlinkSync(realpathSync(join(core, 'node_modules', dep)), join(dir, 'node_modules', dep), 'dir');
  }
  for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir, name), text);
  return dir;
}

async function node(dir: string, args: string[]): Promise<{ code: number; output: string }> {
  // NODE_PATH would let vitest be found from anywhere; NODE_OPTIONS could carry vitest's own loaders.
  const { NODE_PATH: _path, NODE_OPTIONS: _options, VITEST: _vitest, ...env } = process.env;
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd: dir, env, timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

// Regression: `@herald/core/testing` re-exported the vitest suites, so importing the capture backend or the memory
// store needed vitest installed (and threw "Vitest failed to access its internal state" under node:test or jest).
describe('@herald/core/testing without vitest', () => {
  let dir: string;
  beforeAll(() => {
    dir = sandbox();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const variants: [string, string[]][] = [['sources (tsx, @herald/source)', ['--import', tsxLoader, '--conditions=@herald/source']]];
  if (freshDist) variants.push(['built dist', []]);

  for (const [label, flags] of variants) {
    it(`imports and works in a plain node script: ${label}`, async () => {
      const { code, output } = await node(dir, [...flags, 'script.mjs']);
      expect(output).toContain('probe ok');
      expect(code, output).toBe(0);
    });

    it(`imports and works under node:test: ${label}`, async () => {
      const { code, output } = await node(dir, [...flags, '--test', 'probe.test.mjs']);
      expect(output).toMatch(/# pass 1/);
      expect(code, output).toBe(0);
    });
  }

  it(`its types reach no vitest declaration (${freshDist ? 'dist .d.ts' : 'sources'})`, () => {
    // Resolved where vitest IS installed, so an import of it anywhere in the graph pulls its declarations in.
    const vitestFiles = (entry: string) =>
      ts
        .createProgram([join(core, freshDist ? `dist/testing/${entry}.d.ts` : `src/testing/${entry}.ts`)], {
          module: ts.ModuleKind.ESNext,
          moduleResolution: ts.ModuleResolutionKind.Bundler,
          target: ts.ScriptTarget.ES2022,
          customConditions: freshDist ? [] : ['@herald/source'],
          types: [],
          noEmit: true,
        })
        .getSourceFiles()
        .map((f) => f.fileName)
        .filter((f) => /[\\/]@?vitest[\\/]/.test(f));
    expect(vitestFiles('index')).toEqual([]);
    // The control: the suites' sources do reach vitest, so the check can see it (their bundled .d.ts need not).
    if (!freshDist) expect(vitestFiles('vitest').length).toBeGreaterThan(0);
  });
});
