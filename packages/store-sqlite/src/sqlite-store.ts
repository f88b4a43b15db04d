import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  type AttemptOutcome,
  type ClaimOptions,
  ConfigError,
  canAdvance,
  type Delivery,
  type DeliveryCounts,
  type DeliveryStatus,
  type EnqueueOptions,
  type EnqueueResult,
  type InboundEvent,
  type NewDelivery,
  type Protocol,
  type RecordEventResult,
  type Store,
  type Suppression,
  type TrackingEvent,
  ValidationError,
} from '@herald/core';
import Database from 'better-sqlite3';
import { type Checkpointer, startCheckpointer } from './_checkpointer';
import { rejectUnknownKeys } from './_options';
import { type DeliveryRow, json, ms, parse, toAttempt, toDelivery, toDeliveryFromValues, toEvent, toKey } from './_rows';
import { LATEST_VERSION, migrateDatabase, migrationState, schemaVersion } from './_schema';
import {
  ATTEMPT_INSERT_COLUMNS,
  ATTEMPT_WIDTH,
  DELIVERY_INSERT_COLUMNS,
  DELIVERY_INSERT_WIDTH,
  countSql,
  INSERT_CHUNK,
  listSql,
  type Params,
  prepareAll,
  type Statements,
  suppressionsSql,
} from './_sql';

/**
 * Options of {@link sqliteStore}. Give exactly one of `path` or `database`.
 *
 * @example
 * ```ts
 * import type { SqliteStoreOptions } from '@herald/store-sqlite';
 *
 * const options: SqliteStoreOptions = { path: '/var/lib/app/herald.db', busyTimeoutMs: 10_000, synchronous: 'FULL' };
 * ```
 */
export interface SqliteStoreOptions {
  /**
   * Database file, created if missing (its folder must exist). Many processes on one machine may share it; use
   * `@herald/store-postgres` for workers on several machines (SQLite's locking needs one local file system).
   * `':memory:'` gives a private, non-durable database (tests).
   */
  path?: string;
  /**
   * Your application's own open better-sqlite3 connection, instead of `path`: Herald's tables (prefixed `herald_`)
   * live beside yours, and `store.enqueueSync(rows)` — what `herald.prepare(...)` → `prepared.enqueue(db)` calls —
   * runs inside your `db.transaction(...)`, so a notification commits or rolls back with your own write. The
   * store never closes this connection and sets on it only the pragmas you pass here (`busyTimeoutMs`,
   * `synchronous`); it starts its checkpointer thread only with `checkpoint: 'background'`.
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
   * @default 'NORMAL' (with `database`: left as your connection has it)
   */
  synchronous?: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';
  /**
   * Who copies committed WAL frames back into the database file. `'background'`: a thread of the store's own,
   * with its own connection, every 250 ms and after large writes, so a big `notify()` or a busy worker never
   * stalls the event loop on it (SQLite still checkpoints inline if the WAL ever passes 10,000 pages, ~40 MB).
   * `'inline'`: SQLite's default, inside the commit that crosses 1,000 pages. `':memory:'` is always left to
   * SQLite.
   * @default 'background' for `path`, 'inline' for `database`
   */
  checkpoint?: 'background' | 'inline';
  /**
   * Store name reported as `store.name` (logs, dashboard).
   * @default 'sqlite'
   */
  name?: string;
}

/** A key's `lastUsedAt` is rewritten at most this often (the contract allows skipping writes). */
const TOUCH_EVERY_MS = 60_000;

