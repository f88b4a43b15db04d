import { postal } from '@herald/backend-postal';
import { postmark } from '@herald/backend-postmark';
import { createHerald, defineNotification, type Delivery, type InboundEvent, type TrackingEvent } from '@herald/core';
import { memoryStore } from '@herald/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fakeApi, fixture, postalKeys } from './_fake-providers';

// End to end: notify → drain (the backend posts to a loopback provider) → the provider's webhook → delivery
// status, `tracking` listeners, suppression → a later notify skips the address. The backends are marked
// `test: true` (loopback sinks) because the documented payloads use reserved example.org addresses.

const welcome = defineNotification({
  id: 'welcome',
  schema: z.object({ plan: z.string() }),
  templates: { email: { format: 'markdown', subject: 'Welcome to {{plan}}', body: 'Hello {{recipient.name}}, welcome to **{{plan}}**.' } },
});
const ada = { id: 'u1', name: 'Ada', contacts: [{ protocol: 'email', address: 'ada@example.org' }] };

const POSTMARK_ID = '5b3f1a6e-2c47-4f0e-9d11-0a5c7d2e8b41';
const HOOK = { username: 'pm', password: 'hook-password-123' };
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

describe('e2e: Postmark send → tracking webhooks', () => {
  let api: Awaited<ReturnType<typeof fakeApi>>;
  let herald: ReturnType<typeof createHerald>;
  const tracked: { event: TrackingEvent; delivery: Delivery | null }[] = [];
  const changes: string[] = [];
  let failClicks = 0;
  let delivery: Delivery;

  beforeAll(async () => {
    api = await fakeApi((body) => ({ To: body.To, SubmittedAt: new Date().toISOString(), MessageID: POSTMARK_ID, ErrorCode: 0, Message: 'OK' }));
    herald = createHerald({
      store: memoryStore(),
      backends: [postmark({ serverToken: 'pm-token-123456', apiUrl: api.url, webhookAuth: HOOK, defaults: { from: 'shop@example.net' }, test: true })],
      notifications: [welcome],
      logger: false,
      webhooks: { maxBodyBytes: 8192 },
    });
    herald.on('tracking', (event, d) => {
      if (event.eventType === 'clicked' && failClicks-- > 0) throw new Error('listener is down');
      tracked.push({ event, delivery: d });
    });
    herald.on('delivery', (d, change) => changes.push(`${d.id}:${change.from}->${change.to}`));
    const result = await herald.notify(welcome, { plan: 'pro' }, [ada]);
    await herald.drain();
    delivery = (await herald.deliveries.get(result.deliveries[0]!.id))!;
  });
  afterAll(async () => {
    await herald.close();
    await api.close();
  });

  const hook = (body: unknown, auth = basic(HOOK.username, HOOK.password)) =>
    herald.webhooks.handle(
      new Request('https://app.example/herald/postmark/tracking', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    );
  const status = async () => (await herald.deliveries.get(delivery.id))!.status;

  it('the send reached Postmark with the delivery id in metadata', async () => {
    expect(delivery.status).toBe('sent');
    expect(delivery.providerMessageId).toBe(POSTMARK_ID);
    expect(api.requests[0]!.body.Metadata).toEqual({ herald_delivery_id: delivery.id });
  });

  it('a forged webhook changes nothing (403), a missing one 401', async () => {
    expect((await hook(fixture('postmark', 'open.json'), basic(HOOK.username, 'guess'))).status).toBe(403);
    expect((await hook(fixture('postmark', 'open.json'), '')).status).toBe(401);
    expect(await status()).toBe('sent');
    expect(await herald.deliveries.events(delivery.id)).toEqual([]);
  });

  it('malformed JSON → 400, oversized → 413; nothing stored', async () => {
    expect((await hook('{"RecordType": "Open",')).status).toBe(400);
    expect((await hook({ ...fixture('postmark', 'open.json'), Padding: 'x'.repeat(10_000) })).status).toBe(413);
    expect(await herald.deliveries.events(delivery.id)).toEqual([]);
  });

  it('opened then a late delivered: the delivery stays opened; both events are stored and emitted', async () => {
    expect((await hook(fixture('postmark', 'open.json'))).status).toBe(200);
    expect(await status()).toBe('opened');
    expect((await hook(fixture('postmark', 'delivery.json'))).status).toBe(200);
    expect(await status()).toBe('opened');
    expect(tracked.map((t) => t.event.eventType)).toEqual(['opened', 'delivered']);
    expect(tracked[0]!.delivery?.id).toBe(delivery.id);
    expect(changes).toContain(`${delivery.id}:sent->opened`);
    expect((await herald.deliveries.events(delivery.id)).map((e) => e.eventType)).toEqual(['opened', 'delivered']);
  });

  it('a replay answers 200 and changes nothing', async () => {
    const before = tracked.length;
    expect((await hook(fixture('postmark', 'open.json'))).status).toBe(200);
    expect(tracked.length).toBe(before);
    expect(await herald.deliveries.events(delivery.id)).toHaveLength(2);
  });

  it('a throwing listener → 500; the provider retry is processed exactly once', async () => {
    failClicks = 1;
    expect((await hook(fixture('postmark', 'click.json'))).status).toBe(500);
    expect((await herald.deliveries.events(delivery.id)).map((e) => e.eventType)).not.toContain('clicked');
    expect((await hook(fixture('postmark', 'click.json'))).status).toBe(200);
    expect((await hook(fixture('postmark', 'click.json'))).status).toBe(200);
    expect(tracked.filter((t) => t.event.eventType === 'clicked')).toHaveLength(1);
    expect(await status()).toBe('clicked');
  });

  it('a hard bounce suppresses the address: the next notify skips it as suppressed', async () => {
    expect((await hook(fixture('postmark', 'bounce-hard.json'))).status).toBe(200);
    expect(await status()).toBe('bounced');
    expect(await herald.suppressions.check('email', 'ADA@example.org')).toMatchObject({ reason: 'hard bounce' });
    const again = await herald.notify(welcome, { plan: 'pro' }, [ada]);
    expect(again.deliveries).toEqual([]);
    expect(again.skipped).toMatchObject([{ address: 'ada@example.org', reason: 'suppressed' }]);
  });
});

describe('e2e: Postal send → signed tracking and inbound webhooks', () => {
  const keys = postalKeys();
  let api: Awaited<ReturnType<typeof fakeApi>>;
  let herald: ReturnType<typeof createHerald>;
  const tracked: TrackingEvent[] = [];
  const inbound: { event: InboundEvent; backend: string }[] = [];

  beforeAll(async () => {
    api = await fakeApi(() => ({ status: 'success', time: 0.01, flags: {}, data: { message_id: 'x@rp.postal.test', messages: { 'ada@example.org': { id: 4821, token: 'Jq4nW8xZ' } } } }));
    herald = createHerald({
      store: memoryStore(),
      backends: [postal({ apiUrl: api.url, apiKey: 'postal-key-123456', webhookKey: keys.webhookKey, defaults: { from: 'shop@example.net' }, test: true })],
      notifications: [welcome],
      logger: false,
    });
    herald.on('tracking', (event) => {
      tracked.push(event);
    });
    herald.on('inbound', (event, backend) => {
      inbound.push({ event, backend });
    });
  });
  afterAll(async () => {
    await herald.close();
    await api.close();
  });

  const post = (kind: 'tracking' | 'inbound', body: unknown, signature?: string) => {
    const text = JSON.stringify(body);
    return herald.webhooks.handle(
      new Request(`https://app.example/hooks/postal/${kind}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-postal-signature': signature ?? keys.sign(text) },
        body: text,
      }),
    );
  };

  it('notify → drain → MessageSent, then a bounce: delivered → bounced, suppressed', async () => {
    const { deliveries } = await herald.notify(welcome, { plan: 'basic' }, [ada]);
    await herald.drain();
    const id = deliveries[0]!.id;
    expect((await herald.deliveries.get(id))!.providerMessageId).toBe('4821');
    expect(api.requests[0]!.url).toBe('/api/v1/send/message');

    expect((await post('tracking', fixture('postal', 'message-sent.json'), keys.sign('something else'))).status).toBe(403);
    expect((await herald.deliveries.get(id))!.status).toBe('sent');

    expect((await post('tracking', fixture('postal', 'message-sent.json'))).status).toBe(200);
    expect((await herald.deliveries.get(id))!.status).toBe('delivered');
    expect((await post('tracking', fixture('postal', 'message-bounced.json'))).status).toBe(200);
    expect((await herald.deliveries.get(id))!.status).toBe('bounced');
    expect((await post('tracking', fixture('postal', 'message-sent.json'))).status).toBe(200);
    expect(tracked.map((e) => e.eventType)).toEqual(['delivered', 'bounced']);
    expect((await herald.notify(welcome, { plan: 'basic' }, [ada])).skipped[0]?.reason).toBe('suppressed');
  });

  it('inbound raw message → herald.on("inbound"); posted to the wrong URL → 400 naming the mistake', async () => {
    expect((await post('inbound', fixture('postal', 'inbound-raw.json'))).status).toBe(200);
    expect(inbound).toHaveLength(1);
    expect(inbound[0]!.backend).toBe('postal');
    expect(inbound[0]!.event.message.subject).toBe('Re: Welcome aboard');
    const wrong = await post('tracking', fixture('postal', 'inbound-raw.json'));
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: string }).error).toMatch(/inbound message was posted to the tracking webhook URL/);
  });
});
