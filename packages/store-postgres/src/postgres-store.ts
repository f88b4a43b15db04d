import { createHash } from 'node:crypto';
import {
  type ApiKeyRecord,
  type MigrationInfo,
  type SuppressionFilter,
  type Attempt,
  type AttemptOutcome,
  type ClaimOptions,
  ConfigError,
  canAdvance,
  type Delivery,
  type DeliveryCounts,
  type DeliveryFilter,
  type DeliveryStatus,
  type EnqueueOptions,
  type EnqueueResult,
  FINISHED_STATUSES,
  type InboundEvent,
  type NewDelivery,
  type Protocol,
  type RecordEventResult,
  type Store,
  type StoredTrackingEvent,
  type Suppression,
  type TrackingEvent,
} from '@herald/core';
import pg from 'pg';
import { describeTarget, wrapError } from './_errors';
import { Listener } from './_listener';
import { rejectUnknownKeys } from './_options';
import { type EventRow, eventJson, json, toEvent } from './_rows';
import { DESCRIPTIONS, ident, MIGRATIONS, runMigrations } from './_schema';
import { countQuery, INSERT_COLUMNS, listQuery, type Statements, statements } from './_sql';

/**
 * Anything that runs a parameterized query on one connection: a `pg` `Client` / `PoolClient` inside your
 * `BEGIN`, or a small adapter around another library's transaction (see docs/scaling-out.md).
 */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** Options of {@link postgresStore}. Give `connectionString` and/or `connection`, or `pool`. */
export interface PostgresStoreOptions {
  /** e.g. `postgres://herald:secret@db.internal:5432/app`. The password never appears in errors. */
  connectionString?: string;
  /** Use an existing pool (not closed by `store.close()` unless `closePool` is set). */
  pool?: pg.Pool;
  /** `pg` pool settings (host, port, user, password, database, ssl, max …). Merged with `connectionString`. */
  connection?: pg.PoolConfig;
  /** PostgreSQL schema holding Herald's tables; created by `migrate()`. @default 'herald' */
  schema?: string;
  /** Rows per INSERT statement when enqueueing large fan-outs (1 to 3000). @default 1000 */
  chunkSize?: number;
  /** Close a pool passed in `pool` when the store closes. @default false */
  closePool?: boolean;
  /** Connections in the pool the store creates. @default 10 */
  max?: number;
}

const OPTION_KEYS: readonly (keyof PostgresStoreOptions)[] = ['connectionString', 'pool', 'connection', 'schema', 'chunkSize', 'closePool', 'max'];

/** Every key `pg` reads from a pool config (`pg.PoolConfig`, plus what `pg.defaults` adds); checked against the types below. */
const CONNECTION_KEYS = [
  'user', 'database', 'password', 'port', 'host', 'connectionString', 'keepAlive', 'stream', 'statement_timeout', 'ssl',
  'enableChannelBinding', 'sslnegotiation', 'query_timeout', 'lock_timeout', 'keepAliveInitialDelayMillis',
  'idle_in_transaction_session_timeout', 'application_name', 'fallback_application_name', 'connectionTimeoutMillis', 'types',
  'options', 'client_encoding', 'pipeline', 'max', 'min', 'idleTimeoutMillis', 'log', 'Promise', 'allowExitOnIdle', 'maxUses',
  'maxLifetimeSeconds', 'Client', 'onConnect', 'verify', 'binary', 'parseInt8', 'parseInputDatesAsUTC',
] as const satisfies readonly (keyof pg.PoolConfig | 'binary' | 'parseInt8' | 'parseInputDatesAsUTC')[];
// A key @types/pg adds to PoolConfig fails to compile here until it is listed above.
const everyPoolConfigKeyListed: [Exclude<keyof pg.PoolConfig, (typeof CONNECTION_KEYS)[number]>] extends [never] ? true : never = true;
void everyPoolConfigKeyListed;

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/;
const FINISHED = FINISHED_STATUSES as readonly string[];

function configError(message: string, field: string): ConfigError {
  return new ConfigError(message, { backend: 'store-postgres', field });
}

