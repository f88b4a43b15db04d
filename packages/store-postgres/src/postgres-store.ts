import {
  ConfigError,
  FINISHED_STATUSES,
  canAdvance,
  normalizeAddress,
  type Attempt,
  type AttemptOutcome,
  type ClaimOptions,
  type Delivery,
  type DeliveryCounts,
  type DeliveryFilter,
  type DeliveryStatus,
  type EnqueueOptions,
  type EnqueueResult,
  type InboundEvent,
  type NewDelivery,
  type Protocol,
  type RecordEventResult,
  type Store,
  type StoredTrackingEvent,
  type Suppression,
  type TrackingEvent,
} from '@herald/core';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { _describeTarget, _wrapError } from './_errors';
import { _Listener } from './_listener';
import {
  _DELIVERY_COLUMNS,
  type _AttemptRow,
  type _DeliveryRow,
  type _EventRow,
  type _SuppressionRow,
  _eventJson,
  _json,
  _toAttempt,
  _toDelivery,
  _toEvent,
  _toSuppression,
} from './_rows';
import { _ident, _runMigrations } from './_schema';

/**
 * Anything that runs a parameterized query on one connection: a `pg` `Client` / `PoolClient` inside your
 * `BEGIN`, or a small adapter around another library's transaction (see docs/scaling-out.md).
 */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** Options of {@link postgresStore}. Give one of `connectionString`, `pool` or `connection`. */
export interface PostgresStoreOptions {
  /** e.g. `postgres://herald:secret@db.internal:5432/app`. The password never appears in errors. */
  connectionString?: string;
  /** Use an existing pool (not closed by `store.close()` unless `closePool` is set). */
  pool?: pg.Pool;
  /** `pg` pool settings (host, port, user, password, database, ssl, max …). Merged with `connectionString`. */
  connection?: pg.PoolConfig;
  /** PostgreSQL schema holding Herald's tables; created by `migrate()`. @default 'herald' */
  schema?: string;
  /** Run migrations on first use (under an advisory lock, so many processes may start at once). @default true */
  migrate?: boolean;
  /** Rows per INSERT statement when enqueueing large fan-outs. @default 1000 */
  chunkSize?: number;
  /** Close a pool passed in `pool` when the store closes. @default false */
  closePool?: boolean;
  /** Connections in the pool the store creates. @default 10 */
  max?: number;
}

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/;
/** Deliveries a worker may claim once `next_attempt_at` passes (for `sending`, that is the lease expiry). */
const ACTIVE = `status IN ('queued', 'retrying', 'sending')`;
const FINISHED = FINISHED_STATUSES as readonly string[];

