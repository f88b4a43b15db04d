import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tsxLoader = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/loader.mjs')).href;

/** A `_child.ts` process plus a reader of the JSON lines it prints. */
export interface Child {
  process: ChildProcessWithoutNullStreams;
  /** The next JSON line the child prints (rejects if it exits first or `timeoutMs` passes). */
  next<T>(timeoutMs?: number): Promise<T>;
  exited: Promise<number | null>;
}

export function spawnChild(args: string[]): Child {
  const child = spawn(process.execPath, ['--conditions=@herald/source', '--import', tsxLoader, join(here, '_child.ts'), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let buffer = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let i = buffer.indexOf('\n');
    while (i >= 0) {
      lines.push(buffer.slice(0, i));
      buffer = buffer.slice(i + 1);
      i = buffer.indexOf('\n');
    }
    for (const wake of waiters.splice(0)) wake();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    for (const wake of waiters.splice(0)) wake();
    resolve(code);
  }));
  return {
    process: child,
    exited,
    async next<T>(timeoutMs = 20_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      while (lines.length === 0) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`child exited (${child.exitCode ?? child.signalCode}): ${stderr}`);
        if (Date.now() > deadline) throw new Error(`child printed nothing within ${timeoutMs} ms: ${stderr}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
      return JSON.parse(lines.shift()!) as T;
    },
  };
}
