import {
  type AttemptOutcome,
  type ClaimOptions,
  ConfigError,
  canAdvance,
  type Delivery,
  type DeliveryCounts,
  type DeliveryFilter,
  type DeliveryStatus,
  type EnqueueResult,
  FINISHED_STATUSES,
  type InboundEvent,
  type NewDelivery,
  normalizeAddress,
  type Protocol,
  type RecordEventResult,
  type Store,
  type Suppression,
  type TrackingEvent,
  ValidationError,
} from '@herald/core';
import Database from 'better-sqlite3';
import {
  type AttemptRow,
  DELIVERY_COLUMNS,
  type DeliveryRow,
  type EventRow,
  json,
  ms,
  parse,
  toAttempt,
  toDelivery,
  toDeliveryFromValues,
  toEvent,
} from './_rows';
import { type Checkpointer, startCheckpointer } from './_checkpointer';
import { migrateDatabase } from './_schema';

/**
 * Options of {@link sqliteStore}. Give `path` or `database`.
 *
 * @example
 * ```ts
 * const options: SqliteStoreOptions = { path: '/var/lib/app/herald.db', busyTimeoutMs: 10_000, synchronous: 'FULL' };
 * ```
 */
export interface SqliteStoreOptions {
  /**
   * Database file, created if missing. Many processes on one machine may share it; use `@herald/store-postgres`
   * for workers on several machines (SQLite's locking needs one local file system).
   * `':memory:'` gives a private, non-durable database (tests).
   */
  path?: string;
  /**
   * An open better-sqlite3 connection to use instead of opening `path` (to share the file with your own tables).
   * Herald's tables are prefixed `herald_`. The store sets the pragmas below on it but never closes it.
   */
  database?: Database.Database;
  /**
   * How long a write waits for another connection's write lock before failing with `SQLITE_BUSY`.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * `PRAGMA synchronous`. `NORMAL` in WAL mode never corrupts the database; a power loss (not a process crash)
   * may roll back the last transactions. `FULL` syncs every commit.
   * @default 'NORMAL'
   */
  synchronous?: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';
  /**
   * Who copies committed WAL frames back into the database file. `'background'`: a thread of the store's own,
   * with its own connection, every 250 ms and after large writes, so a big `notify()` or a busy worker never
   * stalls the event loop on it (SQLite still checkpoints inline if the WAL ever passes 10,000 pages, ~40 MB).
   * `'inline'`: SQLite's default, inside the commit that crosses 1,000 pages. Connections passed as `database`
   * and `':memory:'` are always left to SQLite.
   * @default 'background'
   */
  checkpoint?: 'background' | 'inline';
  /**
   * Store name reported as `store.name` (logs, dashboard).
   * @default 'sqlite'
   */
  name?: string;
}

type Params = (string | number | null)[];

const FINISHED_SQL = FINISHED_STATUSES.map((status) => `'${status}'`).join(', ');
const ACTIVE_SQL = `status IN ('queued', 'retrying', 'sending')`;

/** The columns `deliveryValues` fills, in order. */
const DELIVERY_INSERT_COLUMNS = `id, batch_id, notification, category, recipient_id, protocol, address, backend, status, skip_reason,
  dedupe_key, dedupe_address, attempts, max_attempts, created_at, updated_at, next_attempt_at, expires_at`;
const DELIVERY_INSERT_WIDTH = 18;
const INSERT_DELIVERY = `INSERT INTO herald_deliveries (${DELIVERY_INSERT_COLUMNS}) VALUES (${Array(DELIVERY_INSERT_WIDTH).fill('?').join(', ')})`;
const INSERT_MESSAGE = 'INSERT INTO herald_messages (delivery_id, message) VALUES (?, ?)';
/** Rows per multi-row INSERT at enqueue (18 values each, well under SQLite's 32,766 bound parameters). */
const INSERT_CHUNK = 64;

function deliveryValues(row: NewDelivery, status: string, skipReason: string | null, createdAt: number, nextAttemptAt: number | null): Params {
  return [
    row.id,
    row.batchId,
    row.notification,
    row.category,
    row.recipientId,
    row.protocol,
    row.address,
    row.backend,
    status,
    skipReason,
    row.dedupeKey,
    row.dedupeAddress,
    0,
    row.maxAttempts,
    createdAt,
    createdAt,
    nextAttemptAt,
    row.expiresAt === null ? null : row.expiresAt.getTime(),
  ];
}

