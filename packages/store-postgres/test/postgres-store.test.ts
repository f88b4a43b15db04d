import { ABANDONED_ATTEMPT_ERROR, type Attempt, ConfigError, type HeraldError, type NewDelivery, TransientError } from '@herald/core';
import { migrate, type PostgresStore, type PostgresStoreOptions, postgresStore } from '@herald/store-postgres';
import { MIGRATIONS as MIGRATION_LIST } from '../src/_schema';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DATABASE_URL, dropSchemas, uniqueSchema } from './_pg';
import { TcpProxy } from './_proxy';

/** Versions in src/_schema.ts. */
const MIGRATIONS = 5;
const schemas = new Set<string>();
const stores: PostgresStore[] = [];

function newStore(options: { schema?: string; connectionString?: string } = {}): PostgresStore {
  const schema = options.schema ?? uniqueSchema();
  schemas.add(schema);
  const store = postgresStore({ connectionString: options.connectionString ?? DATABASE_URL, schema, max: 4 });
  stores.push(store);
  return store;
}

/** A store on a fresh, migrated schema (the store never migrates on its own). */
async function migratedStore(): Promise<PostgresStore> {
  const store = newStore();
  await store.migrate();
  return store;
}

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await dropSchemas(schemas);
});

let seq = 0;
function row(overrides: Partial<NewDelivery> = {}): NewDelivery {
  const now = new Date();
  seq++;
  return {
    id: `d-${process.pid}-${seq}-${Math.random().toString(36).slice(2, 8)}`,
    batchId: 'b1',
    notification: 'welcome',
    category: null,
    recipientId: 'u1',
    protocol: 'email',
    address: `u${seq}@example.test`,
    backend: 'smtp',
    status: 'queued',
    skipReason: null,
    dedupeKey: null,
    dedupeSince: null,
    dedupeAddress: null,
    maxAttempts: 3,
    message: null,
    createdAt: now,
    nextAttemptAt: now,
    expiresAt: null,
    ...overrides,
  };
}

function attempt(deliveryId: string, n = 1): Attempt {
  return { deliveryId, attempt: n, startedAt: new Date(), durationMs: 5, outcome: 'sent', backend: 'smtp', request: null, response: null, error: null, workerId: 'w' };
}

async function tableCount(schema: string, table: string): Promise<number> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".${table}`);
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

describe('migrations', () => {
  it('a second run is a no-op', async () => {
    const store = newStore();
    await store.migrate();
    await store.migrate();
    expect(await tableCount(store.schema, 'herald_migrations')).toBe(MIGRATIONS);
  });

  it('concurrent migrations from separate pools do not collide (advisory lock)', async () => {
    const schema = uniqueSchema();
    schemas.add(schema);
    await Promise.all(Array.from({ length: 4 }, () => migrate({ connectionString: DATABASE_URL, schema })));
    expect(await tableCount(schema, 'herald_migrations')).toBe(MIGRATIONS);
    const store = newStore({ schema });
    await store.enqueue([row()]);
    expect(await store.count()).toEqual({ queued: 1 });
  });

  it('rejects a schema name that is not a plain identifier', () => {
    expect(() => postgresStore({ connectionString: DATABASE_URL, schema: 'bad"; DROP' })).toThrow(ConfigError);
  });

  // Regression: the first query of any method migrated implicitly (`migrate: true` by default), so migration had
  // three owners. Core awaits migrate() once; an unmigrated schema is a ConfigError that says so.
  it('never migrates implicitly: an unmigrated schema is a ConfigError naming migrate(), and stays absent', async () => {
    const store = newStore();
    const error = await store.claim({ owner: 'w', limit: 5, leaseMs: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`the schema "${store.schema}"`);
    expect((error as Error).message).toContain('call `await store.migrate()` first');
    await expect(store.enqueue([row()])).rejects.toThrow(/not migrated/);
    await expect(store.recordInbound('postal', { eventType: 'inbound', eventId: 'i', timestamp: null, message: {} as never, raw: null }, new Date())).rejects.toThrow(ConfigError);
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [store.schema]);
      expect(rows).toEqual([]);
    } finally {
      await admin.end();
    }
    await store.migrate();
    expect(await store.claim({ owner: 'w', limit: 5, leaseMs: 1000 })).toEqual([]);
  });

  it('migration 3 gives old attempts their delivery’s backend, and a lease taken before it is logged as abandoned when reclaimed', async () => {
    const schema = uniqueSchema();
    schemas.add(schema);
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    try {
      const s = `"${schema}"`;
      await admin.query(`CREATE SCHEMA ${s}`);
      await admin.query(`CREATE TABLE ${s}.herald_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const migration of MIGRATION_LIST.slice(0, 2)) {
        await admin.query(migration.sql.replaceAll('{s}', s));
        await admin.query(`INSERT INTO ${s}.herald_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      }
      const insert = `INSERT INTO ${s}.deliveries (id, batch_id, notification, protocol, address, backend, status, attempts, max_attempts,
        created_at, updated_at, next_attempt_at, lease_owner, lease_until) VALUES ($1, 'b', 'n', 'email', 'a@shop.dev', 'smtp', $2, $3, 5, $4, $4, $5, $6, $5)`;
      await admin.query(insert, ['sent-1', 'sent', 1, new Date(1000), null, null]);
      await admin.query(insert, ['flying-1', 'sending', 2, new Date(5000), new Date(65_000), 'old-worker']);
      await admin.query(`INSERT INTO ${s}.attempts (delivery_id, attempt, started_at, duration_ms, outcome, worker_id) VALUES ('sent-1', 1, $1, 5, 'sent', 'w')`, [
        new Date(900),
      ]);
    } finally {
      await admin.end();
    }
    const store = newStore({ schema });
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
  });
});

