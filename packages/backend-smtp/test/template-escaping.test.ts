import { createHerald, defineNotification, type Herald } from '@herald/core';
import { memoryStore } from '@herald/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { smtp } from '../src';
import { type ReceivedMail, startSmtpServer, type TestSmtpServer } from './_server';

// Every check below reads the message as received by a real SMTP server and parsed by mailparser: what a mail
// client shows, after nodemailer's MIME encoding (quoted-printable, encoded-word subjects) and its decoding.

const LONG = `${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(6)}Fin.`;
const VALUES = ["O'Brien", 'a=b', '`x`', 'Tea & biscuits', '1 < 2 > 0', 'say "hi"', '東京の注文 🎉📦', 'ß Ünïcödé', LONG];
/** Data that would be Markdown structure if marked saw it. */
const STRUCTURE = [
  'https://evil.example/login',
  'www.evil.example',
  'eve@evil.example',
  '- free money',
  '1. free money',
  '# Urgent',
  '> from your bank',
  '---',
  '    rm -rf /',
  '*bold* _italic_',
  '[click](https://evil.example)',
  '<b>bold</b>',
];

const schema = z.object({ orderId: z.string(), values: z.array(z.string()) });
const markdownMail = defineNotification({
  id: 'markdown-mail',
  schema,
  templates: { email: { format: 'markdown', subject: 'Order {{orderId}}', body: '# Hi {{recipient.name}}\n\nOrder **{{orderId}}**\n\n{{#each values}}\n{{this}}\n\n{{/each}}' } },
});
const htmlMail = defineNotification({
  id: 'html-mail',
  schema,
  templates: { email: { format: 'html', subject: 'Order {{orderId}}', body: '<h1>Hi {{recipient.name}}</h1><p>Order <b>{{orderId}}</b></p>{{#each values}}<p>{{this}}</p>{{/each}}' } },
});
const blocksMail = defineNotification({
  id: 'blocks-mail',
  schema,
  templates: {
    email: {
      format: 'blocks',
      body: '{{#block "subject"}}Order {{orderId}}{{/block}}{{#block "text"}}Hi {{recipient.name}}\n{{#each values}}\n{{this}}\n{{/each}}{{/block}}{{#block "html"}}<p>Hi {{recipient.name}}</p>{{#each values}}<p>{{this}}</p>{{/each}}{{/block}}',
    },
  },
});

const fromTemplate = defineNotification({
  id: 'from-template',
  schema: z.object({ shop: z.string() }),
  templates: { email: { format: 'html', from: '"{{shop}}" <orders@example.org>', subject: 'From {{shop}}', body: '<p>Hello from {{shop}}</p>' } },
});

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;', '`': '&#x60;', '=': '&#x3D;' };
const escapedOnce = (s: string) => s.replace(/[&<>"'`=]/g, (c) => HTML_ESCAPES[c]!);
/** The text part may be wrapped at 78 columns (and quoted-printable soft breaks are decoded by mailparser). */
const folded = (s: string | false | undefined) => (s || '').replace(/\s+/g, ' ');
const ORDER = `O'Brien & "Sons" <1> 東京 🎉`;

let server: TestSmtpServer;
let herald: Herald;
beforeAll(async () => {
  server = await startSmtpServer();
  herald = createHerald({
    store: memoryStore(),
    backends: [smtp({ host: server.host, port: server.port, ignoreTLS: true, from: 'Shop <shop@example.org>' })],
    notifications: [markdownMail, htmlMail, blocksMail, fromTemplate],
    retry: { backoff: { type: 'fixed', delay: 0 } },
    logger: false,
  });
});
afterAll(async () => {
  await herald.close();
  await server.close();
});
afterEach(() => {
  server.messages.length = 0;
});

async function send(n: typeof markdownMail, values: string[]): Promise<ReceivedMail> {
  await herald.notify(n, { orderId: ORDER, values }, [{ id: 'u1', name: "Ada O'Brien", contacts: [{ protocol: 'email', address: 'ada@shop.dev' }] }]);
  expect(await herald.drain()).toMatchObject({ sent: 1, failed: 0 });
  const [mail] = await server.waitFor(1);
  return mail!;
}

describe.each([
  ['markdown', markdownMail],
  ['html', htmlMail],
  ['blocks', blocksMail],
] as const)('%s email: data reads exactly as typed in the received MIME', (_format, n) => {
  it('subject, HTML part (escaped once) and text part (as typed)', async () => {
    const mail = await send(n, VALUES);
    expect(mail.parsed.subject).toBe(`Order ${ORDER}`);
    const html = mail.parsed.html as string;
    // Regression: markdown data was HTML-escaped, then Markdown-escaped (O&amp;#x27;Brien, a&#x3D;b backslashed).
    expect(html).not.toMatch(/&amp;(#|amp;|lt;|gt;|quot;)/);
    expect(html).not.toContain('\\');
    expect(html).toContain(escapedOnce("Ada O'Brien"));
    for (const value of VALUES) expect(html).toContain(`<p>${escapedOnce(value)}</p>`);
    const text = folded(mail.parsed.text);
    expect(text).toContain("Hi Ada O'Brien");
    for (const value of VALUES) expect(text).toContain(folded(value));
  });
});

describe('markdown email: data creates no structure in the received MIME', () => {
  it('no link, list, heading, quote, rule, code or formatting from data; the text part shows it as typed', async () => {
    const mail = await send(markdownMail, STRUCTURE);
    const html = mail.parsed.html as string;
    const tags = new Set([...html.matchAll(/<([a-z0-9]+)/g)].map((m) => m[1]));
    // The template's own heading, paragraphs and bold order id; nothing else.
    expect(tags).toEqual(new Set(['h1', 'p', 'strong']));
    for (const value of STRUCTURE) expect(html).toContain(`<p>${escapedOnce(value)}</p>`);
    const text = mail.parsed.text as string;
    for (const value of STRUCTURE) expect(text).toContain(value);
    expect(text).not.toMatch(/\[(https?|mailto):/);
  });
});

describe('from (django-vox from_address): a template rendered into the sender', () => {
  it('the display name reads as typed in the received From header; data cannot add an address or a header', async () => {
    const send = async (shop: string) => {
      server.messages.length = 0;
      const { deliveries } = await herald.notify(fromTemplate, { shop }, [{ contacts: [{ protocol: 'email', address: 'ada@shop.dev' }] }]);
      await herald.drain();
      expect(await herald.deliveries.get(deliveries[0]!.id)).toMatchObject({ status: 'sent', lastError: null });
      return (await server.waitFor(1))[0]!;
    };
    const plain = await send(`O'Brien & "Sons" 東京`);
    expect(plain.parsed.from?.value).toEqual([{ name: `O'Brien & "Sons" 東京`, address: 'orders@example.org' }]);
    expect(plain.envelope.from).toBe('orders@example.org');
    const hostile = await send('Eve" <eve@evil.example>\r\nBcc: victim@evil.example');
    expect(hostile.parsed.from?.value).toEqual([{ name: 'Eve" <eve@evil.example> Bcc: victim@evil.example', address: 'orders@example.org' }]);
    expect(hostile.envelope.to).toEqual(['ada@shop.dev']);
    expect(hostile.parsed.headers.has('bcc')).toBe(false);
  });
});
