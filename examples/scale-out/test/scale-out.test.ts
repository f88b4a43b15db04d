import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('commits one order with its notification, rolls one back, and two workers send everything once', async () => {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const { stdout } = await run('pnpm', ['exec', 'tsx', '--conditions=@herald/source', 'src/index.ts'], { cwd, timeout: 90_000 });
  expect(stdout).toContain('after one commit and one rollback: 1 delivery queued');
  expect(stdout).toMatch(/received 201 webhooks \(0 twice\)/);
  expect(stdout).toContain('"sent":201');
}, 120_000);
