import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHerald, defineNotification, type Herald, type Store } from '@herald/core';
import { memoryStore } from '@herald/core/testing';
import { sqliteStore } from '@herald/store-sqlite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { smtp } from '../src';
import { startSmtpServer, type TestSmtpServer } from './_server';

const orderShipped = defineNotification({
  id: 'order-shipped',
  schema: z.object({ orderId: z.string(), items: z.array(z.string()) }),
  category: 'orders',
  options: { tags: ['orders'], metadata: { kind: 'shipping' } },
  templates: {
    email: {
      format: 'markdown',
      subject: 'Order {{orderId}} shipped',
      body: '# Hi {{recipient.name}}\n\nYour order **{{orderId}}** is on its way:\n\n{{#each items}}\n- {{this}}\n{{/each}}\n',
    },
  },
});

const passwordReset = defineNotification({
  id: 'password-reset',
  schema: z.object({ link: z.string() }),
  required: true,
  attachments: () => [{ filename: 'note.txt', content: 'keep this safe' }],
  templates: {
    smtp: { format: 'html', subject: 'Reset your password', body: '<p>Hello {{recipient.name}}, <a href="{{link}}">reset it here</a>.</p>' },
  },
});

let server: TestSmtpServer;
const dir = mkdtempSync(join(tmpdir(), 'herald-smtp-e2e-'));
beforeAll(async () => {
  server = await startSmtpServer();
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const stores: Record<string, () => Store> = {
  sqlite: () => sqliteStore({ path: join(dir, `herald-${Date.now()}-${Math.random().toString(36).slice(2)}.db`) }),
  memory: () => memoryStore(),
};

describe.each(Object.keys(stores))('notify → drain → SMTP (%s store)', (storeName) => {
  let herald: Herald;
  beforeAll(async () => {
    const store = stores[storeName]!();
    await store.migrate();
    herald = createHerald({
      store,
      backends: [smtp({ host: server.host, port: server.port, ignoreTLS: true, from: 'Shop <shop@example.org>' })],
      notifications: [orderShipped, passwordReset],
      retry: { backoff: { type: 'fixed', delay: 0 } },
      logger: false,
    });
  });
  afterAll(() => herald.close());
  afterEach(() => {
    server.messages.length = 0;
  });

  it('renders a markdown template per recipient and delivers both parts', async () => {
    const result = await herald.notify(orderShipped, { orderId: 'A1 <b>', items: ['Tea & biscuits', 'Mug'] }, [
      { id: 'u1', name: 'Ada', contacts: [{ protocol: 'email', address: 'ada@shop.dev' }] },
      { id: 'u2', name: 'Grace', contacts: [{ protocol: 'email', address: 'grace@shop.dev' }] },
    ]);
    expect(result.deliveries).toHaveLength(2);
    expect(await herald.drain()).toMatchObject({ sent: 2, failed: 0 });

    const mails = await server.waitFor(2);
    const ada = mails.find((m) => m.envelope.to[0] === 'ada@shop.dev')!;
    expect(ada.parsed.subject).toBe('Order A1 <b> shipped');
    expect(ada.parsed.html).toContain('<strong>A1 &lt;b&gt;</strong>');
    expect(ada.parsed.html).toContain('<li>Tea &amp; biscuits</li>');
    expect(ada.parsed.text).toContain('Tea & biscuits');
    expect(ada.parsed.to).toMatchObject({ value: [{ name: 'Ada', address: 'ada@shop.dev' }] });
    expect(ada.parsed.headers.get('x-herald-tags')).toBe('orders');
    expect(ada.parsed.headers.get('x-herald-metadata-kind')).toBe('shipping');

    const delivery = result.deliveries.find((d) => d.address === 'ada@shop.dev')!;
    expect(ada.parsed.headers.get('x-herald-delivery-id')).toBe(delivery.id);
    const stored = await herald.deliveries.get(delivery.id);
    expect(stored).toMatchObject({ status: 'sent', providerMessageId: `<${delivery.id}@example.org>` });
  });

  it('sends an html template with an attachment through the backend-specific template', async () => {
    await herald.notify(passwordReset, { link: 'https://shop.dev/reset?t=1&u=2' }, [
      { id: 'u1', name: 'Ada', contacts: [{ protocol: 'email', address: 'ada@shop.dev' }] },
    ]);
    expect(await herald.drain()).toMatchObject({ sent: 1 });
    const [mail] = await server.waitFor(1);
    expect(mail!.parsed.subject).toBe('Reset your password');
    // Handlebars escapes `&` and `=` in data (browsers decode both in attributes).
    expect(mail!.parsed.html).toContain('href="https://shop.dev/reset?t&#x3D;1&amp;u&#x3D;2"');
    expect(mail!.parsed.text).toContain('reset it here');
    expect(mail!.parsed.attachments).toHaveLength(1);
    expect(mail!.parsed.attachments[0]).toMatchObject({ filename: 'note.txt' });
    expect(mail!.parsed.attachments[0]!.content.toString()).toBe('keep this safe');
  });

  it('fails a delivery on a 5xx without retrying', async () => {
    server.refuseRecipient('gone@shop.dev', 550, '5.1.1 No such user');
    const { deliveries } = await herald.notify(orderShipped, { orderId: 'B2', items: [] }, [
      { id: 'u3', contacts: [{ protocol: 'email', address: 'gone@shop.dev' }] },
    ]);
    expect(await herald.drain()).toMatchObject({ sent: 0, failed: 1 });
    const gone = await herald.deliveries.get(deliveries[0]!.id);
    expect(gone).toMatchObject({ status: 'failed', attempts: 1 });
    expect(gone!.lastError).toContain('550 5.1.1 No such user');
    expect(server.messages).toHaveLength(0);
  });

  it('retries a 4xx and then delivers', async () => {
    server.failNext(451, '4.3.0 Try later', 'rcpt');
    const { deliveries } = await herald.notify(orderShipped, { orderId: 'C3', items: [] }, [
      { id: 'u4', contacts: [{ protocol: 'email', address: 'later@shop.dev' }] },
    ]);
    await herald.drain();
    const later = await herald.deliveries.get(deliveries[0]!.id);
    expect(later).toMatchObject({ status: 'sent', attempts: 2 });
    const attempts = await herald.deliveries.attempts(later!.id);
    expect(attempts.map((a) => a.outcome)).toEqual(['transient', 'sent']);
    expect(attempts[0]!.error).toContain('451 4.3.0 Try later');
    expect(server.messages).toHaveLength(1);
  });
});
