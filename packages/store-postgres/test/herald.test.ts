import { createHerald, type Recipient } from '@herald/core';
import { captureBackend } from '@herald/core/testing';
import { postgresStore } from '@herald/store-postgres';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { DATABASE_URL, dropSchemas, uniqueSchema } from './_pg';
import { TcpProxy } from './_proxy';
import { loadNotification } from './fixtures/load-notification';

const schemas: string[] = [];
afterAll(async () => {
  await dropSchemas(schemas);
});

function recipients(count: number, offset = 0): Recipient[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `u${offset + i}`,
    name: `User ${offset + i}`,
    contacts: [{ protocol: 'email', address: `user${offset + i}@example.test` }],
  }));
}

describe('herald.notify(…, { transaction }) with a plain pg client (outbox pattern)', () => {
  it('a rolled-back business write leaves no notification; a committed one leaves both', async () => {
    const schema = uniqueSchema();
    schemas.push(schema);
    const store = postgresStore({ connectionString: DATABASE_URL, schema, max: 2 });
    const mail = captureBackend({ protocol: 'email' });
    const herald = createHerald({ store, backends: [mail], notifications: [loadNotification], logger: false });
    await store.migrate();
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      await client.query(`CREATE TABLE "${schema}".orders (id text PRIMARY KEY, total numeric NOT NULL)`);

      await client.query('BEGIN');
      await client.query(`INSERT INTO "${schema}".orders VALUES ('A1', 10)`);
      const rolledBack = await herald.notify(loadNotification, { run: 'A1' }, recipients(3), { transaction: client });
      await client.query('ROLLBACK');
      expect(rolledBack.deliveries).toHaveLength(3);
      for (const d of rolledBack.deliveries) expect(await herald.deliveries.get(d.id)).toBeNull();

      await client.query('BEGIN');
      await client.query(`INSERT INTO "${schema}".orders VALUES ('A2', 20)`);
      const committed = await herald.notify(loadNotification, { run: 'A2' }, recipients(3), { transaction: client });
      await client.query('COMMIT');

      const { rows } = await client.query(`SELECT id FROM "${schema}".orders`);
      expect(rows).toEqual([{ id: 'A2' }]);
      expect(await herald.deliveries.count()).toEqual({ queued: 3 });
      const drained = await herald.drain();
      expect(drained.sent).toBe(3);
      expect(mail.messages.map((m) => m.deliveryId).sort()).toEqual(committed.deliveries.map((d) => d.id).sort());
      expect(mail.contexts.every((c, i) => c.idempotencyKey === mail.messages[i]!.deliveryId)).toBe(true);
    } finally {
      await client.end();
      await herald.close();
    }
  });
});

describe('database lost while a worker runs', () => {
  it('the worker backs off and resumes when the connection returns; nothing is lost or sent twice', async () => {
    const schema = uniqueSchema();
    schemas.push(schema);
    const proxy = new TcpProxy({ host: '127.0.0.1', port: 5432 });
    await proxy.up();
    const url = new URL(DATABASE_URL);
    url.port = String(proxy.port);
    const store = postgresStore({ connectionString: url.toString(), schema, max: 2 });
    const mail = captureBackend({ protocol: 'email', latencyMs: 20 });
    const herald = createHerald({ store, backends: [mail], notifications: [loadNotification], logger: false });
    try {
      const first = await herald.notify(loadNotification, { run: 'before' }, recipients(100));
      const worker = herald.worker({ concurrency: 4, lease: '3s', pollInterval: 200 });
      await expect.poll(() => mail.messages.length, { timeout: 10_000, interval: 5 }).toBeGreaterThan(10);
      await proxy.down();
      const sentBeforeOutage = mail.messages.length;
      expect(sentBeforeOutage).toBeLessThan(100);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      // Nothing could be claimed while the database was away (at most the sends already in flight finished).
      expect(mail.messages.length).toBeLessThanOrEqual(sentBeforeOutage + 4);
      await proxy.up();
      // Enqueued after the outage, through the same store: the worker must pick these up too.
      const second = await herald.notify(loadNotification, { run: 'after' }, recipients(50, 100));
      const all = [...first.deliveries, ...second.deliveries].map((d) => d.id);
      await expect.poll(async () => (await herald.deliveries.count()).sent ?? 0, { timeout: 30_000, interval: 100 }).toBe(150);
      await worker.stop();
      const sent = mail.messages.map((m) => m.deliveryId);
      expect(new Set(sent)).toEqual(new Set(all));
      // A send whose finish() was cut off by the outage is the only way to a second send (at-least-once).
      const twice = sent.length - new Set(sent).size;
      expect(twice).toBeLessThanOrEqual(4);
    } finally {
      await herald.close();
      await proxy.down();
    }
  }, 60_000);
});
