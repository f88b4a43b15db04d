import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ABANDONED_ATTEMPT_ERROR, ConfigError, ValidationError } from '@herald/core';
import { makeAttempt, makeDelivery, makeEvent, makeInbound } from '@herald/core/testing/vitest';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { type SqliteStoreOptions, sqliteStore } from '../src';
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
    expect(() => sqliteStore({ path: ':memory:', busyTimeoutMs: 2.5 })).toThrow(/busyTimeoutMs must be a non-negative integer/);
    expect(() => sqliteStore({ path: ':memory:', synchronous: 'fast' as never })).toThrow(/synchronous/);
    expect(() => sqliteStore({ path: ':memory:', name: '' })).toThrow(/name/);
    expect(() => sqliteStore({ database: { prepare: 1 } as never })).toThrow(/better-sqlite3 Database/);
  });

  // Regression: `sqliteStore({ pth: 'x.db' })` and other typos were ignored (the store then failed on `path`, or used a default).
  it('an unknown option is a ConfigError naming it and the closest known option', () => {
    const attempt = (options: Record<string, unknown>) => {
      try {
        sqliteStore(options as SqliteStoreOptions);
      } catch (error) {
        return error as ConfigError;
      }
      throw new Error('no error');
    };
    const typo = attempt({ pth: 'x.db' });
    expect(typo).toBeInstanceOf(ConfigError);
    expect(typo.message).toContain('unknown option `pth`; did you mean `path`?');
    expect(typo.field).toBe('pth');
    expect(attempt({ path: ':memory:', busyTimeout: 10 }).message).toContain('did you mean `busyTimeoutMs`?');
    expect(attempt({ path: ':memory:', checkpointing: 'inline' }).message).toContain('did you mean `checkpoint`?');
    expect(attempt({ path: ':memory:', wal: true }).message).toMatch(/unknown option `wal`; known options: `path`, `database`/);
  });

  it('takes exactly one of path and database', () => {
    const database = new Database(':memory:');
    expect(() => sqliteStore({ path: ':memory:', database })).toThrow(/`path` or `database`, not both/);
    database.close();
    expect(() => sqliteStore({ database })).toThrow(/closed/);
  });

  // Regression (issue 10): a path in a folder that does not exist failed at the first write with SQLite's
  // "unable to open database file".
  it('a path in a folder that does not exist is a ConfigError naming the path and the fix', () => {
    const { dir } = temp();
    const path = join(dir, 'no', 'such', 'folder', 'herald.db');
    let error: unknown;
    try {
      sqliteStore({ path });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('path');
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toContain(`mkdir -p "${join(dir, 'no', 'such', 'folder')}"`);
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
    await store.migrate();
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

  // Regression: the first call of any method migrated implicitly, so migration had three owners (core, the store,
  // the CLI). Core awaits migrate() once; other methods only check the schema is current.
  it('never migrates implicitly: before migrate() other methods are a ConfigError naming it', async () => {
    const { path } = temp();
    const store = sqliteStore({ path });
    await expect(store.claim({ owner: 'w', limit: 5, leaseMs: 1000 })).rejects.toThrow(/call `await store.migrate\(\)` first/);
    await expect(store.enqueue([makeDelivery()])).rejects.toThrow(ConfigError);
    const raw = new Database(path);
    expect(raw.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM sqlite_master WHERE name LIKE 'herald_%'").get()?.n).toBe(0);
    raw.close();
    await store.migrate();
    const row = makeDelivery();
    await store.enqueue([row]);
    await store.close();
    // A file that is already current needs no migrate() call of its own.
    const again = sqliteStore({ path });
    expect((await again.get(row.id))?.id).toBe(row.id);
    await again.close();
  });

  it('migration 3 gives old attempts their delivery’s backend, and a lease taken before it is logged as abandoned when reclaimed', async () => {
    const { path } = temp();
    const raw = new Database(path);
    raw.exec('CREATE TABLE herald_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const migration of MIGRATIONS.slice(0, 2)) {
      raw.exec(migration.sql);
      raw.prepare('INSERT INTO herald_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, Date.now());
    }
    const insert = raw.prepare(`INSERT INTO herald_deliveries (id, batch_id, notification, protocol, address, backend, status, attempts, max_attempts,
      created_at, updated_at, next_attempt_at, lease_owner, lease_until) VALUES (?, 'b', 'n', 'email', 'a@shop.dev', 'smtp', ?, ?, 5, 1, ?, ?, ?, ?)`);
    insert.run('sent-1', 'sent', 1, 1000, null, null, null);
    insert.run('flying-1', 'sending', 2, 5000, 65_000, 'old-worker', 65_000);
    raw.prepare(`INSERT INTO herald_attempts (delivery_id, attempt, started_at, duration_ms, outcome, request, response, error, worker_id)
      VALUES ('sent-1', 1, 900, 5, 'sent', NULL, NULL, NULL, 'w')`).run();
    raw.close();

    const store = sqliteStore({ path });
    await store.migrate();
    expect((await store.attempts('sent-1'))[0]).toMatchObject({ backend: 'smtp', outcome: 'sent' });
    const [reclaimed] = await store.claim({ owner: 'new-worker', limit: 5, leaseMs: 1000, now: new Date(70_000) });
    expect(reclaimed).toMatchObject({ id: 'flying-1', attempts: 3, leaseOwner: 'new-worker' });
    expect(await store.attempts('flying-1')).toEqual([
      {
        deliveryId: 'flying-1',
        attempt: 2,
        startedAt: new Date(5000),
        durationMs: 60_000,
        outcome: 'abandoned',
        backend: 'smtp',
        request: null,
        response: null,
        error: ABANDONED_ATTEMPT_ERROR,
        workerId: 'old-worker',
      },
    ]);
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

  it('leaves the settings of a given file connection alone: no journal-mode change, no checkpointer unless asked', async () => {
    const { path } = temp();
    const app = new Database(path);
    const store = sqliteStore({ database: app });
    await store.migrate();
    expect(app.pragma('journal_mode', { simple: true })).toBe('delete');
    expect(app.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    await store.close();
    expect(() => sqliteStore({ database: app, checkpoint: 'background' })).toThrow(/WAL mode/);
    app.pragma('journal_mode = WAL');
    const asked = sqliteStore({ database: app, checkpoint: 'background', synchronous: 'FULL' });
    expect(app.pragma('wal_autocheckpoint', { simple: true })).toBe(10_000);
    expect(app.pragma('synchronous', { simple: true })).toBe(2);
    await asked.close();
    expect(app.open).toBe(true);
    app.close();
  });

  describe('sqliteStore({ database }): enqueueSync joins the application’s own transaction', () => {
    function setup() {
      const { path } = temp();
      const app = new Database(path);
      app.pragma('journal_mode = WAL');
      app.exec('CREATE TABLE orders (id TEXT PRIMARY KEY, total INTEGER NOT NULL)');
      const store = sqliteStore({ database: app });
      const addOrder = app.prepare<[string, number]>('INSERT INTO orders (id, total) VALUES (?, ?)');
      const orders = () => app.prepare<[], { id: string }>('SELECT id FROM orders ORDER BY id').all().map((o) => o.id);
      return { path, app, store, addOrder, orders };
    }

    it('commits with the application’s write: both visible to another connection', async () => {
      const { path, app, store, addOrder, orders } = setup();
      await store.migrate();
      const row = makeDelivery();
      const placeOrder = app.transaction((id: string) => {
        addOrder.run(id, 10);
        return store.enqueueSync([row], { transaction: app });
      });
      expect(placeOrder('A1')).toEqual({ duplicates: [] });
      expect(orders()).toEqual(['A1']);
      const other = sqliteStore({ path });
      expect(await other.get(row.id)).toMatchObject({ status: 'queued', message: row.message });
      expect(await other.claim({ owner: 'w', limit: 5, leaseMs: 60_000 })).toHaveLength(1);
      await other.close();
      await store.close();
      app.close();
    });

    it('rolls back with the application’s write: neither the order nor the notification exists', async () => {
      const { app, store, addOrder, orders } = setup();
      await store.migrate();
      const row = makeDelivery();
      const placeOrder = app.transaction((id: string) => {
        addOrder.run(id, 10);
        store.enqueueSync([row]);
        throw new Error('payment declined');
      });
      expect(() => placeOrder('A2')).toThrow('payment declined');
      expect(orders()).toEqual([]);
      expect(await store.get(row.id)).toBeNull();
      expect(await store.count()).toEqual({});
      await store.close();
      app.close();
    });

    it('a failed enqueue rolls back only its savepoint when the application catches it', async () => {
      const { app, store, addOrder, orders } = setup();
      await store.migrate();
      const existing = makeDelivery();
      store.enqueueSync([existing]);
      const fresh = makeDelivery();
      const placeOrder = app.transaction((id: string) => {
        addOrder.run(id, 10);
        try {
          store.enqueueSync([fresh, makeDelivery({ id: existing.id })]);
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
        }
      });
      placeOrder('A3');
      expect(orders()).toEqual(['A3']);
      expect(await store.get(fresh.id)).toBeNull();
      expect(await store.count()).toEqual({ queued: 1 });
      await store.close();
      app.close();
    });

    it('wakes in-process workers once the application’s transaction is over, not inside it', async () => {
      const { app, store, addOrder } = setup();
      await store.migrate();
      const seen: boolean[] = [];
      store.subscribe!(() => seen.push(app.inTransaction));
      app.transaction(() => {
        addOrder.run('A4', 1);
        store.enqueueSync([makeDelivery()]);
        expect(seen).toEqual([]);
      })();
      await Promise.resolve();
      expect(seen).toEqual([false]);
      await store.close();
      app.close();
    });

    it('refuses a foreign handle, and Herald’s own writes while the application holds a transaction open across an await', async () => {
      const { app, store } = setup();
      await store.migrate();
      const other = new Database(':memory:');
      expect(() => store.enqueueSync([makeDelivery()], { transaction: other })).toThrow(/not the connection this store was given/);
      other.close();
      const own = sqliteStore({ path: ':memory:' });
      await own.migrate();
      expect(() => own.enqueueSync([makeDelivery()], { transaction: app })).toThrow(/sqliteStore\(\{ database: yourDb \}\)/);
      await own.close();
      await expect(store.enqueue([makeDelivery()], { transaction: app })).rejects.toThrow(/herald.prepare\(...\).enqueue\(db\)/);
      app.exec('BEGIN');
      await expect(store.claim({ owner: 'w', limit: 5, leaseMs: 1000 })).rejects.toThrow(/inside a transaction of your own/);
      await expect(store.enqueue([makeDelivery()])).rejects.toThrow(ConfigError);
      app.exec('ROLLBACK');
      expect(await store.claim({ owner: 'w', limit: 5, leaseMs: 1000 })).toEqual([]);
      await store.close();
      app.close();
    });
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