/** A delivery with its message (the message lives apart, see migration 2). */
const SELECT_DELIVERY = 'SELECT d.*, m.message AS message FROM herald_deliveries d LEFT JOIN herald_messages m ON m.delivery_id = d.id';
const SELECT_MESSAGES = 'SELECT delivery_id, message FROM herald_messages WHERE delivery_id IN (SELECT value FROM json_each(?))';

const DEDUPE_HIT = `SELECT 1 AS hit FROM herald_deliveries
  WHERE dedupe_key = ? AND dedupe_address IS ? AND created_at >= ? AND status NOT IN ('failed', 'skipped') LIMIT 1`;

const SELECT_DUE = `SELECT id FROM herald_deliveries WHERE ${ACTIVE_SQL} AND next_attempt_at <= ?
  ORDER BY next_attempt_at, id LIMIT ?`;
const SELECT_DUE_FOR_BACKENDS = `SELECT id FROM herald_deliveries WHERE ${ACTIVE_SQL} AND next_attempt_at <= ?
  AND backend IN (SELECT value FROM json_each(?)) ORDER BY next_attempt_at, id LIMIT ?`;
const LEASE = `UPDATE herald_deliveries
  SET status = 'sending', lease_owner = ?, lease_until = ?, next_attempt_at = ?, attempts = attempts + 1, updated_at = ?
  WHERE id IN (SELECT value FROM json_each(?)) RETURNING ${DELIVERY_COLUMNS.join(', ')}`;

const HOLDS_LEASE = `WHERE id = ? AND status = 'sending' AND lease_owner = ?`;
const FINISH_SENT = `UPDATE herald_deliveries SET status = 'sent', provider_message_id = ?, sent_at = ?, last_error = NULL,
  next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL, updated_at = ? ${HOLDS_LEASE}`;
const FINISH_RETRYING = `UPDATE herald_deliveries SET status = 'retrying', last_error = ?, next_attempt_at = ?,
  lease_owner = NULL, lease_until = NULL, updated_at = ? ${HOLDS_LEASE}`;
const FINISH_FAILED = `UPDATE herald_deliveries SET status = 'failed', last_error = ?, next_attempt_at = NULL,
  lease_owner = NULL, lease_until = NULL, updated_at = ? ${HOLDS_LEASE}`;
