import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConfigError,
  createHerald,
  defineBackend,
  defineNotification,
  type Delivery,
  isTestAddress,
  type HeraldOptions,
  RequiredNotificationError,
  type SendContext,
  TemplateError,
  UnsupportedFeatureError,
  ValidationError,
} from '../src';
import { captureBackend, memoryStore } from '../src/testing';

const orderShipped = defineNotification({
  id: 'order-shipped',
  schema: z.object({ orderId: z.string(), total: z.number() }),
  category: 'orders',
  templates: {
    email: { format: 'markdown', subject: 'Order {{orderId}} shipped', body: 'Hi {{recipient.name}}, order **{{orderId}}** ({{total}}) is on its way.' },
    sms: { format: 'text', body: 'Order {{orderId}} shipped' },
  },
});

const securityAlert = defineNotification({
  id: 'security-alert',
  schema: z.object({ ip: z.string() }),
  category: 'security',
  required: true,
  templates: { email: { format: 'html', subject: 'New sign-in', body: '<p>Sign-in from {{ip}}</p>' } },
});

const digest = defineNotification({
  id: 'digest',
  schema: z.object({ week: z.number() }),
  dedupe: { key: (d) => `digest-${d.week}`, window: '1h' },
  templates: { email: { format: 'text', subject: 'Week {{week}}', body: 'Your digest' } },
});

function setup(extra: Partial<HeraldOptions> = {}) {
  const email = captureBackend({ protocol: 'email', formats: ['html', 'markdown', 'text'] });
  const sms = captureBackend({ protocol: 'sms', formats: ['text'] });
  const store = memoryStore();
  const herald = createHerald({
    store,
    backends: [email, sms],
    notifications: [orderShipped, securityAlert, digest],
    retry: { maxAttempts: 3, backoff: { type: 'fixed', delay: 0 } },
    logger: false,
    ...extra,
  });
  return { herald, email, sms, store };
}

const ada = { id: 'u1', name: 'Ada', contacts: [{ protocol: 'email', address: 'ada@shop.dev' }, { protocol: 'sms', address: '+14155550123' }] };
const bob = { id: 'u2', name: 'Bob', contacts: [{ protocol: 'email', address: 'bob@shop.dev' }] };

