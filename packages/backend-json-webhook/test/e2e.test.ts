import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHerald, defineNotification, type Herald } from '@herald/core';
import { sqliteStore } from '@herald/store-sqlite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jsonWebhook, verifyWebhook } from '../src';
import { type LoopbackAnswer as Answer, loopback } from '@herald/core/testing';
import { SECRET } from './_fixtures';

const shipped = defineNotification({
  id: 'order-shipped',
  schema: z.object({ orderId: z.string(), total: z.number() }),
  templates: { 'json-webhook': { format: 'params', body: 'event: order.shipped\norderId: {{orderId}}\ntotal: {{total}}\ncustomer: {{recipient.name}}' } },
});

const dir = mkdtempSync(join(tmpdir(), 'herald-json-webhook-e2e-'));
let server: Awaited<ReturnType<typeof loopback>>;
let answer: () => Answer = () => ({ status: 204 });
let herald: Herald;
let url: string;

beforeAll(async () => {
  server = await loopback(() => answer());
  url = `${server.origin}/hooks/herald`;
  const store = sqliteStore({ path: join(dir, 'herald.db') });
  await store.migrate();
  herald = createHerald({
    store,
    backends: [jsonWebhook({ secret: SECRET, allowedHosts: ['127.0.0.1'] })],
    notifications: [shipped],
    retry: { maxAttempts: 3, backoff: { type: 'fixed', delay: 0 } },
    logger: false,
  });
});
afterAll(async () => {
  await herald.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  server.requests.length = 0;
  answer = () => ({ status: 204 });
});

describe('json-webhook end to end (notify → drain, SQLite store)', () => {
  it('posts the rendered key: value params, signed with the delivery id as webhook-id', async () => {
    const { deliveries } = await herald.notify(shipped, { orderId: 'A-1', total: 42.5 }, [{ name: 'Ada', contacts: [{ protocol: 'json-webhook', address: url }] }]);
    expect(await herald.drain()).toMatchObject({ sent: 1 });
    const req = server.requests[0]!;
    expect(JSON.parse(req.body)).toMatchObject({ event: 'order.shipped', orderId: 'A-1', customer: 'Ada' });
    expect(verifyWebhook({ secret: SECRET, headers: req.headers, body: req.body })).toMatchObject({ ok: true, id: deliveries[0]!.id });
    expect((await herald.deliveries.get(deliveries[0]!.id))!.status).toBe('sent');
  });

  it('retries an outage with the same webhook-id, then fails with the answer in the attempt log', async () => {
    answer = () => ({ status: 503, headers: { 'content-type': 'application/json' }, body: '{"error":"maintenance"}' });
    const { deliveries } = await herald.notify(shipped, { orderId: 'A-2', total: 1 }, [{ contacts: [{ protocol: 'json-webhook', address: url }] }]);
    expect(await herald.drain()).toMatchObject({ failed: 1 });
    const id = deliveries[0]!.id;
    expect(server.requests.map((r) => r.headers['webhook-id'])).toEqual([id, id, id]);
    const attempts = await herald.deliveries.attempts(id);
    expect(attempts.map((a) => a.outcome)).toEqual(['transient', 'transient', 'transient']);
    expect(attempts[2]!.response).toEqual({ status: 503, body: { error: 'maintenance' } });
    expect((await herald.deliveries.get(id))!.status).toBe('failed');
  });

  it('fails a 410 Gone endpoint at once and suppresses it', async () => {
    answer = () => ({ status: 410 });
    await herald.notify(shipped, { orderId: 'A-3', total: 1 }, [{ contacts: [{ protocol: 'json-webhook', address: url }] }]);
    expect(await herald.drain()).toMatchObject({ failed: 1 });
    expect(server.requests).toHaveLength(1);
    expect(await herald.suppressions.check('json-webhook', url)).not.toBeNull();
    await herald.suppressions.remove('json-webhook', url);
  });

  it('fails a private-network address permanently (SSRF guard) without a request', async () => {
    const guarded = createHerald({
      store: sqliteStore({ path: join(dir, 'guarded.db') }),
      backends: [jsonWebhook({ secret: SECRET })],
      notifications: [shipped],
      logger: false,
    });
    await guarded.store.migrate();
    const { deliveries } = await guarded.notify(shipped, { orderId: 'A-4', total: 1 }, [{ contacts: [{ protocol: 'json-webhook', address: url }] }]);
    expect(await guarded.drain()).toMatchObject({ failed: 1 });
    expect((await guarded.deliveries.get(deliveries[0]!.id))!.lastError).toMatch(/refused webhook host 127\.0\.0\.1/);
    expect(server.requests).toHaveLength(0);
    await guarded.close();
  });
});
