/**
 * Herald webhooks example: a Hono app receives Postmark and Postal webhooks and prints the normalized events.
 *
 * 1. starts two loopback stand-ins for the Postmark and Postal APIs (so nothing leaves this machine),
 * 2. sends one welcome email through each backend (notify → drain),
 * 3. mounts `herald.webhooks.handle` in a Hono app: `app.all('/herald/*', (c) => herald.webhooks.handle(c.req.raw))`,
 * 4. replays the providers' documented webhook payloads against it (basic auth / RSA-signed),
 * 5. prints every normalized tracking and inbound event, the final delivery statuses and the suppression list.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { postal } from '@herald/backend-postal';
import { postmark } from '@herald/backend-postmark';
import { createHerald, defineNotification } from '@herald/core';
import { sqliteStore } from '@herald/store-sqlite';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { z } from 'zod';
import { replayFixtures } from './replay';

// ── 1. loopback stand-ins for the providers' send APIs (message ids match the fixture payloads) ──────
const fakeApis = createServer((req, res) => {
  req.resume().on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.url === '/email') {
      res.end(JSON.stringify({ To: 'ada@example.org', SubmittedAt: new Date().toISOString(), MessageID: '5b3f1a6e-2c47-4f0e-9d11-0a5c7d2e8b41', ErrorCode: 0, Message: 'OK' }));
    } else {
      res.end(JSON.stringify({ status: 'success', time: 0.01, flags: {}, data: { message_id: 'w@rp.postal.test', messages: { 'ada@example.org': { id: 4821, token: 'Jq4nW8xZ' } } } }));
    }
  });
});
await new Promise<void>((resolve) => fakeApis.listen(0, '127.0.0.1', resolve));
const apiUrl = `http://127.0.0.1:${(fakeApis.address() as AddressInfo).port}`;

// Postal signs webhooks with its DKIM key; `webhookKey` is the public half (the `p=` value of its DKIM record).
const postalKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const postmarkHook = { username: 'postmark', password: 'example-hook-password' };

const welcome = defineNotification({
  id: 'welcome',
  schema: z.object({ plan: z.string() }),
  templates: { email: { format: 'markdown', subject: 'Welcome to {{plan}}', body: 'Hello {{recipient.name}}, welcome to **{{plan}}**.' } },
});

// ── 2. Herald with both backends (`test: true`: the fixtures use reserved example.org addresses) ────
const herald = createHerald({
  store: sqliteStore({ path: ':memory:' }),
  backends: [
    postmark({ serverToken: 'example-server-token', apiUrl, webhookAuth: postmarkHook, defaults: { from: 'shop@example.net' }, test: true }),
    postal({
      apiUrl,
      apiKey: 'example-postal-key',
      webhookKey: postalKey.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
      defaults: { from: 'shop@example.net' },
      test: true,
    }),
  ],
  notifications: [welcome],
  logger: false,
});

herald.on('tracking', (event, delivery) => {
  const who = event.recipient ?? '-';
  const why = event.rejectReason ? ` reason=${event.rejectReason}` : '';
  const link = event.clickUrl ? ` url=${event.clickUrl}` : '';
  console.log(`   tracking ${event.eventType.padEnd(12)} ${who.padEnd(18)} delivery=${delivery ? `${delivery.id} (${delivery.status})` : 'none'}${why}${link}`);
});
herald.on('inbound', (event, backend) => {
  const m = event.message;
  console.log(`   inbound  [${backend}] from ${m.from} to ${m.to.join(', ')}: "${m.subject}" (${m.attachments.length} attachment(s))`);
});

const ada = { id: 'ada', name: 'Ada', contacts: [{ protocol: 'email', address: 'ada@example.org', backend: 'postmark' }] };
const adaViaPostal = { id: 'ada', name: 'Ada', contacts: [{ protocol: 'email', address: 'ada@example.org', backend: 'postal' }] };
const sent = [...(await herald.notify(welcome, { plan: 'Pro' }, [ada])).deliveries, ...(await herald.notify(welcome, { plan: 'Pro' }, [adaViaPostal])).deliveries];
const drained = await herald.drain();
console.log(`sent ${drained.sent} welcome email(s): ${sent.map((d) => `${d.backend}:${d.id}`).join(', ')}`);

// ── 3. the webhook endpoint: any Fetch-API framework mounts it in one line ──────────────────────────
const app = new Hono();
app.all('/herald/*', (c) => herald.webhooks.handle(c.req.raw));
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
await new Promise<void>((resolve) => server.once('listening', resolve));
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/herald`;

// ── 4. replay the documented payloads ─────────────────────────────────────────────────────────────
console.log(`replaying fixtures against ${baseUrl}`);
const statuses = await replayFixtures({ baseUrl, postmark: postmarkHook, postalPrivateKey: postalKey.privateKey });

// ── 5. where everything ended up ──────────────────────────────────────────────────────────────────
for (const d of sent) {
  const now = await herald.deliveries.get(d.id);
  const events = await herald.deliveries.events(d.id);
  console.log(`delivery ${d.backend}:${d.id} → ${now?.status} after ${events.map((e) => e.eventType).join(', ')}`);
}
const suppressed = await herald.suppressions.check('email', 'ada@example.org');
console.log(`suppressed: ada@example.org (${suppressed?.reason ?? 'not suppressed'})`);
const again = await herald.notify(welcome, { plan: 'Pro' }, [ada]);
console.log(`notify again → skipped: ${again.skipped.map((s) => `${s.address} (${s.reason})`).join(', ')}`);

await herald.close();
await new Promise<void>((resolve) => server.close(() => resolve()));
await new Promise<void>((resolve) => fakeApis.close(() => resolve()));

const expected = [200, 200, 200, 403, 200, 200, 200, 200, 200, 200, 200, 200, 403, 200, 200, 200, 200, 200, 200, 400];
if (statuses.join() !== expected.join()) {
  console.error(`unexpected webhook answers: ${statuses.join(', ')}`);
  process.exit(1);
}
console.log('done');