describe('notify()', () => {
  it('fans out recipient × contact, renders per backend and enqueues', async () => {
    const { herald, email, sms } = setup();
    const result = await herald.notify(orderShipped, { orderId: 'A1', total: 42 }, [ada, bob]);
    expect(result.deliveries).toHaveLength(3);
    expect(result.skipped).toEqual([]);
    expect(result.deliveries.every((d) => d.status === 'queued' && d.batchId === result.batchId)).toBe(true);
    const drained = await herald.drain();
    expect(drained).toEqual({ sent: 3, failed: 0, retrying: 0 });
    expect(email.messages.map((m) => m.to).sort()).toEqual(['ada@shop.dev', 'bob@shop.dev']);
    const toAda = email.messages.find((m) => m.to === 'ada@shop.dev')!;
    expect(toAda.content.subject).toBe('Order A1 shipped');
    expect(toAda.content.html).toContain('<strong>A1</strong>');
    expect(toAda.content.text).toContain('Hi Ada');
    expect(sms.messages[0]!.content.text).toBe('Order A1 shipped');
    const stored = await herald.deliveries.get(result.deliveries[0]!.id);
    expect(stored?.status).toBe('sent');
    expect(stored?.providerMessageId).toMatch(/^capture-/);
  });

  it('rejects wrong data with a ValidationError naming the field, enqueuing nothing', async () => {
    const { herald, store } = setup();
    // @ts-expect-error total must be a number — compile-time check of the inferred data type
    const bad = herald.notify(orderShipped, { orderId: 'A1', total: 'x' }, [ada]);
    await expect(bad).rejects.toThrow(ValidationError);
    await expect(bad).rejects.toThrow(/data\.total/);
    expect(await store.list()).toEqual([]);
  });

  it('rejects a malformed address or unknown protocol naming the contact, enqueuing nothing', async () => {
    const { herald, store } = setup();
    const recipients = [
      ada,
      { id: 'u9', contacts: [{ protocol: 'sms', address: 'ada@shop.dev' }] },
      { id: 'u8', contacts: [{ protocol: 'pigeon', address: 'roof' }] },
    ];
    const error = await herald.notify(orderShipped, { orderId: 'A1', total: 1 }, recipients).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const issues = (error as ValidationError).issues.map((i) => i.path);
    expect(issues).toEqual(['recipients[1].contacts[0].address', 'recipients[2].contacts[0].protocol']);
    expect((error as Error).message).toContain('recipient "u9"');
    expect((error as Error).message).toContain('E.164');
    expect(await store.list()).toEqual([]);
  });

  it('rejects an unknown notification', async () => {
    const { herald } = setup();
    const other = defineNotification({ id: 'other', schema: z.object({}) });
    await expect(herald.notify(other, {}, [ada])).rejects.toThrow(/unknown notification "other"/);
  });

  it('skips contacts with no backend or no template, reporting why (django-vox ignores them)', async () => {
    const { herald } = setup();
    const r = await herald.notify(securityAlert, { ip: '1.2.3.4' }, [ada, { id: 'u3', contacts: [{ protocol: 'xmpp', address: 'u3@chat.shop.dev' }] }]);
    expect(r.deliveries.map((d) => d.protocol)).toEqual(['email']);
    expect(r.skipped.map((s) => [s.protocol, s.reason])).toEqual([
      ['sms', 'no-template'],
      ['xmpp', 'no-backend'],
    ]);
    const skippedRow = await herald.deliveries.get(r.skipped[0]!.deliveryId!);
    expect(skippedRow).toMatchObject({ status: 'skipped', skipReason: 'no-template' });
  });

  it('honours opt-out categories (stored and inline) but never for required notifications', async () => {
    const { herald } = setup();
    await herald.preferences.set('u1', ['orders', 'security']);
    const r = await herald.notify(orderShipped, { orderId: 'A1', total: 1 }, [ada, { ...bob, optOut: ['orders'] }]);
    expect(r.deliveries).toEqual([]);
    expect(r.skipped.map((s) => s.reason)).toEqual(['opted-out', 'opted-out', 'opted-out']);
    const required = await herald.notify(securityAlert, { ip: '1.2.3.4' }, [ada]);
    expect(required.deliveries).toHaveLength(1);
    expect(await herald.preferences.get('u1')).toEqual(['orders', 'security']);
  });

  it('raises RequiredNotificationError when a required notification creates no delivery, storing nothing', async () => {
    const { herald, store } = setup();
    await expect(herald.notify(securityAlert, { ip: '1.2.3.4' }, [{ id: 'x', contacts: [{ protocol: 'sms', address: '+14155550100' }] }])).rejects.toThrow(RequiredNotificationError);
    expect(await store.list()).toEqual([]);
  });

  it('skips suppressed addresses, case-insensitively for email', async () => {
    const { herald } = setup();
    await herald.suppressions.add('email', 'ADA@shop.dev', 'hard bounce');
    const r = await herald.notify(orderShipped, { orderId: 'A1', total: 1 }, [ada]);
    expect(r.skipped).toMatchObject([{ address: 'ada@shop.dev', reason: 'suppressed' }]);
    expect(r.deliveries.map((d) => d.protocol)).toEqual(['sms']);
    expect(await herald.suppressions.remove('email', 'ada@shop.dev')).toBe(true);
  });

  it('never sends reserved test domains to a non-test backend', async () => {
    const { herald } = setup();
    const real = captureBackend({ protocol: 'email', name: 'real', test: false });
    const h2 = createHerald({ store: memoryStore(), backends: [real], notifications: [orderShipped], logger: false });
    const r = await h2.notify(orderShipped, { orderId: 'A1', total: 1 }, [{ contacts: [{ protocol: 'email', address: 'a@example.com' }, { protocol: 'email', address: 'b@x.test' }, { protocol: 'email', address: 'c@shop.dev' }] }]);
    expect(r.skipped.map((s) => s.reason)).toEqual(['test-address', 'test-address']);
    expect(r.deliveries.map((d) => d.address)).toEqual(['c@shop.dev']);
    // the capture backend is a test sink, so the same addresses reach it
    const r2 = await herald.notify(orderShipped, { orderId: 'A1', total: 1 }, [{ contacts: [{ protocol: 'email', address: 'a@example.com' }] }]);
    expect(r2.deliveries).toHaveLength(1);
  });

  it('recognises the RFC 2606 / 6761 reserved names on every protocol, and nothing that merely contains them', () => {
    const reserved = ['a@example.com', 'a@Mail.EXAMPLE.org', 'a@x.test', 'a@host.localhost', 'a@b.invalid', 'a@example', 'a@example.net.'];
    for (const address of reserved) expect(isTestAddress('email', address), address).toBe(true);
    for (const address of ['a@notexample.com', 'a@example.com.shop.dev', 'a@testing.dev', 'a@shop.dev']) expect(isTestAddress('email', address), address).toBe(false);
    expect(isTestAddress('json-webhook', 'https://hooks.example.org/x')).toBe(true);
    expect(isTestAddress('json-webhook', 'https://example.com.evil.dev/x')).toBe(false);
    expect(isTestAddress('xmpp', 'bot@chat.test/res')).toBe(true);
    expect(isTestAddress('sms', '+14155550123')).toBe(false);
  });

  it('dedupes the same contact within a call and the same key within the window', async () => {
    const { herald } = setup();
    const twice = { id: 'u1', contacts: [{ protocol: 'email', address: 'ada@shop.dev' }, { protocol: 'email', address: 'Ada@Shop.dev' }] };
    const r1 = await herald.notify(digest, { week: 1 }, [twice]);
    expect(r1.deliveries).toHaveLength(1);
    expect(r1.skipped.map((s) => s.reason)).toEqual(['duplicate']);
    const r2 = await herald.notify(digest, { week: 1 }, [ada]);
    expect(r2.deliveries).toEqual([]);
    expect(r2.skipped.map((s) => s.reason).sort()).toEqual(['duplicate', 'no-template']);
    const r3 = await herald.notify(digest, { week: 2 }, [ada]);
    expect(r3.deliveries).toHaveLength(1);
  });

  it('delivers to site contacts, filtered per notification', async () => {
    const { herald, email } = setup({
      siteContacts: [
        { name: 'ops', protocol: 'email', address: 'ops@shop.dev', only: ['security-alert'] },
        { name: 'audit', protocol: 'email', address: 'audit@shop.dev', except: ['digest'] },
      ],
    });
    await herald.notify(securityAlert, { ip: '1.2.3.4' }, []);
    await herald.notify(digest, { week: 5 }, []);
    await herald.drain();
    expect(email.messages.map((m) => `${m.notification}:${m.to}`).sort()).toEqual(['security-alert:audit@shop.dev', 'security-alert:ops@shop.dev']);
  });

  it('routes several backends of one protocol: failover picks the first with a template, round-robin alternates', async () => {
    const a = captureBackend({ protocol: 'email', name: 'a' });
    const b = captureBackend({ protocol: 'email', name: 'b' });
    const n = defineNotification({ id: 'n', schema: z.object({}), templates: { email: { format: 'text', subject: 's', body: 'x' } } });
    const rr = createHerald({ store: memoryStore(), backends: [a, b], notifications: [n], routing: { email: 'round-robin' }, logger: false });
    const many = Array.from({ length: 4 }, (_, i) => ({ contacts: [{ protocol: 'email', address: `u${i}@shop.dev` }] }));
    const r = await rr.notify(n, {}, many);
    expect(r.deliveries.map((d) => d.backend)).toEqual(['a', 'b', 'a', 'b']);
    const fo = createHerald({ store: memoryStore(), backends: [a, b], notifications: [n], logger: false });
    expect((await fo.notify(n, {}, many)).deliveries.every((d) => d.backend === 'a')).toBe(true);
    const pinned = await fo.notify(n, {}, [{ contacts: [{ protocol: 'email', address: 'p@shop.dev', backend: 'b' }] }]);
    expect(pinned.deliveries[0]!.backend).toBe('b');
  });

  it('prefers a backend-specific template over the protocol template', async () => {
    const a = captureBackend({ protocol: 'email', name: 'a' });
    const b = captureBackend({ protocol: 'email', name: 'b' });
    const n = defineNotification({ id: 'n', schema: z.object({}), templates: { email: { format: 'text', subject: 'generic', body: 'x' }, b: { format: 'text', subject: 'special', body: 'y' } } });
    const h = createHerald({ store: memoryStore(), backends: [a, b], notifications: [n], routing: { email: 'round-robin' }, logger: false });
    await h.notify(n, {}, [{ contacts: [{ protocol: 'email', address: '1@shop.dev' }] }, { contacts: [{ protocol: 'email', address: '2@shop.dev' }] }]);
    await h.drain();
    expect(a.messages[0]!.content.subject).toBe('generic');
    expect(b.messages[0]!.content.subject).toBe('special');
  });

  it('computes attachments from the data for backends that support them', async () => {
    const n = defineNotification({
      id: 'invoice',
      schema: z.object({ number: z.string() }),
      attachments: (d) => [{ filename: `${d.number}.txt`, contentType: 'text/plain', content: `Invoice ${d.number}` }],
      templates: { email: { format: 'text', subject: 'Invoice', body: 'attached' }, sms: { format: 'text', body: 'invoice ready' } },
    });
    const email = captureBackend({ protocol: 'email' });
    const sms = captureBackend({ protocol: 'sms' });
    const h = createHerald({ store: memoryStore(), backends: [email, sms], notifications: [n], logger: false });
    await h.notify(n, { number: 'INV-1' }, [ada]);
    await h.drain();
    expect(Buffer.from(email.messages[0]!.attachments[0]!.content, 'base64').toString()).toBe('Invoice INV-1');
    expect(email.messages[0]!.attachments[0]!.filename).toBe('INV-1.txt');
  });

  it('raises UnsupportedFeatureError for features the backend lacks, unless ignoring them', async () => {
    const n = defineNotification({ id: 'tagged', schema: z.object({}), options: { tags: ['a', 'b'], metadata: { k: 'v' } }, templates: { sms: { format: 'text', body: 'x' } } });
    const strictSms = captureBackend({ protocol: 'sms', name: 'strict' });
    Object.assign(strictSms, { capabilities: { ...strictSms.capabilities, maxTags: 1, metadata: false } });
    const h = createHerald({ store: memoryStore(), backends: [strictSms], notifications: [n], logger: false });
    await expect(h.notify(n, {}, [ada])).rejects.toThrow(UnsupportedFeatureError);
    const lenient = captureBackend({ protocol: 'sms', name: 'lenient', ignoreUnsupportedFeatures: true });
    Object.assign(lenient, { capabilities: { ...lenient.capabilities, maxTags: 1, metadata: false } });
    const h2 = createHerald({ store: memoryStore(), backends: [lenient], notifications: [n], logger: false });
    const r = await h2.notify(n, {}, [ada]);
    expect(r.deliveries[0]!.message!.options).toEqual({ tags: ['a'] });
  });
});

