import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHerald, type Delivery, defineNotification, type InboundEvent, type TrackingEvent } from '@herald/core';
import { memoryStore } from '@herald/core/testing';
import { sqliteStore } from '@herald/store-sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { sendgrid } from '../src';
import { fixture, startFakeSendgrid } from './_fake-sendgrid';
import { basic, inboundBody, signedEvents, signingKey } from './_signing';

// End to end on a real SQLite file: notify → drain (v3 send to the loopback SendGrid) → signed Event Webhook
// batches through herald.webhooks.handle → statuses, stored events, suppressions; forged, stale and replayed posts.

const KEY = 'SG.herald-e2e-key.0123456789abcdefABCDEF';
const HOOK = { username: 'parse', password: 'parse-pass-123456' };
const welcome = defineNotification({
  id: 'welcome',
  schema: z.object({ plan: z.string() }),
  templates: { email: { format: 'markdown', subject: 'Welcome to {{plan}}', body: 'Hello {{recipient.name}}, welcome to **{{plan}}**.' } },
});
const batch = fixture<Record<string, unknown>[]>('events/batch.json');

describe('e2e: SendGrid send → signed event webhook → SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-sendgrid-'));
  const signer = signingKey();
  let api: Awaited<ReturnType<typeof startFakeSendgrid>>;
  let herald: ReturnType<typeof createHerald>;
  let ada: Delivery;
  let bob: Delivery;
  const tracked: TrackingEvent[] = [];
  const received: InboundEvent[] = [];

  beforeAll(async () => {
    api = await startFakeSendgrid({ apiKey: KEY });
    herald = createHerald({
      store: sqliteStore({ path: join(dir, 'herald.db') }),
      backends: [sendgrid({ apiKey: KEY, baseUrl: api.url, webhookPublicKey: signer.publicKey, webhookAuth: HOOK, inboundAuth: HOOK, defaults: { from: 'Shop <shop@example.net>' }, test: true })],
      notifications: [welcome],
      logger: false,
    });
    herald.on('tracking', (event) => {
      tracked.push(event);
    });
    herald.on('inbound', (event) => {
      received.push(event);
    });
    const result = await herald.notify(welcome, { plan: 'Pro' }, [
      { id: 'ada', name: 'Ada', contacts: [{ protocol: 'email', address: 'ada@example.org' }] },
      { id: 'bob', name: 'Bob', contacts: [{ protocol: 'email', address: 'bob@example.org' }] },
    ]);
    await herald.drain();
    const stored = await Promise.all(result.deliveries.map(async (d) => (await herald.deliveries.get(d.id))!));
    ada = stored[0]!;
    bob = stored[1]!;
  });
  afterAll(async () => {
    await herald.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Events of the documented batch as SendGrid would send them for this run's deliveries: their delivery id in the
   *  custom args, their X-Message-Id as the prefix of sg_message_id. */
  const events = (...picks: [index: number, delivery: Delivery][]) =>
    picks.map(([i, d]) => ({ ...batch[i], herald_delivery_id: d.id, sg_message_id: `${d.providerMessageId}.filterdrecv-6c4b8b8c9d-x2b7q-1-6700A1B2-3.0` }));
  const post = (request: { body: Uint8Array; headers: Headers }, kind = 'tracking') =>
    herald.webhooks.handle(new Request(`https://app.example/herald/sendgrid/${kind}`, { method: 'POST', headers: request.headers, body: request.body }));
  const auth = { authorization: basic(HOOK.username, HOOK.password) };
  const status = async (d: Delivery) => (await herald.deliveries.get(d.id))!.status;

  it('the sends reached SendGrid with the delivery id in custom_args; the X-Message-Id is the provider id', () => {
    expect(ada.status).toBe('sent');
    expect(api.requests.map((r) => r.json.custom_args)).toEqual([{ herald_delivery_id: ada.id }, { herald_delivery_id: bob.id }]);
    expect(ada.providerMessageId).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('forged, stale or unauthenticated batches: 401/403 and nothing stored', async () => {
    const body = events([2, ada]);
    const forged = signedEvents(signingKey().privateKey, body, { headers: auth });
    expect((await post(forged)).status).toBe(403);
    const stale = signedEvents(signer.privateKey, body, { headers: auth, timestamp: String(Math.floor(Date.now() / 1000) - 3600) });
    expect((await post(stale)).status).toBe(403);
    expect((await post(signedEvents(signer.privateKey, body))).status).toBe(401);
    const tampered = signedEvents(signer.privateKey, body, { headers: auth });
    const altered = new TextEncoder().encode(new TextDecoder().decode(tampered.body).replace('"delivered"', '"spamreport"'));
    expect((await post({ body: altered, headers: tampered.headers })).status).toBe(403);
    expect(await status(ada)).toBe('sent');
    expect(await herald.deliveries.events(ada.id)).toEqual([]);
    expect(tracked).toEqual([]);
  });

  it('a signed batch moves each delivery found by its custom_args delivery id', async () => {
    const response = await post(signedEvents(signer.privateKey, events([0, ada], [2, ada], [3, ada], [5, bob]), { headers: auth }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, processed: 4, replayed: 0 });
    expect(await status(ada)).toBe('opened');
    expect(await status(bob)).toBe('bounced');
    expect((await herald.deliveries.events(ada.id)).map((e) => e.eventType).sort()).toEqual(['delivered', 'opened', 'queued']);
    expect(await herald.suppressions.check('email', 'bob@example.org')).toMatchObject({ reason: 'hard bounce' });
  });

  it('a replayed batch (a new, valid signature over the same events) changes nothing', async () => {
    const before = tracked.length;
    const response = await post(signedEvents(signer.privateKey, events([0, ada], [2, ada], [3, ada], [5, bob]), { headers: auth }));
    expect(await response.json()).toEqual({ ok: true, processed: 0, replayed: 4 });
    expect(tracked.length).toBe(before);
    expect((await herald.deliveries.events(ada.id)).length).toBe(3);
  });

  it('a late click still moves the delivery forward; a delivered after it does not move it back', async () => {
    await post(signedEvents(signer.privateKey, events([4, ada]), { headers: auth }));
    expect(await status(ada)).toBe('clicked');
    await post(signedEvents(signer.privateKey, [{ ...events([2, ada])[0], sg_event_id: 'ZGVsaXZlcmVkLWxhdGU' }], { headers: auth }));
    expect(await status(ada)).toBe('clicked');
  });

  it('an event whose message id matches no delivery, and whose delivery id is another backend’s, is stored unmatched', async () => {
    const stray = { ...batch[2], sg_event_id: 'c3RyYXktZXZlbnQ', herald_delivery_id: 'not-a-delivery', sg_message_id: 'Zz9yYx8wVu7tSr6qPo5nMl.filterdrecv-1-2-3' };
    expect(await (await post(signedEvents(signer.privateKey, [stray], { headers: auth }))).json()).toMatchObject({ processed: 1 });
    expect(tracked.at(-1)).toMatchObject({ eventType: 'delivered', deliveryId: 'not-a-delivery' });
  });

  it('Inbound Parse posts reach the inbound listeners once', async () => {
    const { body, contentType } = await inboundBody(fixture('inbound/parsed.json'));
    const headers = new Headers({ 'content-type': contentType, ...auth });
    expect((await post({ body, headers }, 'inbound')).status).toBe(200);
    expect((await post({ body, headers: new Headers({ 'content-type': contentType }) }, 'inbound')).status).toBe(401);
    const again = await post({ body, headers }, 'inbound');
    expect(await again.json()).toMatchObject({ processed: 0, replayed: 1 });
    expect(received).toHaveLength(1);
    expect(received[0]!.message).toMatchObject({ subject: 'Re: Your order A1', envelopeRecipient: 'support@inbound.example.net' });
  });
});

// The delivery id alone finds the delivery (a send that timed out after SendGrid accepted it has no provider id).
describe('e2e: events matched by the custom_args delivery id alone', () => {
  it('moves the delivery although sg_message_id is unknown to Herald', async () => {
    const signer = signingKey();
    const api = await startFakeSendgrid({ apiKey: KEY });
    const herald = createHerald({
      store: memoryStore(),
      backends: [sendgrid({ apiKey: KEY, baseUrl: api.url, webhookPublicKey: signer.publicKey, defaults: { from: 'shop@example.net' }, test: true })],
      notifications: [welcome],
      logger: false,
    });
    try {
      const { deliveries } = await herald.notify(welcome, { plan: 'Pro' }, [{ id: 'ada', contacts: [{ protocol: 'email', address: 'ada@example.org' }] }]);
      await herald.drain();
      const id = deliveries[0]!.id;
      const request = signedEvents(signer.privateKey, [{ ...batch[2], herald_delivery_id: id }]);
      const response = await herald.webhooks.handle(new Request('https://app.example/herald/sendgrid/tracking', { method: 'POST', headers: request.headers, body: request.body }));
      expect(await response.json()).toEqual({ ok: true, processed: 1, replayed: 0 });
      expect(await herald.deliveries.get(id)).toMatchObject({ status: 'delivered' });
      expect((await herald.deliveries.events(id))[0]).toMatchObject({ eventType: 'delivered', messageId: 'W7rg8FgYRT-cwKBlE5tdXw' });
    } finally {
      await herald.close();
      await api.close();
    }
  });
});
