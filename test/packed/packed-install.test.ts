// The published artifact, not the workspace: every package is packed with `pnpm pack` (as `pnpm publish` packs it),
// installed with npm from the tarballs into a project outside the repository (no workspace links, no vitest), then
// type-checked as an app compiles it (strict, `skipLibCheck: false`, under nodenext, node16 and bundler) and run with
// plain node against loopback servers. The programs are in ./fixture/src. Nothing here is ever skipped: a step that
// cannot run fails with what it printed.
import { type SpawnOptions, spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const fixture = join(import.meta.dirname, 'fixture');
const BUILD_TIMEOUT = 8 * 60_000;

interface Run {
  code: number | null;
  /** stdout and stderr interleaved as they came. */
  output: string;
  stdout: string;
  ms: number;
}

/** Run a command to its end; never throws, so each assertion can show what the command printed. */
function sh(command: string, args: string[], options: SpawnOptions & { timeoutMs?: number } = {}): Promise<Run> {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk;
      stdout += chunk;
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk));
    const timer = setTimeout(() => {
      output += `\n[killed after ${options.timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 120_000);
    child.on('error', (error) => (output += `\n${error.message}`));
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, output, stdout, ms: Date.now() - started });
    });
  });
}

const tail = (text: string, lines = 60) => text.trimEnd().split('\n').slice(-lines).join('\n');
const failed = (what: string, run: Run) => `${what} exited ${run.code}:\n${tail(run.output)}`;

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  exports: Record<string, Record<string, string>>;
  publishConfig?: { exports?: Record<string, Record<string, string>> };
}

const packageDirs = readdirSync(join(root, 'packages'))
  .map((name) => join(root, 'packages', name))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .filter((dir) => !(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest).private);

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** Why the packages must be built first: a published file is missing, or older than the sources. */
function buildNeeded(): string | null {
  for (const dir of packageDirs) {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
    const targets = Object.values(manifest.publishConfig?.exports ?? manifest.exports).flatMap((conditions) => Object.values(conditions));
    const published = targets.filter((target) => target.startsWith('./dist/')).map((target) => join(dir, target));
    const missing = published.find((file) => !existsSync(file));
    if (missing) return `${relative(root, missing)} is missing`;
    const oldest = Math.min(...published.map((file) => statSync(file).mtimeMs));
    if (newestMtime(join(dir, 'src')) > oldest) return `${relative(root, dir)}/src is newer than its dist/`;
  }
  return null;
}

/** `catalog:` ranges of pnpm-workspace.yaml, so the app installs what the workspace tests with. */
function catalog(): Record<string, string> {
  const yaml = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const block = yaml.split(/^catalog:\s*$/m)[1]?.split(/^\S/m)[0] ?? '';
  return Object.fromEntries([...block.matchAll(/^ {2}"?([^":\s]+)"?:\s*(\S+)\s*$/gm)].map((m) => [m[1], m[2]]));
}

/** A user's shell, not the test's: the npm_* variables `pnpm test` exports would change how npm installs, and
 *  vitest's (VITEST*, TEST, NODE_ENV=test) are not what an app runs with. */
function userEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_|pnpm_|NODE_OPTIONS$|VITEST|TEST$|NODE_ENV$)/i.test(key)));
  return { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
}

interface Packed {
  name: string;
  version: string;
  tarball: string;
  size: number;
  unpackedSize: number;
  files: number;
  problems: string[];
}

const TSCONFIGS = {
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext', outDir: 'dist', rootDir: 'src', noEmitOnError: true },
  node16: { module: 'node16', moduleResolution: 'node16', noEmit: true },
  bundler: { module: 'esnext', moduleResolution: 'bundler', noEmit: true },
} as const;

describe('packed packages installed with npm into a fresh project', () => {
  const work = mkdtempSync(join(tmpdir(), 'herald-packed-'));
  const tarballs = join(work, 'tarballs');
  const app = join(work, 'app');
  const timings: Record<string, number> = {};
  let packed: Packed[] = [];
  let setupError: string | null = null;

  beforeAll(async () => {
    const started = Date.now();
    const reason = buildNeeded();
    if (reason) {
      console.log(`packed-install: building the packages first (${reason})`);
      const build = await sh('pnpm', ['-r', '--filter', './packages/*', 'build'], { cwd: root, timeoutMs: BUILD_TIMEOUT });
      timings.build = build.ms;
      if (build.code !== 0) {
        setupError = failed('pnpm -r --filter ./packages/* build', build);
        return;
      }
    }

    const pack = await sh(process.execPath, [join(root, 'scripts/pack-check.mjs'), '--out', tarballs, '--json'], { cwd: root, timeoutMs: 180_000 });
    timings.pack = pack.ms;
    try {
      packed = JSON.parse(pack.stdout) as Packed[];
    } catch {
      setupError = failed('node scripts/pack-check.mjs', pack);
      return;
    }

    const versions = catalog();
    const require = createRequire(join(root, 'packages/store-sqlite/package.json'));
    const sqliteDir = dirname(require.resolve('better-sqlite3/package.json'));
    const sqliteVersion = (JSON.parse(readFileSync(join(sqliteDir, 'package.json'), 'utf8')) as Manifest).version;
    mkdirSync(app, { recursive: true });
    writeFileSync(
      join(app, 'package.json'),
      `${JSON.stringify(
        {
          name: 'herald-packed-app',
          private: true,
          type: 'module',
          dependencies: {
            ...Object.fromEntries(packed.map((p) => [p.name, `file:${relative(app, p.tarball)}`])),
            // Exactly the workspace's version: its compiled addon is copied in below.
            'better-sqlite3': sqliteVersion,
            pg: versions.pg,
            'smtp-server': versions['smtp-server'],
            zod: versions.zod,
          },
          devDependencies: { '@types/node': versions['@types/node'], '@types/smtp-server': versions['@types/smtp-server'] },
        },
        null,
        2,
      )}\n`,
    );
    cpSync(join(fixture, 'src'), join(app, 'src'), { recursive: true });
    for (const [mode, options] of Object.entries(TSCONFIGS)) {
      // `lib` left to TypeScript's default (ES2022 + DOM), as `tsc --init` leaves it: postmark's own declarations
      // name the DOM's `RequestInfo`, so a `lib` without DOM fails inside postmark's types (docs/releasing.md).
      const compilerOptions = { target: 'ES2022', types: ['node'], strict: true, noUncheckedIndexedAccess: true, skipLibCheck: false, ...options };
      writeFileSync(join(app, `tsconfig.${mode}.json`), `${JSON.stringify({ compilerOptions, include: ['src'] }, null, 2)}\n`);
    }

    // --ignore-scripts: better-sqlite3's install script downloads a prebuilt addon from GitHub, or compiles one for
    // minutes when it cannot; the workspace's own build of the same version is copied in instead.
    const install = await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', '--loglevel=error'], {
      cwd: app,
      env: userEnv(),
      timeoutMs: 300_000,
    });
    timings.install = install.ms;
    if (install.code !== 0) {
      setupError = failed('npm install (in the fresh project)', install);
      return;
    }
    const addon = join('build', 'Release', 'better_sqlite3.node');
    if (!existsSync(join(sqliteDir, addon))) {
      setupError = `the workspace's better-sqlite3 has no ${addon} (run pnpm install, which builds it)`;
      return;
    }
    mkdirSync(join(app, 'node_modules/better-sqlite3/build/Release'), { recursive: true });
    copyFileSync(join(sqliteDir, addon), join(app, 'node_modules/better-sqlite3', addon));
    timings.setup = Date.now() - started;
  }, BUILD_TIMEOUT + 8 * 60_000);

  afterAll(() => {
    console.log(`packed-install timings (ms): ${JSON.stringify(timings)}`);
    if (process.env.HERALD_KEEP_PACKED) console.log(`packed-install: kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  });

  it('packs every package cleanly (publint, no workspace specifiers, README and CHANGELOG shipped)', () => {
    expect(setupError).toBeNull();
    expect(packed.map((p) => p.name).sort()).toEqual(packageDirs.map((dir) => (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest).name).sort());
    const problems = packed.flatMap((p) => p.problems.map((problem) => `${p.name}: ${problem}`));
    expect(problems, problems.join('\n')).toEqual([]);
    expect(relative(root, app).startsWith('..'), `${app} is outside the repository`).toBe(true);
    expect(existsSync(join(app, 'node_modules/vitest')), 'vitest is not installed in the app').toBe(false);
    console.log(`packed: ${packed.map((p) => `${p.name} ${(p.size / 1024).toFixed(1)} kB`).join(', ')}`);
  });

  for (const mode of Object.keys(TSCONFIGS)) {
    // Regression: the published .d.ts imported nodemailer, better-sqlite3 and pg types the packages did not install
    // (TS7016), and backend-twilio's a `twilio/lib/…` path without an extension (TS2307 under nodenext); twilio's own
    // declarations import jsonwebtoken, whose types twilio does not install (TS7016).
    it.concurrent(`type-checks the public API under ${mode} (strict, skipLibCheck: false, @ts-expect-error lines still errors)`, async () => {
      expect(setupError).toBeNull();
      const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
      const run = await sh(process.execPath, [tsc, '-p', `tsconfig.${mode}.json`, '--pretty', 'false'], { cwd: app, timeoutMs: 180_000 });
      timings[`tsc ${mode}`] = run.ms;
      expect(run.code, failed(`tsc -p tsconfig.${mode}.json`, run)).toBe(0);
    }, 200_000);
  }

  it('loads every entry point with plain node', async () => {
    expect(setupError).toBeNull();
    expect(existsSync(join(app, 'dist/load-all.js')), 'the nodenext check emitted dist/').toBe(true);
    const run = await sh(process.execPath, ['dist/load-all.js'], { cwd: app, env: userEnv() });
    expect(run.code, failed('node dist/load-all.js', run)).toBe(0);
  }, 60_000);

  it('sends an email through the SQLite store and the SMTP backend to a loopback SMTP server', async () => {
    expect(setupError).toBeNull();
    const run = await sh(process.execPath, ['dist/send.js'], { cwd: app, env: userEnv(), timeoutMs: 60_000 });
    timings.send = run.ms;
    expect(run.code, failed('node dist/send.js', run)).toBe(0);
    expect(run.output).toContain('"received":1');
  }, 90_000);

  // Regression: @herald/core/testing imported vitest when loaded, so node:test and jest users could not use it.
  it('runs memoryStore() and captureBackend() from node --test without vitest installed', async () => {
    expect(setupError).toBeNull();
    const run = await sh(process.execPath, ['--test', 'dist/testing.node-test.js'], { cwd: app, env: userEnv(), timeoutMs: 60_000 });
    expect(run.code, failed('node --test dist/testing.node-test.js', run)).toBe(0);
    expect(run.output).toMatch(/# pass 1\b/);
  }, 90_000);
});
