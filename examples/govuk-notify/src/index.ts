// GOV.UK Notify through Herald, the way django-govuk-notify-outbox users run it: emails and text messages by template
// id, a worker that sends and retries, delivery receipts through Notify's callback, and the status polling the seed's
// Celery-beat `sync` did — every delivery shown in the seed's ten states as it moves. Everything runs on loopback: a
// stand-in Notify (`@herald/backend-govuk-notify/testing`) checks each request's JWT and posts receipts back.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  govukNotifyEmail,
  govukNotifyEmailNotification,
  govukNotifySms,
  type OutboxStatus,
  outboxStatus,
  routeNotifyCallback,
  sendEmailNotification,
} from '@herald/backend-govuk-notify';
import { startFakeNotify } from '@herald/backend-govuk-notify/testing';
import { createHerald, defineNotification, type Delivery, toNodeHandler } from '@herald/core';
import { sqliteStore } from '@herald/store-sqlite';
import { z } from 'zod';

const WELCOME = '9d751e0e-f929-4891-82a1-a3e1c3c18ee3';
const RECEIVED = '2a4f6c8e-0b1d-4e3f-8a5b-7c9d1e2f3a4b';
const CODE = 'a3c1f2d4-5b6e-4f70-8a91-b2c3d4e5f601';
const CALLBACK_TOKEN = 'a-long-random-callback-token';

// ── the Notify service: its templates, and where its delivery receipts go ──
const notify = await startFakeNotify({
  templates: [
    { id: WELCOME, type: 'email', subject: 'Welcome, ((first_name))', body: 'Dear ((first_name)), your account is ready.' },
    { id: RECEIVED, type: 'email', subject: 'Application ((reference))', body: 'We received ((reference)). Your receipt: ((link_to_file))' },
    { id: CODE, type: 'sms', body: 'Your code is ((code))' },
  ],
});

const applicationReceived = defineNotification({
  id: 'application-received',
  schema: z.object({ reference: z.string(), code: z.string() }),
  templates: {
    email: { format: 'params', body: { templateId: RECEIVED, reference: '{{reference}}' } },
    sms: { format: 'params', body: `templateId: ${CODE}\ncode: {{code}}` },
  },
  attachments: (data) => [{ filename: `receipt-${data.reference}.txt`, contentType: 'text/plain', content: `Application ${data.reference} received.` }],
});

const folder = mkdtempSync(join(tmpdir(), 'herald-govuk-notify-'));
const common = { apiKey: notify.apiKey, baseUrl: notify.url, callbackToken: CALLBACK_TOKEN, poll: { after: '1s', every: '1s' } } as const;
const email = govukNotifyEmail({ ...common, test: true }); // `test`: example.org addresses are accepted
const sms = govukNotifySms(common);
const herald = createHerald({
  store: sqliteStore({ path: join(folder, 'herald.db') }), // a durable outbox, polled across workers

  backends: [email, sms],
  notifications: [govukNotifyEmailNotification, applicationReceived],
  retry: { maxAttempts: 4, maxAge: '1h', backoff: { type: 'fixed', delay: 200 } },
  logger: false,
});

