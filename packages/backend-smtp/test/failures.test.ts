import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Backend, type FailureScope, HeraldError, PermanentError, TransientError } from '@herald/core';
import { makeOutboundMessage, makeSendContext } from '@herald/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpOptions, smtp } from '../src';
import { type Stage, startSmtpServer, type TestSmtpServer } from './_server';

const auth = { user: 'app-user', pass: 'Failure-p4ss-91' };
let server: TestSmtpServer;
const backends: Backend[] = [];

beforeAll(async () => {
  server = await startSmtpServer({ auth });
});
afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close?.()));
  server.messages.length = 0;
});
afterAll(() => server.close());

const make = (options: Partial<SmtpOptions> = {}) => {
  const b = smtp({ host: server.host, port: server.port, ignoreTLS: true, auth, from: 'Shop <shop@example.org>', ...options });
  backends.push(b);
  return b;
};
const send = (b: Backend) => {
  const m = makeOutboundMessage({ protocol: 'email', backend: 'smtp', to: 'ada@example.org' });
  return b.send(m, makeSendContext(m));
};
const failure = (b: Backend): Promise<HeraldError> =>
  send(b).then(
    () => expect.fail('send() should have raised'),
    (e: unknown) => {
      expect(e).toBeInstanceOf(HeraldError);
      return e as HeraldError;
    },
  );

/** A port nothing listens on: bound, then closed, so the kernel refuses connections to it. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** A TCP server that runs `onSocket` for each connection, and destroys every socket on close. */
async function rawServer(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const s = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return {
    server: s,
    port: (s.address() as AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => s.close(resolve));
    },
  };
}

type Kind = 'transient' | 'permanent';
const P = 'permanent';
const T = 'transient';

// The table on docs/backends/smtp.md ("Failures and failover"), answered by a real smtp-server at each stage.
const answers: [Stage, number, string, Kind, FailureScope][] = [
  // about the provider: fail over
  ['auth', 535, '5.7.8 Authentication credentials invalid', P, 'provider'],
  ['auth', 454, '4.7.0 Temporary authentication failure', T, 'provider'],
  ['mail', 530, '5.7.0 Authentication required', P, 'provider'],
  ['rcpt', 554, '5.7.1 <ada@example.org>: Relay access denied', P, 'provider'],
  ['rcpt', 550, '5.7.1 Relaying denied', P, 'provider'],
  ['connect', 421, '4.3.2 Service not available, closing transmission channel', T, 'provider'],
  ['connect', 554, 'No SMTP service here', P, 'provider'],
  ['mail', 421, '4.7.0 Try again later, closing connection', T, 'provider'],
  ['mail', 451, '4.3.0 Local error in processing', T, 'provider'],
  ['mail', 452, 'Insufficient system storage', T, 'provider'],
  ['rcpt', 452, 'Insufficient system storage', T, 'provider'],
  ['rcpt', 451, 'Requested action aborted: local error in processing', T, 'provider'],
  ['mail', 554, '5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org', P, 'provider'],
  ['mail', 550, "5.7.26 Unauthenticated email from example.org is not accepted due to domain's DMARC policy", P, 'provider'],
  ['mail', 553, '5.1.8 Sender address rejected: Domain not found', P, 'provider'],
  ['mail', 550, '5.7.1 Sender refused', P, 'provider'],
  ['rcpt', 452, '4.5.3 Too many recipients', T, 'provider'],
  ['data', 451, '4.3.0 Queue file write error', T, 'provider'],
  // about the recipient: no failover (every provider would be refused)
  ['rcpt', 550, '5.1.1 <ada@example.org>: Recipient address rejected: User unknown', P, 'recipient'],
  ['rcpt', 553, '5.1.3 Bad recipient address syntax', P, 'recipient'],
  ['rcpt', 550, '5.1.10 Recipient address rejected: domain has a null MX', P, 'recipient'],
  ['rcpt', 550, '5.2.1 Mailbox disabled, not accepting messages', P, 'recipient'],
  ['rcpt', 550, 'Mailbox unavailable', P, 'recipient'],
  ['rcpt', 554, '5.7.1 <ada@example.org>: Recipient address rejected: Access denied', P, 'recipient'],
  ['rcpt', 550, '5.4.4 Unable to route: no mail hosts for domain', P, 'recipient'],
  ['rcpt', 450, '4.7.1 <ada@example.org>: Recipient address rejected: Greylisted, try again later', T, 'recipient'],
  ['rcpt', 450, '4.2.1 Mailbox busy', T, 'recipient'],
  // a full mailbox may empty: transient even as 5.2.2
  ['rcpt', 452, '4.2.2 Mailbox full, try later', T, 'recipient'],
  ['rcpt', 552, '5.2.2 Mailbox full', T, 'recipient'],
  ['data', 552, '5.2.2 The email account that you tried to reach is over quota', T, 'recipient'],
  // about the message itself: no failover by default (another provider's filter would likely agree)
  ['data', 554, '5.7.1 Message rejected as spam', P, 'content'],
  ['data', 550, '5.7.1 Message contains a virus', P, 'content'],
  ['data', 554, '5.6.0 Message content rejected: malformed MIME', P, 'content'],
  ['data', 552, '5.3.4 Message size exceeds fixed limit', P, 'content'],
  ['mail', 552, '5.3.4 Message size exceeds fixed maximum message size', P, 'content'],
  ['data', 554, 'Transaction failed', P, 'content'],
];

