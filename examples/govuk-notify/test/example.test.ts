import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('the GOV.UK Notify example runs to completion, showing each delivery in the seed’s states', async () => {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const { stdout } = await run('pnpm', ['exec', 'tsx', '--conditions=@herald/source', 'src/index.ts'], { cwd, timeout: 90_000 });
  const created = ' → notify-created';
  expect(stdout).toContain('welcome email: sending-to-notify → retrying-send-to-notify → sent-to-notify → notify-created → notify-sending → notify-delivered');
  expect(stdout).toContain(`application email: sending-to-notify → sent-to-notify${created} → notify-delivered`);
  expect(stdout).toContain(`code text message: sending-to-notify → sent-to-notify${created} → notify-delivered`);
  expect(stdout).toContain(`email to nobody: sending-to-notify → sent-to-notify${created} → notify-permanent-failure`);
  expect(stdout).toContain(`text to a phone off: sending-to-notify → sent-to-notify${created} → notify-temporary-failure`);
  expect(stdout).toContain('unknown template: sending-to-notify → failed-send-to-notify');
  expect(stdout).toContain('GOV.UK Notify answered 400: BadRequestError: Template not found');
  expect(stdout).toMatch(/forged receipt +403/);
  expect(stdout).toMatch(/replayed receipt +200, events (\d) → \1/);
  expect(stdout).toContain('email to nobody again  skipped (suppressed)');
  expect(stdout).toContain('file by email          receipt-HDJ2123F.txt (30 bytes) under ((link_to_file))');
  expect(stdout).toContain('welcome found by reference: true');
  expect(stdout.trim().endsWith('done')).toBe(true);
}, 120_000);