/** Validate the options at creation, so a typo fails at start-up instead of connecting somewhere else. */
function checkOptions(options: PostgresStoreOptions): void {
  if (typeof options !== 'object' || options === null) throw configError('postgresStore needs options: give connectionString, connection or pool', 'connectionString');
  if ('migrate' in options) {
    throw configError(
      'postgresStore: the `migrate` option was removed; the store never migrates on its own. createHerald awaits store.migrate() before first use, and migrate(options) from @herald/store-postgres runs it in a deploy step.',
      'migrate',
    );
  }
  rejectUnknownKeys('postgresStore', options, OPTION_KEYS);
  const { connectionString, pool, connection, schema, chunkSize, closePool, max } = options;
  if (pool === undefined && connectionString === undefined && connection === undefined) {
    throw configError('give connectionString, pool or connection', 'connectionString');
  }
  if (connectionString !== undefined && (typeof connectionString !== 'string' || connectionString.length === 0)) {
    throw configError('connectionString must be a non-empty string (postgres://user:password@host:5432/db)', 'connectionString');
  }
  if (pool !== undefined) {
    if (typeof pool !== 'object' || pool === null || typeof pool.connect !== 'function' || typeof pool.query !== 'function') {
      throw configError('pool must be a pg.Pool', 'pool');
    }
    for (const other of ['connectionString', 'connection', 'max'] as const) {
      if (options[other] !== undefined) throw configError(`\`${other}\` configures the pool the store creates; with \`pool\`, set it on your pool instead`, other);
    }
  } else if (closePool !== undefined) {
    throw configError('closePool applies to a pool passed as `pool`; the store always closes the pool it creates', 'closePool');
  }
  if (connection !== undefined) {
    if (typeof connection !== 'object' || connection === null) throw configError('connection must be a pg pool config object', 'connection');
    rejectUnknownKeys('postgresStore', connection, CONNECTION_KEYS, 'connection.');
  }
  if (schema !== undefined && (typeof schema !== 'string' || !SCHEMA_NAME.test(schema))) {
    throw configError(`schema "${String(schema)}" must be letters, digits and underscores (at most 48), not starting with a digit`, 'schema');
  }
  if (chunkSize !== undefined && (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 3000)) {
    throw configError(`chunkSize must be an integer from 1 to 3000, got ${String(chunkSize)}`, 'chunkSize');
  }
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) throw configError(`max must be a positive integer, got ${String(max)}`, 'max');
  if (closePool !== undefined && typeof closePool !== 'boolean') throw configError('closePool must be true or false', 'closePool');
}

function isQueryable(value: unknown): value is PgQueryable {
  return typeof value === 'object' && value !== null && typeof (value as { query?: unknown }).query === 'function';
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

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
    row.dedupeAddress,
    row.maxAttempts,
    json(row.message),
    row.createdAt,
    row.createdAt,
    duplicate || row.status !== 'queued' ? null : (row.nextAttemptAt ?? row.createdAt),
    row.expiresAt,
  ];
}

/** The dedupe identity of a row: key and (normalized, as given) address; a null address is its own value. */
function dedupePair(key: string | null, address: string | null): string {
  return JSON.stringify([key, address]);
}

/** When the provider accepted the message: the end of the attempt, not when its row happens to be written. */
function finishedAt(a: Attempt): Date {
  return new Date(a.startedAt.getTime() + Math.max(0, a.durationMs));
}

type FinishItem = { id: string; owner: string; outcome: AttemptOutcome };