describe('options', () => {
  const attempt = (options: Record<string, unknown>) => {
    try {
      postgresStore(options as PostgresStoreOptions);
    } catch (error) {
      return error as ConfigError;
    }
    throw new Error('no error');
  };

  // Regression: `postgresStore({ connection: { hots: 'db' } })` silently connected to localhost.
  it('an unknown option, top level or in `connection`, is a ConfigError naming it and the closest known one', () => {
    const top = attempt({ connectionString: DATABASE_URL, shema: 'x' });
    expect(top).toBeInstanceOf(ConfigError);
    expect(top.message).toContain('unknown option `shema`; did you mean `schema`?');
    expect(top.field).toBe('shema');
    const nested = attempt({ connection: { hots: 'db.internal', port: 5432 } });
    expect(nested.message).toContain('unknown option `connection.hots`; did you mean `connection.host`?');
    expect(nested.field).toBe('connection.hots');
    expect(attempt({ connection: { host: 'x', sll: true } }).message).toContain('did you mean `connection.ssl`?');
    expect(attempt({ connectionString: DATABASE_URL, migrate: false }).message).toContain('the `migrate` option was removed');
  });

  it('numbers are positive integers, and pool excludes the options of a pool the store creates', () => {
    for (const max of [0, -1, 2.5]) expect(attempt({ connectionString: DATABASE_URL, max }).message).toContain('max must be a positive integer');
    for (const chunkSize of [0, 2.5, 5000]) expect(attempt({ connectionString: DATABASE_URL, chunkSize }).field).toBe('chunkSize');
    const pool = new pg.Pool({ connectionString: DATABASE_URL });
    expect(attempt({ pool, max: 4 }).field).toBe('max');
    expect(attempt({ pool, connectionString: DATABASE_URL }).field).toBe('connectionString');
    expect(attempt({ connectionString: DATABASE_URL, closePool: true }).field).toBe('closePool');
    expect(attempt({ pool: {} }).field).toBe('pool');
    expect(attempt({ connectionString: '' }).field).toBe('connectionString');
    void pool.end();
  });
});

describe('claiming', () => {
  it('never hands one delivery to two concurrent claimers', async () => {
    const store = await migratedStore();
    const rows = Array.from({ length: 300 }, () => row());
    await store.enqueue(rows);
    const others = [newStore({ schema: store.schema }), newStore({ schema: store.schema }), newStore({ schema: store.schema })];
    const claimers = [store, ...others];
    const seen = new Map<string, string>();
    await Promise.all(
      claimers.map(async (s, i) => {
        for (;;) {
          const batch = await s.claim({ owner: `w${i}`, limit: 7, leaseMs: 60_000 });
          if (batch.length === 0) return;
          for (const d of batch) {
            expect(seen.has(d.id)).toBe(false);
            seen.set(d.id, `w${i}`);
          }
        }
      }),
    );
    expect(seen.size).toBe(300);
    expect(new Set(seen.values()).size).toBeGreaterThan(1);
  });

  it('reclaims deliveries whose lease expired, and the old owner can no longer finish them', async () => {
    const store = await migratedStore();
    const d = row();
    await store.enqueue([d]);
    const t0 = new Date();
    const [first] = await store.claim({ owner: 'dead', limit: 10, leaseMs: 1000, now: t0 });
    expect(first?.id).toBe(d.id);
    expect(await store.claim({ owner: 'live', limit: 10, leaseMs: 1000, now: new Date(t0.getTime() + 500) })).toEqual([]);
    expect((await store.nextDueAt())?.getTime()).toBe(t0.getTime() + 1000);
    const [again] = await store.claim({ owner: 'live', limit: 10, leaseMs: 1000, now: new Date(t0.getTime() + 1001) });
    expect(again?.id).toBe(d.id);
    expect(again?.attempts).toBe(2);
    expect(await store.finish(d.id, 'dead', { status: 'sent', providerMessageId: 'x', attempt: attempt(d.id) })).toBe(false);
    expect(await store.finish(d.id, 'live', { status: 'sent', providerMessageId: 'y', attempt: attempt(d.id, 2) })).toBe(true);
    const done = await store.get(d.id);
    expect(done).toMatchObject({ status: 'sent', providerMessageId: 'y', leaseOwner: null });
    expect((await store.attempts(d.id)).map((a) => [a.attempt, a.outcome, a.workerId, a.startedAt.getTime()])).toEqual([
      [1, 'abandoned', 'dead', t0.getTime()],
      [2, 'sent', 'w', expect.any(Number)],
    ]);
  });

  it('only claims deliveries for the given backends', async () => {
    const store = await migratedStore();
    await store.enqueue([row({ backend: 'smtp' }), row({ backend: 'twilio', protocol: 'sms', address: '+14155550123' })]);
    const claimed = await store.claim({ owner: 'w', limit: 10, leaseMs: 1000, backends: ['twilio'] });
    expect(claimed.map((d) => d.backend)).toEqual(['twilio']);
  });
});

