/**
 * Herald multi-channel: ONE notification with a template for each of the six protocols, sent to one recipient who
 * has a contact on each — email, SMS, Slack, a JSON webhook, Twitter and XMPP — plus the shop's Twitter timeline
 * as a site contact. Every provider is a local server this script starts (see local-servers.ts), so it runs with
 * no account and no network. XMPP needs Debian's prosody (`scripts/prosody.sh install`); without it the example
 * says so and skips only XMPP.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonWebhook } from '@herald/backend-json-webhook';
import { slack } from '@herald/backend-slack';
import { smtp } from '@herald/backend-smtp';
import { twilio } from '@herald/backend-twilio';
import { twitter } from '@herald/backend-twitter';
import { xmpp } from '@herald/backend-xmpp';
import { type Backend, createHerald, defineNotification, type Recipient } from '@herald/core';
import { sqliteStore } from '@herald/store-sqlite';
import twilioSdk from 'twilio';
import { z } from 'zod';
import { type Inbox, jsonReceiver, slackWebhook, startHttp, startProsody, startSmtp, twilioApi, twitterApi } from './local-servers';

// ── 1. local stand-ins for the providers ──────────────────────────────────────────────────────────
const inboxes: Record<string, Inbox> = { smtp: [], twilio: [], slack: [], 'json-webhook': [], twitter: [], xmpp: [] };
const WEBHOOK_SECRET = `whsec_${Buffer.from('multi-channel-example-secret-32b').toString('base64')}`;
const mailServer = await startSmtp(inboxes.smtp!);
const twilioServer = await startHttp(twilioApi(inboxes.twilio!));
const slackServer = await startHttp(slackWebhook(inboxes.slack!));
const receiver = await startHttp(jsonReceiver(inboxes['json-webhook']!, WEBHOOK_SECRET));
const twitterServer = await startHttp(twitterApi(inboxes.twitter!, { ada_lovelace: '2244994945' }));
const prosody = await startProsody(inboxes.xmpp!).catch((error: unknown) => {
  console.log(`XMPP: prosody is installed but did not start (${error instanceof Error ? error.message : error}); skipping XMPP.`);
  return null;
});
if (!prosody) console.log('XMPP: prosody is not available (install it with `scripts/prosody.sh install`); XMPP contacts will be skipped.\n');

/** twilio's own transport, with api.twilio.com rewritten onto the local server. */
class LocalTwilio extends twilioSdk.RequestClient {
  override request<T>(opts: Parameters<twilioSdk.RequestClient['request']>[0] & { data?: T }) {
    const uri = new URL(opts.uri);
    return super.request<T>({ ...opts, uri: twilioServer.origin + uri.pathname + uri.search });
  }
}

// ── 2. one backend per protocol, each pointed at its local server ─────────────────────────────────
const backends: Backend[] = [
  smtp({ host: '127.0.0.1', port: mailServer.port, secure: false, ignoreTLS: true, from: 'Shop <no-reply@shop.dev>' }),
  twilio({ accountSid: `AC${'0123456789abcdef'.repeat(2)}`, authToken: 'example-auth-token', from: '+14155550100', httpClient: new LocalTwilio() }),
  slack({ allowedHosts: [`127.0.0.1:${slackServer.port}`], allowInsecure: true }),
  jsonWebhook({ secret: WEBHOOK_SECRET, allowPrivateNetworks: true }),
  twitter({
    appKey: 'example-app-key',
    appSecret: 'example-app-secret',
    accessToken: 'example-access-token',
    accessSecret: 'example-access-secret',
    truncate: true,
    // twitter-api-v2 always speaks https: send its requests to the local server instead.
    clientSettings: {
      httpAgent: new http.Agent(),
      plugins: [
        {
          onBeforeRequest({ computedParams }: { computedParams: { url: URL } }) {
            computedParams.url.protocol = 'http:';
            computedParams.url.host = `127.0.0.1:${twitterServer.port}`;
          },
        },
      ],
    },
  }),
];
// `test: true`: bob@localhost is on a reserved test domain, which only test backends deliver to.
if (prosody) backends.push(xmpp({ service: prosody.service, domain: 'localhost', ...prosody.alice, test: true }));

