import { testBackend } from '@herald/core/testing';
import { smtp } from '../src';
import { startSmtpServer, type TestSmtpServer } from './_server';

const auth = { user: 'herald-app', pass: 'pw-Conformance-7f3a91' };
let server: TestSmtpServer;

testBackend({
  name: 'smtp',
  async start() {
    server = await startSmtpServer({ auth });
  },
  stop: () => server.close(),
  create: (options) =>
    smtp({ host: server.host, port: server.port, ignoreTLS: true, auth, from: 'Herald <herald@example.org>', maxConnections: 2, ...options }),
  createUnreachable: () => smtp({ host: '127.0.0.1', port: 1, ignoreTLS: true, auth, from: 'herald@example.org', connectionTimeout: 2000 }),
  address: 'ada@example.org',
  failNext: (kind) => server.failNext(kind === 'transient' ? 451 : 550, kind === 'transient' ? '4.3.0 Try again later' : '5.7.1 Sender refused'),
  leakNext: () => server.failNext(554, `5.7.0 Rejected, you sent AUTH ${auth.user} ${auth.pass}`),
  received: () => server.messages.length,
  lastReceived: () => server.messages.at(-1)?.raw ?? '',
  secrets: [auth.pass],
});
