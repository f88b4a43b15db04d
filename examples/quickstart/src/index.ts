/**
 * Herald quick start: the embedded default (SQLite) and a real SMTP server on loopback — no accounts needed.
 *
 * 1. starts an SMTP catcher on 127.0.0.1 (a real smtp-server; in production this is your mail relay),
 * 2. defines two notifications with email templates in Markdown and HTML,
 * 3. notifies four recipients — one opted out of the category, one listed twice, one on a reserved test domain,
 * 4. drains the queue with the worker and prints every delivery's status and each caught message.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { smtp } from '@herald/backend-smtp';
import { createHerald, defineNotification } from '@herald/core';
import { sqliteStore } from '@herald/store-sqlite';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { z } from 'zod';

// ── 1. an SMTP catcher on loopback ────────────────────────────────────────────────────────────────
const caught: { to: string; subject: string; text: string; html: string }[] = [];
const catcher = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  onData(stream, _session, callback) {
    simpleParser(stream)
      .then((mail) => {
        const to = Array.isArray(mail.to) ? mail.to.map((a) => a.text).join(', ') : (mail.to?.text ?? '');
        caught.push({ to, subject: mail.subject ?? '', text: mail.text ?? '', html: typeof mail.html === 'string' ? mail.html : '' });
        callback();
      })
      .catch(callback);
  },
});
await new Promise<void>((resolve) => catcher.listen(0, '127.0.0.1', resolve));
const port = (catcher.server.address() as { port: number }).port;

// ── 2. notifications with per-channel templates ──────────────────────────────────────────────────
const orderShipped = defineNotification({
  id: 'order-shipped',
  category: 'orders',
  schema: z.object({ orderId: z.string(), items: z.array(z.string()), trackingUrl: z.string().url() }),
  templates: {
    email: {
      format: 'markdown',
      subject: 'Order {{orderId}} is on its way',
      body: [
        'Hi {{recipient.name}},',
        '',
        'Your order **{{orderId}}** has shipped:',
        '',
        '{{#each items}}',
        '- {{this}}',
        '{{/each}}',
        '',
        '[Track your parcel]({{trackingUrl}})',
      ].join('\n'),
    },
  },
});

const passwordChanged = defineNotification({
  id: 'password-changed',
  category: 'security',
  required: true, // preferences cannot silence it
  schema: z.object({ when: z.string() }),
  templates: {
    email: {
      format: 'html',
      subject: 'Your password was changed',
      body: '<p>Hello {{recipient.name}},</p><p>Your password was changed on <b>{{when}}</b>. Not you? <a href="https://shop.dev/reset">Reset it</a>.</p>',
    },
  },
});

// ── 3. Herald on the embedded default store ───────────────────────────────────────────────────────
const dir = mkdtempSync(join(tmpdir(), 'herald-quickstart-'));
const herald = createHerald({
  store: sqliteStore({ path: join(dir, 'herald.db') }),
  backends: [smtp({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, from: 'Shop <no-reply@shop.dev>' })],
  notifications: [orderShipped, passwordChanged],
  logger: false,
});

await herald.preferences.set('bob', ['orders']); // Bob opted out of order updates

const recipients = [
  { id: 'ada', name: 'Ada <Lovelace>', contacts: [{ protocol: 'email', address: 'ada@shop.dev' }] },
  { id: 'bob', name: 'Bob', contacts: [{ protocol: 'email', address: 'bob@shop.dev' }] },
  { id: 'cyd', name: 'Cyd', contacts: [{ protocol: 'email', address: 'cyd@shop.dev' }, { protocol: 'email', address: 'CYD@shop.dev' }] },
  { id: 'dev', name: 'Dev', contacts: [{ protocol: 'email', address: 'dev@example.com' }] },
];

const shipped = await herald.notify(orderShipped, { orderId: 'A-1001', items: ['Teapot', 'Two *fancy* cups'], trackingUrl: 'https://track.shop.dev/A-1001' }, recipients);
const security = await herald.notify(passwordChanged, { when: '23 Nov 2026, 09:30 UTC' }, recipients.slice(1, 2));

console.log('notify() results');
for (const [name, result] of [['order-shipped', shipped], ['password-changed', security]] as const) {
  console.log(`  ${name}: ${result.deliveries.length} queued`);
  for (const s of result.skipped) console.log(`    skipped ${s.address} (${s.reason})`);
}

// ── 4. run the worker until the queue is empty ────────────────────────────────────────────────────
const drained = await herald.drain({ concurrency: 4 });
console.log(`\nworker: ${drained.sent} sent, ${drained.failed} failed, ${drained.retrying} retrying\n`);

console.log('deliveries');
for (const d of await herald.deliveries.list()) {
  console.log(`  ${d.notification.padEnd(17)} ${d.address.padEnd(16)} ${d.status.padEnd(8)} ${d.skipReason ?? `attempts=${d.attempts}`}`);
}

console.log('\ncaught by the SMTP server');
for (const m of caught) {
  console.log(`  to ${m.to} — "${m.subject}"`);
  console.log(`${m.text.trim().replace(/^/gm, '      ')}`);
}

await herald.close();
await new Promise<void>((resolve) => catcher.close(() => resolve()));
rmSync(dir, { recursive: true, force: true });

if (drained.sent !== 3 || caught.length !== 3) {
  console.error(`expected 3 messages, got ${caught.length}`);
  process.exit(1);
}
