import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHerald, type Delivery, defineNotification, type Store, TransientError } from '@herald/core';
import { memoryStore } from '@herald/core/testing';
import { sqliteStore } from '@herald/store-sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { govukNotifyEmail, type OutboxStatus, outboxStatus } from '../src';
import { FAKE_TEMPLATES, type FakeNotify, notifyError, startFakeNotify } from '../src/testing';
import { API_KEY, jwt, SECRET, SERVICE_ID, until } from './_helpers';

const welcome = defineNotification({
  id: 'welcome',
  schema: z.object({ name: z.string() }),
  templates: { email: { format: 'params', body: { templateId: FAKE_TEMPLATES.email, text: 'Welcome {{name}}' } } },
});

let notify: FakeNotify;
const folder = mkdtempSync(join(tmpdir(), 'herald-notify-poll-'));
beforeAll(async () => {
  notify = await startFakeNotify({ serviceId: SERVICE_ID, keys: [{ name: 'herald_test', secret: SECRET }] });
});
afterAll(async () => {
  await notify.close();
  rmSync(folder, { recursive: true, force: true });
});

/** A `sent` delivery as the store hands it to `poll.fetch`. */
function makeDelivery(fields: Partial<Delivery> & { id: string }): Delivery {
  const now = new Date();
  return {
    batchId: 'bat_1', notification: 'welcome', category: null, recipientId: null, protocol: 'email', address: 'ada@example.org',
    backend: 'govuk-notify-email', status: 'sent', skipReason: null, dedupeKey: null, attempts: 1, maxAttempts: 8,
    providerMessageId: null, lastError: null, message: null, createdAt: now, updatedAt: now, nextAttemptAt: null, expiresAt: null,
    leaseOwner: null, leaseUntil: null, sentAt: now, providerStatus: null,
    ...fields,
  };
}

const lookups = (id: string) => notify.requests.filter((r) => r.method === 'GET' && r.path === `/v2/notifications/${id}`);

// A real SQLite file: claimPolls marks what it hands out, so the two workers below share one poll schedule.
const stores: [string, () => Store][] = [
  ['memory store', () => memoryStore()],
  ['SQLite store', () => sqliteStore({ path: join(folder, `poll-${Date.now()}.db`) })],
];

describe.each(stores)('polling through herald.worker() (%s)', (_label, makeStore) => {
  it('asks Notify about sent deliveries every second until they are final, showing the seed’s ten states exactly', async () => {
    const store = makeStore();
    // No callbackToken: polling alone settles the deliveries (the seed's Celery-beat sync).
    const backend = govukNotifyEmail({ apiKey: API_KEY, baseUrl: notify.url, test: true, poll: { after: '1s', every: '1s', batchSize: 10, perSecond: 20 } });
    const options = { store, backends: [backend], notifications: [welcome], logger: false as const };
    const herald = createHerald(options);
    // A second process sharing the store: each delivery is still asked about at most once a second.
    const other = createHerald(options);
    const { deliveries } = await herald.notify(welcome, { name: 'Ada' }, [
      { id: 'a', contacts: [{ protocol: 'email', address: 'ada@example.org' }] },
      { id: 'b', contacts: [{ protocol: 'email', address: 'bob@example.org' }] },
    ]);
    const [a, b] = deliveries as [Delivery, Delivery];
    const seen: OutboxStatus[] = [outboxStatus(a)!];
    const watch = setInterval(async () => {
      const now = await store.get(a.id);
      const state = now ? outboxStatus(now) : null;
      if (state && seen.at(-1) !== state) seen.push(state);
    }, 20);
    const workers = [herald.worker({ pollInterval: 50 }), other.worker({ pollInterval: 50 })];
    try {
      await until(async () => (await store.get(a.id))?.status === 'sent' && (await store.get(b.id))?.status === 'sent');
      const sentA = (await store.get(a.id))!;
      const sentB = (await store.get(b.id))!;
      expect(lookups(sentA.providerMessageId!)).toEqual([]);
      await notify.setStatus(sentB.providerMessageId!, 'temporary-failure');

      await until(async () => (await store.get(a.id))?.providerStatus === 'created');
      await notify.setStatus(sentA.providerMessageId!, 'sending');
      await until(async () => (await store.get(a.id))?.providerStatus === 'sending');
      await notify.setStatus(sentA.providerMessageId!, 'delivered');
      await until(async () => (await store.get(a.id))?.status === 'delivered' && (await store.get(b.id))?.status === 'failed');
      await new Promise((resolve) => setTimeout(resolve, 100));

      expect(seen).toEqual(['sending-to-notify', 'sent-to-notify', 'notify-created', 'notify-sending', 'notify-delivered']);
      expect((await store.get(a.id))!).toMatchObject({ status: 'delivered', providerStatus: 'delivered' });
      expect((await store.events(a.id)).map((e) => [e.eventType, e.providerStatus, e.deliveryId])).toEqual([
        ['queued', 'created', a.id],
        ['sent', 'sending', a.id],
        ['delivered', 'delivered', a.id],
      ]);
      const failed = (await store.get(b.id))!;
      expect(failed).toMatchObject({ status: 'failed', providerStatus: 'temporary-failure' });
      expect(outboxStatus(failed)).toBe('notify-temporary-failure');
      expect(await herald.suppressions.check('email', 'bob@example.org')).toBeNull();

      // Never asked before `after`, never twice within `every`, across both workers; each lookup signed like a send.
      const asked = lookups(sentA.providerMessageId!);
      expect(asked[0]!.at.getTime() - sentA.sentAt!.getTime()).toBeGreaterThanOrEqual(950);
      for (let i = 1; i < asked.length; i++) expect(asked[i]!.at.getTime() - asked[i - 1]!.at.getTime()).toBeGreaterThanOrEqual(950);
      for (const r of asked) expect(r.auth).toMatchObject({ iss: SERVICE_ID, key: 'herald_test' });

      // Final deliveries are not asked about again.
      const count = notify.requests.filter((r) => r.method === 'GET').length;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(notify.requests.filter((r) => r.method === 'GET').length).toBe(count);
    } finally {
      clearInterval(watch);
      await Promise.all(workers.map((w) => w.stop()));
      await other.close();
      await herald.close();
    }
  }, 30_000);
});