const OPTION_KEYS: readonly (keyof SqliteStoreOptions)[] = ['path', 'database', 'busyTimeoutMs', 'synchronous', 'checkpoint', 'name'];
const SYNCHRONOUS = ['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const;

function isDatabase(value: unknown): value is Database.Database {
  const db = value as Partial<Database.Database> | null;
  return typeof db === 'object' && db !== null && typeof db.prepare === 'function' && typeof db.transaction === 'function' && typeof db.pragma === 'function';
}

/** Validate the options at creation, so a typo or a missing folder fails at start-up, not at the first write. */
function checkOptions(options: SqliteStoreOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('sqliteStore needs options: { path } (a database file, or ":memory:") or { database } (an open connection).', { field: 'path' });
  }
  rejectUnknownKeys('sqliteStore', options, OPTION_KEYS);
  const hasPath = options.path !== undefined;
  const hasDatabase = options.database !== undefined;
  if (hasPath === hasDatabase) {
    throw new ConfigError(
      hasPath
        ? 'sqliteStore takes `path` or `database`, not both: pass your open connection as `database`, or let the store open `path`.'
        : 'sqliteStore needs `path` (a database file, or ":memory:") or `database` (your open better-sqlite3 connection).',
      { field: 'path' },
    );
  }
  if (hasDatabase && !isDatabase(options.database)) {
    throw new ConfigError('sqliteStore `database` must be an open better-sqlite3 Database (new Database(file)).', { field: 'database' });
  }
  if (hasDatabase && options.database!.open === false) {
    throw new ConfigError('sqliteStore `database` is closed; pass an open connection.', { field: 'database' });
  }
  if (hasPath) checkPath(options.path);
  if (options.busyTimeoutMs !== undefined && (!Number.isInteger(options.busyTimeoutMs) || options.busyTimeoutMs < 0)) {
    throw new ConfigError(`sqliteStore busyTimeoutMs must be a non-negative integer (milliseconds), got ${String(options.busyTimeoutMs)}.`, {
      field: 'busyTimeoutMs',
    });
  }
  if (options.synchronous !== undefined && !SYNCHRONOUS.includes(options.synchronous)) {
    throw new ConfigError(`sqliteStore synchronous must be OFF, NORMAL, FULL or EXTRA, got ${String(options.synchronous)}.`, { field: 'synchronous' });
  }
  if (options.checkpoint !== undefined && options.checkpoint !== 'background' && options.checkpoint !== 'inline') {
    throw new ConfigError(`sqliteStore checkpoint must be 'background' or 'inline', got ${String(options.checkpoint)}.`, { field: 'checkpoint' });
  }
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length === 0)) {
    throw new ConfigError('sqliteStore name must be a non-empty string.', { field: 'name' });
  }
}

function checkPath(path: unknown): asserts path is string {
  if (typeof path !== 'string' || path.length === 0) {
    throw new ConfigError('sqliteStore `path` must be a database file name (or ":memory:").', { field: 'path' });
  }
  if (path === ':memory:' || path.startsWith('file:')) return;
  const folder = dirname(resolve(path));
  if (!existsSync(folder)) {
    throw new ConfigError(
      `sqliteStore cannot create ${path}: the folder ${folder} does not exist. Create it first (mkdir -p "${folder}") or point \`path\` at an existing folder.`,
      { field: 'path' },
    );
  }
  if (!statSync(folder).isDirectory()) {
    throw new ConfigError(`sqliteStore cannot create ${path}: ${folder} is not a folder.`, { field: 'path' });
  }
}

function openDatabase(path: string, busyTimeoutMs: number): Database.Database {
  try {
    return new Database(path, { timeout: busyTimeoutMs });
  } catch (error) {
    throw new ConfigError(`sqliteStore cannot open ${path}: ${error instanceof Error ? error.message : String(error)}`, { field: 'path', cause: error });
  }
}

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

function attemptValues(id: string, a: AttemptOutcome['attempt']): Params {
  return [id, a.attempt, a.startedAt.getTime(), a.durationMs, a.outcome, a.backend ?? null, json(a.request), json(a.response), a.error, a.workerId];
}

/** A row waiting for its multi-row INSERT at enqueue. */
interface Pending {
  index: number;
  row: NewDelivery;
  status: string;
  skipReason: string | null;
  createdAt: number;
  nextAttemptAt: number | null;
}

