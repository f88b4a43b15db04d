import { ConfigError, type MigrationInfo } from '@herald/core';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * Versioned migrations, applied in order inside one `BEGIN IMMEDIATE` transaction, so processes that start
 * together serialize on the write lock and only the first applies anything. Append new versions; never edit
 * one that shipped.
 */
export const MIGRATIONS: readonly { version: number; name: string; description: string; sql: string }[] = [
  {
    version: 1,
    name: 'initial',
    description: 'Create the tables of deliveries, attempts, tracking and inbound events, opt-outs, suppressions and rate limits.',
    sql: `
      CREATE TABLE herald_deliveries (
        id TEXT PRIMARY KEY,
        batch_id TEXT NOT NULL,
        notification TEXT NOT NULL,
        category TEXT,
        recipient_id TEXT,
        protocol TEXT NOT NULL,
        address TEXT NOT NULL,
        backend TEXT,
        status TEXT NOT NULL,
        skip_reason TEXT,
        dedupe_key TEXT,
        dedupe_address TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        provider_message_id TEXT,
        last_error TEXT,
        message TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        next_attempt_at INTEGER,
        expires_at INTEGER,
        lease_owner TEXT,
        lease_until INTEGER,
        sent_at INTEGER
      );
      -- Claim index: only rows a worker may pick up, in claim order. A sending row's next_attempt_at is its
      -- lease expiry, so expired leases come out of the same range scan.
      CREATE INDEX herald_deliveries_due ON herald_deliveries (next_attempt_at, id)
        WHERE status IN ('queued', 'retrying', 'sending');
      -- Partial indexes cost nothing on inserts of rows without a dedupe key or provider id.
      CREATE INDEX herald_deliveries_dedupe ON herald_deliveries (dedupe_key, dedupe_address, created_at)
        WHERE dedupe_key IS NOT NULL;
      CREATE INDEX herald_deliveries_provider ON herald_deliveries (backend, provider_message_id)
        WHERE provider_message_id IS NOT NULL;
      CREATE INDEX herald_deliveries_batch ON herald_deliveries (batch_id);
      CREATE INDEX herald_deliveries_recipient ON herald_deliveries (recipient_id, created_at)
        WHERE recipient_id IS NOT NULL;
      CREATE INDEX herald_deliveries_created ON herald_deliveries (created_at);

      CREATE TABLE herald_attempts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        delivery_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        duration_ms REAL NOT NULL,
        outcome TEXT NOT NULL,
        request TEXT,
        response TEXT,
        error TEXT,
        worker_id TEXT NOT NULL
      );
      CREATE INDEX herald_attempts_delivery ON herald_attempts (delivery_id, seq);

      CREATE TABLE herald_events (
        backend TEXT NOT NULL,
        event_id TEXT NOT NULL,
        delivery_id TEXT,
        event_type TEXT NOT NULL,
        message_id TEXT,
        timestamp INTEGER,
        recipient TEXT,
        metadata TEXT NOT NULL,
        tags TEXT NOT NULL,
        reject_reason TEXT,
        description TEXT,
        mta_response TEXT,
        user_agent TEXT,
        click_url TEXT,
        raw TEXT,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (backend, event_id)
      );
      CREATE INDEX herald_events_delivery ON herald_events (delivery_id, received_at) WHERE delivery_id IS NOT NULL;

      CREATE TABLE herald_inbound (
        backend TEXT NOT NULL,
        event_id TEXT NOT NULL,
        timestamp INTEGER,
        message TEXT NOT NULL,
        raw TEXT,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (backend, event_id)
      );

      CREATE TABLE herald_opt_outs (
        key TEXT PRIMARY KEY,
        categories TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );

      CREATE TABLE herald_suppressions (
        protocol TEXT NOT NULL,
        address TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (protocol, address)
      );

      CREATE TABLE herald_rate_limits (
        key TEXT PRIMARY KEY,
        tokens REAL NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'messages apart',
    description: 'Move rendered messages out of the delivery rows into a table of their own.',
    // The rendered message (kilobytes for an email) moves out of the delivery row: claims and outcomes rewrite
    // the row twice per send, and SQLite rewrites a row whole, so a lean row halves the bytes each send writes.
    sql: `
      CREATE TABLE herald_messages (
        delivery_id TEXT PRIMARY KEY,
        message TEXT NOT NULL
      );
      INSERT INTO herald_messages (delivery_id, message) SELECT id, message FROM herald_deliveries WHERE message IS NOT NULL;
      ALTER TABLE herald_deliveries DROP COLUMN message;
    `,
  },
  {
    version: 3,
    name: 'attempt backend, claim time',
    description: 'Record the backend of each attempt and when the current lease was taken.',
    // Failover moves a delivery between backends, so each attempt records the backend that made it (every attempt
    // before this version was made by its delivery's backend). claimed_at is when the current lease started: a
    // reclaimed lease logs its lost attempt as started then (outcome 'abandoned').
    sql: `
      ALTER TABLE herald_attempts ADD COLUMN backend TEXT;
      UPDATE herald_attempts SET backend = (SELECT d.backend FROM herald_deliveries d WHERE d.id = herald_attempts.delivery_id);
      ALTER TABLE herald_deliveries ADD COLUMN claimed_at INTEGER;
      UPDATE herald_deliveries SET claimed_at = updated_at WHERE status = 'sending';
    `,
  },
  {
    version: 4,
    name: 'list indexes, api keys',
    description: 'Index delivery lists by status, notification, backend, address, recipient and batch over time; index the suppression list; add the API keys table.',
    // Dashboards and the HTTP API page through deliveries newest first, by one column over a time range. Each index
    // ends in (created_at, id), so a keyset page `(created_at, id) < (?, ?)` is one backward range scan that stops
    // after `limit` rows, with no sort (the old created_at-only index left equal timestamps to a temporary B-tree).
    // Claims and outcomes change none of these columns but status. herald_deliveries_status leaves `sending` out, so
    // a claim only removes the row's entry and an outcome only adds one (half the index writes of a full index,
    // ~7 µs per send off the store floor); lists of `sending` read the claim index instead (see `_sql.ts`).
    sql: `
      DROP INDEX herald_deliveries_created;
      CREATE INDEX herald_deliveries_created ON herald_deliveries (created_at, id);
      CREATE INDEX herald_deliveries_status ON herald_deliveries (status, created_at, id) WHERE status <> 'sending';
      CREATE INDEX herald_deliveries_notification ON herald_deliveries (notification, created_at, id);
      CREATE INDEX herald_deliveries_backend ON herald_deliveries (backend, created_at, id);
      CREATE INDEX herald_deliveries_address ON herald_deliveries (address, created_at, id);
      DROP INDEX herald_deliveries_recipient;
      CREATE INDEX herald_deliveries_recipient ON herald_deliveries (recipient_id, created_at, id)
        WHERE recipient_id IS NOT NULL;
      DROP INDEX herald_deliveries_batch;
      CREATE INDEX herald_deliveries_batch ON herald_deliveries (batch_id, created_at, id);

      CREATE INDEX herald_suppressions_created ON herald_suppressions (created_at, address);
      CREATE INDEX herald_suppressions_protocol_created ON herald_suppressions (protocol, created_at, address);

      CREATE TABLE herald_api_keys (
        id TEXT PRIMARY KEY,
        name TEXT,
        hash TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER,
        last_used_at INTEGER
      );
    `,
  },
  {
    version: 5,
    name: 'status polling',
    description: "Keep the provider's own status word on deliveries and events, and when each delivery was last polled, with an index of the deliveries a poll may pick.",
    // A poll walks one backend's sent/deferred rows least recently polled first. The partial index holds only
    // those rows: an outcome adds the sent row's entry, and a final tracking status removes it.
    sql: `
      ALTER TABLE herald_deliveries ADD COLUMN provider_status TEXT;
      ALTER TABLE herald_deliveries ADD COLUMN last_polled_at INTEGER;
      ALTER TABLE herald_events ADD COLUMN provider_status TEXT;
      CREATE INDEX herald_deliveries_polls ON herald_deliveries (backend, last_polled_at, sent_at)
        WHERE status IN ('sent', 'deferred');
    `,
  },
];

/** The schema version this package writes; other methods refuse a database that is not there yet. */
export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The schema version of `db` (0 when Herald never migrated it). Reads only. */
export function schemaVersion(db: BetterSqlite3.Database): number {
  const table = db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'herald_migrations'").get();
  if (!table?.n) return 0;
  return db.prepare<[], { v: number | null }>('SELECT MAX(version) AS v FROM herald_migrations').get()?.v ?? 0;
}

/**
 * The migrations applied to `db` and those `migrateDatabase` would apply, without writing anything (for
 * `herald migrate --dry-run`). A version the database has but this package does not know keeps its stored name.
 */
export function migrationState(db: BetterSqlite3.Database): { applied: MigrationInfo[]; pending: MigrationInfo[] } {
  const describe = (version: number, name: string): MigrationInfo => ({
    version,
    description: MIGRATIONS.find((m) => m.version === version)?.description ?? name,
  });
  const rows = schemaVersion(db) === 0 ? [] : db.prepare<[], { version: number; name: string }>('SELECT version, name FROM herald_migrations ORDER BY version').all();
  const applied = rows.map((row) => describe(row.version, row.name));
  const done = new Set(applied.map((m) => m.version));
  const pending = MIGRATIONS.filter((m) => !done.has(m.version)).map((m) => describe(m.version, m.name));
  return { applied, pending };
}

/** Bring the schema to the latest version. Returns the versions it applied. */
export function migrateDatabase(db: BetterSqlite3.Database): number[] {
  const run = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS herald_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const current = schemaVersion(db);
    if (current > LATEST_VERSION) {
      throw new ConfigError(
        `the database schema is at version ${current}, newer than this @herald/store-sqlite knows (${LATEST_VERSION}); upgrade the package`,
      );
    }
    const applied: number[] = [];
    const record = db.prepare<[number, string, number]>('INSERT INTO herald_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
      applied.push(migration.version);
    }
    return applied;
  });
  return run.immediate();
}
