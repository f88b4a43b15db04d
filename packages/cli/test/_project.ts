// A temporary project folder with a herald.config.ts, and the real `herald` binary run against it in child
// processes: the built dist/bin.js on plain Node (as installed; the TypeScript config goes through jiti) when every
// package it loads is built and newer than its sources — CI builds before it tests —, else src/bin.ts through tsx
// with the `@herald/source` condition, so the CLI and the config's `@herald/*` imports load the workspace's
// sources and nothing needs building. HERALD_CLI_TEST_BIN=dist|source picks one.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

export const PG_URL = process.env.HERALD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const CLI_DIR = fileURLToPath(new URL('..', import.meta.url));
export const BIN = join(CLI_DIR, 'src', 'bin.ts');
export const DIST_BIN = join(CLI_DIR, 'dist', 'bin.js');
// tsx is the workspace root's dev dependency; its ESM loader, as a file URL for `--import`.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm')).href;

/** The workspace packages the binary and the test configs load. */
const LOADED = ['cli', 'core', 'server', 'store-sqlite', 'store-postgres', 'backend-smtp', 'backend-twilio'];

/** Newest (or oldest) modification time of the files under `dir`. */
function mtime(dir: string, pick: (a: number, b: number) => number, start: number): number {
  let t = start;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    t = pick(t, entry.isDirectory() ? mtime(path, pick, start) : statSync(path).mtimeMs);
  }
  return t;
}

function distIsFresh(): boolean {
  const packages = join(CLI_DIR, '..');
  return LOADED.every((name) => {
    const dist = join(packages, name, 'dist');
    if (!existsSync(join(dist, 'index.js'))) return false;
    return mtime(join(packages, name, 'src'), Math.max, 0) < mtime(dist, Math.min, Number.POSITIVE_INFINITY);
  });
}

const choice = process.env.HERALD_CLI_TEST_BIN;
/** Whether the tests run the built binary (see the top of this file). */
export const USE_DIST = choice === 'dist' || (choice !== 'source' && distIsFresh());

export type StoreKind = 'sqlite' | 'postgres';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for `--json` runs). */
  json<T = Record<string, unknown>>(): T;
}

export interface RunOptions {
  input?: string;
  env?: Record<string, string | undefined>;
  /** Run the built dist/bin.js with plain Node (default: {@link USE_DIST}). */
  dist?: boolean;
  /** Working directory, relative to the project folder. */
  cwd?: string;
}

export interface Running {
  child: ChildProcess;
  /** Lines written to stdout so far. */
  readonly lines: string[];
  readonly stderr: string;
  /** Wait for a stdout line matching `test`. */
  waitForLine(test: RegExp, timeoutMs?: number): Promise<string>;
  /** Wait until `count` stdout lines match `test` (log lines: no polling processes needed). */
  waitForLines(test: RegExp, count: number, timeoutMs?: number): Promise<string[]>;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
}

export interface Project {
  dir: string;
  store: StoreKind;
  /** Write a file into the project folder; returns its path. */
  write(name: string, content: string): string;
  run(args: readonly string[], options?: RunOptions): Promise<RunResult>;
  start(args: readonly string[], options?: RunOptions): Running;
  /** Kill whatever a failed test left running (a worker it never stopped). */
  killAll(): void;
  cleanup(): Promise<void>;
}

const BASE_ENV = { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined, HERALD_CONFIG: undefined } as Record<string, string | undefined>;

function nodeArgs(args: readonly string[], options: RunOptions): string[] {
  return [...((options.dist ?? USE_DIST) ? [DIST_BIN] : ['--conditions=@herald/source', '--import', TSX, BIN]), ...args];
}

/** The command line running `herald <args>`, quoted for a POSIX shell (for `script`, which needs one string). */
export function shellCommand(args: readonly string[], options: RunOptions = {}): string {
  return [process.execPath, ...nodeArgs(args, options)].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
}