describe('worker', () => {
  it('retries transient errors, then succeeds; the attempt log keeps every try', async () => {
    const { herald, email } = setup();
    email.failNext('transient', 2);
    const r = await herald.notify(orderShipped, { orderId: 'A1', total: 1 }, [bob]);
    await herald.drain();
    const id = r.deliveries[0]!.id;
    expect((await herald.deliveries.get(id))?.status).toBe('sent');
    const attempts = await herald.deliveries.attempts(id);
    expect(attempts.map((a) => a.outcome)).toEqual(['transient', 'transient', 'sent']);
    expect(attempts[0]!.error).toContain('injected transient failure');
    expect(email.contexts.at(-1)).toMatchObject({ attempt: 3, idempotencyKey: id });
  });

  it('fails after maxAttempts and at once on a permanent error; redeliver() sends again', async () => {
    const { herald, email } = setup();
    email.failNext('transient', 3);
    const r = await herald.notify(orderShipped, { orderId: 'A1', total: 1 }, [bob]);
    await herald.drain();
    const id = r.deliveries[0]!.id;
    const failed = await herald.deliveries.get(id);
    expect(failed).toMatchObject({ status: 'failed', attempts: 3 });
    expect(failed?.lastError).toMatch(/gave up after 3 attempts/);
    const again = await herald.redeliver(id);
    expect(again.status).toBe('queued');
    await herald.drain();
    expect((await herald.deliveries.get(id))?.status).toBe('sent');
    expect(await herald.deliveries.attempts(id)).toHaveLength(4);

    email.failNext('permanent');
    const r2 = await herald.notify(orderShipped, { orderId: 'A2', total: 1 }, [bob]);
    await herald.drain();
    const id2 = r2.deliveries[0]!.id;
    expect((await herald.deliveries.get(id2))?.status).toBe('failed');
    expect((await herald.deliveries.attempts(id2)).map((a) => a.outcome)).toEqual(['permanent']);
    await expect(herald.redeliver('nope')).rejects.toThrow(/no delivery/);
  });

  it('emits delivery events through the state machine', async () => {
    const { herald, email } = setup();
    const seen: string[] = [];
    herald.on('delivery', (d: Delivery, c) => seen.push(`${d.address}:${c.from ?? '∅'}→${c.to}`));
    email.failNext('transient');
    await herald.notify(orderShipped, { orderId: 'A1', total: 1 }, [bob]);
    await herald.drain();
    expect(seen).toEqual(['bob@shop.dev:∅→queued', 'bob@shop.dev:queued→sending', 'bob@shop.dev:sending→retrying', 'bob@shop.dev:retrying→sending', 'bob@shop.dev:sending→sent']);
  });

  it('a running worker picks up new notifications and stop() finishes in-flight sends', async () => {
    const email = captureBackend({ protocol: 'email', latencyMs: 50 });
    const h = createHerald({ store: memoryStore(), backends: [email], notifications: [orderShipped], logger: false });
    const worker = h.worker({ concurrency: 4, pollInterval: '20ms' });
    await h.notify(orderShipped, { orderId: 'A1', total: 1 }, [bob, { contacts: [{ protocol: 'email', address: 'c@shop.dev' }] }]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await worker.stop();
    expect(worker.running).toBe(false);
    const counts = await h.deliveries.count();
    expect(counts.sending ?? 0).toBe(0);
    expect((counts.sent ?? 0) + (counts.queued ?? 0)).toBe(2);
    await h.close();
  });

  it('claims in batches and, on stop(), gives unstarted claims back without spending an attempt', async () => {
    const email = captureBackend({ protocol: 'email', latencyMs: 100 });
    const store = memoryStore();
    const h = createHerald({ store, backends: [email], notifications: [orderShipped], logger: false });
    const many = Array.from({ length: 6 }, (_, i) => ({ contacts: [{ protocol: 'email', address: `u${i}@shop.dev` }] }));
    await h.notify(orderShipped, { orderId: 'A1', total: 1 }, many);
    const worker = h.worker({ concurrency: 2 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    // two sends in flight, two more claimed into the buffer, two left in the queue
    expect((await store.count()).sending).toBe(4);
    await worker.stop();
    const all = await store.list();
    expect(all.filter((d) => d.status === 'sent')).toHaveLength(2);
    const queued = all.filter((d) => d.status === 'queued');
    expect(queued).toHaveLength(4);
    expect(queued.every((d) => d.attempts === 0 && d.leaseOwner === null)).toBe(true);
  });

  it('gives up on a send that outlives sendTimeout, aborts its signal and retries', async () => {
    const contexts: SendContext[] = [];
    const hanging = defineBackend({
      name: 'hanging',
      protocol: 'email',
      formats: ['markdown', 'html', 'text'],
      options: z.object({}),
      capabilities: {},
      setup: () => ({
        send(_message, context) {
          contexts.push(context);
          return new Promise<never>(() => {});
        },
      }),
    })({});
    const { herald } = setup({ backends: [hanging] });
    const r = await herald.notify(orderShipped, { orderId: 'A1', total: 1 }, [bob]);
    await herald.drain({ sendTimeout: 100 });
    const id = r.deliveries[0]!.id;
    const failed = await herald.deliveries.get(id);
    expect(failed).toMatchObject({ status: 'failed', attempts: 3 });
    expect(failed?.lastError).toMatch(/gave up after 3 attempts: .*send timed out after 100 ms/);
    expect((await herald.deliveries.attempts(id)).map((a) => a.outcome)).toEqual(['transient', 'transient', 'transient']);
    expect(contexts).toHaveLength(3);
    for (const context of contexts) expect(context.signal.aborted).toBe(true);
    expect(String(contexts[0]!.signal.reason)).toMatch(/send timed out/);
  });

  it('waits for backoff and honours retry-after', async () => {
    const email = captureBackend({ protocol: 'email' });
    const h = createHerald({ store: memoryStore(), backends: [email], notifications: [orderShipped], logger: false, retry: { backoff: { type: 'fixed', delay: '10s' } } });
    email.failNext('transient');
    const r = await h.notify(orderShipped, { orderId: 'A1', total: 1 }, [bob]);
    const result = await h.drain();
    expect(result).toEqual({ sent: 0, failed: 0, retrying: 1 });
    const d = await h.deliveries.get(r.deliveries[0]!.id);
    expect(d?.status).toBe('retrying');
    expect(d!.nextAttemptAt!.getTime() - Date.now()).toBeGreaterThan(8_000);
  });
});

describe('configuration and preview', () => {
  it('bad config names the field', () => {
    expect(() => createHerald({ store: memoryStore(), backends: [{} as never], notifications: [] })).toThrow(/options\.backends\[0\]/);
    expect(() => createHerald({ store: memoryStore(), backends: [], notifications: [], retry: { maxAttempts: 0 } })).toThrow(ConfigError);
    const email = captureBackend({ protocol: 'email', formats: ['html'] });
    expect(() => createHerald({ store: memoryStore(), backends: [email], notifications: [orderShipped] })).toThrow(/format "markdown".*renders html/);
    const typo = defineNotification({ id: 't', schema: z.object({}), templates: { emial: { format: 'text', body: 'x' } } });
    expect(() => createHerald({ store: memoryStore(), backends: [email], notifications: [typo] })).toThrow(/"emial"/);
  });

  it('a template syntax error fails createHerald with a TemplateError', () => {
    const broken = defineNotification({ id: 'broken', schema: z.object({}), templates: { sms: { format: 'text', body: 'ok\n{{#each}}' } } });
    expect(() => createHerald({ store: memoryStore(), backends: [captureBackend({ protocol: 'sms' })], notifications: [broken] })).toThrow(TemplateError);
  });

  it('preview renders every channel without sending', async () => {
    const { herald, email, store } = setup();
    const out = await herald.preview(orderShipped, { orderId: 'A9', total: 3 }, { recipient: { name: 'Eve' } });
    expect(out.map((p) => [p.channel, p.backend])).toEqual([
      ['email', 'capture-email'],
      ['sms', 'capture-sms'],
    ]);
    expect(out[0]!.content.html).toContain('Hi Eve');
    expect(email.messages).toEqual([]);
    expect(await store.list()).toEqual([]);
  });
});
