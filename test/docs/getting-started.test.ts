// docs/getting-started.md as a reader runs it: the page's files (`// send.ts`, …) written as they are printed, then
// its scripts run with tsx in a fresh folder against a loopback SMTP server. A script must exit on its own.
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScript, writePage } from './_blocks';

const PAGE = 'docs/getting-started.md';

describe(`${PAGE} runs as written`, () => {
  const { dir, files } = writePage(PAGE);
  const received: ParsedMail[] = [];
  let smtp: SMTPServer;
  let env: Record<string, string>;

  beforeAll(async () => {
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
    rmSync(dir, { recursive: true, force: true });
  });

  it('has the files its scripts import', () => {
    expect(files).toEqual(['audience.ts', 'deliveries.ts', 'herald.ts', 'notifications.test.ts', 'notifications.ts', 'send.ts', 'worker.ts']);
  });

  // Regression: the createHerald example threw a ConfigError for its `templatesDir: './templates'`, a folder no step
  // of the page created; and a script that drained without close() never exited (the SMTP pool kept it alive).
  it('send.ts queues, sends both emails to the SMTP server and exits', async () => {
    const result = await runScript('send.ts', dir, env);
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toContain("[ 'ada@shop.dev', 'ops@shop.dev' ]");
    expect(result.stdout).toContain("[ 'no-backend' ]");
    expect(result.stdout).toContain('{ sent: 2, failed: 0, retrying: 0 }');
    expect(received.map((mail) => mail.subject)).toEqual(['Your password was changed', 'Your password was changed']);
    expect(received.map((mail) => mail.html).join('\n')).toContain('<p>Changed on today 09:30.</p>');
  }, 60_000);

  it('audience.ts and deliveries.ts run against the same database and exit', async () => {
    const audience = await runScript('audience.ts', dir, env);
    expect(audience.code, audience.output).toBe(0);
    expect(audience.stdout).toContain("reason: 'manual'");
    const deliveries = await runScript('deliveries.ts', dir, env);
    expect(deliveries.code, deliveries.output).toBe(0);
    expect(deliveries.stdout).toContain('{ sent: 0, failed: 0, retrying: 0 }');
  }, 60_000);
});
