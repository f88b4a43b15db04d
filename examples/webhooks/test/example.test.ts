import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('the webhooks example runs to completion and prints the normalized events', async () => {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const { stdout } = await run('pnpm', ['exec', 'tsx', '--conditions=@herald/source', 'src/index.ts'], { cwd, timeout: 60_000 });
  expect(stdout).toContain('sent 2 welcome email(s)');
  expect(stdout).toMatch(/tracking opened {7}ada@example\.org/);
  expect(stdout).toMatch(/postmark\/tracking click\.json +403 {2}\(forged basic auth\)/);
  expect(stdout).toMatch(/postal\/tracking message-sent\.json +403 {2}\(forged signature\)/);
  expect(stdout).toContain('inbound  [postal] from Ada Lovelace <ada@example.org> to Support <support@example.net>: "Re: Welcome aboard"');
  expect(stdout).toMatch(/delivery postmark:\S+ → complained after opened, delivered, clicked/);
  expect(stdout).toMatch(/delivery postal:\S+ → bounced after queued, deferred, delivered/);
  expect(stdout).toContain('notify again → skipped: ada@example.org (suppressed)');
  expect(stdout.trim().endsWith('done')).toBe(true);
}, 90_000);
