import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHerald, defineNotification, type Herald, type Logger, toNodeHandler } from '@herald/core';
import { memoryStore, secretLeaks } from '@herald/core/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { govukNotifyEmail, govukNotifySms, outboxStatus, routeNotifyCallback } from '../src';
import { FAKE_TEMPLATES, type FakeNotify, startFakeNotify } from '../src/testing';
import { API_KEY, CALLBACK_TOKEN, SECRET, SERVICE_ID } from './_helpers';

const welcome = defineNotification({
  id: 'welcome',
  schema: z.object({ name: z.string() }),
  templates: {
    email: { format: 'params', body: { templateId: FAKE_TEMPLATES.email, text: 'Welcome {{name}}' } },
    sms: { format: 'params', body: { templateId: FAKE_TEMPLATES.sms, text: 'Welcome {{name}}' } },
  },
});

let notify: FakeNotify;
let herald: Herald;
let server: Server;
let origin = '';
const logs: unknown[] = [];
const logger: Logger = {
  debug: (m, f) => logs.push(['debug', m, f]),
  info: (m, f) => logs.push(['info', m, f]),
  warn: (m, f) => logs.push(['warn', m, f]),
  error: (m, f) => logs.push(['error', m, f]),
};

beforeAll(async () => {
  notify = await startFakeNotify({ serviceId: SERVICE_ID, keys: [{ name: 'herald_test', secret: SECRET }] });
  const options = { apiKey: API_KEY, baseUrl: notify.url, callbackToken: CALLBACK_TOKEN, poll: false as const, test: true };
  const email = govukNotifyEmail(options);
  const sms = govukNotifySms(options);
  herald = createHerald({ store: memoryStore(), backends: [email, sms], notifications: [welcome], logger });
  // One URL for the whole Notify service (as Notify has it), routed to the backend of each receipt's type.
  const handle = async (request: Request) =>
    new URL(request.url).pathname === '/notify/callback' ? herald.webhooks.handle(await routeNotifyCallback(request, { email, sms })) : herald.webhooks.handle(request);
  server = createServer(toNodeHandler(handle));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await herald.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await notify.close();
});
beforeEach(() => notify.setCallback({ url: `${origin}/herald/govuk-notify-email/tracking`, bearerToken: CALLBACK_TOKEN }));

async function sent(protocol: 'email' | 'sms' = 'email', address = 'ada@example.org') {
  const { deliveries } = await herald.notify(welcome, { name: 'Ada' }, [{ id: 'u1', contacts: [{ protocol, address }] }]);
  await herald.drain();
  const delivery = (await herald.deliveries.get(deliveries[0]!.id))!;
  expect(delivery.status).toBe('sent');
  return delivery;
}

