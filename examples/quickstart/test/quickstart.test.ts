import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('the quickstart runs to completion and prints what it sent', async () => {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const { stdout } = await run('pnpm', ['exec', 'tsx', '--conditions=@herald/source', 'src/index.ts'], { cwd, timeout: 60_000 });
  expect(stdout).toContain('worker: 3 sent, 0 failed, 0 retrying');
  expect(stdout).toContain('skipped bob@shop.dev (opted-out)');
  expect(stdout).toContain('skipped CYD@shop.dev (duplicate)');
  expect(stdout).toContain('skipped dev@example.com (test-address)');
  expect(stdout).toMatch(/to "Bob" <bob@shop\.dev> — "Your password was changed"/);
  expect(stdout).toContain('Two *fancy* cups');
}, 90_000);
