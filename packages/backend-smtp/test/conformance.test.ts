import { type ReceivedMessage, testBackend } from '@herald/core/testing/vitest';
import type { AddressObject } from 'mailparser';
import { smtp } from '../src';
import { type ReceivedMail, startSmtpServer, type TestSmtpServer } from './_server';

const auth = { user: 'herald-app', pass: 'pw-Conformance-7f3a91' };
let server: TestSmtpServer;

const addresses = (field: AddressObject | AddressObject[] | undefined) =>
  [field ?? []].flat().flatMap((a) => a.value.map((v) => v.address ?? ''));
/** What smtp-server got, read back with mailparser: bcc exists only in the envelope, tags and metadata as X-Herald-* headers. */
function view({ envelope, raw, parsed }: ReceivedMail): ReceivedMessage {
  const headers = Object.fromEntries(parsed.headerLines.map(({ key, line }) => [key, line.slice(line.indexOf(':') + 1).trim()]));
  const to = addresses(parsed.to);
  const cc = addresses(parsed.cc);
  const shown = new Set([...to, ...cc].map((a) => a.toLowerCase()));
  const prefix = 'x-herald-metadata-';
  return {
    raw: `RCPT TO: ${envelope.to.join(', ')}\n${raw}`,
    to,
    cc,
    bcc: envelope.to.filter((a) => !shown.has(a.toLowerCase())),
    replyTo: addresses(parsed.replyTo),
    subject: parsed.subject,
    text: parsed.text,
    html: parsed.html || undefined,
    headers,
    metadata: Object.fromEntries(Object.entries(headers).flatMap(([k, v]) => (k.startsWith(prefix) ? [[k.slice(prefix.length), v]] : []))),
    tags: headers['x-herald-tags']?.split(/,\s*/) ?? [],
    attachments: parsed.attachments.map((a) => ({ filename: a.filename ?? '', content: a.content, contentType: a.contentType, contentId: a.cid })),
  };
}

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
  received: () => server.messages.map(view),
  secrets: [auth.pass],
});