const ATTEMPT_INSERT_COLUMNS = 'delivery_id, attempt, started_at, duration_ms, outcome, request, response, error, worker_id';
const ATTEMPT_WIDTH = 9;
const INSERT_ATTEMPT = `INSERT INTO herald_attempts (${ATTEMPT_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;

// Every right-hand side of an UPDATE sees the old row, so `attempts > 1` means "attempts - 1 > 0".
const RELEASE = `UPDATE herald_deliveries SET attempts = MAX(attempts - 1, 0),
  status = CASE WHEN attempts > 1 THEN 'retrying' ELSE 'queued' END,
  lease_owner = NULL, lease_until = NULL, next_attempt_at = ?, updated_at = ? ${HOLDS_LEASE}`;
const REQUEUE = `UPDATE herald_deliveries SET status = 'queued', skip_reason = NULL, attempts = 0, max_attempts = ?,
  expires_at = ?, next_attempt_at = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL
  WHERE id = ? AND status <> 'sending' RETURNING *`;

const INSERT_EVENT = `INSERT INTO herald_events (backend, event_id, delivery_id, event_type, message_id, timestamp, recipient,
  metadata, tags, reject_reason, description, mta_response, user_agent, click_url, raw, received_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

const PRUNE_SELECT = `SELECT id FROM herald_deliveries WHERE status IN (${FINISHED_SQL}) AND updated_at < ? LIMIT ?`;

interface Statements {
  insertDelivery: Database.Statement<Params>;
  insertMessage: Database.Statement<Params>;
  /** Raw mode: `[delivery_id, message]` pairs. */
  messages: Database.Statement<Params, [string, string]>;
  message: Database.Statement<Params, { message: string }>;
  dedupeHit: Database.Statement<Params, { hit: number }>;
  selectDue: Database.Statement<Params, { id: string }>;
  selectDueForBackends: Database.Statement<Params, { id: string }>;
  /** Raw mode: rows come back as arrays in {@link DELIVERY_COLUMNS} order. */
  lease: Database.Statement<Params, unknown[]>;
  finishSent: Database.Statement<Params>;
  finishRetrying: Database.Statement<Params>;
  finishFailed: Database.Statement<Params>;
  insertAttempt: Database.Statement<Params>;
  release: Database.Statement<Params>;
  requeue: Database.Statement<Params, DeliveryRow>;
  get: Database.Statement<Params, DeliveryRow>;
  attempts: Database.Statement<Params, AttemptRow>;
  nextDueAt: Database.Statement<Params, { t: number | null }>;
  findEvent: Database.Statement<Params, { delivery_id: string | null }>;
  byProviderId: Database.Statement<Params, DeliveryRow>;
  insertEvent: Database.Statement<Params>;
  setStatus: Database.Statement<Params>;
  deleteEvent: Database.Statement<Params>;
  events: Database.Statement<Params, EventRow>;
  insertInbound: Database.Statement<Params>;
  setOptOut: Database.Statement<Params>;
  deleteOptOut: Database.Statement<Params>;
  suppress: Database.Statement<Params>;
  unsuppress: Database.Statement<Params>;
  pruneSelect: Database.Statement<Params, { id: string }>;
  pruneAttempts: Database.Statement<Params>;
  pruneEvents: Database.Statement<Params>;
  pruneDeliveries: Database.Statement<Params>;
  pruneMessages: Database.Statement<Params>;
  pruneOrphanEvents: Database.Statement<Params>;
  pruneInbound: Database.Statement<Params>;
  getRate: Database.Statement<Params, { tokens: number; updated_at: number }>;
  setRate: Database.Statement<Params>;
}

function prepareAll(db: Database.Database): Statements {
  const p = <R = unknown>(sql: string) => db.prepare<Params, R>(sql);
  return {
    insertDelivery: p(INSERT_DELIVERY),
    insertMessage: p(INSERT_MESSAGE),
    messages: db.prepare<Params, [string, string]>(SELECT_MESSAGES).raw(true),
    message: p('SELECT message FROM herald_messages WHERE delivery_id = ?'),
    dedupeHit: p(DEDUPE_HIT),
    selectDue: p(SELECT_DUE),
    selectDueForBackends: p(SELECT_DUE_FOR_BACKENDS),
    lease: db.prepare<Params, unknown[]>(LEASE).raw(true),
    finishSent: p(FINISH_SENT),
    finishRetrying: p(FINISH_RETRYING),
    finishFailed: p(FINISH_FAILED),
    insertAttempt: p(INSERT_ATTEMPT),
    release: p(RELEASE),
    requeue: p(REQUEUE),
    get: p(`${SELECT_DELIVERY} WHERE d.id = ?`),
    attempts: p('SELECT * FROM herald_attempts WHERE delivery_id = ? ORDER BY seq'),
    nextDueAt: p(`SELECT MIN(next_attempt_at) AS t FROM herald_deliveries WHERE ${ACTIVE_SQL}`),
    findEvent: p('SELECT delivery_id FROM herald_events WHERE backend = ? AND event_id = ?'),
    byProviderId: p(`${SELECT_DELIVERY} WHERE d.backend = ? AND d.provider_message_id = ?
      ORDER BY d.created_at DESC, d.id DESC LIMIT 1`),
    insertEvent: p(INSERT_EVENT),
    setStatus: p('UPDATE herald_deliveries SET status = ?, updated_at = ? WHERE id = ?'),
    deleteEvent: p('DELETE FROM herald_events WHERE backend = ? AND event_id = ?'),
    events: p('SELECT * FROM herald_events WHERE delivery_id = ? ORDER BY received_at, rowid'),
    insertInbound: p(`INSERT OR IGNORE INTO herald_inbound (backend, event_id, timestamp, message, raw, received_at)
      VALUES (?, ?, ?, ?, ?, ?)`),
    setOptOut: p(`INSERT INTO herald_opt_outs (key, categories, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET categories = excluded.categories, updated_at = excluded.updated_at`),
    deleteOptOut: p('DELETE FROM herald_opt_outs WHERE key = ?'),
    suppress: p(`INSERT INTO herald_suppressions (protocol, address, reason, created_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (protocol, address) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at`),
    unsuppress: p('DELETE FROM herald_suppressions WHERE protocol = ? AND address = ?'),
    pruneSelect: p(PRUNE_SELECT),
    pruneAttempts: p('DELETE FROM herald_attempts WHERE delivery_id IN (SELECT value FROM json_each(?))'),
    pruneEvents: p('DELETE FROM herald_events WHERE delivery_id IN (SELECT value FROM json_each(?))'),
    pruneDeliveries: p('DELETE FROM herald_deliveries WHERE id IN (SELECT value FROM json_each(?))'),
    pruneMessages: p('DELETE FROM herald_messages WHERE delivery_id IN (SELECT value FROM json_each(?))'),
    pruneOrphanEvents: p(`DELETE FROM herald_events WHERE rowid IN
      (SELECT rowid FROM herald_events WHERE delivery_id IS NULL AND received_at < ? LIMIT ?)`),
    pruneInbound: p('DELETE FROM herald_inbound WHERE rowid IN (SELECT rowid FROM herald_inbound WHERE received_at < ? LIMIT ?)'),
    getRate: p('SELECT tokens, updated_at FROM herald_rate_limits WHERE key = ?'),
    setRate: p(`INSERT INTO herald_rate_limits (key, tokens, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at`),
  };
}

function filterSql(filter: DeliveryFilter): { where: string; params: Params } {
  const terms: string[] = [];
  const params: Params = [];
  if (filter.status !== undefined) {
    if (typeof filter.status === 'string') {
      terms.push('status = ?');
      params.push(filter.status);
    } else {
      terms.push('status IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify(filter.status));
    }
  }
  const equal: [keyof DeliveryFilter, string][] = [
    ['notification', 'notification'],
    ['backend', 'backend'],
    ['recipientId', 'recipient_id'],
    ['address', 'address'],
    ['batchId', 'batch_id'],
  ];
  for (const [key, column] of equal) {
    const value = filter[key];
    if (typeof value === 'string') {
      terms.push(`${column} = ?`);
      params.push(value);
    }
  }
  if (filter.before !== undefined) {
    terms.push('created_at < ?');
    params.push(filter.before.getTime());
  }
  return { where: terms.length ? `WHERE ${terms.join(' AND ')}` : '', params };
}

/**
 * The embedded SQLite {@link Store} (better-sqlite3, WAL): durable, no server, and safe for several processes
 * sharing one file on one machine. Every write runs in a `BEGIN IMMEDIATE` transaction, so claims from
 * different processes never overlap, and a crashed worker's deliveries are reclaimed once its lease expires.
 *
 * `createHerald` runs `store.migrate()` at start-up; when the store is used on its own, call
 * `await store.migrate()` first (the first call of any other method also migrates if needed).
 *
 * @example
 * ```ts
 * import { createHerald } from '@herald/core';
 * import { sqliteStore } from '@herald/store-sqlite';
 *
 * const herald = createHerald({
 *   store: sqliteStore({ path: 'herald.db' }),
 *   backends: [smtp({ host: 'localhost', port: 1025 })],
 *   notifications: [orderShipped],
 * });
 * ```
 */
export function sqliteStore(options: SqliteStoreOptions): Store {
  if (!options.database && (typeof options.path !== 'string' || options.path.length === 0)) {
    throw new ConfigError('sqliteStore needs `path` (a database file, or ":memory:") or an open `database`.', { field: 'path' });
  }
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new ConfigError(`sqliteStore busyTimeoutMs must be a non-negative integer, got ${String(busyTimeoutMs)}.`, {
      field: 'busyTimeoutMs',
    });
  }
  const synchronous = options.synchronous ?? 'NORMAL';
  if (!['OFF', 'NORMAL', 'FULL', 'EXTRA'].includes(synchronous)) {
    throw new ConfigError(`sqliteStore synchronous must be OFF, NORMAL, FULL or EXTRA, got ${String(synchronous)}.`, {
      field: 'synchronous',
    });
  }

  const checkpoint = options.checkpoint ?? 'background';
  if (checkpoint !== 'background' && checkpoint !== 'inline') {
    throw new ConfigError(`sqliteStore checkpoint must be 'background' or 'inline', got ${String(checkpoint)}.`, { field: 'checkpoint' });
  }

  const ownsConnection = !options.database;
  const db = options.database ?? new Database(options.path!, { timeout: busyTimeoutMs });
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  let checkpointer: Checkpointer | null = null;
  if (ownsConnection && checkpoint === 'background' && !db.memory) {
    db.pragma('wal_autocheckpoint = 10000');
    // Checkpoint failures are not the caller's: SQLite retries on the next round, and falls back to inline
    // checkpoints if the WAL grows past the limit above.
    checkpointer = startCheckpointer(db.name, { busyTimeoutMs, everyMs: 250, onError: () => {} });
  }

  let statements: Statements | null = null;
  const listeners = new Set<() => void>();

  function ready(): Statements {
    if (!statements) {
      migrateDatabase(db);
      statements = prepareAll(db);
    }
    return statements;
  }

  function wake(): void {
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch {
        // The write is committed; a failing listener must not turn it into an error.
      }
    }
  }

  const listCache = new Map<string, Database.Statement<Params, DeliveryRow>>();
  const countCache = new Map<string, Database.Statement<Params, { status: string; n: number }>>();

  function cached<R>(cache: Map<string, Database.Statement<Params, R>>, sql: string): Database.Statement<Params, R> {
    let statement = cache.get(sql);
    if (!statement) {
      statement = db.prepare<Params, R>(sql);
      cache.set(sql, statement);
    }
    return statement;
  }

  interface Pending {
    index: number;
    row: NewDelivery;
    status: string;
    skipReason: string | null;
    createdAt: number;
    nextAttemptAt: number | null;
  }

  const enqueueTx = db.transaction((rows: readonly NewDelivery[]): EnqueueResult => {
    const s = ready();
    const duplicates: string[] = [];
    let chunk: Pending[] = [];
    for (const [index, row] of rows.entries()) {
      let status: string = row.status;
      let skipReason: string | null = row.skipReason;
      const createdAt = row.createdAt.getTime();
      let nextAttemptAt: number | null = status === 'queued' ? (row.nextAttemptAt?.getTime() ?? createdAt) : null;
      const item = { index, row, status, skipReason, createdAt, nextAttemptAt };
      if (row.dedupeKey === null || status !== 'queued') {
        chunk.push(item);
        if (chunk.length === INSERT_CHUNK) {
          insertChunk(s, chunk);
          chunk = [];
        }
        continue;
      }
      // A dedupe check must see every row inserted before it, this call's included: insert what is pending first.
      insertChunk(s, chunk);
      chunk = [];
      // A dedupe key without `dedupeSince` has no window: any earlier live delivery counts.
      if (s.dedupeHit.get(row.dedupeKey, row.dedupeAddress, row.dedupeSince?.getTime() ?? Number.MIN_SAFE_INTEGER)) {
        status = 'skipped';
        skipReason = 'duplicate';
        nextAttemptAt = null;
        duplicates.push(row.id);
      }
      insertDelivery(s, index, row, status, skipReason, createdAt, nextAttemptAt);
    }
    insertChunk(s, chunk);
    return { duplicates };
  });

  const multiInserts = new Map<string, Database.Statement<Params>>();
  /** A prepared INSERT of `count` (≤ INSERT_CHUNK) rows of `width` values each into `table`, cached per table and count. */
  function multiInsert(table: string, columns: string, width: number, count: number): Database.Statement<Params> {
    const key = `${table}:${count}`;
    let statement = multiInserts.get(key);
    if (!statement) {
      const tuple = `(${Array.from({ length: width }, () => '?').join(', ')})`;
      statement = db.prepare<Params>(`INSERT INTO ${table} (${columns}) VALUES ${Array.from({ length: count }, () => tuple).join(', ')}`);
      multiInserts.set(key, statement);
    }
    return statement;
  }

  /**
   * Insert rows (no dedupe key) with one multi-row statement for the deliveries and one for their messages: far
   * fewer calls into SQLite than a statement per row. On a constraint error the rows are retried one by one so
   * the error names the offending row (a failed statement leaves nothing behind).
   */
  function insertChunk(s: Statements, chunk: readonly Pending[]): void {
    if (chunk.length === 0) return;
    if (chunk.length === 1) {
      const { index, row, status, skipReason, createdAt, nextAttemptAt } = chunk[0]!;
      insertDelivery(s, index, row, status, skipReason, createdAt, nextAttemptAt);
      return;
    }
    const values: Params = [];
    const messages: Params = [];
    for (const { row, status, skipReason, createdAt, nextAttemptAt } of chunk) {
      values.push(...deliveryValues(row, status, skipReason, createdAt, nextAttemptAt));
      if (row.message !== null) messages.push(row.id, JSON.stringify(row.message));
    }
    try {
      multiInsert('herald_deliveries', DELIVERY_INSERT_COLUMNS, DELIVERY_INSERT_WIDTH, chunk.length).run(...values);
    } catch (error) {
      if (!(error instanceof Database.SqliteError && error.code.startsWith('SQLITE_CONSTRAINT'))) throw error;
      for (const { index, row, status, skipReason, createdAt, nextAttemptAt } of chunk) insertDelivery(s, index, row, status, skipReason, createdAt, nextAttemptAt);
      return;
    }
    if (messages.length) multiInsert('herald_messages', 'delivery_id, message', 2, messages.length / 2).run(...messages);
  }

  function insertDelivery(
    s: Statements,
    index: number,
    row: NewDelivery,
    status: string,
    skipReason: string | null,
    createdAt: number,
    nextAttemptAt: number | null,
  ): void {
    try {
      s.insertDelivery.run(...deliveryValues(row, status, skipReason, createdAt, nextAttemptAt));
      if (row.message !== null) s.insertMessage.run(row.id, JSON.stringify(row.message));
    } catch (error) {
      if (error instanceof Database.SqliteError && error.code.startsWith('SQLITE_CONSTRAINT')) {
        const duplicate = error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
        const issue = duplicate
          ? { path: `rows[${index}].id`, message: `delivery id ${row.id} already exists` }
          : { path: `rows[${index}]`, message: error.message };
        throw new ValidationError('enqueue failed; nothing was stored', [issue], { cause: error });
      }
      throw error;
    }
  }

  const claimTx = db.transaction((opts: ClaimOptions): Delivery[] => {
    const s = ready();
    const now = (opts.now ?? new Date()).getTime();
    const limit = Math.max(0, Math.floor(opts.limit));
    if (limit === 0 || opts.backends?.length === 0) return [];
    const ids = (
      opts.backends
        ? s.selectDueForBackends.all(now, JSON.stringify(opts.backends), limit)
        : s.selectDue.all(now, limit)
    ).map((r) => r.id);
    if (ids.length === 0) return [];
    const leaseUntil = now + opts.leaseMs;
    const list = JSON.stringify(ids);
    const rows = s.lease.all(opts.owner, leaseUntil, leaseUntil, now, list);
    const byId = new Map(rows.map((values) => [values[0] as string, values]));
    const messages = new Map(s.messages.all(list));
    return ids.map((id) => toDeliveryFromValues(byId.get(id)!, messages.get(id) ?? null));
  });

  /** Move one delivery out of `sending`; false when this owner no longer holds its lease. */
  const updateOutcome = (s: Statements, id: string, owner: string, outcome: AttemptOutcome): boolean => {
    const now = Date.now();
    if (outcome.status === 'sent') {
      // When the provider accepted it (the end of the attempt), not when this row happens to be written.
      const sentAt = outcome.attempt.startedAt.getTime() + Math.round(outcome.attempt.durationMs);
      return s.finishSent.run(outcome.providerMessageId, sentAt, now, id, owner).changes === 1;
    }
    if (outcome.status === 'retrying') return s.finishRetrying.run(outcome.error, outcome.nextAttemptAt.getTime(), now, id, owner).changes === 1;
    return s.finishFailed.run(outcome.error, now, id, owner).changes === 1;
  };
  const attemptValues = (id: string, a: AttemptOutcome['attempt']): Params => [
    id,
    a.attempt,
    a.startedAt.getTime(),
    a.durationMs,
    a.outcome,
    json(a.request),
    json(a.response),
    a.error,
    a.workerId,
  ];

  const finishOne = (id: string, owner: string, outcome: AttemptOutcome): boolean => {
    const s = ready();
    if (!updateOutcome(s, id, owner, outcome)) return false;
    s.insertAttempt.run(...attemptValues(id, outcome.attempt));
    return true;
  };
  const finishTx = db.transaction(finishOne);
  /** Outcomes one by one (each needs its own lease check), then all their attempt rows in one INSERT. */
  const finishManyTx = db.transaction((items: readonly { id: string; owner: string; outcome: AttemptOutcome }[]): boolean[] => {
    const s = ready();
    const attempts: Params = [];
    const results = items.map(({ id, owner, outcome }) => {
      const ok = updateOutcome(s, id, owner, outcome);
      if (ok) attempts.push(...attemptValues(id, outcome.attempt));
      return ok;
    });
    for (let start = 0; start < attempts.length; start += INSERT_CHUNK * ATTEMPT_WIDTH) {
      const part = attempts.slice(start, start + INSERT_CHUNK * ATTEMPT_WIDTH);
      const count = part.length / ATTEMPT_WIDTH;
      if (count === 1) s.insertAttempt.run(...part);
      else multiInsert('herald_attempts', ATTEMPT_INSERT_COLUMNS, ATTEMPT_WIDTH, count).run(...part);
    }
    return results;
  });

  const releaseTx = db.transaction((ids: readonly string[], owner: string): number => {
    const s = ready();
    const now = Date.now();
    let released = 0;
    for (const id of ids) released += s.release.run(now, now, id, owner).changes;
    return released;
  });

  const recordEventTx = db.transaction(
    (backend: string, event: TrackingEvent, now: number, status: DeliveryStatus | null): RecordEventResult => {
      const s = ready();
      const existing = s.findEvent.get(backend, event.eventId);
      if (existing) {
        const row = existing.delivery_id === null ? undefined : s.get.get(existing.delivery_id);
        return { inserted: false, delivery: row ? toDelivery(row) : null, statusChanged: false };
      }
      const row = event.messageId === null ? undefined : s.byProviderId.get(backend, event.messageId);
      s.insertEvent.run(
        backend,
        event.eventId,
        row?.id ?? null,
        event.eventType,
        event.messageId,
        ms(event.timestamp),
        event.recipient,
        JSON.stringify(event.metadata),
        JSON.stringify(event.tags),
        event.rejectReason,
        event.description,
        event.mtaResponse,
        event.userAgent,
        event.clickUrl,
        json(event.raw),
        now,
      );
      if (!row) return { inserted: true, delivery: null, statusChanged: false };
      const delivery = toDelivery(row);
      if (status === null || !canAdvance(delivery.status, status)) return { inserted: true, delivery, statusChanged: false };
      s.setStatus.run(status, now, row.id);
      return { inserted: true, delivery: { ...delivery, status, updatedAt: new Date(now) }, statusChanged: true };
    },
  );

  const pruneTx = db.transaction((olderThan: number, batchSize: number): number => {
    const s = ready();
    const ids = s.pruneSelect.all(olderThan, batchSize).map((r) => r.id);
    if (ids.length === 0) return 0;
    const list = JSON.stringify(ids);
    s.pruneAttempts.run(list);
    s.pruneEvents.run(list);
    s.pruneMessages.run(list);
    return s.pruneDeliveries.run(list).changes;
  });

  const reserveRateTx = db.transaction((key: string, perSecond: number, now: number): number => {
    const s = ready();
    // Token bucket allowed to go negative: every reservation past the burst waits one more interval, so callers
    // in any process that share the file queue up behind each other instead of all retrying at once.
    const state = s.getRate.get(key);
    const last = state?.updated_at ?? now;
    let tokens = state ? Math.min(perSecond, state.tokens + (Math.max(0, now - last) * perSecond) / 1000) : perSecond;
    const wait = tokens >= 1 ? 0 : Math.ceil(((1 - tokens) * 1000) / perSecond);
    tokens -= 1;
    s.setRate.run(key, tokens, Math.max(now, last));
    return wait;
  });

  // Set-based lookups: one statement per notify() call instead of one per address (json_each over a JSON array).
  let bulkSuppressed: Database.Statement<[string, string], { address: string; reason: string; created_at: number }> | null = null;
  let bulkOptOuts: Database.Statement<[string], { key: string; categories: string }> | null = null;
  const suppressedTx = db.transaction((protocol: Protocol, addresses: readonly string[]) => {
    ready();
    bulkSuppressed ??= db.prepare(
      'SELECT address, reason, created_at FROM herald_suppressions WHERE protocol = ? AND address IN (SELECT value FROM json_each(?))',
    );
    const byNormalized = new Map<string, string[]>();
    for (const address of addresses) {
      const norm = normalizeAddress(protocol, address);
      const list = byNormalized.get(norm);
      if (list) list.push(address);
      else byNormalized.set(norm, [address]);
    }
    const result = new Map<string, Suppression>();
    for (const row of bulkSuppressed.all(protocol, JSON.stringify([...byNormalized.keys()]))) {
      const entry: Suppression = { protocol, address: row.address, reason: row.reason, createdAt: new Date(row.created_at) };
      for (const address of byNormalized.get(row.address) ?? []) result.set(address, entry);
    }
    return result;
  });

  return {
    name: options.name ?? 'sqlite',

    async migrate() {
      migrateDatabase(db);
      statements ??= prepareAll(db);
    },

    async enqueue(rows) {
      if (rows.length === 0) return { duplicates: [] };
      const result = enqueueTx.immediate(rows);
      if (rows.length >= 256) checkpointer?.poke();
      if (rows.some((row) => row.status === 'queued')) wake();
      return result;
    },

    async claim(opts) {
      return claimTx.immediate(opts);
    },

    async finish(id, owner, outcome) {
      const finished = finishTx.immediate(id, owner, outcome);
      if (finished && outcome.status === 'retrying') wake();
      return finished;
    },
    async finishMany(items) {
      const results = finishManyTx.immediate(items);
      if (items.some((item, i) => results[i] && item.outcome.status === 'retrying')) wake();
      return results;
    },

    async release(ids, owner) {
      if (ids.length === 0) return;
      if (releaseTx.immediate(ids, owner) > 0) wake();
    },

    async requeue(id, opts) {
      const s = ready();
      const now = opts.now.getTime();
      const row = s.requeue.get(opts.maxAttempts, ms(opts.expiresAt), now, now, id);
      if (row) {
        wake();
        return toDelivery({ ...row, message: s.message.get(id)?.message ?? null });
      }
      const current = s.get.get(id);
      return current ? toDelivery(current) : null;
    },

    async get(id) {
      const row = ready().get.get(id);
      return row ? toDelivery(row) : null;
    },

    async list(filter = {}) {
      ready();
      const { where, params } = filterSql(filter);
      const limit = filter.limit === undefined ? '' : ' LIMIT ?';
      if (filter.limit !== undefined) params.push(Math.max(0, Math.floor(filter.limit)));
      const statement = cached(listCache, `${SELECT_DELIVERY} ${where} ORDER BY d.created_at DESC, d.id DESC${limit}`);
      return statement.all(...params).map(toDelivery);
    },

    async count(filter = {}) {
      ready();
      const { where, params } = filterSql(filter);
      const statement = cached(countCache, `SELECT status, COUNT(*) AS n FROM herald_deliveries ${where} GROUP BY status`);
      const counts: DeliveryCounts = {};
      for (const row of statement.all(...params)) counts[row.status] = row.n;
      return counts;
    },

    async attempts(deliveryId) {
      return ready().attempts.all(deliveryId).map(toAttempt);
    },

    async nextDueAt() {
      const t = ready().nextDueAt.get()?.t ?? null;
      return t === null ? null : new Date(t);
    },

    async recordEvent(backend, event, opts) {
      return recordEventTx.immediate(backend, event, opts.now.getTime(), opts.status);
    },

    async forgetEvent(backend, eventId) {
      ready().deleteEvent.run(backend, eventId);
    },

    async events(deliveryId) {
      return ready().events.all(deliveryId).map(toEvent);
    },

    async forgetInbound(backend: string, eventId: string) {
      db.prepare('DELETE FROM herald_inbound WHERE backend = ? AND event_id = ?').run(backend, eventId);
    },

    async recordInbound(backend: string, event: InboundEvent, now: Date) {
      const s = ready();
      const result = s.insertInbound.run(
        backend,
        event.eventId,
        ms(event.timestamp),
        JSON.stringify(event.message),
        json(event.raw),
        now.getTime(),
      );
      return result.changes === 1;
    },

    async findByProviderMessageId(backend, messageId) {
      const row = ready().byProviderId.get(backend, messageId);
      return row ? toDelivery(row) : null;
    },

    async getOptOuts(keys) {
      ready();
      bulkOptOuts ??= db.prepare('SELECT key, categories FROM herald_opt_outs WHERE key IN (SELECT value FROM json_each(?))');
      const result = new Map<string, string[]>();
      if (keys.length === 0) return result;
      for (const row of bulkOptOuts.all(JSON.stringify(keys))) {
        const categories = parse<string[]>(row.categories);
        if (categories) result.set(row.key, categories);
      }
      return result;
    },

    async setOptOuts(key, categories) {
      const s = ready();
      if (categories.length === 0) s.deleteOptOut.run(key);
      else s.setOptOut.run(key, JSON.stringify([...new Set(categories)]), Date.now());
    },

    async suppress(entry) {
      const address = normalizeAddress(entry.protocol, entry.address);
      ready().suppress.run(entry.protocol, address, entry.reason, (entry.createdAt ?? new Date()).getTime());
    },

    async unsuppress(protocol, address) {
      return ready().unsuppress.run(protocol, normalizeAddress(protocol, address)).changes > 0;
    },

    async suppressed(protocol, addresses) {
      if (addresses.length === 0) return new Map();
      return suppressedTx(protocol, addresses);
    },

    async prune(opts) {
      const batchSize = Math.max(1, Math.floor(opts.batchSize ?? 1000));
      const olderThan = opts.olderThan.getTime();
      let removed = 0;
      // One transaction per batch keeps each hold of the write lock short, so workers keep claiming meanwhile.
      for (;;) {
        const n = pruneTx.immediate(olderThan, batchSize);
        removed += n;
        if (n < batchSize) break;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      // Events that matched no delivery and inbound messages are kept for the same retention, then go too;
      // nothing else would ever delete them.
      const s = ready();
      for (const statement of [s.pruneOrphanEvents, s.pruneInbound]) {
        while (statement.run(olderThan, batchSize).changes === batchSize) {
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
      return removed;
    },

    async reserveRate(key, perSecond, now) {
      if (!(perSecond > 0)) return 0;
      return reserveRateTx.immediate(key, perSecond, now.getTime());
    },

    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    async close() {
      listeners.clear();
      await checkpointer?.stop();
      checkpointer = null;
      if (ownsConnection && db.open) db.close();
    },
  };
}