describe('LISTEN/NOTIFY wake-up', () => {
  it('wakes a subscriber in another store instance when work is enqueued, requeued or released', async () => {
    const worker = newStore();
    await worker.migrate();
    const app = newStore({ schema: worker.schema });
    let wakes = 0;
    let resolveWake: (() => void) | null = null;
    worker.subscribe(() => {
      wakes++;
      resolveWake?.();
    });
    await worker.listening();
    const next = () =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no wake-up within 2s')), 2000);
        resolveWake = () => {
          clearTimeout(timer);
          resolveWake = null;
          resolve();
        };
      });
    const before = wakes;
    let woke = next();
    const started = performance.now();
    await app.enqueue([row()]);
    await woke;
    expect(performance.now() - started).toBeLessThan(500);
    const [claimed] = await app.claim({ owner: 'w', limit: 1, leaseMs: 60_000 });
    woke = next();
    await app.release([claimed!.id], 'w');
    await woke;
    expect(wakes).toBeGreaterThan(before + 1);
  });
});

describe('transactional enqueue', () => {
  it('rows exist if and only if the caller commits', async () => {
    const store = newStore();
    await store.migrate();
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      await client.query(`CREATE TABLE "${store.schema}".orders (id text PRIMARY KEY)`);
      const rolledBack = row();
      await client.query('BEGIN');
      await client.query(`INSERT INTO "${store.schema}".orders VALUES ('o1')`);
      await store.enqueue([rolledBack], { transaction: client });
      // Not visible outside the transaction yet.
      expect(await store.get(rolledBack.id)).toBeNull();
      await client.query('ROLLBACK');
      expect(await store.get(rolledBack.id)).toBeNull();

      const committed = row({ dedupeKey: 'k', dedupeAddress: 'a@example.test', dedupeSince: new Date(0) });
      await client.query('BEGIN');
      await client.query(`INSERT INTO "${store.schema}".orders VALUES ('o2')`);
      await store.enqueue([committed], { transaction: client });
      await client.query('COMMIT');
      expect((await store.get(committed.id))?.status).toBe('queued');
      const { rows } = await client.query(`SELECT id FROM "${store.schema}".orders`);
      expect(rows).toEqual([{ id: 'o2' }]);
    } finally {
      await client.end();
    }
  });

  it('rejects a transaction handle that cannot run queries', async () => {
    const store = await migratedStore();
    await expect(store.enqueue([row()], { transaction: { nope: true } })).rejects.toThrow(ConfigError);
  });

  it('enqueues a large fan-out atomically in chunks', async () => {
    const store = await migratedStore();
    const rows = Array.from({ length: 2500 }, () => row());
    rows.push({ ...rows[0]!, id: rows[0]!.id }); // a duplicate primary key makes the whole call fail
    await expect(store.enqueue(rows)).rejects.toThrow();
    expect(await store.count()).toEqual({});
    await store.enqueue(rows.slice(0, 2500));
    expect(await store.count()).toEqual({ queued: 2500 });
  });

  it('dedupes racing enqueues of the same key: exactly one is queued', async () => {
    const store = newStore();
    await store.migrate();
    const others = Array.from({ length: 4 }, () => newStore({ schema: store.schema }));
    const results = await Promise.all(
      others.map((s) => s.enqueue([row({ dedupeKey: 'order-1', dedupeAddress: 'same@example.test', dedupeSince: new Date(0) })])),
    );
    expect(results.filter((r) => r.duplicates.length === 0)).toHaveLength(1);
    expect(await store.count()).toEqual({ queued: 1, skipped: 3 });
  });
});

