import { Buffer } from 'node:buffer';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import {
  type Backend,
  ConfigError,
  compileTemplate,
  createHerald,
  defineNotification,
  PermanentError,
  redact,
  type TemplateSpec,
  TransientError,
} from '@herald/core';
import { makeOutboundMessage, makeSendContext, memoryStore, type OutboundMessageOverrides } from '@herald/core/testing';
import nodemailer from 'nodemailer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type SmtpOptions, smtp } from '../src';
import { startSmtpServer, type TestSmtpServer } from './_server';

let server: TestSmtpServer;
const backends: Backend[] = [];

beforeAll(async () => {
  server = await startSmtpServer();
});
afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close?.()));
  server.messages.length = 0;
});
afterAll(() => server.close());

const make = (options: Partial<SmtpOptions> = {}) => {
  const b = smtp({ host: server.host, port: server.port, ignoreTLS: true, from: 'Shop <shop@example.org>', ...options });
  backends.push(b);
  return b;
};
const message = (overrides: OutboundMessageOverrides = {}) =>
  makeOutboundMessage({ protocol: 'email', backend: 'smtp', to: 'ada@example.org', ...overrides });
const send = (b: Backend, m = message()) => b.send(m, makeSendContext(m));
const failure = (b: Backend, m = message()) => send(b, m).then(
  () => expect.fail('send() should have raised'),
  (e: unknown) => e,
);
const render = (spec: TemplateSpec, data: Record<string, unknown>) =>
  compileTemplate(spec, { notification: 'order-shipped', channel: 'smtp' }).render({
    data,
    recipient: { id: 'u1', name: 'Ada' },
    contact: { protocol: 'email', address: 'ada@example.org' },
  });