describe('the poll hook on its own', () => {
  const backend = () => govukNotifyEmail({ apiKey: API_KEY, baseUrl: notify.url, poll: { after: 0, every: '1s', batchSize: 10, perSecond: 10 } });
  async function accepted(address: string): Promise<Delivery> {
    const id = `d-${address}`;
    const res = await fetch(`${notify.url}/v2/notifications/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt(SECRET, { iss: SERVICE_ID, iat: Math.floor(Date.now() / 1000) })}` },
      body: JSON.stringify({ template_id: FAKE_TEMPLATES.email, email_address: address, personalisation: { text: 'x' }, reference: id }),
    });
    const { id: notificationId } = (await res.json()) as { id: string };
    return makeDelivery({ id, address, backend: 'govuk-notify-email', status: 'sent', providerMessageId: notificationId });
  }


  it('spaces lookups to perSecond within a batch and maps each answer', async () => {
    const list = await Promise.all(['p1@example.org', 'p2@example.org', 'p3@example.org', 'p4@example.org'].map(accepted));
    await notify.setStatus(list[1]!.providerMessageId!, 'delivered');
    const started = Date.now();
    const events = await backend().poll!.fetch(list);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(events.map((e) => [e.deliveryId, e.providerStatus, e.eventType])).toEqual([
      [list[0]!.id, 'created', 'queued'],
      [list[1]!.id, 'delivered', 'delivered'],
      [list[2]!.id, 'created', 'queued'],
      [list[3]!.id, 'created', 'queued'],
    ]);
    expect(events[0]!.raw).toMatchObject({ id: list[0]!.providerMessageId, status: 'created', email_address: 'p1@example.org' });
  });

  it('skips deliveries Notify no longer knows (404) and those already final at Notify; a failure keeps what was gathered', async () => {
    const [known] = await Promise.all([accepted('k@example.org')]);
    const gone = makeDelivery({ id: 'gone', backend: 'govuk-notify-email', status: 'sent', providerMessageId: '00000000-0000-4000-8000-000000000404' });
    const international = makeDelivery({ id: 'intl', backend: 'govuk-notify-email', status: 'sent', providerMessageId: known!.providerMessageId, providerStatus: 'sent' });
    const before = notify.requests.length;
    const events = await backend().poll!.fetch([gone, international, known!]);
    expect(events.map((e) => e.deliveryId)).toEqual([known!.id]);
    expect(notify.requests.length - before).toBe(2);

    notify.answerNext(500, notifyError(500, 'Exception', 'Internal server error').body);
    await expect(backend().poll!.fetch([known!])).rejects.toBeInstanceOf(TransientError);
    // A failure after some answers ends the batch with what was gathered; the rest are asked about next round.
    const second = await accepted('k2@example.org');
    const third = await accepted('k3@example.org');
    const limit = notifyError(429, 'RateLimitError', 'Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds');
    notify.answerNext(limit.status, limit.body, undefined, `/v2/notifications/${second.providerMessageId}`);
    const partial = await backend().poll!.fetch([known!, second, third]);
    expect(partial.map((e) => e.deliveryId)).toEqual([known!.id]);
  });
});
