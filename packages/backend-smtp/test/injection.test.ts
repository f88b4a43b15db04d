import { type Backend, PermanentError } from '@herald/core';
import { makeOutboundMessage, makeSendContext, type OutboundMessageOverrides } from '@herald/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { smtp } from '../src';
import { startSmtpServer, type TestSmtpServer } from './_server';

// Core refuses control characters in addresses and names when notify() validates them; these messages skip that
// (as a stored message from an older version, or a direct send() call would) to check the backend's own guard.
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

const backend = () => {
  const b = smtp({ host: server.host, port: server.port, ignoreTLS: true, from: 'Shop <shop@example.org>' });
  backends.push(b);
  return b;
};
const send = (overrides: OutboundMessageOverrides) => {
  const m = makeOutboundMessage({ protocol: 'email', backend: 'smtp', to: 'eve@shop.dev', ...overrides });
  return backend().send(m, makeSendContext(m));
};
/** Every header line of a raw message: an injected header would be a line of its own. */
const headerLines = (raw: string) => raw.slice(0, raw.indexOf('\r\n\r\n')).split(/\r\n(?![ \t])/);

describe('CR/LF and control characters never reach the SMTP server as headers or recipients', () => {
  it.each<[string, OutboundMessageOverrides, RegExp]>([
    ['display name in the address', { to: '"Eve\r\nBcc: x@y.test" <eve@shop.dev>' }, /recipient address .* contains control characters/],
    // nodemailer alone would parse this as a group and send to x@y.test only.
    ['after the address', { to: 'eve@shop.dev\r\nBcc: x@y.test' }, /recipient address .* contains control characters/],
    ['recipient name', { recipient: { name: 'Eve\r\nBcc: x@y.test' } }, /recipient name .* contains control characters/],
    ['cc', { options: { cc: ['"C\nBcc: x@y.test" <c@shop.dev>'] } }, /`cc`\[0\] .* contains control characters/],
    ['bcc', { options: { bcc: ['b@shop.dev\u0000'] } }, /`bcc`\[0\] .* contains control characters/],
    ['reply-to', { options: { replyTo: ['"R\rX-Injected: 1" <r@shop.dev>'] } }, /`replyTo`\[0\] .* contains control characters/],
    ['from', { options: { from: '"Shop\u2028Bcc: x@y.test" <shop@example.org>' } }, /`from` .* contains control characters/],
  ])('refuses a control character in the %s (PermanentError, invalid), sending nothing', async (_where, overrides, message) => {
    const error = await send(overrides).then(
      () => expect.fail('send() should have raised'),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ rejectReason: 'invalid' });
    expect((error as Error).message).toMatch(message);
    expect(server.messages).toHaveLength(0);
  });

  it('the recipient and sender scopes: a bad recipient is about the recipient, a bad sender about the message', async () => {
    await expect(send({ to: '"Eve\r\n" <eve@shop.dev>' })).rejects.toMatchObject({ scope: 'recipient' });
    await expect(send({ options: { from: 'Shop\n <shop@example.org>' } })).rejects.toMatchObject({ scope: 'content' });
  });

  it('CR/LF in a subject or custom header value is folded into the value by nodemailer, never a header of its own', async () => {
    await send({
      content: { format: 'html', subject: 'Hi\r\nBcc: x@y.test', html: '<p>x</p>', text: 'x' },
      options: { headers: { 'X-Campaign': 'spring\r\nBcc: y@y.test\r\n\r\nbody' } },
    });
    const [mail] = await server.waitFor(1);
    expect(mail!.envelope.to).toEqual(['eve@shop.dev']);
    const lines = headerLines(mail!.raw);
    expect(lines.filter((l) => /^bcc:/i.test(l))).toEqual([]);
    expect(lines.filter((l) => /^subject:/i.test(l))).toHaveLength(1);
    expect(mail!.parsed.subject).toBe('Hi Bcc: x@y.test');
    expect(mail!.parsed.headers.get('x-campaign')).toBe('spring Bcc: y@y.test  body');
  });

  it('a display name with quotes and non-ASCII still arrives intact', async () => {
    await send({ to: '"O\'Brien, Ève «VIP»" <eve@shop.dev>' });
    const [mail] = await server.waitFor(1);
    expect(mail!.parsed.to).toMatchObject({ value: [{ name: "O'Brien, Ève «VIP»", address: 'eve@shop.dev' }] });
    expect(mail!.envelope.to).toEqual(['eve@shop.dev']);
  });
});