// ── Herald's webhook endpoint: Notify has one callback URL for the service, routed by notification type ──
const server = createServer(
  toNodeHandler(async (request) => (new URL(request.url).pathname === '/notify/callback' ? herald.webhooks.handle(await routeNotifyCallback(request, { email, sms })) : herald.webhooks.handle(request))),
);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const callbackUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify/callback`;
notify.setCallback({ url: callbackUrl, bearerToken: CALLBACK_TOKEN });

// ── watch every delivery move through the seed's states ──
const tracked = new Map<string, { label: string; states: OutboxStatus[] }>();
const column = 22;
function track(label: string, delivery: Delivery): void {
  const state = outboxStatus(delivery);
  tracked.set(delivery.id, { label, states: state ? [state] : [] });
  console.log(`${label.padEnd(column)} ${state}`);
}
const watcher = setInterval(async () => {
  for (const [id, entry] of tracked) {
    const now = await herald.deliveries.get(id);
    const state = now ? outboxStatus(now) : null;
    if (state && entry.states.at(-1) !== state) {
      entry.states.push(state);
      console.log(`${entry.label.padEnd(column)} ${state}${now?.providerStatus ? `  (Notify: ${now.providerStatus})` : ''}`);
    }
  }
}, 25);
async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400 && !(await check()); i++) await new Promise((resolve) => setTimeout(resolve, 25));
}
const stateOf = async (id: string) => {
  const delivery = await herald.deliveries.get(id);
  return delivery ? outboxStatus(delivery) : null;
};

// 1. The seed's call: send_email_notification(email_address, template_id, personalisation …), fire and forget.
const welcome = await sendEmailNotification(herald, WELCOME, 'amala@example.org', { personalisation: { first_name: 'Amala' }, reference: 'user-42' });
track('welcome email', welcome);

// 2. A notification of the app: an email with a file by email, and a text message.
const { deliveries } = await herald.notify(applicationReceived, { reference: 'HDJ2123F', code: '4821' }, [
  { id: 'amala', contacts: [{ protocol: 'email', address: 'amala@example.org' }, { protocol: 'sms', address: '+447700900123' }] },
]);
const [receivedEmail, codeSms] = deliveries as [Delivery, Delivery];
track('application email', receivedEmail);
track('code text message', codeSms);

// 3. Some that go wrong: a mailbox that does not exist, a phone that is off, a template id Notify does not know.
const bounce = await sendEmailNotification(herald, WELCOME, 'nobody@example.org', { personalisation: { first_name: 'Nobody' } });
track('email to nobody', bounce);
const { deliveries: [phoneOff] } = await herald.notify(applicationReceived, { reference: 'HDJ2124G', code: '1234' }, [{ contacts: [{ protocol: 'sms', address: '+447700900456' }] }]);
track('text to a phone off', phoneOff!);
const unknown = await sendEmailNotification(herald, '00000000-0000-4000-8000-000000000000', 'amala@example.org');
track('unknown template', unknown);

// The worker's first request meets a Notify outage (a 500): that delivery is retried.
notify.answerNext(500, { errors: [{ error: 'Exception', message: 'Internal server error' }], status_code: 500 });

const worker = herald.worker({ pollInterval: 50 });
const sent = async (id: string) => (await herald.deliveries.get(id))?.status === 'sent';
await until(async () => (await Promise.all([welcome.id, receivedEmail.id, codeSms.id, bounce.id, phoneOff!.id].map(sent))).every(Boolean));
await until(async () => (await stateOf(unknown.id)) === 'failed-send-to-notify');
console.log(`unknown template       ${(await herald.deliveries.get(unknown.id))?.lastError}`);
const notifyId = async (id: string) => (await herald.deliveries.get(id))!.providerMessageId!;

// Notify moves the welcome email along; polling sees created and sending, the receipt brings delivered.
await until(async () => (await stateOf(welcome.id)) === 'notify-created');
await notify.setStatus(await notifyId(welcome.id), 'sending');
await until(async () => (await stateOf(welcome.id)) === 'notify-sending');
await notify.setStatus(await notifyId(welcome.id), 'delivered');
// The others get their receipts straight away.
await notify.setStatus(await notifyId(receivedEmail.id), 'delivered');
await notify.setStatus(await notifyId(codeSms.id), 'delivered');
await notify.setStatus(await notifyId(bounce.id), 'permanent-failure');
await notify.setStatus(await notifyId(phoneOff!.id), 'temporary-failure');
await until(
  async () =>
    (await stateOf(bounce.id)) === 'notify-permanent-failure' && (await stateOf(welcome.id)) === 'notify-delivered' && (await stateOf(phoneOff!.id)) === 'notify-temporary-failure',
);
await new Promise((resolve) => setTimeout(resolve, 100));

// A forged receipt and a replayed one change nothing.
const receipt = notify.receipt(await notifyId(receivedEmail.id));
const forged = await fetch(callbackUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer guessed-token-123' }, body: JSON.stringify({ ...receipt, status: 'permanent-failure' }) });
console.log(`forged receipt         ${forged.status}`);
const kept = (await herald.deliveries.events(receivedEmail.id)).length;
const replay = await fetch(callbackUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${CALLBACK_TOKEN}` }, body: JSON.stringify(receipt) });
const after = (await herald.deliveries.events(receivedEmail.id)).length;
console.log(`replayed receipt       ${replay.status}, events ${kept} → ${after}`);

// Notify said the mailbox does not exist: the address is suppressed, and the next email to it is not sent.
const again = await sendEmailNotification(herald, WELCOME, 'nobody@example.org', { personalisation: { first_name: 'Nobody' } });
console.log(`email to nobody again  ${again.status} (${again.skipReason})`);

const upload = notify.uploads[0];
console.log(`file by email          ${upload?.filename} (${upload?.content.length} bytes) under ((${upload?.key}))`);
console.log(`welcome found by reference: ${(await herald.deliveries.list({ dedupeKey: 'user-42' })).map((d) => d.id).join(', ') === welcome.id}`);

clearInterval(watcher);
await worker.stop();
await herald.close();
await new Promise<void>((resolve) => server.close(() => resolve()));
await notify.close();
rmSync(folder, { recursive: true, force: true });
for (const { label, states } of tracked.values()) console.log(`${label}: ${states.join(' → ')}`);
console.log('done');