type FinishItem = { id: string; owner: string; outcome: AttemptOutcome };

/** The SQLite store: the whole `Store` contract, with the synchronous `enqueueSync` always there. */
export type SqliteStore = Store & Required<Pick<Store, 'enqueueSync'>>;

/**
 * The embedded SQLite {@link Store} (better-sqlite3, WAL): durable, no server, and safe for several processes
 * sharing one file on one machine. Every write runs in a `BEGIN IMMEDIATE` transaction, so claims from
 * different processes never overlap, and a crashed worker's deliveries are reclaimed once its lease expires (the
 * attempt it lost is logged as `abandoned`).
 *
 * `createHerald` awaits `store.migrate()` before first use; using the store on its own, call
 * `await store.migrate()` first (other methods refuse a database whose schema is not current).
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
export function sqliteStore(options: SqliteStoreOptions): SqliteStore {
  checkOptions(options);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const shared = options.database !== undefined;
  const db = options.database ?? openDatabase(options.path!, busyTimeoutMs);
  if (!shared || options.busyTimeoutMs !== undefined) db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  if (!shared) db.pragma('journal_mode = WAL');
  if (!shared || options.synchronous !== undefined) db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
  let checkpointer: Checkpointer | null = null;
  if ((options.checkpoint ?? (shared ? 'inline' : 'background')) === 'background' && !db.memory) {
    if (db.pragma('journal_mode', { simple: true }) !== 'wal') {
      throw new ConfigError("sqliteStore checkpoint: 'background' needs the connection in WAL mode (db.pragma('journal_mode = WAL')).", {
        field: 'checkpoint',
      });
    }
    db.pragma('wal_autocheckpoint = 10000');
    // Checkpoint failures are not the caller's: SQLite retries on the next round, and falls back to inline
    // checkpoints if the WAL grows past the limit above.
    checkpointer = startCheckpointer(db.name, { busyTimeoutMs, everyMs: 250, onError: () => {} });
  }

  let statements: Statements | null = null;
  const listeners = new Set<() => void>();

  /** The prepared statements, once the schema is current. Never migrates: that is `migrate()`'s job alone. */
  function ready(): Statements {
    if (statements) return statements;
    const version = schemaVersion(db);
    if (version !== LATEST_VERSION) {
      throw new ConfigError(
        `sqliteStore: the database schema is at version ${version}, this package needs ${LATEST_VERSION}; call \`await store.migrate()\` first (createHerald does it before first use).`,
      );
    }
    statements = prepareAll(db);
    return statements;
  }

  /**
   * Herald's own writes on a shared connection must not land inside a transaction of the application's that is
   * held open across an `await`: they would commit or roll back with it (a rolled-back claim re-sends).
   */
  function ownTransaction(): void {
    if (shared && db.inTransaction) {
      throw new ConfigError(
        'sqliteStore: the `database` connection is inside a transaction of your own (held open across an await); Herald will not write into it. Commit it first, or enqueue inside a synchronous db.transaction(...) with herald.prepare(...).enqueue(db).',
        { field: 'database' },
      );
    }
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
  const suppressionsCache = new Map<string, Database.Statement<Params, { protocol: string; address: string; reason: string; created_at: number }>>();
  function cached<R>(cache: Map<string, Database.Statement<Params, R>>, sql: string): Database.Statement<Params, R> {
    let statement = cache.get(sql);
    if (!statement) {
      statement = db.prepare<Params, R>(sql);
      cache.set(sql, statement);
    }
    return statement;
  }

  // ───────────────────────── queue: enqueue ─────────────────────────

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

  /** After an enqueue: wake in-process workers, and let the checkpointer copy a large write back soon. */
  function enqueued(rows: readonly NewDelivery[], insideCallersTransaction: boolean): void {
    if (rows.length >= 256) checkpointer?.poke();
    if (!rows.some((row) => row.status === 'queued')) return;
    // Inside the caller's db.transaction the rows are not committed yet: wake once it returned (a synchronous
    // transaction has committed or rolled back by the next microtask).
    if (insideCallersTransaction) queueMicrotask(wake);
    else wake();
  }

  // ───────────────────────── queue: claim and outcomes ─────────────────────────

  const claimTx = db.transaction((opts: ClaimOptions): Delivery[] => {
    const s = ready();
    const now = (opts.now ?? new Date()).getTime();
    const limit = Math.max(0, Math.floor(opts.limit));
    if (limit === 0 || opts.backends?.length === 0) return [];
    const due = opts.backends ? s.selectDueForBackends.all(now, JSON.stringify(opts.backends), limit) : s.selectDue.all(now, limit);
    if (due.length === 0) return [];
    const rowids: number[] = [];
    const ids: string[] = [];
    const expired: string[] = [];
    for (const [rowid, id, status] of due) {
      rowids.push(rowid);
      ids.push(id);
      if (status === 'sending') expired.push(id);
    }
    // A `sending` row is due only once its lease expired: its worker died or lost the store mid-attempt.
    if (expired.length > 0) s.logAbandoned.run(JSON.stringify(expired));
    const leaseUntil = now + opts.leaseMs;
    const rows = s.lease.all(opts.owner, leaseUntil, leaseUntil, now, now, JSON.stringify(rowids));
    const byId = new Map(rows.map((values) => [values[0] as string, values]));
    const messages = new Map(s.messages.all(JSON.stringify(ids)));
    return ids.map((id) => toDeliveryFromValues(byId.get(id)!, messages.get(id) ?? null));
  });

  /** Move one delivery out of `sending`; false when this owner no longer holds its lease. */
  function updateOutcome(s: Statements, id: string, owner: string, outcome: AttemptOutcome): boolean {
    const now = Date.now();
    if (outcome.status === 'sent') {
      // When the provider accepted it (the end of the attempt), not when this row happens to be written.
      const sentAt = outcome.attempt.startedAt.getTime() + Math.round(outcome.attempt.durationMs);
      return s.finishSent.run(outcome.providerMessageId, sentAt, now, id, owner).changes === 1;
    }
    if (outcome.status === 'failed') return s.finishFailed.run(outcome.error, now, id, owner).changes === 1;
    const next = outcome.nextAttemptAt.getTime();
    const failover = outcome.failover;
    if (!failover) return s.finishRetrying.run(outcome.error, next, now, id, owner).changes === 1;
    if (s.finishFailover.run(outcome.error, next, failover.backend, failover.maxAttempts, now, id, owner).changes !== 1) return false;
    s.replaceMessage.run(id, JSON.stringify(failover.message));
    return true;
  }

  const finishTx = db.transaction((id: string, owner: string, outcome: AttemptOutcome): boolean => {
    const s = ready();
    if (!updateOutcome(s, id, owner, outcome)) return false;
    s.insertAttempt.run(...attemptValues(id, outcome.attempt));
    return true;
  });

  /** Outcomes one by one (each needs its own lease check), then all their attempt rows in multi-row INSERTs. */
  const finishManyTx = db.transaction((items: readonly FinishItem[]): boolean[] => {
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

  /** Pick in poll order, then mark: one transaction, so two workers never poll the same delivery at once. */
  const claimPollsTx = db.transaction((backend: string, sentBefore: number, polledBefore: number, limit: number, now: number): Delivery[] => {
    const s = ready();
    const rowids = s.selectPolls.all(backend, sentBefore, polledBefore, limit).map((row) => row[0]);
    if (rowids.length === 0) return [];
    const byRowid = new Map(s.markPolled.all(now, JSON.stringify(rowids)).map((values) => [values[0] as number, values.slice(1)]));
    const rows = rowids.map((rowid) => byRowid.get(rowid)!);
    const messages = new Map(s.messages.all(JSON.stringify(rows.map((values) => values[0] as string))));
    return rows.map((values) => toDeliveryFromValues(values, messages.get(values[0] as string) ?? null));
  });

  /** One conditional UPDATE, and the row as it is afterwards, read in the same transaction. */
  const cancelTx = db.transaction((id: string, now: number, reason: string): Delivery | null => {
    const s = ready();
    s.cancel.get(reason, now, id);
    const row = s.get.get(id);
    return row ? toDelivery(row) : null;
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

  // ───────────────────────── event log ─────────────────────────

  const recordEventTx = db.transaction(
    (backend: string, event: TrackingEvent, now: number, status: DeliveryStatus | null): RecordEventResult => {
      const s = ready();
      const existing = s.findEvent.get(backend, event.eventId);
      if (existing) {
        const row = existing.delivery_id === null ? undefined : s.get.get(existing.delivery_id);
        const delivery = row ? toDelivery(row) : null;
        return { inserted: false, delivery, statusChanged: false, previousStatus: delivery?.status ?? null };
      }
      // A provider that echoes Herald's delivery id names the delivery; otherwise its message id finds it.
      const named = event.deliveryId ? s.getForBackend.get(event.deliveryId, backend) : undefined;
      const row = named ?? (event.messageId === null ? undefined : s.byProviderId.get(backend, event.messageId));
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
        event.providerStatus ?? null,
      );
      if (!row) return { inserted: true, delivery: null, statusChanged: false, previousStatus: null };
      let delivery = toDelivery(row);
      if (event.providerStatus) {
        // Kept verbatim whether or not Herald's own status moves.
        s.setProviderStatus.run(event.providerStatus, now, row.id);
        delivery = { ...delivery, providerStatus: event.providerStatus, updatedAt: new Date(now) };
      }
      const previousStatus = delivery.status;
      if (status === null || !canAdvance(previousStatus, status)) return { inserted: true, delivery, statusChanged: false, previousStatus };
      s.setStatus.run(status, now, row.id);
      return { inserted: true, delivery: { ...delivery, status, updatedAt: new Date(now) }, statusChanged: true, previousStatus };
    },
  );

  // ───────────────────────── lifecycle: prune ─────────────────────────

  const pruneTx = db.transaction((olderThan: number, batchSize: number): number => {
    const s = ready();
    const ids = s.pruneSelect.all(olderThan, olderThan, batchSize).map((r) => r.id);
    if (ids.length === 0) return 0;
    const list = JSON.stringify(ids);
    s.pruneAttempts.run(list);
    s.pruneEvents.run(list);
    s.pruneMessages.run(list);
    return s.pruneDeliveries.run(list).changes;
  });

  const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

  function enqueueSync(rows: readonly NewDelivery[], opts?: EnqueueOptions): EnqueueResult {
    const transaction = opts?.transaction;
    if (transaction !== undefined && transaction !== null && transaction !== db) {
      throw new ConfigError(
        shared
          ? 'sqliteStore.enqueueSync: `transaction` is not the connection this store was given as `database`; enqueue on that same connection.'
          : 'sqliteStore.enqueueSync: this store opened its own connection (`path`), so it cannot join your transaction; create it with sqliteStore({ database: yourDb }).',
        { field: 'transaction' },
      );
    }
    if (rows.length === 0) return { duplicates: [] };
    const inside = db.inTransaction;
    // better-sqlite3 runs a transaction function called inside another as a SAVEPOINT: the rows commit or roll
    // back with the caller's db.transaction(...), and a failure here rolls back only this enqueue.
    const result = enqueueTx.immediate(rows);
    enqueued(rows, inside);
    return result;
  }

  return {
    name: options.name ?? 'sqlite',

    // ── lifecycle ──

    async migrate() {
      ownTransaction();
      migrateDatabase(db);
      statements ??= prepareAll(db);
    },

    async migrations() {
      return migrationState(db);
    },

    async prune(opts) {
      const batchSize = Math.max(1, Math.floor(opts.batchSize ?? 1000));
      const olderThan = opts.olderThan.getTime();
      let removed = 0;
      // One transaction per batch keeps each hold of the write lock short, so workers keep claiming meanwhile.
      for (;;) {
        ownTransaction();
        const n = pruneTx.immediate(olderThan, batchSize);
        removed += n;
        if (n < batchSize) break;
        await yieldToEventLoop();
      }
      const s = ready();
      for (const statement of [s.pruneUnmatchedEvents, s.pruneInbound]) {
        for (;;) {
          ownTransaction();
          if (statement.run(olderThan, batchSize).changes < batchSize) break;
          await yieldToEventLoop();
        }
      }
      return removed;
    },

    async close() {
      listeners.clear();
      await checkpointer?.stop();
      checkpointer = null;
      if (!shared && db.open) db.close();
    },

    // ── queue ──

    async enqueue(rows, opts) {
      if (opts?.transaction !== undefined && opts.transaction !== null) {
        throw new ConfigError(
          'sqliteStore cannot join a transaction handle through enqueue(); use herald.prepare(...).enqueue(db) inside db.transaction(...) (with sqliteStore({ database: db })).',
          { field: 'transaction' },
        );
      }
      if (rows.length === 0) return { duplicates: [] };
      ownTransaction();
      const result = enqueueTx.immediate(rows);
      enqueued(rows, false);
      return result;
    },

    enqueueSync,

    async claim(opts) {
      ownTransaction();
      return claimTx.immediate(opts);
    },

    async finish(id, owner, outcome) {
      ownTransaction();
      const finished = finishTx.immediate(id, owner, outcome);
      if (finished && outcome.status === 'retrying') wake();
      return finished;
    },

    async finishMany(items) {
      if (items.length === 0) return [];
      ownTransaction();
      const results = finishManyTx.immediate(items);
      if (items.some((item, i) => results[i] && item.outcome.status === 'retrying')) wake();
      return results;
    },

    async release(ids, owner) {
      if (ids.length === 0) return;
      ownTransaction();
      if (releaseTx.immediate(ids, owner) > 0) wake();
    },

    async requeue(id, opts) {
      ownTransaction();
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

    async cancel(id, opts) {
      ownTransaction();
      return cancelTx.immediate(id, opts.now.getTime(), opts.reason);
    },

    async claimPolls(opts) {
      const limit = Math.max(0, Math.floor(opts.limit));
      if (limit === 0) return [];
      ownTransaction();
      return claimPollsTx.immediate(opts.backend, opts.sentBefore.getTime(), opts.polledBefore.getTime(), limit, opts.now.getTime());
    },

    async nextDueAt() {
      const t = ready().nextDueAt.get()?.t ?? null;
      return t === null ? null : new Date(t);
    },

    async reserveRate(key, perSecond, now) {
      if (!(perSecond > 0)) return 0;
      ownTransaction();
      return reserveRateTx.immediate(key, perSecond, now.getTime());
    },

    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    // ── delivery log ──

    async get(id) {
      const row = ready().get.get(id);
      return row ? toDelivery(row) : null;
    },

    async list(filter = {}) {
      ready();
      const query = listSql(filter);
      if (!query) return [];
      return cached(listCache, query.sql).all(...query.params).map(toDelivery);
    },

    async count(filter = {}) {
      ready();
      const { sql, params } = countSql(filter);
      const counts: DeliveryCounts = {};
      for (const row of cached(countCache, sql).all(...params)) counts[row.status] = row.n;
      return counts;
    },

    async attempts(deliveryId) {
      return ready().attempts.all(deliveryId).map(toAttempt);
    },

    async findByProviderMessageId(backend, messageId) {
      const row = ready().byProviderId.get(backend, messageId);
      return row ? toDelivery(row) : null;
    },

    // ── event log ──

    async recordEvent(backend, event, opts) {
      ownTransaction();
      return recordEventTx.immediate(backend, event, opts.now.getTime(), opts.status);
    },

    async forgetEvent(backend, eventId) {
      ownTransaction();
      ready().deleteEvent.run(backend, eventId);
    },

    async events(deliveryId) {
      return ready().events.all(deliveryId).map(toEvent);
    },

    async recordInbound(backend: string, event: InboundEvent, now: Date) {
      ownTransaction();
      const result = ready().insertInbound.run(backend, event.eventId, ms(event.timestamp), JSON.stringify(event.message), json(event.raw), now.getTime());
      return result.changes === 1;
    },

    async forgetInbound(backend, eventId) {
      ownTransaction();
      ready().deleteInbound.run(backend, eventId);
    },

    // ── audience (addresses arrive normalized; stored and compared as given) ──

    async getOptOuts(keys) {
      const result = new Map<string, string[]>();
      if (keys.length === 0) return result;
      for (const row of ready().optOuts.all(JSON.stringify(keys))) {
        const categories = parse<string[]>(row.categories);
        if (categories) result.set(row.key, categories);
      }
      return result;
    },

    async setOptOuts(key, categories) {
      ownTransaction();
      const s = ready();
      if (categories.length === 0) s.deleteOptOut.run(key);
      else s.setOptOut.run(key, JSON.stringify([...new Set(categories)]), Date.now());
    },

    async suppress(entry) {
      ownTransaction();
      ready().suppress.run(entry.protocol, entry.address, entry.reason, (entry.createdAt ?? new Date()).getTime());
    },

    async unsuppress(protocol, address) {
      ownTransaction();
      return ready().unsuppress.run(protocol, address).changes > 0;
    },

    async listSuppressions(filter = {}) {
      ready();
      const { sql, params } = suppressionsSql(filter);
      return cached(suppressionsCache, sql)
        .all(...params)
        .map((row) => ({ protocol: row.protocol as Protocol, address: row.address, reason: row.reason, createdAt: new Date(row.created_at) }));
    },

    async suppressed(protocol, addresses) {
      const result = new Map<string, Suppression>();
      if (addresses.length === 0) return result;
      for (const row of ready().suppressed.all(protocol, JSON.stringify([...new Set(addresses)]))) {
        result.set(row.address, { protocol, address: row.address, reason: row.reason, createdAt: new Date(row.created_at) });
      }
      return result;
    },

    // ── keys (the HTTP API's: hashes only, never a key itself) ──

    async saveKey(record) {
      ownTransaction();
      const s = ready();
      try {
        s.insertKey.run(record.id, record.name, record.hash, JSON.stringify(record.scopes), record.createdAt.getTime(), ms(record.revokedAt), ms(record.lastUsedAt));
      } catch (error) {
        if (error instanceof Database.SqliteError && error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new ConfigError(`an API key with id "${record.id}" exists already; a key is never overwritten, create it with a new id`, { field: 'id', cause: error });
        }
        throw error;
      }
    },

    async findKey(id) {
      const row = ready().findKey.get(id);
      return row ? toKey(row) : null;
    },

    async listKeys() {
      return ready().listKeys.all().map(toKey);
    },

    async revokeKey(id, now) {
      ownTransaction();
      return ready().revokeKey.run(now.getTime(), id).changes === 1;
    },

    async touchKey(id, now) {
      const s = ready();
      const t = now.getTime();
      // Every API request touches its key: reading first costs no write lock, so a key used within the last minute
      // (or a missing one) never makes a request wait for the worker's transactions.
      const key = s.keyLastUsed.get(id);
      if (!key || (key.last_used_at !== null && t - key.last_used_at < TOUCH_EVERY_MS)) return;
      ownTransaction();
      s.touchKey.run(t, id);
    },
  };
}
