/**
 * Herald SendGrid example (postmaster's provider), everything on loopback:
 *
 * 1. a stand-in for SendGrid's v3 mail send API, and a P-256 key pair standing in for SendGrid's webhook signing key,
 * 2. a welcome email (markdown) and a receipt (a dynamic template: template id + dynamic_template_data) sent through
 *    `@herald/backend-sendgrid` (notify → drain),
 * 3. `herald.webhooks.handle` mounted on node:http,
 * 4. signed Event Webhook batches posted at it the way SendGrid posts them — then a forged one, a stale one and a
 *    replay — and an Inbound Parse post (multipart, basic auth),
 * 5. the delivery statuses, the suppression list and a second notify that skips the bounced address.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendgrid } from '@herald/backend-sendgrid';
import { createHerald, defineNotification, toNodeHandler } from '@herald/core';
import { sqliteStore } from '@herald/store-sqlite';
import { z } from 'zod';
import { sendgridSigner, startSendgridApi } from './stand-ins';

const API_KEY = 'SG.example-key.not-a-real-one';
const PARSE_AUTH = { username: 'sendgrid', password: 'example-parse-password' };

// ── 1. stand-ins ─────────────────────────────────────────────────────────────────────────────────
const api = await startSendgridApi(API_KEY);
const signer = sendgridSigner();

const welcome = defineNotification({
  id: 'welcome',
  schema: z.object({ plan: z.string() }),
  category: 'account',
  templates: { email: { format: 'markdown', subject: 'Welcome to {{plan}}', body: 'Hello {{recipient.name}}, welcome to **{{plan}}**.' } },
});
const receipt = defineNotification({
  id: 'receipt',
  schema: z.object({ orderId: z.string(), total: z.string() }),
  category: 'orders',
  // The subject of a params template is the dynamic template id (Email API → Dynamic Templates in SendGrid).
  templates: { sendgrid: { format: 'params', subject: 'd-0f1e2d3c4b5a69788796a5b4c3d2e1f0', body: { name: '{{recipient.name}}', order: { id: '{{orderId}}', total: '{{total}}' } } } },
});

// ── 2. Herald with the SendGrid backend (`test: true`: the example uses reserved example.org addresses) ─
const herald = createHerald({
  store: sqliteStore({ path: ':memory:' }),
  backends: [
    sendgrid({
      apiKey: API_KEY,
      baseUrl: api.url,
      ipPoolName: 'transactional',
      webhookPublicKey: signer.publicKey,
      inboundAuth: PARSE_AUTH,
      defaults: { from: 'Shop <shop@example.net>', tags: ['shop'] },
      test: true,
    }),
  ],
  notifications: [welcome, receipt],
  logger: false,
});
herald.on('tracking', (event, delivery) => {
  const why = event.rejectReason ? ` reason=${event.rejectReason}` : '';
  console.log(`   tracking ${event.eventType.padEnd(10)} ${(event.recipient ?? '-').padEnd(16)} delivery=${delivery ? `${delivery.notification} (${delivery.status})` : 'none'}${why}`);
});
herald.on('inbound', (event) => {
  const m = event.message;
  console.log(`   inbound  from ${m.from} to ${m.to.join(', ')}: "${m.subject}" (${m.attachments.length} attachment(s))`);
});

const ada = { id: 'ada', name: 'Ada', contacts: [{ protocol: 'email', address: 'ada@example.org' }] };
const bob = { id: 'bob', name: 'Bob', contacts: [{ protocol: 'email', address: 'bob@example.org' }] };
const deliveries = [
  ...(await herald.notify(welcome, { plan: 'Pro' }, [ada, bob])).deliveries,
  ...(await herald.notify(receipt, { orderId: 'A1', total: '42.00 EUR' }, [ada])).deliveries,
];
const drained = await herald.drain();
console.log(`sent ${drained.sent} message(s) to the SendGrid stand-in:`);
for (const mail of api.sent) {
  const what = mail.body.template_id ? `template ${mail.body.template_id}` : `"${mail.body.subject}"`;
  console.log(`   ${mail.messageId} → ${mail.body.personalizations[0]!.to[0]!.email} ${what} herald_delivery_id=${mail.body.custom_args?.herald_delivery_id}`);
}

// ── 3. the webhook endpoint ─────────────────────────────────────────────────────────────────────
const server = createServer(toNodeHandler(herald.webhooks.handle));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/herald/sendgrid`;

// ── 4. what SendGrid posts ──────────────────────────────────────────────────────────────────────
/** SendGrid's events for one delivery: its custom args, its X-Message-Id inside sg_message_id. */
async function eventsFor(index: number, types: string[]) {
  const d = (await herald.deliveries.get(deliveries[index]!.id))!;
  return types.map((event, i) => ({
    email: d.address,
    timestamp: Math.floor(Date.now() / 1000) + i,
    event,
    ...(event === 'bounce' ? { type: 'bounce', reason: '550 5.1.1 The email account that you tried to reach does not exist.', status: '5.1.1' } : {}),
    ...(event === 'click' ? { url: 'https://shop.example.org/orders/A1' } : {}),
    category: ['shop'],
    sg_event_id: Buffer.from(`${d.id}:${event}`).toString('base64url'),
    sg_message_id: `${d.providerMessageId}.filterdrecv-7bd4dd59b7-m4b8t-1-6745C1E2-8.0`,
    herald_delivery_id: d.id,
  }));
}
const batch = [
  ...(await eventsFor(0, ['processed', 'delivered', 'open'])),
  ...(await eventsFor(1, ['processed', 'bounce'])),
  ...(await eventsFor(2, ['processed', 'delivered', 'click'])),
];
const statuses: number[] = [];
async function postEvents(what: string, headers: Record<string, string>, body: Uint8Array) {
  const response = await fetch(`${baseUrl}/tracking`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  statuses.push(response.status);
  console.log(`POST /tracking ${what.padEnd(38)} ${response.status} ${await response.text()}`);
}
const body = new TextEncoder().encode(JSON.stringify(batch));
await postEvents('signed batch of 8 events', signer.headers(body), body);
await postEvents('forged (signed with another key)', sendgridSigner().headers(body), body);
await postEvents('stale (signed an hour ago)', signer.headers(body, String(Math.floor(Date.now() / 1000) - 3600)), body);
await postEvents('replay (same events, fresh signature)', signer.headers(body), body);

const form = new FormData();
form.append('headers', 'From: Ada <ada@example.org>\r\nTo: Support <support@inbound.example.net>\r\nSubject: Re: Your order A1\r\nMessage-ID: <reply-a1@example.org>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n');
form.append('text', 'Where is my order?');
form.append('envelope', JSON.stringify({ to: ['support@inbound.example.net'], from: 'ada@example.org' }));
form.append('spam_score', '0.1');
form.append('attachments', '1');
form.append('attachment-info', JSON.stringify({ attachment1: { filename: 'photo.txt', type: 'text/plain' } }));
form.append('attachment1', new Blob(['a photo, in words'], { type: 'text/plain' }), 'photo.txt');
const authorization = `Basic ${Buffer.from(`${PARSE_AUTH.username}:${PARSE_AUTH.password}`).toString('base64')}`;
const parse = await fetch(`${baseUrl}/inbound`, { method: 'POST', headers: { authorization }, body: form });
statuses.push(parse.status);
console.log(`POST /inbound  Inbound Parse (multipart, basic auth)       ${parse.status} ${await parse.text()}`);

// ── 5. where everything ended up ────────────────────────────────────────────────────────────────
for (const d of deliveries) {
  const now = await herald.deliveries.get(d.id);
  const events = await herald.deliveries.events(d.id);
  console.log(`delivery ${d.notification}:${d.address} → ${now?.status} after ${events.map((e) => e.eventType).join(', ')}`);
}
const suppressed = await herald.suppressions.check('email', 'bob@example.org');
console.log(`suppressed: bob@example.org (${suppressed?.reason ?? 'not suppressed'})`);
const again = await herald.notify(welcome, { plan: 'Pro' }, [bob]);
console.log(`notify bob again → skipped: ${again.skipped.map((s) => `${s.address} (${s.reason})`).join(', ')}`);

await herald.close();
await new Promise<void>((resolve) => server.close(() => resolve()));
await api.close();

const expected = [200, 403, 403, 200, 200];
if (statuses.join() !== expected.join()) {
  console.error(`unexpected webhook answers: ${statuses.join(', ')} (expected ${expected.join(', ')})`);
  process.exit(1);
}
console.log('done');