const post = (path: string, body: unknown, authorization?: string) =>
  fetch(`${origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify(body),
  });

describe('delivery receipts', () => {
  it('a receipt moves the delivery on, matched by reference (the delivery id), keeping Notify’s status verbatim', async () => {
    const delivery = await sent();
    expect(outboxStatus(delivery)).toBe('sent-to-notify');
    expect(notify.notifications.get(delivery.providerMessageId!)!.reference).toBe(delivery.id);
    const answer = await notify.setStatus(delivery.providerMessageId!, 'delivered');
    expect(answer!.status).toBe(200);
    const now = (await herald.deliveries.get(delivery.id))!;
    expect(now).toMatchObject({ status: 'delivered', providerStatus: 'delivered' });
    expect(outboxStatus(now)).toBe('notify-delivered');
    const [event] = await herald.deliveries.events(delivery.id);
    expect(event).toMatchObject({
      eventType: 'delivered',
      eventId: `${delivery.providerMessageId}:delivered`,
      messageId: delivery.providerMessageId,
      deliveryId: delivery.id,
      providerStatus: 'delivered',
      recipient: 'ada@example.org',
      raw: notify.receipt(delivery.providerMessageId!),
    });
    expect(event!.timestamp).toBeInstanceOf(Date);
  });

  it('matches by reference even when Notify’s id is unknown to Herald', async () => {
    const delivery = await sent();
    const receipt = { ...notify.receipt(delivery.providerMessageId!), id: '00000000-0000-4000-8000-00000000abcd', status: 'delivered' };
    expect((await post('/herald/govuk-notify-email/tracking', receipt, `Bearer ${CALLBACK_TOKEN}`)).status).toBe(200);
    expect((await herald.deliveries.get(delivery.id))!.status).toBe('delivered');
  });

  it('permanent-failure → bounced and suppressed; temporary- and technical-failure → failed, not suppressed', async () => {
    const cases = [
      ['permanent-failure', 'bounced', 'notify-permanent-failure', true],
      ['temporary-failure', 'failed', 'notify-temporary-failure', false],
      ['technical-failure', 'failed', 'notify-technical-failure', false],
    ] as const;
    for (const [word, status, outbox, suppressed] of cases) {
      const address = `${word}@example.org`;
      const delivery = await sent('email', address);
      await notify.setStatus(delivery.providerMessageId!, word);
      const now = (await herald.deliveries.get(delivery.id))!;
      expect(now).toMatchObject({ status, providerStatus: word });
      expect(outboxStatus(now)).toBe(outbox);
      expect(Boolean(await herald.suppressions.check('email', address))).toBe(suppressed);
    }
  });

  it('a replayed receipt changes nothing', async () => {
    const delivery = await sent();
    await notify.setStatus(delivery.providerMessageId!, 'delivered');
    const before = await herald.deliveries.events(delivery.id);
    const changes: string[] = [];
    const off = herald.on('delivery', (d) => changes.push(d.id));
    const replay = await post('/herald/govuk-notify-email/tracking', notify.receipt(delivery.providerMessageId!), `Bearer ${CALLBACK_TOKEN}`);
    off();
    expect(replay.status).toBe(200);
    expect(await herald.deliveries.events(delivery.id)).toEqual(before);
    expect(changes).toEqual([]);
    expect((await herald.deliveries.get(delivery.id))!.status).toBe('delivered');
  });

  it('a forged or missing bearer token → 403 / 401, nothing stored, and the token never reaches a log', async () => {
    const delivery = await sent();
    const receipt = { ...notify.receipt(delivery.providerMessageId!), status: 'delivered' };
    logs.length = 0;
    const forged = await post('/herald/govuk-notify-email/tracking', receipt, 'Bearer callback-token-0123456780');
    expect(forged.status).toBe(403);
    expect(await forged.json()).toEqual({ error: 'Notify callback bearer token does not match callbackToken' });
    expect((await post('/herald/govuk-notify-email/tracking', receipt)).status).toBe(401);
    expect((await post('/herald/govuk-notify-email/tracking', receipt, `Basic ${Buffer.from(`x:${CALLBACK_TOKEN}`).toString('base64')}`)).status).toBe(401);
    expect((await post('/herald/govuk-notify-email/tracking', receipt, `Bearer ${CALLBACK_TOKEN}x`)).status).toBe(403);
    expect(await herald.deliveries.events(delivery.id)).toEqual([]);
    expect((await herald.deliveries.get(delivery.id))!).toMatchObject({ status: 'sent', providerStatus: null });
    expect(secretLeaks(logs, [CALLBACK_TOKEN, API_KEY, SECRET])).toEqual([]);
  });

  it('a backend without callbackToken refuses every callback (401)', async () => {
    const closed = createHerald({ store: memoryStore(), backends: [govukNotifyEmail({ apiKey: API_KEY, baseUrl: notify.url, poll: false })], notifications: [welcome], logger: false });
    const res = await closed.webhooks.handle(
      new Request('https://app.example.org/herald/govuk-notify-email/tracking', { method: 'POST', headers: { authorization: `Bearer ${CALLBACK_TOKEN}`, 'content-type': 'application/json' }, body: '{}' }),
    );
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'callbackToken is not configured on backend "govuk-notify-email"; Notify\'s callbacks are refused' });
    await closed.close();
  });

  it('a body that is no receipt → 400 naming what is missing; a received text message → 400', async () => {
    const missing = await post('/herald/govuk-notify-email/tracking', { reference: 'x' }, `Bearer ${CALLBACK_TOKEN}`);
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ error: '[herald] [govuk-notify-email] not a Notify delivery receipt\n  - id: required\n  - status: required' });
    const inbound = await post('/herald/govuk-notify-email/tracking', { id: 'x', source_number: '447700900123', destination_number: '07797', message: 'hi', date_received: '2017-05-14T12:15:30.000000Z' }, `Bearer ${CALLBACK_TOKEN}`);
    expect(inbound.status).toBe(400);
    expect((await post('/herald/govuk-notify-email/tracking', [1, 2], `Bearer ${CALLBACK_TOKEN}`)).status).toBe(400);
  });

  it('a complaint callback → complained (and the address suppressed)', async () => {
    const delivery = await sent('email', 'grumpy@example.org');
    await notify.setStatus(delivery.providerMessageId!, 'delivered');
    const complaint = {
      notification_id: delivery.providerMessageId,
      complaint_id: 'a1b2c3d4-0000-4000-8000-000000000001',
      reference: delivery.id,
      to: 'grumpy@example.org',
      complaint_date: '2026-01-02T03:04:05.000000Z',
    };
    expect((await post('/herald/govuk-notify-email/tracking', complaint, `Bearer ${CALLBACK_TOKEN}`)).status).toBe(200);
    expect((await herald.deliveries.get(delivery.id))!.status).toBe('complained');
    expect(await herald.suppressions.check('email', 'grumpy@example.org')).toMatchObject({ reason: 'spam complaint' });
  });

  it('one callback URL for the service: routeNotifyCallback hands text-message receipts to the SMS backend', async () => {
    notify.setCallback({ url: `${origin}/notify/callback`, bearerToken: CALLBACK_TOKEN });
    const text = await sent('sms', '+447700900123');
    const mail = await sent('email', 'both@example.org');
    await notify.setStatus(text.providerMessageId!, 'delivered');
    await notify.setStatus(mail.providerMessageId!, 'delivered');
    expect((await herald.deliveries.get(text.id))!).toMatchObject({ backend: 'govuk-notify-sms', status: 'delivered', providerStatus: 'delivered' });
    expect((await herald.deliveries.get(mail.id))!).toMatchObject({ backend: 'govuk-notify-email', status: 'delivered' });
    const forged = await post('/notify/callback', notify.receipt(text.providerMessageId!), 'Bearer wrong-token-123');
    expect(forged.status).toBe(403);
  });

  // Without the router, Notify's one URL delivers SMS receipts to the email backend, whose store lookups are per backend.
  it('a text-message receipt posted to the email backend matches nothing (the reason routeNotifyCallback exists)', async () => {
    const text = await sent('sms', '+447700900124');
    notify.setCallback({ url: `${origin}/herald/govuk-notify-email/tracking`, bearerToken: CALLBACK_TOKEN });
    const res = await notify.setStatus(text.providerMessageId!, 'delivered');
    expect(res!.status).toBe(200);
    expect((await herald.deliveries.get(text.id))!.status).toBe('sent');
  });
});
