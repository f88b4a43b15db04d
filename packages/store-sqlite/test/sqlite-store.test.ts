import { ConfigError, ValidationError } from '@herald/core';
import { makeAttempt, makeDelivery, makeEvent, makeInbound } from '@herald/core/testing/vitest';
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteStore } from '../src';
import { MIGRATIONS } from '../src/_schema';
import { tempDatabase } from './_tmp';

describe('sqliteStore', () => {
  const dbs: ReturnType<typeof tempDatabase>[] = [];
  afterEach(() => {
    for (const db of dbs.splice(0)) db.remove();
  });
  function temp() {
    const db = tempDatabase();
    dbs.push(db);
    return db;
  }

  it('rejects bad options at creation', () => {
    expect(() => sqliteStore({})).toThrow(ConfigError);
    expect(() => sqliteStore({ path: '' })).toThrow(/path/);
    expect(() => sqliteStore({ path: ':memory:', busyTimeoutMs: -1 })).toThrow(/busyTimeoutMs/);
  });

  it('opens the file in WAL mode with synchronous=NORMAL and records applied migrations', async () => {
    const { path } = temp();
    const store = sqliteStore({ path });
    await store.migrate();
    await store.migrate();
    await store.close();
    const raw = new Database(path);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    const versions = raw.prepare<[], { version: number }>('SELECT version FROM herald_migrations ORDER BY version').all();
    expect(versions.map((v) => v.version)).toEqual(MIGRATIONS.map((m) => m.version));
    raw.close();
    const again = sqliteStore({ path, synchronous: 'FULL' });
    await again.migrate();
    await again.close();
  });

  it('refuses a database migrated by a newer version', async () => {
    const { path } = temp();
    const store = sqliteStore({ path });
    await store.migrate();
    await store.close();
    const raw = new Database(path);
    raw.prepare('INSERT INTO herald_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(999, 'future', Date.now());
    raw.close();
    const old = sqliteStore({ path });
    await expect(old.migrate()).rejects.toThrow(/version 999/);
    await old.close();
  });

  it('migration 2 moves messages out of a version-1 database, keeping queued deliveries sendable', async () => {
    const { path } = temp();
    const raw = new Database(path);
    raw.exec('CREATE TABLE herald_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    raw.exec(MIGRATIONS[0]!.sql);
    raw.prepare('INSERT INTO herald_migrations (version, name, applied_at) VALUES (1, ?, ?)').run(MIGRATIONS[0]!.name, Date.now());
    const row = makeDelivery();
    raw
      .prepare(`INSERT INTO herald_deliveries (id, batch_id, notification, protocol, address, backend, status, max_attempts, message,
        created_at, updated_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, 'queued', 3, ?, ?, ?, ?)`)
      .run(row.id, row.batchId, row.notification, row.protocol, row.address, row.backend, JSON.stringify(row.message), 1, 1, 1);
    raw.close();

    const store = sqliteStore({ path });
    await store.migrate();
    const [claimed] = await store.claim({ owner: 'w', limit: 5, leaseMs: 60_000 });
    expect(claimed?.message).toEqual(row.message);
    expect((await store.get(row.id))?.message).toEqual(row.message);
    await store.close();
    const check = new Database(path);
    const columns = check.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('herald_deliveries')").all();
    expect(columns.map((c) => c.name)).not.toContain('message');
    check.close();
  });

  it('enqueues large calls in multi-row chunks; a clash names its row and stores nothing of the call', async () => {
    const { path } = temp();
    const store = sqliteStore({ path });
    const existing = makeDelivery();
    await store.enqueue([existing]);
    const rows = Array.from({ length: 200 }, (_, i) => makeDelivery({ id: `chunk-${String(i).padStart(3, '0')}`, address: `u${i}@shop.dev` }));
    rows[150] = { ...rows[150]!, id: existing.id };
    const error = await store.enqueue(rows).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.path).toBe('rows[150].id');
    expect(await store.count()).toEqual({ queued: 1 });
    rows[150] = makeDelivery({ id: 'chunk-150', address: 'u150@shop.dev' });
    await store.enqueue(rows);
    expect((await store.count()).queued).toBe(201);
    const claimed = await store.claim({ owner: 'w', limit: 500, leaseMs: 60_000 });
    expect(claimed).toHaveLength(201);
    expect(claimed.every((d) => d.message?.deliveryId !== undefined)).toBe(true);
    await store.close();
  });

  it('checkpoints the WAL from its own thread, not inside the commit, and stops the thread on close', async () => {
    const { path } = temp();
    const store = sqliteStore({ path });
    await store.migrate();
    const before = statSync(path).size;
    const rows = Array.from({ length: 2000 }, (_, i) => makeDelivery({ id: `ckpt-${String(i).padStart(4, '0')}`, address: `u${i}@shop.dev` }));
    await store.enqueue(rows);
    // The commit writes only the WAL (no inline checkpoint below 10,000 pages): the database file grows when
    // the thread copies the frames back.
    const deadline = Date.now() + 5000;
    while (statSync(path).size === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(statSync(path).size).toBeGreaterThan(before);
    await store.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM herald_deliveries').get()?.n).toBe(2000);
    raw.close();
    expect(() => sqliteStore({ path, checkpoint: 'sometimes' as never })).toThrow(/checkpoint/);
  });

  it('migrates on first use when migrate() was not called', async () => {
    const { path } = temp();
    const store = sqliteStore({ path });
    expect(await store.claim({ owner: 'w', limit: 5, leaseMs: 1000 })).toEqual([]);
    const row = makeDelivery();
    await store.enqueue([row]);
    expect((await store.get(row.id))?.id).toBe(row.id);
    await store.close();
  });

  it('keeps everything across close and reopen', async () => {
    const { path } = temp();
    const first = sqliteStore({ path });
    await first.migrate();
    const row = makeDelivery();
    await first.enqueue([row]);
    await first.claim({ owner: 'w1', limit: 1, leaseMs: 60_000 });
    await first.finish(row.id, 'w1', { status: 'sent', providerMessageId: 'pm-1', attempt: makeAttempt(row.id) });
    await first.close();
    const second = sqliteStore({ path });
    await second.migrate();
    expect(await second.get(row.id)).toMatchObject({ status: 'sent', providerMessageId: 'pm-1', message: row.message });
    expect(await second.attempts(row.id)).toHaveLength(1);
    await second.close();
  });

  it('two stores on one file see each other’s writes', async () => {
    const { path } = temp();
    const a = sqliteStore({ path });
    const b = sqliteStore({ path });
    await Promise.all([a.migrate(), b.migrate()]);
    const row = makeDelivery();
    await a.enqueue([row]);
    const [claimed] = await b.claim({ owner: 'b', limit: 5, leaseMs: 60_000 });
    expect(claimed?.id).toBe(row.id);
    expect(await a.claim({ owner: 'a', limit: 5, leaseMs: 60_000 })).toEqual([]);
    await a.close();
    await b.close();
  });

  it('uses a given connection and leaves it open on close', async () => {
    const database = new Database(':memory:');
    const store = sqliteStore({ database });
    await store.migrate();
    await store.enqueue([makeDelivery()]);
    await store.close();
    expect(database.open).toBe(true);
    expect(database.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM herald_deliveries').get()?.n).toBe(1);
    database.close();
  });

  it('wakes subscribers after enqueue, a retry, a release and a requeue', async () => {
    const store = sqliteStore({ path: ':memory:' });
    await store.migrate();
    let calls = 0;
    store.subscribe!(() => {
      calls++;
    });
    const row = makeDelivery();
    await store.enqueue([row]);
    expect(calls).toBe(1);
    await store.claim({ owner: 'w', limit: 1, leaseMs: 60_000 });
    await store.finish(row.id, 'w', { status: 'retrying', nextAttemptAt: new Date(), error: 'e', attempt: makeAttempt(row.id) });
    expect(calls).toBe(2);
    await store.claim({ owner: 'w', limit: 1, leaseMs: 60_000 });
    await store.release([row.id], 'w');
    expect(calls).toBe(3);
    await store.claim({ owner: 'w', limit: 1, leaseMs: 60_000 });
    await store.finish(row.id, 'w', { status: 'failed', error: 'e', attempt: makeAttempt(row.id) });
    expect(calls).toBe(3);
    await store.requeue(row.id, { now: new Date(), expiresAt: null, maxAttempts: 3 });
    expect(calls).toBe(4);
    await store.enqueue([makeDelivery({ status: 'skipped', skipReason: 'opted-out', nextAttemptAt: null })]);
    expect(calls).toBe(4);
    await store.close();
  });

  it('prune also drops unmatched events and inbound messages older than the cut-off', async () => {
    const store = sqliteStore({ path: ':memory:' });
    await store.migrate();
    const old = new Date(Date.now() - 86_400_000);
    const orphan = makeEvent({ messageId: 'nobody' });
    const recent = makeEvent({ messageId: 'nobody' });
    const inbound = makeInbound();
    await store.recordEvent('smtp', orphan, { now: old, status: 'delivered' });
    await store.recordEvent('smtp', recent, { now: new Date(), status: 'delivered' });
    await store.recordInbound('postal', inbound, old);
    expect(await store.prune({ olderThan: new Date(Date.now() - 3_600_000), batchSize: 1 })).toBe(0);
    expect((await store.recordEvent('smtp', orphan, { now: new Date(), status: null })).inserted).toBe(true);
    expect((await store.recordEvent('smtp', recent, { now: new Date(), status: null })).inserted).toBe(false);
    expect(await store.recordInbound('postal', inbound, new Date())).toBe(true);
    await store.close();
  });

  it('shares the rate limit between stores on one file', async () => {
    const { path } = temp();
    const a = sqliteStore({ path });
    const b = sqliteStore({ path });
    await a.migrate();
    const now = new Date();
    expect(await a.reserveRate!('smtp', 2, now)).toBe(0);
    expect(await b.reserveRate!('smtp', 2, now)).toBe(0);
    expect(await a.reserveRate!('smtp', 2, now)).toBe(500);
    expect(await b.reserveRate!('smtp', 2, now)).toBe(1000);
    expect(await b.reserveRate!('smtp', 2, new Date(now.getTime() + 1500))).toBe(0);
    await a.close();
    await b.close();
  });
});
