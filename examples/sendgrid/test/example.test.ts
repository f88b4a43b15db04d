import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('the sendgrid example runs to completion: sends, signed event batches, forged/stale/replayed posts, Inbound Parse', async () => {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const { stdout } = await run('pnpm', ['exec', 'tsx', '--conditions=@herald/source', 'src/index.ts'], { cwd, timeout: 60_000 });
  expect(stdout).toContain('sent 3 message(s) to the SendGrid stand-in');
  expect(stdout).toMatch(/template d-0f1e2d3c4b5a69788796a5b4c3d2e1f0 herald_delivery_id=d_/);
  expect(stdout).toMatch(/signed batch of 8 events +200 \{"ok":true,"processed":8,"replayed":0\}/);
  expect(stdout).toMatch(/forged \(signed with another key\) +403/);
  expect(stdout).toMatch(/stale \(signed an hour ago\) +403/);
  expect(stdout).toMatch(/replay \(same events, fresh signature\) +200 \{"ok":true,"processed":0,"replayed":8\}/);
  expect(stdout).toContain('inbound  from Ada <ada@example.org> to Support <support@inbound.example.net>: "Re: Your order A1" (1 attachment(s))');
  expect(stdout).toContain('delivery welcome:ada@example.org → opened after queued, delivered, opened');
  expect(stdout).toContain('delivery welcome:bob@example.org → bounced after queued, bounced');
  expect(stdout).toContain('delivery receipt:ada@example.org → clicked after queued, delivered, clicked');
  expect(stdout).toContain('notify bob again → skipped: bob@example.org (suppressed)');
  expect(stdout.trim().endsWith('done')).toBe(true);
}, 90_000);