describe('SMTP answers: error class and failover scope', () => {
  it.each(answers)('%s %i %s → %s, about the %s', async (stage, code, text, kind, scope) => {
    server.failNext(code, text, stage);
    const error = await failure(make());
    expect(error).toBeInstanceOf(kind === T ? TransientError : PermanentError);
    expect(error).toMatchObject({ scope, statusCode: code, backend: 'smtp' });
    expect(error.message).toContain(`${code} ${text}`);
    // The next send on the same backend goes through: a failure never leaves the pool unusable.
    const b = make();
    await expect(send(b)).resolves.toMatchObject({ messageId: expect.stringMatching(/@example\.org>$/) });
  });

  it('a refused recipient suppresses the address only when it is about the recipient', async () => {
    server.failNext(550, '5.1.1 No such user here', 'rcpt');
    expect(await failure(make())).toMatchObject({ scope: 'recipient', suppress: true, rejectReason: 'bounced' });
    server.failNext(554, '5.7.1 Relaying denied', 'rcpt');
    expect(await failure(make())).toMatchObject({ scope: 'provider', suppress: false, rejectReason: 'blocked' });
    server.failNext(554, '5.7.1 Message looks like spam', 'data');
    expect(await failure(make())).toMatchObject({ scope: 'content', suppress: false, rejectReason: 'spam' });
  });

  it('wrong credentials are about the provider, and the password stays out of the error', async () => {
    const wrong = { user: 'app-user', pass: 'Wr0ng-password-55' };
    const error = await failure(make({ auth: wrong }));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ scope: 'provider', statusCode: 535 });
    expect(JSON.stringify({ message: error.message, response: error.response })).not.toContain(wrong.pass);
  });

  it('no credentials at a server that requires them: 530 from smtp-server itself, about the provider', async () => {
    const error = await failure(make({ auth: undefined }));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ scope: 'provider', statusCode: 530 });
    expect(error.message).toMatch(/authentication required/i);
  });
});

describe('no SMTP answer: transient, about the provider', () => {
  // Regression: with the default pool, 11 of 16 concurrent sends to a refused port never settled (the pool kept
  // each failed connection as busy, and after maxConnections of them sent nothing ever again).
  it('a refused connection fails every one of 16 concurrent sends at once, and the pool recovers', async () => {
    const port = await closedPort();
    const b = make({ port });
    const started = Date.now();
    const outcomes = await Promise.all(
      Array.from({ length: 16 }, () => Promise.race([send(b).then(() => 'sent', (e: unknown) => e), sleep(3000).then(() => 'pending')])),
    );
    expect(Date.now() - started).toBeLessThan(1500);
    expect(outcomes.filter((o) => o === 'pending')).toHaveLength(0);
    for (const error of outcomes) {
      expect(error).toBeInstanceOf(TransientError);
      expect(error).toMatchObject({ scope: 'provider', backend: 'smtp' });
      expect((error as Error).message).toContain(`could not deliver to SMTP server 127.0.0.1:${port} (ECONNREFUSED)`);
    }
    // The server comes up on that port: the same backend sends again.
    const revived = await startSmtpServer({ port });
    try {
      await expect(send(b)).resolves.toMatchObject({ messageId: expect.any(String) });
      expect(revived.messages).toHaveLength(1);
    } finally {
      await b.close?.();
      await revived.close();
    }
  });

  it('a refused connection without the pool fails at once too', async () => {
    const error = await failure(make({ port: await closedPort(), pool: false }));
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ scope: 'provider' });
  });

  it('a server that accepts and never greets fails at connectionTimeout', async () => {
    const silent = await rawServer(() => {});
    try {
      const started = Date.now();
      const error = await failure(make({ port: silent.port, connectionTimeout: 200 }));
      expect(Date.now() - started).toBeLessThan(2000);
      expect(error).toBeInstanceOf(TransientError);
      expect(error).toMatchObject({ scope: 'provider' });
      expect(error.message).toMatch(/ETIMEDOUT/);
    } finally {
      await silent.close();
    }
  });

  it('a connection dropped after the greeting is transient', async () => {
    const rude = await rawServer((socket) => socket.end('220 rude.example ESMTP\r\n', () => socket.destroy()));
    try {
      const error = await failure(make({ port: rude.port, auth: undefined }));
      expect(error).toBeInstanceOf(TransientError);
      expect(error).toMatchObject({ scope: 'provider' });
    } finally {
      await rude.close();
    }
  });

  it('a TLS failure (untrusted certificate) is transient and about the provider', async () => {
    const tls = await startSmtpServer({ tls: 'starttls' });
    try {
      const error = await failure(make({ port: tls.port, auth: undefined, ignoreTLS: false, requireTLS: true }));
      expect(error).toBeInstanceOf(TransientError);
      expect(error).toMatchObject({ scope: 'provider' });
      expect(error.message).toMatch(/certificate/i);
      expect(tls.messages).toHaveLength(0);
    } finally {
      await Promise.all(backends.splice(0).map((b) => b.close?.()));
      await tls.close();
    }
  });

  it('implicit TLS against a plain-text server is transient and about the provider', async () => {
    const error = await failure(make({ secure: true, connectionTimeout: 1000 }));
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ scope: 'provider' });
  });
});
