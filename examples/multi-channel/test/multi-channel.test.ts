import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const hasProsody = spawnSync('sh', ['-c', 'command -v prosody && command -v prosodyctl'], { stdio: 'ignore' }).status === 0;

it('sends one notification over all six protocols to the local servers and reports what they received', async () => {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const { stdout } = await run('pnpm', ['exec', 'tsx', '--conditions=@herald/source', 'src/index.ts'], { cwd, timeout: 90_000 });
  expect(stdout).toContain(hasProsody ? 'worker: 7 sent, 0 failed, 0 retrying' : 'worker: 6 sent, 0 failed, 0 retrying');
  for (const protocol of ['email', 'sms', 'slack-webhook', 'json-webhook', 'twitter']) expect(stdout).toMatch(new RegExp(`^  ${protocol} +\\S+ +sent `, 'm'));
  expect(stdout).toContain('"Order A-1001 is on its way"');
  expect(stdout).toContain('Body="Order A-1001 shipped with Parcel & Co: https://track.shop.dev/A-1001"');
  expect(stdout).toContain('"text":"Order A-1001 shipped","blocks"');
  expect(stdout).toContain('signature valid {"event":"order.shipped","orderId":"A-1001"');
  expect(stdout).toContain('POST /2/tweets (OAuth 1.0a)');
  expect(stdout).toContain('POST /2/dm_conversations/with/2244994945/messages (OAuth 1.0a)');
  if (hasProsody) expect(stdout).toMatch(/alice@localhost\/\S+ → bob@localhost: Order A-1001 shipped with Parcel & Co\./);
  else expect(stdout).toContain('XMPP: prosody is not available');
}, 120_000);