describe('rate limits shared through the database', () => {
  it('two store instances draw from one bucket', async () => {
    const a = await migratedStore();
    const b = newStore({ schema: a.schema });
    const now = new Date();
    const waits = [];
    for (let i = 0; i < 3; i++) {
      waits.push(await a.reserveRate('backend:twilio', 1, now));
      waits.push(await b.reserveRate('backend:twilio', 1, now));
    }
    expect(waits).toEqual([0, 1000, 2000, 3000, 4000, 5000]);
  });
});

describe('prune', () => {
  it('deletes finished deliveries with their attempts and events in batches', async () => {
    const store = await migratedStore();
    const rows = Array.from({ length: 25 }, () => row());
    await store.enqueue(rows);
    const claimed = await store.claim({ owner: 'w', limit: 25, leaseMs: 60_000 });
    for (const d of claimed.slice(0, 20)) {
      await store.finish(d.id, 'w', { status: 'sent', providerMessageId: `p-${d.id}`, attempt: attempt(d.id) });
    }
    await store.recordEvent(
      'smtp',
      {
        eventType: 'delivered', eventId: 'e1', messageId: `p-${claimed[0]!.id}`, timestamp: null, recipient: null, metadata: {}, tags: [],
        rejectReason: null, description: null, mtaResponse: null, userAgent: null, clickUrl: null, raw: {},
      },
      { now: new Date(), status: 'delivered' },
    );
    const removed = await store.prune({ olderThan: new Date(Date.now() + 60_000), batchSize: 6 });
    expect(removed).toBe(20);
    expect(await store.count()).toEqual({ sending: 5 });
    expect(await tableCount(store.schema, 'attempts')).toBe(0);
    expect(await tableCount(store.schema, 'events')).toBe(0);
  });
});

describe('faults', () => {
  it('database down at start: a ConfigError naming the connection string, password redacted', async () => {
    const proxy = new TcpProxy({ host: '127.0.0.1', port: 5432 });
    await proxy.up();
    const port = proxy.port;
    await proxy.down();
    const store = newStore({ connectionString: `postgres://herald:s3cret-pw@127.0.0.1:${port}/test` });
    const error = await store.list().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain(`postgres://herald:[redacted]@127.0.0.1:${port}/test`);
    expect(message).toContain('ECONNREFUSED');
    expect(message).not.toContain('s3cret-pw');
  });

  it('connection lost mid-run: methods fail with a TransientError, then work again once it is back', async () => {
    const proxy = new TcpProxy({ host: '127.0.0.1', port: 5432 });
    await proxy.up();
    try {
      const url = new URL(DATABASE_URL);
      url.port = String(proxy.port);
      const store = newStore({ connectionString: url.toString() });
      await store.migrate();
      let wakes = 0;
      store.subscribe(() => wakes++);
      await store.listening();
      await store.enqueue([row()]);
      const wakesBefore = wakes;
      await proxy.down();
      const error = await store.claim({ owner: 'w', limit: 1, leaseMs: 1000 }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TransientError);
      expect((error as HeraldError).message).toContain('lost connection to PostgreSQL');
      await proxy.up();
      const claimed = await store.claim({ owner: 'w', limit: 1, leaseMs: 1000 });
      expect(claimed).toHaveLength(1);
      // The LISTEN connection comes back by itself and wakes subscribers (notifications may have been missed).
      await expect.poll(() => wakes, { timeout: 5000 }).toBeGreaterThan(wakesBefore);
    } finally {
      await proxy.down();
    }
  });

  it('survives its connections being terminated by the server', async () => {
    const store = await migratedStore();
    await store.enqueue([row()]);
    let wakes = 0;
    store.subscribe(() => wakes++);
    await store.listening();
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    try {
      const before = wakes;
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND (query ILIKE $1 OR query ILIKE $2)`,
        [`%"${store.schema}"%`, `%LISTEN "${store.channel}"%`],
      );
      await expect.poll(() => wakes, { timeout: 5000 }).toBeGreaterThan(before);
      let claimed: unknown[] = [];
      await expect
        .poll(async () => {
          claimed = await store.claim({ owner: 'w', limit: 1, leaseMs: 1000 }).catch(() => []);
          return claimed.length;
        })
        .toBe(1);
    } finally {
      await admin.end();
    }
  });
});