function spawnCli(dir: string, args: readonly string[], options: RunOptions): ChildProcess {
  const node = nodeArgs([], options);
  const env = { ...BASE_ENV, ...options.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return spawn(process.execPath, [...node, ...args], { cwd: options.cwd ? join(dir, options.cwd) : dir, env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** The store line of a generated config. */
function storeSource(kind: StoreKind, dir: string, schema: string): string {
  return kind === 'sqlite'
    ? `sqliteStore({ path: ${JSON.stringify(join(dir, 'herald.db'))} })`
    : `postgresStore({ connectionString: ${JSON.stringify(PG_URL)}, schema: ${JSON.stringify(schema)} })`;
}

export interface ProjectOptions {
  store: StoreKind;
  /** Port of the loopback SMTP server the `smtp` backend sends to. */
  smtpPort: number;
  /** Extra TypeScript appended to the config (before the default export is built). */
  extra?: string;
  /** Extra backends (source expressions) for the `backends` array. */
  backends?: string[];
  /** Export the createHerald options instead of an instance. */
  exportOptions?: boolean;
}

/**
 * The standard test config: notifications `welcome` (email markdown + sms text, category `marketing`) and
 * `receipt` (email html); backends `smtp` (the loopback server), `capture-sms`; the chosen store.
 */
export function configSource(options: ProjectOptions & { dir: string; schema: string }): string {
  const store = storeSource(options.store, options.dir, options.schema);
  const imports = options.store === 'sqlite' ? "import { sqliteStore } from '@herald/store-sqlite';" : "import { postgresStore } from '@herald/store-postgres';";
  const body = `{
  store: ${store},
  backends: [smtp({ host: '127.0.0.1', port: ${options.smtpPort}, pool: false, from: 'Shop <shop@example.org>' }), captureBackend({ protocol: 'sms' })${(options.backends ?? []).map((b) => `, ${b}`).join('')}],
  notifications: [welcome, receipt],
  retry: { maxAttempts: 3, backoff: { type: 'fixed', delay: '50ms', jitter: 'none' } },
  logger: false,
}`;
  return `import { createHerald, defineBackend, defineNotification, PermanentError } from '@herald/core';
import { captureBackend } from '@herald/core/testing';
import { smtp } from '@herald/backend-smtp';
${imports}
import { z } from 'zod';

export const welcome = defineNotification({
  id: 'welcome',
  schema: z.object({ name: z.string().min(1) }),
  category: 'marketing',
  templates: {
    email: { format: 'markdown', subject: 'Welcome, {{name}}', body: 'Hi {{recipient.name}}, welcome **{{name}}**.' },
    sms: { format: 'text', body: 'Welcome {{name}}! Reply STOP to opt out.' },
  },
});

export const receipt = defineNotification({
  id: 'receipt',
  schema: z.object({ orderId: z.string(), total: z.number() }),
  templates: { email: { format: 'html', subject: 'Order {{orderId}}', body: '<p>Total: {{total}}</p>' } },
});

// Referenced so every import is used whatever the extras are.
void defineBackend;
void PermanentError;
${options.extra ?? ''}
export default ${options.exportOptions ? body : `createHerald(${body})`};
`;
}

export async function createProject(options: ProjectOptions): Promise<Project> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-cli-'));
  const schema = `herald_cli_${randomBytes(6).toString('hex')}`;
  // The project's dependencies: @herald/*, zod and pg as the cli package has them.
  symlinkSync(join(CLI_DIR, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'herald-cli-test', private: true, type: 'module' }));
  writeFileSync(join(dir, 'herald.config.ts'), configSource({ ...options, dir, schema }));
  const children = new Set<ChildProcess>();
  const project: Project = {
    dir,
    store: options.store,
    write(name, content) {
      const file = join(dir, name);
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, content);
      return file;
    },
    run(args, runOptions = {}) {
      const child = spawnCli(dir, args, runOptions);
      children.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdin!.end(runOptions.input ?? '');
      return new Promise((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (code) => {
          children.delete(child);
          resolve({
            code,
            stdout,
            stderr,
            json<T>() {
              try {
                return JSON.parse(stdout) as T;
              } catch {
                throw new Error(`stdout is not JSON (exit ${code}):\n${stdout}\nstderr:\n${stderr}`);
              }
            },
          });
        });
      });
    },
    start(args, runOptions = {}) {
      const child = spawnCli(dir, args, runOptions);
      children.add(child);
      const lines: string[] = [];
      let buffer = '';
      let stderr = '';
      const waiters = new Set<() => void>();
      child.stdout!.on('data', (c: Buffer) => {
        buffer += c.toString();
        const parts = buffer.split('\n');
        buffer = parts.pop()!;
        lines.push(...parts);
        for (const w of waiters) w();
      });
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdin!.end(runOptions.input ?? '');
      const exited = new Promise<number | null>((resolve) =>
        child.once('close', (code) => {
          children.delete(child);
          for (const w of waiters) w();
          resolve(code);
        }),
      );
      return {
        child,
        lines,
        get stderr() {
          return stderr;
        },
        exited,
        waitForLine(test, timeoutMs = 20_000) {
          return this.waitForLines(test, 1, timeoutMs).then((found) => found[0]!);
        },
        waitForLines(test, count, timeoutMs = 20_000) {
          return new Promise((resolve, reject) => {
            const check = () => {
              const found = lines.filter((l) => test.test(l));
              if (found.length >= count) {
                waiters.delete(check);
                clearTimeout(timer);
                resolve(found);
              } else if (child.exitCode !== null) {
                waiters.delete(check);
                clearTimeout(timer);
                reject(new Error(`exited ${child.exitCode} before ${count} lines matched ${test}:\n${lines.join('\n')}\nstderr:\n${stderr}`));
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              reject(new Error(`fewer than ${count} lines matched ${test} within ${timeoutMs} ms:\n${lines.join('\n')}\nstderr:\n${stderr}`));
            }, timeoutMs);
            waiters.add(check);
            check();
          });
        },
      };
    },
    killAll() {
      for (const child of children) child.kill('SIGKILL');
      children.clear();
    },
    async cleanup() {
      for (const child of children) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      if (options.store === 'postgres') {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
    },
  };
  return project;
}
