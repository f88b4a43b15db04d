import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, createHerald, defineNotification } from '@herald/core';
import { captureBackend } from '@herald/core/testing';
import { sqliteStore } from '../src';
import { tempDatabase } from './_tmp';

const orderPlaced = defineNotification({
  id: 'order-placed',
  schema: z.object({ orderId: z.string() }),
  templates: { email: { format: 'text', subject: 'Order {{orderId}}', body: 'Thanks for order {{orderId}}' } },
});

const ada = { id: 'u1', contacts: [{ protocol: 'email', address: 'ada@shop.dev' }] };

describe('the outbox pattern on SQLite: herald.prepare() + prepared.enqueue() inside the app transaction', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  async function setup() {
    const file = tempDatabase();
    const db = new Database(file.path);
    cleanups.push(() => {
      if (db.open) db.close();
      file.remove();
    });
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE orders (id TEXT PRIMARY KEY, total REAL NOT NULL)');
    const email = captureBackend({ protocol: 'email' });
    const herald = createHerald({ store: sqliteStore({ database: db }), backends: [email], notifications: [orderPlaced], logger: false });
    return { db, email, herald };
  }

  it('commits the deliveries with the app write', async () => {
    const { db, email, herald } = await setup();
    const prepared = await herald.prepare(orderPlaced, { orderId: 'A1' }, [ada]);
    const placeOrder = db.transaction(() => {
      db.prepare('INSERT INTO orders (id, total) VALUES (?, ?)').run('A1', 42.5);
      return prepared.enqueue();
    });
    const result = placeOrder();
    expect(result.deliveries).toHaveLength(1);
    expect(db.prepare('SELECT count(*) AS n FROM orders').get()).toEqual({ n: 1 });
    await herald.drain();
    expect(email.messages.map((m) => m.content.subject)).toEqual(['Order A1']);
    expect((await herald.deliveries.get(result.deliveries[0]!.id))!.status).toBe('sent');
    await herald.close();
    // The app's connection is the app's: closing Herald leaves it open.
    expect(db.open).toBe(true);
  });

  it('rolls the deliveries back with the app write', async () => {
    const { db, email, herald } = await setup();
    const prepared = await herald.prepare(orderPlaced, { orderId: 'A2' }, [ada]);
    const placeOrder = db.transaction(() => {
      db.prepare('INSERT INTO orders (id, total) VALUES (?, ?)').run('A2', 10);
      prepared.enqueue();
      throw new Error('payment declined');
    });
    expect(() => placeOrder()).toThrow('payment declined');
    expect(db.prepare('SELECT count(*) AS n FROM orders').get()).toEqual({ n: 0 });
    expect(await herald.deliveries.list()).toEqual([]);
    await herald.drain();
    expect(email.messages).toEqual([]);
    await herald.close();
  });

  it('enqueues once only, and outside a transaction on its own', async () => {
    const { herald } = await setup();
    const prepared = await herald.prepare(orderPlaced, { orderId: 'A3' }, [ada]);
    expect(prepared.size).toBe(1);
    expect(prepared.enqueue().deliveries).toHaveLength(1);
    expect(() => prepared.enqueue()).toThrow(ConfigError);
    expect(await herald.deliveries.list()).toHaveLength(1);
    await herald.close();
  });

  it('notify(…, { transaction }) is a ConfigError on SQLite: the synchronous form is the way in', async () => {
    const { db, herald } = await setup();
    await expect(herald.notify(orderPlaced, { orderId: 'A4' }, [ada], { transaction: db })).rejects.toThrow(ConfigError);
    expect(await herald.deliveries.list()).toEqual([]);
    await herald.close();
  });
});