/**
 * The PostgreSQL store: any number of worker processes on any number of machines share one queue.
 * Claims use `FOR UPDATE SKIP LOCKED` with leases, idle workers wake through `LISTEN/NOTIFY`, rate limits are
 * shared through the database, and `notify(…, { transaction: client })` enqueues inside your own transaction.
 * The store never migrates on its own: `createHerald` awaits `migrate()` before first use.
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
  readonly #sql: Statements;
  /** The schema name quoted as an identifier, for statements built per call. */
  readonly #quoted: string;
  readonly #chunkSize: number;
  #everConnected = false;
  #listener: Listener | null = null;
  #closed = false;
  readonly #statementNames = new Map<string, string>();
  readonly #inserts = new Map<number, string>();

  constructor(options: PostgresStoreOptions) {
    checkOptions(options);
    const schema = options.schema ?? 'herald';
    this.schema = schema;
    this.channel = `herald_${schema}`.slice(0, 63);
    this.#quoted = ident(schema);
    this.#sql = statements(this.#quoted);
    this.#chunkSize = options.chunkSize ?? 1000;
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
    return describeTarget(this.#config);
  }

  /** The underlying pool (for your own queries and transactions). */
  get pool(): pg.Pool {
    return this.#pool;
  }

  // ───────────────────────── plumbing ─────────────────────────

  #wrap(error: unknown): unknown {
    return wrapError(error, this.#config, this.#everConnected, this.schema);
  }

  /** Run one statement. `prepared` (for the hot, fixed-text statements) parses and plans it once per connection. */
  async #query<R>(text: string, values?: unknown[], prepared = false): Promise<R[]> {
    try {
      const result = prepared ? await this.#pool.query({ name: this.#statementName(text), text, values }) : await this.#pool.query(text, values);
      return result.rows as R[];
    } catch (error) {
      throw this.#wrap(error);
    }
  }

  #statementName(text: string): string {
    let name = this.#statementNames.get(text);
    if (!name) {
      name = `herald_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
      this.#statementNames.set(text, name);
    }
    return name;
  }

  /** Run `fn` inside BEGIN/COMMIT on one pooled connection. */
  async #transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
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

  // ───────────────────────── lifecycle ─────────────────────────

  /**
   * Create or upgrade the schema. Runs under `pg_advisory_lock`, so concurrent calls from many processes are
   * safe; a second run is a no-op. Nothing else migrates: other methods on an unmigrated schema are a
   * `ConfigError` saying to call this.
   */
  async migrations(): Promise<{ applied: MigrationInfo[]; pending: MigrationInfo[] }> {
    let done: number[] = [];
    try {
      done = (await this.#pool.query<{ version: number }>(this.#sql.appliedMigrations)).rows.map((r) => r.version);
    } catch (error) {
      // No migrations table yet (42P01 undefined table, 3F000 undefined schema): nothing applied.
      const code = (error as { code?: string }).code;
      if (code !== '42P01' && code !== '3F000') throw this.#wrap(error);
    }
    const info = (version: number): MigrationInfo => ({ version, description: DESCRIPTIONS[version] ?? MIGRATIONS.find((m) => m.version === version)?.name ?? '' });
    return { applied: done.map(info), pending: MIGRATIONS.filter((m) => !done.includes(m.version)).map((m) => info(m.version)) };
  }

  async migrate(): Promise<void> {
    try {
      await runMigrations(this.#pool, this.schema);
      this.#everConnected = true;
    } catch (error) {
      throw wrapError(error, this.#config, this.#everConnected);
    }
  }

  /**
   * Delete finished deliveries last updated before `olderThan` (their attempts and events go with them), then
   * tracking events that matched no delivery and inbound events received before it, each in batches of one
   * short statement, so no lock is held for long and live workers never wait on it.
   */
  async prune(options: { olderThan: Date; batchSize?: number }): Promise<number> {
    const batchSize = Math.max(1, Math.floor(options.batchSize ?? 1000));
    const drain = async (text: string, values: unknown[]): Promise<number> => {
      let total = 0;
      for (;;) {
        const n = (await this.#query<{ n: number }>(text, values))[0]?.n ?? 0;
        total += n;
        if (n < batchSize) return total;
      }
    };
    const removed = await drain(this.#sql.pruneDeliveries, [FINISHED, options.olderThan, batchSize]);
    await drain(this.#sql.pruneUnmatchedEvents, [options.olderThan, batchSize]);
    await drain(this.#sql.pruneInbound, [options.olderThan, batchSize]);
    return removed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#listener?.close();
    if (this.#ownsPool) await this.#pool.end().catch(() => undefined);
  }

  // ───────────────────────── queue: enqueue ─────────────────────────

  async enqueue(rows: readonly NewDelivery[], options: EnqueueOptions = {}): Promise<EnqueueResult> {
    const tx = options.transaction;
    if (tx !== undefined && tx !== null) {
      if (!isQueryable(tx)) {
        throw configError('transaction must be a pg client (or an object with query(text, values)) inside BEGIN', 'transaction');
      }
      if (rows.length === 0) return { duplicates: [] };
      try {
        return await this.#enqueueOn(tx, rows, true);
      } catch (error) {
        throw this.#wrap(error);
      }
    }
    if (rows.length === 0) return { duplicates: [] };
    const needsTransaction = rows.length > this.#chunkSize || rows.some((r) => r.dedupeKey !== null && r.status === 'queued');
    if (!needsTransaction) {
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
      sql = `INSERT INTO ${ident(this.schema)}.deliveries (${INSERT_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`;
      if (this.#inserts.size < 64) this.#inserts.set(count, sql);
    }
    return sql;
  }

  /**
   * The dedupe check, inside the enqueueing transaction: a transaction-level advisory lock per (key, address)
   * serializes concurrent enqueues of the same key, so exactly one of two racing calls inserts. Addresses are
   * compared as given (core normalized them).
   */
  async #dedupe(db: PgQueryable, rows: readonly NewDelivery[]): Promise<Set<string>> {
    const candidates = rows.filter((r) => r.dedupeKey !== null && r.status === 'queued');
    const duplicates = new Set<string>();
    if (candidates.length === 0) return duplicates;
    const lockKeys = [...new Set(candidates.map((r) => `${this.schema}\u001f${dedupePair(r.dedupeKey, r.dedupeAddress)}`))].sort();
    await db.query(this.#sql.dedupeLock, [lockKeys]);
    const keys = [...new Set(candidates.map((r) => r.dedupeKey as string))];
    const { rows: found } = await db.query(this.#sql.dedupeLast, [keys]);
    const last = new Map<string, number>();
    for (const f of found as { dedupe_key: string; dedupe_address: string | null; last: Date }[]) {
      last.set(dedupePair(f.dedupe_key, f.dedupe_address), new Date(f.last).getTime());
    }
    for (const row of candidates) {
      const key = dedupePair(row.dedupeKey, row.dedupeAddress);
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

  // ───────────────────────── queue: claim and outcomes ─────────────────────────

  async claim(options: ClaimOptions): Promise<Delivery[]> {
    const now = options.now ?? new Date();
    const limit = Math.max(0, Math.floor(options.limit));
    if (limit === 0) return [];
    const leaseUntil = new Date(now.getTime() + options.leaseMs);
    const backends = options.backends ? [...options.backends] : null;
    // One index-ordered scan that locks as it goes and steps over rows other workers hold. A `sending` row's
    // next_attempt_at is its lease expiry, so deliveries of a crashed worker come due like any other (and the
    // claim logs the attempt they lost).
    return this.#query<Delivery>(this.#sql.claim, [now, limit, options.owner, leaseUntil, backends], true);
  }

  async finish(id: string, owner: string, outcome: AttemptOutcome): Promise<boolean> {
    const a = outcome.attempt;
    const values: unknown[] = [
      id,
      owner,
      new Date(),
      outcome.status === 'sent' ? outcome.providerMessageId : outcome.error,
      a.attempt,
      a.startedAt,
      a.durationMs,
      a.outcome,
      a.backend ?? null,
      json(a.request),
      json(a.response),
      a.error,
      a.workerId,
    ];
    let text: string;
    if (outcome.status === 'sent') {
      values.push(finishedAt(a));
      text = this.#sql.finishSent;
    } else if (outcome.status === 'retrying') {
      values.push(outcome.nextAttemptAt);
      const failover = outcome.failover;
      if (failover) values.push(failover.backend, json(failover.message), failover.maxAttempts);
      text = failover ? this.#sql.finishFailover : this.#sql.finishRetrying;
    } else {
      text = this.#sql.finishFailed;
    }
    const rows = await this.#query<{ n: number }>(text, values, true);
    const done = (rows[0]?.n ?? 0) > 0;
    if (done && outcome.status === 'retrying') await this.#notify();
    return done;
  }

  /**
   * Record a batch of outcomes with one statement: the rows travel as arrays, are unnested on the server, and the
   * status updates and attempt rows are written together. One round trip and one commit for a whole batch,
   * instead of a query per delivery inside a transaction. Failovers, rare, use a variant with three more arrays.
   */
  async finishMany(items: readonly FinishItem[]): Promise<boolean[]> {
    if (items.length === 0) return [];
    if (items.length === 1) return [await this.finish(items[0]!.id, items[0]!.owner, items[0]!.outcome)];
    const failover = items.some(({ outcome }) => outcome.status === 'retrying' && outcome.failover !== undefined);
    const columns: unknown[][] = Array.from({ length: failover ? 19 : 16 }, () => []);
    for (const { id, owner, outcome } of items) {
      const a = outcome.attempt;
      const sent = outcome.status === 'sent';
      const row = [
        id,
        owner,
        outcome.status,
        sent ? outcome.providerMessageId : null,
        sent ? finishedAt(a) : null,
        outcome.status === 'retrying' ? outcome.nextAttemptAt : null,
        sent ? null : outcome.error,
        a.attempt,
        a.startedAt,
        a.durationMs,
        a.outcome,
        a.backend ?? null,
        json(a.request),
        json(a.response),
        a.error,
        a.workerId,
      ];
      if (failover) {
        const to = outcome.status === 'retrying' ? outcome.failover : undefined;
        row.push(to?.backend ?? null, to ? json(to.message) : null, to?.maxAttempts ?? null);
      }
      for (let i = 0; i < row.length; i++) columns[i]!.push(row[i]);
    }
    const values = failover ? [...columns.slice(0, 16), new Date(), ...columns.slice(16)] : [...columns, new Date()];
    const rows = await this.#query<{ id: string }>(failover ? this.#sql.finishManyFailover : this.#sql.finishMany, values, true);
    const done = new Set(rows.map((r) => r.id));
    const results = items.map((item) => done.has(item.id));
    if (items.some((item, i) => results[i] && item.outcome.status === 'retrying')) await this.#notify();
    return results;
  }

  async release(ids: readonly string[], owner: string): Promise<void> {
    if (ids.length === 0) return;
    const rows = await this.#query<{ id: string }>(this.#sql.release, [[...ids], owner, new Date()]);
    if (rows.length) await this.#notify();
  }

  async requeue(id: string, options: { now: Date; expiresAt: Date | null; maxAttempts: number }): Promise<Delivery | null> {
    const rows = await this.#query<Delivery>(this.#sql.requeue, [id, options.now, options.expiresAt, options.maxAttempts]);
    const row = rows[0];
    if (!row) return this.get(id);
    await this.#notify();
    return row;
  }

  async #notify(): Promise<void> {
    await this.#query(this.#sql.wake, [this.channel, '']);
  }

  async nextDueAt(): Promise<Date | null> {
    const rows = await this.#query<{ at: Date | null }>(this.#sql.nextDueAt, [], true);
    return rows[0]?.at ?? null;
  }

  /**
   * Reserve one send slot for `key` from a token bucket (burst = `perSecond`) kept in one row per key and
   * updated atomically, so every worker process sharing the database shares the limit. Returns the wait in ms.
   */
  async reserveRate(key: string, perSecond: number, now: Date): Promise<number> {
    if (!(perSecond > 0)) return 0;
    const rows = await this.#query<{ available: number }>(this.#sql.reserveRate, [key, perSecond, now.getTime()], true);
    const available = Number(rows[0]?.available ?? perSecond);
    return available >= 1 ? 0 : Math.ceil(((1 - available) * 1000) / perSecond);
  }

  /** Wake `listener` whenever work may be due: LISTEN on a dedicated connection, NOTIFY from every enqueue. */
  subscribe(listener: () => void): () => void {
    if (this.#closed) return () => undefined;
    if (!this.#listener) {
      const config: pg.ClientConfig = { ...this.#config };
      this.#listener = new Listener(config, this.channel);
    }
    return this.#listener.subscribe(listener);
  }

  /** Resolves once the LISTEN connection is up (after `subscribe`). Useful in tests and benchmarks. */
  async listening(): Promise<void> {
    await this.#listener?.ready();
  }

  // ───────────────────────── delivery log ─────────────────────────

  async get(id: string): Promise<Delivery | null> {
    const rows = await this.#query<Delivery>(this.#sql.get, [id], true);
    return rows[0] ?? null;
  }

  async list(filter: DeliveryFilter = {}): Promise<Delivery[]> {
    const query = listQuery(this.#quoted, filter);
    return query ? this.#query<Delivery>(query.text, query.values) : [];
  }

  async count(filter: Omit<DeliveryFilter, 'status' | 'limit' | 'before'> = {}): Promise<DeliveryCounts> {
    const query = countQuery(this.#quoted, filter);
    const counts: DeliveryCounts = {};
    for (const row of await this.#query<{ status: string; n: number }>(query.text, query.values)) counts[row.status] = row.n;
    return counts;
  }

  async cancel(id: string, options: { now: Date; reason: string }): Promise<Delivery | null> {
    const rows = await this.#query<Delivery>(this.#sql.cancel, [id, options.now, options.reason]);
    return rows[0] ?? (await this.get(id));
  }

  async claimPolls(options: { backend: string; sentBefore: Date; polledBefore: Date; limit: number; now: Date }): Promise<Delivery[]> {
    return this.#query<Delivery>(this.#sql.claimPolls, [options.backend, options.sentBefore, options.polledBefore, Math.max(0, Math.floor(options.limit)), options.now]);
  }

  async attempts(deliveryId: string): Promise<Attempt[]> {
    return this.#query<Attempt>(this.#sql.attempts, [deliveryId]);
  }

  async findByProviderMessageId(backend: string, messageId: string): Promise<Delivery | null> {
    const rows = await this.#query<Delivery>(this.#sql.byProviderId, [backend, messageId]);
    return rows[0] ?? null;
  }

  // ───────────────────────── event log ─────────────────────────

  async recordEvent(backend: string, event: TrackingEvent, options: { now: Date; status: DeliveryStatus | null }): Promise<RecordEventResult> {
    return this.#transaction(async (client): Promise<RecordEventResult> => {
      const sql = this.#sql;
      const { rows: previous } = await client.query<{ delivery_id: string | null }>(sql.findEvent, [backend, event.eventId]);
      if (previous[0]) {
        const id = previous[0].delivery_id;
        const delivery = id ? ((await client.query<Delivery>(sql.get, [id])).rows[0] ?? null) : null;
        return { inserted: false, delivery, statusChanged: false, previousStatus: delivery?.status ?? null };
      }
      let delivery = event.deliveryId ? ((await client.query<Delivery>(sql.lockById, [event.deliveryId, backend])).rows[0] ?? null) : null;
      if (!delivery && event.messageId !== null) delivery = (await client.query<Delivery>(sql.lockByProviderId, [backend, event.messageId])).rows[0] ?? null;
      const previousStatus = delivery?.status ?? null;
      const inserted = await client.query(sql.insertEvent, [
        backend,
        event.eventId,
        delivery?.id ?? null,
        event.eventType,
        event.messageId,
        eventJson(event),
        options.now,
      ]);
      if (inserted.rows.length === 0) return { inserted: false, delivery, statusChanged: false, previousStatus };
      if (delivery && event.providerStatus) {
        delivery = (await client.query<Delivery>(sql.setProviderStatus, [delivery.id, event.providerStatus, options.now])).rows[0] ?? delivery;
      }
      if (!delivery || !options.status || !canAdvance(delivery.status, options.status)) return { inserted: true, delivery, statusChanged: false, previousStatus };
      const { rows } = await client.query<Delivery>(sql.setStatus, [delivery.id, options.status, options.now]);
      return { inserted: true, delivery: rows[0] ?? delivery, statusChanged: true, previousStatus };
    });
  }

  async forgetEvent(backend: string, eventId: string): Promise<void> {
    await this.#query(this.#sql.deleteEvent, [backend, eventId]);
  }

  async events(deliveryId: string): Promise<StoredTrackingEvent[]> {
    const rows = await this.#query<EventRow>(this.#sql.events, [deliveryId]);
    return rows.map(toEvent);
  }

  async recordInbound(backend: string, event: InboundEvent, now: Date): Promise<boolean> {
    const rows = await this.#query(this.#sql.insertInbound, [backend, event.eventId, json(event), now]);
    return rows.length > 0;
  }

  async forgetInbound(backend: string, eventId: string): Promise<void> {
    await this.#query(this.#sql.deleteInbound, [backend, eventId]);
  }

  // ───────────────────────── audience (addresses arrive normalized; stored and compared as given) ─────────────────────────

  async getOptOuts(keys: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (keys.length === 0) return out;
    const rows = await this.#query<{ key: string; categories: string[] }>(this.#sql.optOuts, [[...keys]]);
    for (const row of rows) out.set(row.key, row.categories);
    return out;
  }

  async setOptOuts(key: string, categories: readonly string[]): Promise<void> {
    const unique = [...new Set(categories)];
    if (unique.length === 0) await this.#query(this.#sql.deleteOptOuts, [key]);
    else await this.#query(this.#sql.setOptOuts, [key, unique]);
  }

  async suppress(entry: Omit<Suppression, 'createdAt'> & { createdAt?: Date }): Promise<void> {
    await this.#query(this.#sql.suppress, [entry.protocol, entry.address, entry.reason, entry.createdAt ?? new Date()]);
  }

  async unsuppress(protocol: Protocol, address: string): Promise<boolean> {
    return (await this.#query(this.#sql.unsuppress, [protocol, address])).length > 0;
  }

  async suppressed(protocol: Protocol, addresses: readonly string[]): Promise<Map<string, Suppression>> {
    if (addresses.length === 0) return new Map();
    const rows = await this.#query<Suppression>(this.#sql.suppressed, [protocol, [...new Set(addresses)]]);
    return new Map(rows.map((row) => [row.address, row]));
  }

  async listSuppressions(filter: SuppressionFilter = {}): Promise<Suppression[]> {
    const values: unknown[] = [];
    const clauses: string[] = [];
    if (filter.protocol !== undefined) {
      values.push(filter.protocol);
      clauses.push(`protocol = $${values.length}`);
    }
    if (filter.search !== undefined) {
      values.push(`%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      clauses.push(`address LIKE $${values.length}`);
    }
    if (filter.before !== undefined) {
      values.push(filter.before, filter.beforeAddress ?? '');
      clauses.push(`(created_at, address) < ($${values.length - 1}::timestamptz, $${values.length}::text)`);
    }
    values.push(Math.max(0, Math.floor(filter.limit ?? 100)));
    const where = clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '';
    return this.#query<Suppression>(`${this.#sql.listSuppressions}${where} ORDER BY created_at DESC, address DESC LIMIT $${values.length}`, values);
  }

  // ───────────────────────── API keys ─────────────────────────

  async saveKey(record: ApiKeyRecord): Promise<void> {
    const rows = await this.#query(this.#sql.saveKey, [record.id, record.name, record.hash, record.scopes, record.createdAt, record.revokedAt, record.lastUsedAt]);
    if (rows.length === 0) throw new ConfigError(`an API key with id "${record.id}" exists already`, { field: 'id' });
  }

  async findKey(id: string): Promise<ApiKeyRecord | null> {
    return (await this.#query<ApiKeyRecord>(this.#sql.findKey, [id]))[0] ?? null;
  }

  async listKeys(): Promise<ApiKeyRecord[]> {
    return this.#query<ApiKeyRecord>(this.#sql.listKeys);
  }

  async revokeKey(id: string, now: Date): Promise<boolean> {
    return (await this.#query(this.#sql.revokeKey, [id, now])).length > 0;
  }

  async touchKey(id: string, now: Date): Promise<void> {
    await this.#query(this.#sql.touchKey, [id, now]);
  }
}

/**
 * Create the PostgreSQL store. Options are checked at once: an unknown key (top level or in `connection`) is a
 * `ConfigError` naming the closest known one.
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
 * a no-op when the schema is current: run it in a deploy step.
 *
 * @example
 * ```ts
 * import { migrate } from '@herald/store-postgres';
 * await migrate({ connectionString: process.env.DATABASE_URL, schema: 'herald' });
 * ```
 */
export async function migrate(options: PostgresStoreOptions): Promise<void> {
  const store = new PostgresStore(options);
  try {
    await store.migrate();
  } finally {
    await store.close();
  }
}