function isQueryable(value: unknown): value is PgQueryable {
  return typeof value === 'object' && value !== null && typeof (value as { query?: unknown }).query === 'function';
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const INSERT_COLUMNS = [
  'id',
  'batch_id',
  'notification',
  'category',
  'recipient_id',
  'protocol',
  'address',
  'backend',
  'status',
  'skip_reason',
  'dedupe_key',
  'dedupe_address',
  'max_attempts',
  'message',
  'created_at',
  'updated_at',
  'next_attempt_at',
  'expires_at',
] as const;

function insertValues(row: NewDelivery, duplicate: boolean): unknown[] {
  return [
    row.id,
    row.batchId,
    row.notification,
    row.category,
    row.recipientId,
    row.protocol,
    row.address,
    row.backend,
    duplicate ? 'skipped' : row.status,
    duplicate ? 'duplicate' : row.skipReason,
    row.dedupeKey,
    row.dedupeKey === null ? row.dedupeAddress : (row.dedupeAddress ?? row.address),
    row.maxAttempts,
    _json(row.message),
    row.createdAt,
    row.createdAt,
    duplicate || row.status !== 'queued' ? null : (row.nextAttemptAt ?? row.createdAt),
    row.expiresAt,
  ];
}

/**
 * The PostgreSQL store: any number of worker processes on any number of machines share one queue.
 * Claims use `FOR UPDATE SKIP LOCKED` with leases, idle workers wake through `LISTEN/NOTIFY`, rate limits are
 * shared through the database, and `notify(…, { transaction: client })` enqueues inside your own transaction.
 */
export class PostgresStore implements Store {
  readonly name = 'postgres';
  /** The schema holding Herald's tables. */
  readonly schema: string;
  /** The NOTIFY channel workers listen on. */
  readonly channel: string;
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #config: pg.PoolConfig;
  readonly #s: string;
  readonly #autoMigrate: boolean;
  readonly #chunkSize: number;
  #migrated: Promise<void> | null = null;
  #everConnected = false;
  #listener: _Listener | null = null;
  #closed = false;
  readonly #statements = new Map<string, string>();
  readonly #inserts = new Map<number, string>();

  constructor(options: PostgresStoreOptions) {
    const schema = options.schema ?? 'herald';
    if (!SCHEMA_NAME.test(schema)) {
      throw new ConfigError(`schema "${schema}" must be letters, digits and underscores (at most 48), not starting with a digit`, {
        backend: 'store-postgres',
        field: 'schema',
      });
    }
    const chunkSize = options.chunkSize ?? 1000;
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 3000) {
      throw new ConfigError('chunkSize must be an integer from 1 to 3000', { backend: 'store-postgres', field: 'chunkSize' });
    }
    if (!options.pool && !options.connectionString && !options.connection) {
      throw new ConfigError('give connectionString, pool or connection', { backend: 'store-postgres', field: 'connectionString' });
    }
    this.schema = schema;
    this.channel = `herald_${schema}`.slice(0, 63);
    this.#s = _ident(schema);
    this.#autoMigrate = options.migrate ?? true;
    this.#chunkSize = chunkSize;
    if (options.pool) {
      this.#pool = options.pool;
      this.#ownsPool = options.closePool ?? false;
      this.#config = { ...options.pool.options };
    } else {
      this.#config = { max: options.max ?? 10, ...options.connection };
      if (options.connectionString) this.#config.connectionString = options.connectionString;
      this.#pool = new pg.Pool(this.#config);
      this.#ownsPool = true;
      // An idle connection dropped by the server emits 'error' on the pool; the next query reconnects.
      this.#pool.on('error', () => undefined);
    }
    this.#pool.on('connect', () => {
      this.#everConnected = true;
    });
  }

  /** Where the store connects, password redacted. */
  get target(): string {
    return _describeTarget(this.#config);
  }

  /** The underlying pool (for your own queries and transactions). */
  get pool(): pg.Pool {
    return this.#pool;
  }

  // ───────────────────────── plumbing ─────────────────────────

  #wrap(error: unknown): unknown {
    return _wrapError(error, this.#config, this.#everConnected);
  }

  async #ready(): Promise<void> {
    if (!this.#autoMigrate) return;
    if (!this.#migrated) {
      this.#migrated = this.migrate().catch((error: unknown) => {
        this.#migrated = null;
        throw error;
      });
    }
    await this.#migrated;
  }

  /** Run one statement. `prepared` (for the hot, fixed-text statements) parses and plans it once per connection. */
  async #query<R>(text: string, values?: unknown[], prepared = false): Promise<R[]> {
    await this.#ready();
    try {
      const result = prepared ? await this.#pool.query({ name: this.#statementName(text), text, values }) : await this.#pool.query(text, values);
      return result.rows as R[];
    } catch (error) {
      throw this.#wrap(error);
    }
  }

  #statementName(text: string): string {
    let name = this.#statements.get(text);
    if (!name) {
      name = `herald_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
      this.#statements.set(text, name);
    }
    return name;
  }

  /** Run `fn` inside BEGIN/COMMIT on one pooled connection. */
  async #transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.#ready();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw this.#wrap(error);
    }
    let broken = false;
    // A checked-out client has no pool error listener; a connection dying between statements must surface as the
    // failed query below, not as an unhandled 'error' event that crashes the process.
    const onError = () => {
      broken = true;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw this.#wrap(error);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /**
   * Create or upgrade the schema. Runs under `pg_advisory_lock`, so concurrent calls from many processes are
   * safe; a second run is a no-op.
   */
  async migrate(): Promise<void> {
    try {
      await _runMigrations(this.#pool, this.schema);
      this.#everConnected = true;
    } catch (error) {
      throw this.#wrap(error);
    }
  }

  // ───────────────────────── enqueue ─────────────────────────

  async enqueue(rows: readonly NewDelivery[], options: EnqueueOptions = {}): Promise<EnqueueResult> {
    if (rows.length === 0) return { duplicates: [] };
    const tx = options.transaction;
    if (tx !== undefined && tx !== null) {
      if (!isQueryable(tx)) {
        throw new ConfigError('transaction must be a pg client (or an object with query(text, values)) inside BEGIN', {
          backend: 'store-postgres',
          field: 'transaction',
        });
      }
      await this.#ready();
      try {
        return await this.#enqueueOn(tx, rows, true);
      } catch (error) {
        throw this.#wrap(error);
      }
    }
    const needsTransaction = rows.length > this.#chunkSize || rows.some((r) => r.dedupeKey !== null && r.status === 'queued');
    if (!needsTransaction) {
      await this.#ready();
      try {
        return await this.#enqueueOn(this.#pool, rows, false);
      } catch (error) {
        throw this.#wrap(error);
      }
    }
    return this.#transaction((client) => this.#enqueueOn(client, rows, true));
  }

  /** Insert on `db`. `inTransaction` false means one autocommit statement (one chunk, no dedupe). */
  async #enqueueOn(db: PgQueryable, rows: readonly NewDelivery[], inTransaction: boolean): Promise<EnqueueResult> {
    const duplicates = inTransaction ? await this.#dedupe(db, rows) : new Set<string>();
    const wake = rows.some((r) => r.status === 'queued' && !duplicates.has(r.id));
    const batches = chunks(rows, this.#chunkSize);
    for (let b = 0; b < batches.length; b++) {
      const batch = batches[b]!;
      const values: unknown[] = [];
      for (const row of batch) values.push(...insertValues(row, duplicates.has(row.id)));
      let sql = this.#insertSql(batch.length);
      if (wake && b === batches.length - 1) {
        // NOTIFY is transactional: listeners hear it when (and only if) the enqueueing transaction commits.
        values.push(this.channel);
        sql = `WITH inserted AS (${sql} RETURNING 1) SELECT pg_notify($${values.length}, '') FROM (SELECT 1 FROM inserted LIMIT 1) AS any_row`;
      }
      await db.query(sql, values);
    }
    return { duplicates: rows.filter((r) => duplicates.has(r.id)).map((r) => r.id) };
  }

  /** The INSERT text for `count` rows; every full chunk has the same text, so it is built once. */
  #insertSql(count: number): string {
    let sql = this.#inserts.get(count);
    if (!sql) {
      const tuples: string[] = [];
      for (let r = 0; r < count; r++) {
        const base = r * INSERT_COLUMNS.length;
        tuples.push(`(${INSERT_COLUMNS.map((column, i) => `$${base + i + 1}${column === 'message' ? '::jsonb' : ''}`).join(', ')})`);
      }
      sql = `INSERT INTO ${this.#s}.deliveries (${INSERT_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`;
      if (this.#inserts.size < 64) this.#inserts.set(count, sql);
    }
    return sql;
  }

  /**
   * The dedupe check, inside the enqueueing transaction: a transaction-level advisory lock per (key, address)
   * serializes concurrent enqueues of the same key, so exactly one of two racing calls inserts.
   */
  async #dedupe(db: PgQueryable, rows: readonly NewDelivery[]): Promise<Set<string>> {
    const candidates = rows.filter((r) => r.dedupeKey !== null && r.status === 'queued');
    const duplicates = new Set<string>();
    if (candidates.length === 0) return duplicates;
    const pair = (r: NewDelivery) => `${r.dedupeKey}\u001f${r.dedupeAddress ?? r.address}`;
    const lockKeys = [...new Set(candidates.map((r) => `${this.schema}\u001f${pair(r)}`))].sort();
    await db.query('SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k ORDER BY k', [lockKeys]);
    const keys = [...new Set(candidates.map((r) => r.dedupeKey as string))];
    const { rows: found } = await db.query(
      `SELECT dedupe_key, dedupe_address, max(created_at) AS last FROM ${this.#s}.deliveries
       WHERE dedupe_key = ANY($1::text[]) AND status NOT IN ('failed', 'skipped') GROUP BY dedupe_key, dedupe_address`,
      [keys],
    );
    const last = new Map<string, number>();
    for (const f of found as { dedupe_key: string; dedupe_address: string | null; last: Date }[]) {
      last.set(`${f.dedupe_key}\u001f${f.dedupe_address ?? ''}`, new Date(f.last).getTime());
    }
    for (const row of candidates) {
      const key = pair(row);
      const since = row.dedupeSince ? row.dedupeSince.getTime() : Number.NEGATIVE_INFINITY;
      const previous = last.get(key);
      if (previous !== undefined && previous >= since) {
        duplicates.add(row.id);
        continue;
      }
      const created = row.createdAt.getTime();
      if (previous === undefined || created > previous) last.set(key, created);
    }
    return duplicates;
  }

  // ───────────────────────── claiming and finishing ─────────────────────────

  async claim(options: ClaimOptions): Promise<Delivery[]> {
    const now = options.now ?? new Date();
    const limit = Math.max(0, Math.floor(options.limit));
    if (limit === 0) return [];
    const leaseUntil = new Date(now.getTime() + options.leaseMs);
    const backends = options.backends ? [...options.backends] : null;
    // One index-ordered scan that locks as it goes and steps over rows other workers hold. A `sending` row's
    // next_attempt_at is its lease expiry, so deliveries of a crashed worker come due like any other.
    const sql = `SELECT ${_DELIVERY_COLUMNS} FROM ${this.#s}.claim($1, $2, $3, $4, $5::text[])`;
    const values: unknown[] = [now, limit, options.owner, leaseUntil, backends];
    const rows = await this.#query<_DeliveryRow>(sql, values, true);
    return rows.map(_toDelivery);
  }

  async finish(id: string, owner: string, outcome: AttemptOutcome): Promise<boolean> {
    const { text, values } = this.#finishQuery(id, owner, outcome);
    const rows = await this.#query<{ n: number }>(text, values, true);
    const done = (rows[0]?.n ?? 0) > 0;
    if (done && outcome.status === 'retrying') await this.#notify();
    return done;
  }

  /**
   * Record a batch of outcomes with one statement: the rows travel as arrays, are unnested on the server, and the
   * status updates and attempt rows are written together. One round trip and one commit for a whole batch,
   * instead of a query per delivery inside a transaction.
   */
  async finishMany(items: readonly { id: string; owner: string; outcome: AttemptOutcome }[]): Promise<boolean[]> {
    if (items.length === 0) return [];
    if (items.length === 1) return [await this.finish(items[0]!.id, items[0]!.owner, items[0]!.outcome)];
    const columns: unknown[][] = Array.from({ length: 15 }, () => []);
    for (const { id, owner, outcome } of items) {
      const a = outcome.attempt;
      const sent = outcome.status === 'sent';
      const row = [
        id,
        owner,
        outcome.status,
        sent ? outcome.providerMessageId : null,
        sent ? new Date(a.startedAt.getTime() + Math.max(0, a.durationMs)) : null,
        outcome.status === 'retrying' ? outcome.nextAttemptAt : null,
        sent ? null : outcome.error,
        a.attempt,
        a.startedAt,
        a.durationMs,
        a.outcome,
        _json(a.request),
        _json(a.response),
        a.error,
        a.workerId,
      ];
      for (let i = 0; i < row.length; i++) columns[i]!.push(row[i]);
    }
    const rows = await this.#query<{ id: string }>(this.#finishManySql(), [...columns, new Date()], true);
    const done = new Set(rows.map((r) => r.id));
    const results = items.map((item) => done.has(item.id));
    if (items.some((item, i) => results[i] && item.outcome.status === 'retrying')) await this.#notify();
    return results;
  }

  #finishManyText: string | null = null;
  #finishManySql(): string {
    this.#finishManyText ??= `
      WITH input AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::text[],
                             $8::int[], $9::timestamptz[], $10::double precision[], $11::text[], $12::jsonb[], $13::jsonb[],
                             $14::text[], $15::text[])
          AS t(id, owner, status, provider_message_id, sent_at, next_attempt_at, last_error,
               attempt, started_at, duration_ms, outcome, request, response, error, worker_id)
      ), updated AS (
        UPDATE ${this.#s}.deliveries AS d
        SET status = i.status,
            provider_message_id = CASE WHEN i.status = 'sent' THEN i.provider_message_id ELSE d.provider_message_id END,
            sent_at = CASE WHEN i.status = 'sent' THEN i.sent_at ELSE d.sent_at END,
            last_error = i.last_error,
            next_attempt_at = i.next_attempt_at,
            lease_owner = NULL, lease_until = NULL, updated_at = $16
        FROM input AS i
        WHERE d.id = i.id AND d.lease_owner = i.owner AND d.status = 'sending'
        RETURNING d.id
      ), logged AS (
        INSERT INTO ${this.#s}.attempts (delivery_id, attempt, started_at, duration_ms, outcome, request, response, error, worker_id)
        SELECT i.id, i.attempt, i.started_at, i.duration_ms, i.outcome, i.request, i.response, i.error, i.worker_id
        FROM input AS i JOIN updated AS u ON u.id = i.id
        RETURNING 1
      )
      SELECT id FROM updated`;
    return this.#finishManyText;
  }

  #finishQuery(id: string, owner: string, outcome: AttemptOutcome): { text: string; values: unknown[] } {
    const a: Attempt = outcome.attempt;
    const finishedAt = new Date(a.startedAt.getTime() + Math.max(0, a.durationMs));
    const values: unknown[] = [id, owner, outcome.status, new Date()];
    let set: string;
    if (outcome.status === 'sent') {
      values.push(outcome.providerMessageId, finishedAt);
      set = `provider_message_id = $5, sent_at = $6, last_error = NULL, next_attempt_at = NULL`;
    } else if (outcome.status === 'retrying') {
      values.push(outcome.nextAttemptAt, outcome.error);
      set = `next_attempt_at = $5, last_error = $6`;
    } else {
      values.push(outcome.error);
      set = `last_error = $5, next_attempt_at = NULL`;
    }
    const base = values.length;
    values.push(a.attempt, a.startedAt, a.durationMs, a.outcome, _json(a.request), _json(a.response), a.error, a.workerId);
    const p = (i: number) => `$${base + i}`;
    const sql = `
      WITH updated AS (
        UPDATE ${this.#s}.deliveries
        SET status = $3, ${set}, lease_owner = NULL, lease_until = NULL, updated_at = $4
        WHERE id = $1 AND lease_owner = $2 AND status = 'sending'
        RETURNING id
      ), logged AS (
        INSERT INTO ${this.#s}.attempts (delivery_id, attempt, started_at, duration_ms, outcome, request, response, error, worker_id)
        SELECT id, ${p(1)}::int, ${p(2)}::timestamptz, ${p(3)}::double precision, ${p(4)}::text, ${p(5)}::jsonb, ${p(6)}::jsonb,
               ${p(7)}::text, ${p(8)}::text
        FROM updated
        RETURNING 1
      )
      SELECT count(*)::int AS n FROM updated`;
    return { text: sql, values };
  }

  async release(ids: readonly string[], owner: string): Promise<void> {
    if (ids.length === 0) return;
    const rows = await this.#query<{ id: string }>(
      `UPDATE ${this.#s}.deliveries
       SET status = CASE WHEN attempts > 1 THEN 'retrying' ELSE 'queued' END, attempts = greatest(attempts - 1, 0),
           lease_owner = NULL, lease_until = NULL, next_attempt_at = $3, updated_at = $3
       WHERE id = ANY($1::text[]) AND lease_owner = $2 AND status = 'sending'
       RETURNING id`,
      [[...ids], owner, new Date()],
    );
    if (rows.length) await this.#notify();
  }

  async requeue(id: string, options: { now: Date; expiresAt: Date | null; maxAttempts: number }): Promise<Delivery | null> {
    const rows = await this.#query<_DeliveryRow>(
      `UPDATE ${this.#s}.deliveries
       SET status = 'queued', skip_reason = NULL, next_attempt_at = $2, expires_at = $3, attempts = 0, max_attempts = $4,
           lease_owner = NULL, lease_until = NULL, updated_at = $2
       WHERE id = $1 AND status <> 'sending'
       RETURNING ${_DELIVERY_COLUMNS}`,
      [id, options.now, options.expiresAt, options.maxAttempts],
    );
    const row = rows[0];
    if (!row) return this.get(id);
    await this.#notify();
    return _toDelivery(row);
  }

  async #notify(): Promise<void> {
    await this.#query('SELECT pg_notify($1, $2)', [this.channel, '']);
  }

  async nextDueAt(): Promise<Date | null> {
    const rows = await this.#query<{ at: Date | null }>(
      `SELECT min(next_attempt_at) AS at FROM ${this.#s}.deliveries WHERE ${ACTIVE}`,
      [],
      true,
    );
    return rows[0]?.at ?? null;
  }

  // ───────────────────────── reading ─────────────────────────

  async get(id: string): Promise<Delivery | null> {
    const rows = await this.#query<_DeliveryRow>(`SELECT ${_DELIVERY_COLUMNS} FROM ${this.#s}.deliveries WHERE id = $1`, [id], true);
    return rows[0] ? _toDelivery(rows[0]) : null;
  }

  #where(filter: DeliveryFilter, values: unknown[]): string {
    const clauses: string[] = [];
    const add = (sql: string, value: unknown) => {
      values.push(value);
      clauses.push(sql.replace('?', `$${values.length}`));
    };
    if (filter.status !== undefined) {
      const statuses = typeof filter.status === 'string' ? [filter.status] : [...filter.status];
      add('status = ANY(?::text[])', statuses);
    }
    if (filter.notification !== undefined) add('notification = ?', filter.notification);
    if (filter.backend !== undefined) add('backend = ?', filter.backend);
    if (filter.recipientId !== undefined) add('recipient_id = ?', filter.recipientId);
    if (filter.address !== undefined) add('address = ?', filter.address);
    if (filter.batchId !== undefined) add('batch_id = ?', filter.batchId);
    if (filter.before !== undefined) add('created_at < ?', filter.before);
    return clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
  }

  async list(filter: DeliveryFilter = {}): Promise<Delivery[]> {
    const values: unknown[] = [];
    const where = this.#where(filter, values);
    let limit = '';
    if (filter.limit !== undefined) {
      values.push(Math.max(0, Math.floor(filter.limit)));
      limit = ` LIMIT $${values.length}`;
    }
    const rows = await this.#query<_DeliveryRow>(
      `SELECT ${_DELIVERY_COLUMNS} FROM ${this.#s}.deliveries ${where} ORDER BY created_at DESC, id DESC${limit}`,
      values,
    );
    return rows.map(_toDelivery);
  }

  async count(filter: Omit<DeliveryFilter, 'status' | 'limit' | 'before'> = {}): Promise<DeliveryCounts> {
    const values: unknown[] = [];
    const where = this.#where(filter, values);
    const rows = await this.#query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM ${this.#s}.deliveries ${where} GROUP BY status`,
      values,
    );
    const counts: DeliveryCounts = {};
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }

  async attempts(deliveryId: string): Promise<Attempt[]> {
    const rows = await this.#query<_AttemptRow>(
      `SELECT delivery_id, attempt, started_at, duration_ms, outcome, request, response, error, worker_id
       FROM ${this.#s}.attempts WHERE delivery_id = $1 ORDER BY attempt, seq`,
      [deliveryId],
    );
    return rows.map(_toAttempt);
  }

  // ───────────────────────── tracking ─────────────────────────

  async recordEvent(
    backend: string,
    event: TrackingEvent,
    options: { now: Date; status: DeliveryStatus | null },
  ): Promise<RecordEventResult> {
    return this.#transaction(async (client) => {
      let delivery: Delivery | null = null;
      const { rows: previous } = await client.query<{ delivery_id: string | null }>(
        `SELECT delivery_id FROM ${this.#s}.events WHERE backend = $1 AND event_id = $2`,
        [backend, event.eventId],
      );
      if (previous[0]) {
        const id = previous[0].delivery_id;
        const { rows } = id
          ? await client.query<_DeliveryRow>(`SELECT ${_DELIVERY_COLUMNS} FROM ${this.#s}.deliveries WHERE id = $1`, [id])
          : { rows: [] };
        return { inserted: false, delivery: rows[0] ? _toDelivery(rows[0]) : null, statusChanged: false };
      }
      if (event.messageId !== null) {
        const { rows } = await client.query<_DeliveryRow>(
          `SELECT ${_DELIVERY_COLUMNS} FROM ${this.#s}.deliveries WHERE backend = $1 AND provider_message_id = $2
           ORDER BY created_at DESC, id DESC LIMIT 1 FOR UPDATE`,
          [backend, event.messageId],
        );
        delivery = rows[0] ? _toDelivery(rows[0]) : null;
      }
      const inserted = await client.query(
        `INSERT INTO ${this.#s}.events (backend, event_id, delivery_id, event_type, message_id, event, received_at)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) ON CONFLICT (backend, event_id) DO NOTHING RETURNING 1`,
        [backend, event.eventId, delivery?.id ?? null, event.eventType, event.messageId, _eventJson(event), options.now],
      );
      if (inserted.rows.length === 0) return { inserted: false, delivery, statusChanged: false };
      if (delivery && options.status && canAdvance(delivery.status, options.status)) {
        const { rows } = await client.query<_DeliveryRow>(
          `UPDATE ${this.#s}.deliveries SET status = $2, updated_at = $3 WHERE id = $1 RETURNING ${_DELIVERY_COLUMNS}`,
          [delivery.id, options.status, options.now],
        );
        return { inserted: true, delivery: rows[0] ? _toDelivery(rows[0]) : delivery, statusChanged: true };
      }
      return { inserted: true, delivery, statusChanged: false };
    });
  }

  async forgetEvent(backend: string, eventId: string): Promise<void> {
    await this.#query(`DELETE FROM ${this.#s}.events WHERE backend = $1 AND event_id = $2`, [backend, eventId]);
  }

  async events(deliveryId: string): Promise<StoredTrackingEvent[]> {
    const rows = await this.#query<_EventRow>(
      `SELECT backend, delivery_id, event, received_at FROM ${this.#s}.events WHERE delivery_id = $1 ORDER BY received_at, seq`,
      [deliveryId],
    );
    return rows.map(_toEvent);
  }

  async forgetInbound(backend: string, eventId: string): Promise<void> {
    await this.#query(`DELETE FROM ${this.#s}.inbound_events WHERE backend = $1 AND event_id = $2`, [backend, eventId]);
  }

  async recordInbound(backend: string, event: InboundEvent, now: Date): Promise<boolean> {
    const rows = await this.#query(
      `INSERT INTO ${this.#s}.inbound_events (backend, event_id, event, received_at) VALUES ($1, $2, $3::jsonb, $4)
       ON CONFLICT (backend, event_id) DO NOTHING RETURNING 1`,
      [backend, event.eventId, _json(event), now],
    );
    return rows.length > 0;
  }

  async findByProviderMessageId(backend: string, messageId: string): Promise<Delivery | null> {
    const rows = await this.#query<_DeliveryRow>(
      `SELECT ${_DELIVERY_COLUMNS} FROM ${this.#s}.deliveries WHERE backend = $1 AND provider_message_id = $2
       ORDER BY created_at DESC, id DESC LIMIT 1`,
      [backend, messageId],
    );
    return rows[0] ? _toDelivery(rows[0]) : null;
  }

  // ───────────────────────── preferences and suppressions ─────────────────────────

  async getOptOuts(keys: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (keys.length === 0) return out;
    const rows = await this.#query<{ key: string; categories: string[] }>(
      `SELECT key, categories FROM ${this.#s}.opt_outs WHERE key = ANY($1::text[])`,
      [[...keys]],
    );
    for (const row of rows) out.set(row.key, row.categories);
    return out;
  }

  async setOptOuts(key: string, categories: readonly string[]): Promise<void> {
    const unique = [...new Set(categories)];
    if (unique.length === 0) {
      await this.#query(`DELETE FROM ${this.#s}.opt_outs WHERE key = $1`, [key]);
      return;
    }
    await this.#query(
      `INSERT INTO ${this.#s}.opt_outs (key, categories, updated_at) VALUES ($1, $2::text[], now())
       ON CONFLICT (key) DO UPDATE SET categories = EXCLUDED.categories, updated_at = now()`,
      [key, unique],
    );
  }

  async suppress(entry: Omit<Suppression, 'createdAt'> & { createdAt?: Date }): Promise<void> {
    await this.#query(
      `INSERT INTO ${this.#s}.suppressions (protocol, address, reason, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (protocol, address) DO UPDATE SET reason = EXCLUDED.reason, created_at = EXCLUDED.created_at`,
      [entry.protocol, normalizeAddress(entry.protocol, entry.address), entry.reason, entry.createdAt ?? new Date()],
    );
  }

  async unsuppress(protocol: Protocol, address: string): Promise<boolean> {
    const rows = await this.#query(`DELETE FROM ${this.#s}.suppressions WHERE protocol = $1 AND address = $2 RETURNING 1`, [
      protocol,
      normalizeAddress(protocol, address),
    ]);
    return rows.length > 0;
  }

  /** Which of these addresses are suppressed, keyed by the address as given (compared normalized). */
  async suppressed(protocol: Protocol, addresses: readonly string[]): Promise<Map<string, Suppression>> {
    const out = new Map<string, Suppression>();
    if (addresses.length === 0) return out;
    const normalized = addresses.map((address) => normalizeAddress(protocol, address));
    const rows = await this.#query<_SuppressionRow>(
      `SELECT protocol, address, reason, created_at FROM ${this.#s}.suppressions WHERE protocol = $1 AND address = ANY($2::text[])`,
      [protocol, [...new Set(normalized)]],
    );
    const found = new Map(rows.map((row) => [row.address, row]));
    addresses.forEach((address, i) => {
      const row = found.get(normalized[i]!);
      if (row) out.set(address, _toSuppression(row));
    });
    return out;
  }

  // ───────────────────────── retention and rate limits ─────────────────────────

  /**
   * Delete finished deliveries last updated before `olderThan` (their attempts and events go with them), one
   * short transaction per batch so no lock is held for long and live workers never wait on it.
   */
  async prune(options: { olderThan: Date; batchSize?: number }): Promise<number> {
    const batchSize = Math.max(1, Math.floor(options.batchSize ?? 1000));
    let total = 0;
    for (;;) {
      const rows = await this.#query<{ n: number }>(
        `WITH gone AS (
           DELETE FROM ${this.#s}.deliveries WHERE id IN (
             SELECT id FROM ${this.#s}.deliveries
             WHERE status = ANY($1::text[]) AND updated_at < $2
             LIMIT $3 FOR UPDATE SKIP LOCKED)
           RETURNING 1)
         SELECT count(*)::int AS n FROM gone`,
        [FINISHED, options.olderThan, batchSize],
      );
      const n = rows[0]?.n ?? 0;
      total += n;
      if (n < batchSize) break;
    }
    return total;
  }

  /**
   * Reserve one send slot for `key` from a token bucket (burst = `perSecond`) kept in one row per key and
   * updated atomically, so every worker process sharing the database shares the limit. Returns the wait in ms.
   */
  async reserveRate(key: string, perSecond: number, now: Date): Promise<number> {
    if (!(perSecond > 0)) return 0;
    const rows = await this.#query<{ available: number }>(
      `INSERT INTO ${this.#s}.rate_limits AS r (key, tokens, at_ms) VALUES ($1, $2::double precision - 1, $3::double precision)
       ON CONFLICT (key) DO UPDATE SET
         tokens = least($2::double precision, r.tokens + greatest(0, $3::double precision - r.at_ms) * $2::double precision / 1000) - 1,
         at_ms = greatest($3::double precision, r.at_ms)
       RETURNING r.tokens + 1 AS available`,
      [key, perSecond, now.getTime()],
      true,
    );
    const available = Number(rows[0]?.available ?? perSecond);
    return available >= 1 ? 0 : Math.ceil(((1 - available) * 1000) / perSecond);
  }

  // ───────────────────────── wake-up and shutdown ─────────────────────────

  /** Wake `listener` whenever work may be due: LISTEN on a dedicated connection, NOTIFY from every enqueue. */
  subscribe(listener: () => void): () => void {
    if (this.#closed) return () => undefined;
    if (!this.#listener) {
      const config: pg.ClientConfig = { ...this.#config };
      this.#listener = new _Listener(config, this.channel);
    }
    return this.#listener.subscribe(listener);
  }

  /** Resolves once the LISTEN connection is up (after `subscribe`). Useful in tests and benchmarks. */
  async listening(): Promise<void> {
    await this.#listener?.ready();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#listener?.close();
    if (this.#ownsPool) await this.#pool.end().catch(() => undefined);
  }
}

/**
 * Create the PostgreSQL store.
 *
 * @example
 * ```ts
 * import { createHerald } from '@herald/core';
 * import { postgresStore } from '@herald/store-postgres';
 *
 * const herald = createHerald({
 *   store: postgresStore({ connectionString: process.env.DATABASE_URL }),
 *   backends: [smtp({ host: 'smtp.internal', port: 587 })],
 *   notifications: [orderShipped],
 * });
 * ```
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  return new PostgresStore(options);
}

/**
 * Create or upgrade Herald's schema and return. Safe to run from many processes at once (advisory lock) and
 * a no-op when the schema is current — `herald migrate` calls it.
 *
 * @example
 * ```ts
 * import { migrate } from '@herald/store-postgres';
 * await migrate({ connectionString: process.env.DATABASE_URL, schema: 'herald' });
 * ```
 */
export async function migrate(options: PostgresStoreOptions): Promise<void> {
  const store = new PostgresStore({ ...options, migrate: false });
  try {
    await store.migrate();
  } finally {
    await store.close();
  }
}
