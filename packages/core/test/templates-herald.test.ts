import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createHerald, defineNotification, TemplateError } from '../src';
import { captureBackend, memoryStore } from '../src/testing';

// The template rules as createHerald applies them: through notify(), drain() and the backend's received message.

const to = (address: string) => [{ id: 'u1', name: "O'Brien", contacts: [{ protocol: 'email', address }] }];

describe('templates through createHerald', () => {
  it('enabled: false — routing sees no template (skipped: no-template), or the protocol\'s template', async () => {
    const smtp = captureBackend({ protocol: 'email', name: 'smtp' });
    const n = defineNotification({
      id: 'n',
      schema: z.object({}),
      templates: { email: { format: 'text', subject: 'generic', body: 'x' }, smtp: { format: 'text', subject: 'own', body: 'y', enabled: false } },
    });
    const off = defineNotification({ id: 'off', schema: z.object({}), templates: { email: { format: 'text', subject: 's', body: 'x', enabled: false } } });
    const herald = createHerald({ store: memoryStore(), backends: [smtp], notifications: [n, off], logger: false });
    const skipped = await herald.notify(off, {}, to('ada@shop.dev'));
    expect(skipped.skipped.map((s) => s.reason)).toEqual(['no-template']);
    await herald.notify(n, {}, to('ada@shop.dev'));
    await herald.drain();
    expect(smtp.messages.map((m) => m.content.subject)).toEqual(['generic']);
    await herald.close();
  });

  it('a template\'s from becomes the message\'s options.from', async () => {
    const smtp = captureBackend({ protocol: 'email', name: 'smtp', defaults: { from: 'Default <d@shop.dev>' } });
    const n = defineNotification({ id: 'n', schema: z.object({ shop: z.string() }), templates: { email: { format: 'text', from: '"{{shop}}" <orders@shop.dev>', subject: 's', body: 'x' } } });
    const herald = createHerald({ store: memoryStore(), backends: [smtp], notifications: [n], logger: false });
    await herald.notify(n, { shop: 'Tea "&" Co' }, to('ada@shop.dev'));
    await herald.drain();
    expect(smtp.messages[0]!.options.from).toBe('"Tea \\"&\\" Co" <orders@shop.dev>');
    expect(smtp.messages[0]!.content.from).toBe('"Tea \\"&\\" Co" <orders@shop.dev>');
    await herald.close();
  });

  it('templates: { partials, helpers, layouts } reach every template; a misspelt variable fails createHerald', async () => {
    const smtp = captureBackend({ protocol: 'email', name: 'smtp' });
    const n = defineNotification({ id: 'n', schema: z.object({ total: z.number() }), templates: { email: { format: 'markdown', subject: 's', body: 'Hi {{recipient.name}}: {{money total}} {{> sig}}' } } });
    const herald = createHerald({
      store: memoryStore(),
      backends: [smtp],
      notifications: [n],
      logger: false,
      templates: { partials: { sig: '— Shop' }, helpers: { money: (v: unknown) => `€${Number(v).toFixed(2)}` }, layouts: { email: '<main>{{> body}}</main>' } },
    });
    await herald.notify(n, { total: 3 }, to('ada@shop.dev'));
    await herald.drain();
    expect(smtp.messages[0]!.content.html).toBe('<main><p>Hi O&#x27;Brien: €3.00 — Shop</p>\n</main>');
    await herald.close();
    const typo = defineNotification({ id: 't', schema: z.object({ orderId: z.string() }), templates: { email: { format: 'text', subject: 's', body: '{{ordrId}}' } } });
    expect(() => createHerald({ store: memoryStore(), backends: [smtp], notifications: [typo] })).toThrow(TemplateError);
    expect(() => createHerald({ store: memoryStore(), backends: [smtp], notifications: [typo] })).toThrow(/did you mean `orderId`\?/);
  });
});
