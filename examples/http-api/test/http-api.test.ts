import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, expect, it } from 'vitest';

const run = promisify(execFile);
const cwd = fileURLToPath(new URL('..', import.meta.url));
// The real `herald` binary from its sources (what `pnpm exec herald` runs once built), loading this folder's
// herald.config.ts; the `@herald/source` condition resolves the workspace packages to their sources.
const herald = [
  '--conditions=@herald/source',
  '--import',
  pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm')).href,
  fileURLToPath(new URL('../../../packages/cli/src/bin.ts', import.meta.url)),
];

const caught: { to: string; subject: string }[] = [];
const catcher = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  onData(stream, _session, callback) {
    simpleParser(stream)
      .then((mail) => {
        caught.push({ to: Array.isArray(mail.to) ? mail.to.map((a) => a.text).join(', ') : (mail.to?.text ?? ''), subject: mail.subject ?? '' });
        callback();
      })
      .catch(callback);
  },
});

let dir = '';
let server: ChildProcess | null = null;
let env: NodeJS.ProcessEnv = {};
let url = '';
const createKey = async () => {
  const { stdout } = await run(process.execPath, [...herald, 'keys', 'create', '--scope', 'send,read', '--name', 'example client', '--json'], { cwd, env });
  return (JSON.parse(stdout) as { key: string }).key;
};

beforeAll(async () => {
  await new Promise<void>((resolve) => catcher.listen(0, '127.0.0.1', resolve));
  dir = mkdtempSync(join(tmpdir(), 'herald-http-api-'));
  env = { ...process.env, NO_COLOR: '1', HERALD_DB: join(dir, 'herald.db'), SMTP_PORT: String((catcher.server.address() as { port: number }).port) };
  const child = spawn(process.execPath, [...herald, 'serve', '--port', '0', '--worker'], { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] });
  server = child;
  // The first line the server prints is the URL it listens on.
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.split('\n')[0]!.trim());
    });
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
  });
}, 60_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  await new Promise<void>((resolve) => catcher.close(() => resolve()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('herald serve: a Python client enqueues through the API, reads the delivery back, and speaks postmaster JSON-RPC', async () => {
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  const key = await createKey();
  const { stdout } = await run('python3', ['client.py'], { cwd, env: { ...env, HERALD_URL: url, HERALD_KEY: key }, timeout: 60_000 });
  expect(stdout).toContain('notifications: order-shipped, postmaster.email');
  expect(stdout).toMatch(/enqueued d_\S+ to ada@shop\.dev \(queued\)/);
  expect(stdout).toContain('refused: 422 validation_error field=data.orderId');
  expect(stdout).toContain('delivery sent: "Order A-1001 has shipped" after 1 attempt(s)');
  expect(stdout).toContain("postmaster enqueue: {'success': True}");
  expect(stdout).toContain('postmaster last email: grace@shop.dev uniqueID=welcome-grace emailFlags=2');
  expect(stdout.trim().endsWith('done')).toBe(true);
  await expect.poll(() => caught.map((m) => m.subject).sort(), { timeout: 20_000 }).toEqual(['Order A-1001 has shipped', 'Welcome']);
  expect(caught.find((m) => m.subject === 'Welcome')?.to).toBe('"Grace Hopper" <grace@shop.dev>');
});

it('a shell client enqueues with curl', async () => {
  const { stdout } = await run('sh', ['client.sh'], { cwd, env: { ...env, HERALD_URL: url, HERALD_KEY: await createKey() } });
  const [created, list] = stdout.trim().split('\n').map((line) => JSON.parse(line));
  expect(created.deliveries[0]).toMatchObject({ address: 'alan@shop.dev', status: 'queued' });
  expect(list.items.map((d: { id: string }) => d.id)).toEqual([created.deliveries[0].id]);
  await expect.poll(() => caught.some((m) => m.subject === 'Order B-2002 has shipped'), { timeout: 20_000 }).toBe(true);
});