// ── 3. one notification, a template per protocol ──────────────────────────────────────────────────
const orderShipped = defineNotification({
  id: 'order-shipped',
  category: 'orders',
  schema: z.object({ orderId: z.string(), carrier: z.string(), trackingUrl: z.string().url() }),
  templates: {
    email: {
      format: 'markdown',
      subject: 'Order {{orderId}} is on its way',
      body: 'Hi {{recipient.name}},\n\nYour order **{{orderId}}** left with {{carrier}}. [Track it]({{trackingUrl}}).',
    },
    sms: { format: 'text', body: 'Order {{orderId}} shipped with {{carrier}}: {{trackingUrl}}' },
    'slack-webhook': {
      format: 'params',
      subject: 'Order {{orderId}} shipped',
      body: {
        text: 'Order {{orderId}} shipped',
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*{{orderId}}* left with {{carrier}} — <{{trackingUrl}}|track it>' } }],
      },
    },
    'json-webhook': {
      format: 'params',
      body: { event: 'order.shipped', orderId: '{{orderId}}', carrier: '{{carrier}}', trackingUrl: '{{trackingUrl}}' },
    },
    // An empty address (the site contact below) posts to the timeline; a handle gets a direct message.
    twitter: { format: 'text', body: '📦 {{orderId}} shipped with {{carrier}}: {{trackingUrl}}' },
    xmpp: { format: 'text', body: 'Order {{orderId}} shipped with {{carrier}}. Track it: {{trackingUrl}}' },
  },
});

// ── 4. Herald on SQLite; notify one recipient with six contacts ───────────────────────────────────
const dir = mkdtempSync(join(tmpdir(), 'herald-multi-channel-'));
const herald = createHerald({
  store: sqliteStore({ path: join(dir, 'herald.db') }),
  backends,
  notifications: [orderShipped],
  siteContacts: [{ name: 'shop timeline', protocol: 'twitter', address: '' }],
  logger: false,
});

const ada: Recipient = {
  id: 'ada',
  name: 'Ada',
  contacts: [
    { protocol: 'email', address: 'ada@shop.dev' },
    { protocol: 'sms', address: '+14155550123' },
    { protocol: 'slack-webhook', address: `${slackServer.origin}/services/T000/B000/XXXXXXXX` },
    { protocol: 'json-webhook', address: `${receiver.origin}/hooks/herald` },
    { protocol: 'twitter', address: '@ada_lovelace' },
    { protocol: 'xmpp', address: 'bob@localhost' }, // the local XMPP server's second test account stands in for Ada's JID
  ],
};

const result = await herald.notify(orderShipped, { orderId: 'A-1001', carrier: 'Parcel & Co', trackingUrl: 'https://track.shop.dev/A-1001' }, [ada]);
console.log(`notify(): ${result.deliveries.length} deliveries queued, ${result.skipped.length} skipped`);
for (const s of result.skipped) console.log(`  skipped ${s.protocol} ${s.address} (${s.reason})`);

// ── 5. drain and report ───────────────────────────────────────────────────────────────────────────
const drained = await herald.drain({ concurrency: 6 });
console.log(`\nworker: ${drained.sent} sent, ${drained.failed} failed, ${drained.retrying} retrying\n`);

console.log('deliveries');
const deliveries = await herald.deliveries.list({ batchId: result.batchId });
for (const d of deliveries.sort((a, b) => a.protocol.localeCompare(b.protocol))) {
  const address = d.address === '' ? '(timeline)' : d.address;
  console.log(`  ${d.protocol.padEnd(13)} ${(d.backend ?? '-').padEnd(12)} ${d.status.padEnd(8)} ${address}${d.providerMessageId ? `  id=${d.providerMessageId}` : ''}${d.lastError ? `  error=${d.lastError}` : ''}`);
}

console.log('\nwhat each server received');
for (const [server, lines] of Object.entries(inboxes)) {
  console.log(`  ${server}${server === 'xmpp' && !prosody ? ' (skipped: prosody not available)' : ''}`);
  for (const line of lines) console.log(`    ${line}`);
}

await herald.close();
await Promise.all([mailServer, twilioServer, slackServer, receiver, twitterServer].map((s) => s.close()));
await prosody?.close();
rmSync(dir, { recursive: true, force: true });

const expected = prosody ? 7 : 6;
if (drained.sent !== expected || deliveries.some((d) => d.status === 'failed')) {
  console.error(`\nexpected ${expected} deliveries sent`);
  process.exitCode = 1;
}