describe('message content', () => {
  it('sends an html template as text and html parts, escaping data in html only', async () => {
    const content = render(
      { format: 'html', subject: 'Order {{order}} <shipped>', body: '<p>Hi {{name}}, order <b>{{order}}</b> is on its way.</p>' },
      { name: '<script>alert("x")</script> & Co', order: 'A1' },
    );
    await send(make(), message({ content }));
    const [mail] = await server.waitFor(1);
    expect(mail!.parsed.subject).toBe('Order A1 <shipped>');
    expect(mail!.parsed.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co');
    expect(mail!.parsed.html).not.toContain('<script>');
    expect(mail!.parsed.text).toContain('Hi <script>alert("x")</script> & Co, order A1 is on its way.');
    expect(mail!.raw).toMatch(/Content-Type: multipart\/alternative/);
  });

  it('sends a markdown template as text and html parts', async () => {
    const content = render(
      { format: 'markdown', subject: 'Welcome {{name}}', body: '# Hello {{name}}\n\nYour *code* is **{{code}}**.\n\n- one\n- two' },
      { name: 'Ada_<b>', code: 'X-42' },
    );
    await send(make(), message({ content }));
    const [mail] = await server.waitFor(1);
    expect(mail!.parsed.subject).toBe('Welcome Ada_<b>');
    expect(mail!.parsed.html).toContain('<strong>X-42</strong>');
    expect(mail!.parsed.html).toContain('<li>one</li>');
    expect(mail!.parsed.html).toContain('Ada_&lt;b&gt;');
    expect(mail!.parsed.text).toMatch(/HELLO ADA_<B>|Hello Ada_<b>/);
    expect(mail!.parsed.text).toContain('X-42');
  });

  it('sends a blocks template with its own subject', async () => {
    const content = render(
      { format: 'blocks', body: '{{#block "subject"}}Re: {{order}}{{/block}}{{#block "text"}}Plain {{order}}{{/block}}{{#block "html"}}<i>{{order}}</i>{{/block}}' },
      { order: 'B2' },
    );
    await send(make(), message({ content }));
    const [mail] = await server.waitFor(1);
    expect(mail!.parsed.subject).toBe('Re: B2');
    expect(mail!.parsed.text?.trim()).toBe('Plain B2');
    expect(mail!.parsed.html).toContain('<i>B2</i>');
  });

  it('sends a text-only message when there is no html', async () => {
    await send(make(), message({ content: { format: 'blocks', subject: 'Plain', text: 'Only text', html: undefined } }));
    const [mail] = await server.waitFor(1);
    expect(mail!.parsed.html).toBe(false);
    expect(mail!.parsed.text?.trim()).toBe('Only text');
  });

  it('uses the recipient name as display name of a bare address, and keeps an explicit one', async () => {
    const b = make();
    await send(b, message({ recipient: { name: 'Ada Lovelace' } }));
    await send(b, message({ to: '"A. L." <ada@example.org>', recipient: { name: 'Ada Lovelace' } }));
    const [first, second] = await server.waitFor(2);
    expect(first!.parsed.to).toMatchObject({ value: [{ name: 'Ada Lovelace', address: 'ada@example.org' }] });
    expect(second!.parsed.to).toMatchObject({ value: [{ name: 'A. L.', address: 'ada@example.org' }] });
    expect(first!.parsed.from).toMatchObject({ value: [{ name: 'Shop', address: 'shop@example.org' }] });
  });

  it('prefers the message from over the backend default', async () => {
    await send(make(), message({ options: { from: 'Billing <billing@example.net>' } }));
    const [mail] = await server.waitFor(1);
    expect(mail!.envelope.from).toBe('billing@example.net');
    expect(mail!.parsed.from).toMatchObject({ value: [{ name: 'Billing', address: 'billing@example.net' }] });
  });

  it('sends attachments and inline images', async () => {
    const pdf = Buffer.from('%PDF-1.4 fake invoice');
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
    await send(
      make(),
      message({
        content: { format: 'html', subject: 'Invoice', html: '<p>Logo <img src="cid:logo@herald"></p>', text: 'Logo' },
        attachments: [
          { filename: 'invoice.pdf', contentType: 'application/pdf', content: pdf.toString('base64') },
          { filename: 'logo.png', contentType: 'image/png', content: png.toString('base64'), contentId: 'logo@herald' },
        ],
      }),
    );
    const [mail] = await server.waitFor(1);
    const invoice = mail!.parsed.attachments.find((a) => a.filename === 'invoice.pdf');
    const logo = mail!.parsed.attachments.find((a) => a.filename === 'logo.png');
    expect(invoice).toMatchObject({ filename: 'invoice.pdf', contentType: 'application/pdf', contentDisposition: 'attachment' });
    expect(Buffer.compare(invoice!.content, pdf)).toBe(0);
    expect(logo).toMatchObject({ filename: 'logo.png', contentType: 'image/png', contentDisposition: 'inline', cid: 'logo@herald' });
    expect(Buffer.compare(logo!.content, png)).toBe(0);
  });

  it('puts cc and bcc in the envelope, bcc not in the headers, and sets reply-to', async () => {
    await send(
      make(),
      message({ options: { cc: ['Carol <carol@example.org>'], bcc: ['dave@example.org'], replyTo: ['support@example.org'] } }),
    );
    const [mail] = await server.waitFor(1);
    expect(mail!.envelope.to.sort()).toEqual(['ada@example.org', 'carol@example.org', 'dave@example.org']);
    expect(mail!.parsed.cc).toMatchObject({ value: [{ name: 'Carol', address: 'carol@example.org' }] });
    expect(mail!.parsed.bcc).toBeUndefined();
    expect(mail!.raw).not.toMatch(/^Bcc:/im);
    expect(mail!.parsed.replyTo?.text).toBe('support@example.org');
  });

  it('sends custom headers, tags, metadata, the delivery id and a Message-ID derived from it', async () => {
    const m = message({
      options: { headers: { 'X-Campaign': 'spring', 'List-Unsubscribe': '<https://example.org/u/1>' }, tags: ['orders', 'eu'], metadata: { orderId: 'A1', note: 'ünïcode' } },
    });
    const result = await send(make(), m);
    const [mail] = await server.waitFor(1);
    const h = mail!.parsed.headers;
    expect(h.get('x-campaign')).toBe('spring');
    expect(mail!.raw).toMatch(/^List-Unsubscribe: <https:\/\/example\.org\/u\/1>\r?$/m);
    expect(h.get('x-herald-tags')).toBe('orders, eu');
    expect(h.get('x-herald-metadata-orderid')).toBe('A1');
    // Non-ASCII header values travel as RFC 2047 encoded-words; nodemailer writes header names in Title-Case.
    expect(mail!.raw).toMatch(/^X-Herald-Metadata-Note: =\?UTF-8\?Q\?=C3=BCn=C3=AFcode\?=\r?$/m);
    expect(h.get('x-herald-delivery-id')).toBe(m.deliveryId);
    expect(mail!.parsed.messageId).toBe(`<${m.deliveryId}@example.org>`);
    expect(result.messageId).toBe(`<${m.deliveryId}@example.org>`);
  });

  it('keeps the Message-ID across retries and honours messageIdDomain', async () => {
    const b = make({ messageIdDomain: 'mail.example.com' });
    const m = message();
    await send(b, m);
    await b.send(m, makeSendContext(m, { attempt: 2 }));
    const [a, c] = await server.waitFor(2);
    expect(a!.parsed.messageId).toBe(`<${m.deliveryId}@mail.example.com>`);
    expect(c!.parsed.messageId).toBe(a!.parsed.messageId);
  });

  it('merges providerOptions into the nodemailer message', async () => {
    await send(make(), message({ options: { providerOptions: { smtp: { priority: 'high' } } } }));
    const [mail] = await server.waitFor(1);
    expect(mail!.raw).toMatch(/^X-Priority: 1 \(Highest\)\r?$/m);
  });

  it('refuses headers Herald sets itself, bad header names and a missing sender', async () => {
    const b = make();
    await expect(send(b, message({ options: { headers: { Subject: 'x' } } }))).rejects.toThrow(/header "Subject" is set by Herald/);
    await expect(send(b, message({ options: { headers: { 'X-Herald-Delivery-Id': 'x' } } }))).rejects.toBeInstanceOf(PermanentError);
    await expect(send(b, message({ options: { metadata: { 'bad key': 'x' } } }))).rejects.toThrow(/not a valid header name/);
    await expect(send(make({ from: undefined }), message())).rejects.toThrow(/no sender/);
    expect(server.messages).toHaveLength(0);
  });
});

describe('recipient status', () => {
  it('reports every accepted recipient as queued with the message id', async () => {
    const result = await send(make(), message({ options: { cc: ['carol@example.org'] } }));
    expect(result.recipients).toEqual({
      'ada@example.org': { status: 'queued', messageId: result.messageId },
      'carol@example.org': { status: 'queued', messageId: result.messageId },
    });
    expect(result.response).toMatchObject({ response: expect.stringMatching(/^250 /) });
  });

  it('sends to the others when one recipient is refused, and reports it', async () => {
    server.refuseRecipient('nobody@example.org', 550, '5.1.1 No such user');
    server.refuseRecipient('later@example.org', 450, '4.2.1 Mailbox busy');
    const result = await send(make(), message({ options: { cc: ['nobody@example.org', 'later@example.org'] } }));
    expect(result.recipients).toMatchObject({
      'ada@example.org': { status: 'queued' },
      'nobody@example.org': { status: 'rejected' },
      'later@example.org': { status: 'failed' },
    });
    const [mail] = await server.waitFor(1);
    expect(mail!.envelope.to).toEqual(['ada@example.org']);
  });
});

describe('error mapping', () => {
  it('maps 4xx at RCPT TO to TransientError', async () => {
    server.failNext(452, '4.2.2 Mailbox full, try later', 'rcpt');
    const error = await failure(make());
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ statusCode: 452, message: expect.stringContaining('RCPT TO refused: 452 4.2.2 Mailbox full') });
  });

  it('maps 5xx user unknown at RCPT TO to a bounced PermanentError that suppresses the address', async () => {
    server.failNext(550, '5.1.1 No such user here', 'rcpt');
    const error = await failure(make());
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ statusCode: 550, rejectReason: 'bounced', suppress: true, backend: 'smtp' });
    expect((error as Error).message).toMatch(/^\[herald\] \[smtp\] SMTP RCPT TO refused: 550 5\.1\.1 No such user here/);
  });

  it('maps a malformed-address 553 to an invalid PermanentError', async () => {
    server.failNext(553, '5.1.3 Bad recipient address syntax', 'rcpt');
    expect(await failure(make())).toMatchObject({ name: 'PermanentError', rejectReason: 'invalid', suppress: true });
  });

  it('maps a 5xx policy refusal at DATA to spam / blocked without suppressing', async () => {
    server.failNext(554, '5.7.1 Message looks like spam', 'data');
    expect(await failure(make())).toMatchObject({ name: 'PermanentError', rejectReason: 'spam', suppress: false, statusCode: 554 });
    server.failNext(554, '5.7.1 Relaying denied', 'rcpt');
    expect(await failure(make())).toMatchObject({ name: 'PermanentError', rejectReason: 'blocked', suppress: false });
  });

  it('maps 4xx at DATA and MAIL FROM to TransientError', async () => {
    const b = make();
    server.failNext(451, '4.3.0 Local error in processing', 'data');
    expect(await failure(b)).toBeInstanceOf(TransientError);
    server.failNext(421, '4.7.0 Try again later', 'mail');
    expect(await failure(b)).toBeInstanceOf(TransientError);
    await send(b);
    expect(server.messages).toHaveLength(1);
  });

  it('maps a refused connection to TransientError naming the server', async () => {
    const error = await failure(make({ port: 1 }));
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toMatch(/could not deliver to SMTP server 127\.0\.0\.1:1 \(ECONNREFUSED\): connect ECONNREFUSED/);
  });

  it('a server that never answers ends the attempt at the worker sendTimeout, and it is retried', async () => {
    // Accepts connections and says nothing: nodemailer would wait for the greeting for its own 30 s.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const sockets = new Set<Socket>();
    silent.on('connection', (socket) => sockets.add(socket));
    try {
      const notification = defineNotification({
        id: 'ping',
        schema: z.object({}),
        templates: { email: { format: 'markdown', subject: 'Ping', body: 'ping' } },
      });
      const herald = createHerald({
        store: memoryStore(),
        backends: [make({ port: (silent.address() as AddressInfo).port })],
        notifications: [notification],
        retry: { maxAttempts: 2, backoff: { type: 'fixed', delay: 0 } },
        logger: false,
      });
      const { deliveries } = await herald.notify(notification, {}, [{ id: 'u1', contacts: [{ protocol: 'email', address: 'ada@shop.dev' }] }]);
      const started = Date.now();
      await herald.drain({ sendTimeout: 150 });
      expect(Date.now() - started).toBeLessThan(5000);
      const delivery = await herald.deliveries.get(deliveries[0]!.id);
      expect(delivery).toMatchObject({ status: 'failed', attempts: 2 });
      expect(delivery?.lastError).toMatch(/gave up after 2 attempts: .*send timed out after 150 ms/);
      await herald.close();
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('refuses bad options at construction with the field named', () => {
    expect(() => smtp({ port: 70_000 })).toThrow(ConfigError);
    expect(() => smtp({ port: 70_000 })).toThrow(/options\.port/);
    expect(() => smtp({ from: 'not an address' })).toThrow(/options\.from/);
  });
});

describe('AUTH', () => {
  const auth = { user: 'app-user', pass: 'Sup3r-s3cret-pass' };
  let secured: TestSmtpServer;
  beforeAll(async () => {
    secured = await startSmtpServer({ auth });
  });
  afterAll(() => secured.close());

  it('authenticates with the configured credentials', async () => {
    await send(make({ port: secured.port, auth }));
    const [mail] = await secured.waitFor(1);
    expect(mail!.user).toBe('app-user');
  });

  it('fails permanently on wrong credentials without leaking the password', async () => {
    const wrong = { user: 'app-user', pass: 'Wr0ng-password-123' };
    const error = await failure(make({ port: secured.port, auth: wrong }));
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toContain('535');
    const plain = Buffer.from(`\u0000${wrong.user}\u0000${wrong.pass}`).toString('base64');
    for (const text of [JSON.stringify(error), String((error as Error).stack), JSON.stringify((error as PermanentError).response)]) {
      expect(text).not.toContain(wrong.pass);
      expect(text).not.toContain(plain);
    }
    // The AUTH PLAIN token is learnt whole, not only through the password's base64 alignments.
    expect(make({ auth: wrong }).secrets).toEqual(expect.arrayContaining([wrong.pass, `\u0000${wrong.user}\u0000${wrong.pass}`]));
    expect(redact(`AUTH PLAIN ${plain}`, make({ auth: wrong }).secrets)).toBe('AUTH PLAIN [redacted]');
  });
});

describe('transport', () => {
  it('sends through an injected transporter and leaves it open on close()', async () => {
    const transport = nodemailer.createTransport({ streamTransport: true, buffer: true });
    let closed = false;
    transport.close = () => {
      closed = true;
    };
    const b = make({ transport });
    const result = await send(b);
    expect(result.messageId).toMatch(/@example\.org>$/);
    await b.close?.();
    expect(closed).toBe(false);
  });

  it('pools connections: parallel sends share at most maxConnections connections', async () => {
    const counting = await startSmtpServer();
    const b = make({ port: counting.port, maxConnections: 3 });
    await Promise.all(Array.from({ length: 30 }, () => send(b)));
    expect(counting.messages).toHaveLength(30);
    expect(counting.connections).toBeLessThanOrEqual(3);
    await b.close?.();
    await counting.close();
  });

  it.each([
    ['implicit TLS', 'implicit', { secure: true }],
    ['STARTTLS', 'starttls', { requireTLS: true, ignoreTLS: false }],
  ] as const)('sends over %s (self-signed certificate)', async (_label, tls, options) => {
    const secure = await startSmtpServer({ tls });
    await send(make({ port: secure.port, tls: { rejectUnauthorized: false }, ...options }));
    const [mail] = await secure.waitFor(1);
    expect(mail!.secure).toBe(true);
    await Promise.all(backends.splice(0).map((b) => b.close?.()));
    await secure.close();
  });

  it('sends with noDelay: false (nodemailer opens the socket itself)', async () => {
    await send(make({ noDelay: false }));
    expect(await server.waitFor(1)).toHaveLength(1);
  });

  it('opens a connection per message with pool: false', async () => {
    const counting = await startSmtpServer();
    const b = make({ port: counting.port, pool: false });
    await send(b);
    await send(b);
    expect(counting.connections).toBe(2);
    await counting.close();
  });
});
