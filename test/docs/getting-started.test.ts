// docs/getting-started.md as a reader runs it: the page's files written as they are printed, then its scripts run
// with tsx (the page's own command) in a fresh folder against a loopback SMTP server. A script must exit on its
// own: a drain() without close() keeps the SMTP pool alive and hangs, which fails here as a timeout.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeBlocks, isFragment, root } from './_blocks.ts';

const PAGE = 'docs/getting-started.md';
const tsx = createRequire(join(root, 'package.json')).resolve('tsx/cli');

interface Run {
  code: number | null;
  stdout: string;
  output: string;
}

function run(file: string, cwd: string, env: Record<string, string>, timeoutMs = 30_000): Promise<Run> {
  return new Promise((done) => {
    // --conditions: the workspace packages' TypeScript sources, as `pnpm quickstart` runs them (no build needed).
    const child = spawn(process.execPath, [tsx, '--conditions=@herald/source', file], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      output += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    const timer = setTimeout(() => {
      output += `\n[still running after ${timeoutMs} ms: killed — does the script end with herald.close()?]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, output });
    });
  });
}

describe(`${PAGE} runs as written`, () => {
  const files = new Map(codeBlocks(PAGE).filter((b) => !isFragment(b)).map((b) => [b.file, b.code]));
  mkdirSync(join(import.meta.dirname, '.herald-tmp'), { recursive: true });
  const app = mkdtempSync(join(import.meta.dirname, '.herald-tmp', 'getting-started-'));
  const received: ParsedMail[] = [];
  let smtp: SMTPServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'my-app', private: true, type: 'module' })}\n`);
    for (const [file, code] of files) writeFileSync(join(app, file), `${code}\n`);
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, _session, callback) {
        simpleParser(stream)
          .then((mail) => {
            received.push(mail);
            callback();
          })
          .catch(callback);
      },
    });
    await new Promise<void>((listening) => smtp.listen(0, '127.0.0.1', listening));
    env = { SMTP_HOST: '127.0.0.1', SMTP_PORT: String((smtp.server.address() as AddressInfo).port) };
  });

  afterAll(async () => {
    await new Promise<void>((closed) => smtp.close(closed));
    rmSync(app, { recursive: true, force: true });
  });

  it('has the files its scripts import', () => {
    expect([...files.keys()].sort()).toEqual(
      ['audience.ts', 'deliveries.ts', 'herald.ts', 'notifications.test.ts', 'notifications.ts', 'send.ts', 'worker.ts'].sort(),
    );
  });

  // Regression: the createHerald example threw a ConfigError for its `templatesDir: './templates'`, which no
  // step of the page created; and a script that drained without close() never exited.
  it('send.ts queues, sends both emails to the SMTP server and exits', async () => {
    const result = await run('send.ts', app, env);
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toContain("[ 'ada@shop.dev', 'ops@shop.dev' ]");
    expect(result.stdout).toContain("[ 'no-backend' ]");
    expect(result.stdout).toContain('{ sent: 2, failed: 0, retrying: 0 }');
    expect(received.map((mail) => mail.subject)).toEqual(['Your password was changed', 'Your password was changed']);
    expect(received.map((mail) => mail.html).join('\n')).toContain('<p>Changed on today 09:30.</p>');
  }, 60_000);

  it('audience.ts and deliveries.ts run against the same database and exit', async () => {
    const audience = await run('audience.ts', app, env);
    expect(audience.code, audience.output).toBe(0);
    expect(audience.stdout).toContain("reason: 'manual'");
    const deliveries = await run('deliveries.ts', app, env);
    expect(deliveries.code, deliveries.output).toBe(0);
    expect(deliveries.stdout).toContain('{ sent: 0, failed: 0, retrying: 0 }');
  }, 60_000);
});
