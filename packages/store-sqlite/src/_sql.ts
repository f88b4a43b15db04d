import { ABANDONED_ATTEMPT_ERROR, type DeliveryFilter, type DeliveryStatus, FINISHED_STATUSES, type SuppressionFilter } from '@herald/core';
import type Database from 'better-sqlite3';
import { type AttemptRow, DELIVERY_COLUMNS, type DeliveryRow, type EventRow, type KeyRow } from './_rows';

/**
 * Every statement of the SQLite store, one named constant per operation and grouped by the part of the `Store`
 * contract it serves (graphile-worker's `src/sql/*`, in one file: each is a few lines). Times are epoch ms,
 * JSON is text; `json_each(?)` turns a JSON array parameter into a set, so one statement covers a whole batch.
 */

export type Params = (string | number | null)[];

const FINISHED_SQL = FINISHED_STATUSES.map((status) => `'${status}'`).join(', ');
/** Deliveries a claim may pick once `next_attempt_at` passes (for `sending`, that is the lease expiry). */
const ACTIVE_SQL = `status IN ('queued', 'retrying', 'sending')`;
const IDS = 'SELECT value FROM json_each(?)';

// ───────────────────────── queue: enqueue ─────────────────────────

/** The columns `deliveryValues` fills, in order. */
export const DELIVERY_INSERT_COLUMNS = `id, batch_id, notification, category, recipient_id, protocol, address, backend, status, skip_reason,
  dedupe_key, dedupe_address, attempts, max_attempts, created_at, updated_at, next_attempt_at, expires_at`;
export const DELIVERY_INSERT_WIDTH = 18;
const INSERT_DELIVERY = `INSERT INTO herald_deliveries (${DELIVERY_INSERT_COLUMNS}) VALUES (${Array(DELIVERY_INSERT_WIDTH).fill('?').join(', ')})`;
const INSERT_MESSAGE = 'INSERT INTO herald_messages (delivery_id, message) VALUES (?, ?)';
/** Rows per multi-row INSERT (18 values each, well under SQLite's 32,766 bound parameters). */
export const INSERT_CHUNK = 64;

/** A live delivery with the same dedupe key and (normalized, as given) address in the window. */
const DEDUPE_HIT = `SELECT 1 AS hit FROM herald_deliveries
  WHERE dedupe_key = ? AND dedupe_address IS ? AND created_at >= ? AND status NOT IN ('failed', 'skipped') LIMIT 1`;

// ───────────────────────── queue: claim ─────────────────────────

/**
 * Due rows in claim order, as `[rowid, id, status]` (raw mode); the lease then finds them by rowid, one B-tree
 * descent per row fewer than by id. The index holds only live rows. `INDEXED BY` pins it: with
 * the list indexes of migration 4 the planner would otherwise take `(backend, …)` or `(status, …)` and sort every
 * live row of the backend on each claim (measured: 3–6× the store floor).
 */
const SELECT_DUE = `SELECT rowid, id, status FROM herald_deliveries INDEXED BY herald_deliveries_due WHERE ${ACTIVE_SQL} AND next_attempt_at <= ?
  ORDER BY next_attempt_at, id LIMIT ?`;
const SELECT_DUE_FOR_BACKENDS = `SELECT rowid, id, status FROM herald_deliveries INDEXED BY herald_deliveries_due WHERE ${ACTIVE_SQL} AND next_attempt_at <= ?
  AND backend IN (${IDS}) ORDER BY next_attempt_at, id LIMIT ?`;
/**
 * The attempt each reclaimed (expired) lease lost, logged before the lease moves: number, owner, claim time and
 * backend are the old row's. Runs only when a claim picked `sending` rows.
 */
const LOG_ABANDONED = `INSERT INTO herald_attempts
  (delivery_id, attempt, started_at, duration_ms, outcome, backend, request, response, error, worker_id)
  SELECT id, attempts, COALESCE(claimed_at, updated_at), MAX(lease_until - COALESCE(claimed_at, updated_at), 0), 'abandoned', backend,
    NULL, NULL, '${ABANDONED_ATTEMPT_ERROR.replaceAll("'", "''")}', COALESCE(lease_owner, 'unknown')
  FROM herald_deliveries WHERE id IN (${IDS}) AND status = 'sending' ORDER BY id`;
/** Take the lease. Raw mode: rows come back as arrays in {@link DELIVERY_COLUMNS} order. */
const LEASE = `UPDATE herald_deliveries
  SET status = 'sending', lease_owner = ?, lease_until = ?, next_attempt_at = ?, attempts = attempts + 1, updated_at = ?, claimed_at = ?
  WHERE rowid IN (${IDS}) RETURNING ${DELIVERY_COLUMNS.join(', ')}`;
/** Raw mode: `[delivery_id, message]` pairs. */
const SELECT_MESSAGES = `SELECT delivery_id, message FROM herald_messages WHERE delivery_id IN (${IDS})`;

// ───────────────────────── queue: finish, release, requeue ─────────────────────────

const HOLDS_LEASE = `WHERE id = ? AND status = 'sending' AND lease_owner = ?`;
const FINISH_SENT = `UPDATE herald_deliveries SET status = 'sent', provider_message_id = ?, sent_at = ?, last_error = NULL,
  next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL, updated_at = ? ${HOLDS_LEASE}`;
const FINISH_RETRYING = `UPDATE herald_deliveries SET status = 'retrying', last_error = ?, next_attempt_at = ?,
  lease_owner = NULL, lease_until = NULL, updated_at = ? ${HOLDS_LEASE}`;
/** A retry on another backend: the delivery moves with its new attempt budget (its message is replaced below). */
const FINISH_FAILOVER = `UPDATE herald_deliveries SET status = 'retrying', last_error = ?, next_attempt_at = ?, backend = ?, max_attempts = ?,
  lease_owner = NULL, lease_until = NULL, updated_at = ? ${HOLDS_LEASE}`;
const REPLACE_MESSAGE = `INSERT INTO herald_messages (delivery_id, message) VALUES (?, ?)
  ON CONFLICT (delivery_id) DO UPDATE SET message = excluded.message`;
const FINISH_FAILED = `UPDATE herald_deliveries SET status = 'failed', last_error = ?, next_attempt_at = NULL,
  lease_owner = NULL, lease_until = NULL, updated_at = ? ${HOLDS_LEASE}`;
export const ATTEMPT_INSERT_COLUMNS = 'delivery_id, attempt, started_at, duration_ms, outcome, backend, request, response, error, worker_id';
export const ATTEMPT_WIDTH = 10;
const INSERT_ATTEMPT = `INSERT INTO herald_attempts (${ATTEMPT_INSERT_COLUMNS}) VALUES (${Array(ATTEMPT_WIDTH).fill('?').join(', ')})`;

// Every right-hand side of an UPDATE sees the old row, so `attempts > 1` means "attempts - 1 > 0".
const RELEASE = `UPDATE herald_deliveries SET attempts = MAX(attempts - 1, 0),
  status = CASE WHEN attempts > 1 THEN 'retrying' ELSE 'queued' END,
  lease_owner = NULL, lease_until = NULL, next_attempt_at = ?, updated_at = ? ${HOLDS_LEASE}`;
const REQUEUE = `UPDATE herald_deliveries SET status = 'queued', skip_reason = NULL, attempts = 0, max_attempts = ?,
  expires_at = ?, next_attempt_at = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL
  WHERE id = ? AND status <> 'sending' RETURNING *`;
/** Deliveries a status poll may pick, least recently polled first, as rowids (raw mode). */
const SELECT_POLLS = `SELECT rowid FROM herald_deliveries INDEXED BY herald_deliveries_polls
  WHERE backend = ? AND status IN ('sent', 'deferred') AND sent_at <= ? AND (last_polled_at IS NULL OR last_polled_at <= ?)
  ORDER BY last_polled_at, sent_at LIMIT ?`;
/** Mark them polled. Raw mode: the rowid, then the row in {@link DELIVERY_COLUMNS} order (RETURNING has no order). */
const MARK_POLLED = `UPDATE herald_deliveries SET last_polled_at = ? WHERE rowid IN (${IDS}) RETURNING rowid, ${DELIVERY_COLUMNS.join(', ')}`;
const NEXT_DUE_AT = `SELECT MIN(next_attempt_at) AS t FROM herald_deliveries INDEXED BY herald_deliveries_due WHERE ${ACTIVE_SQL}`;
/** Cancel a delivery that is still waiting; a row in any other status is left alone (no row returned). */
const CANCEL = `UPDATE herald_deliveries SET status = 'cancelled', last_error = ?, next_attempt_at = NULL, updated_at = ?
  WHERE id = ? AND status IN ('queued', 'retrying') RETURNING id`;

// ───────────────────────── delivery log ─────────────────────────

/** A delivery with its message (the message lives apart, see migration 2). */
export const SELECT_DELIVERY = 'SELECT d.*, m.message AS message FROM herald_deliveries d LEFT JOIN herald_messages m ON m.delivery_id = d.id';
const GET = `${SELECT_DELIVERY} WHERE d.id = ?`;
const MESSAGE = 'SELECT message FROM herald_messages WHERE delivery_id = ?';
const ATTEMPTS = 'SELECT * FROM herald_attempts WHERE delivery_id = ? ORDER BY seq';
/** Pinned: `(backend, created_at, id)` would serve the ORDER BY, and walk every delivery of the backend to find one. */
const BY_PROVIDER_ID = `SELECT d.*, m.message AS message FROM herald_deliveries d INDEXED BY herald_deliveries_provider
  LEFT JOIN herald_messages m ON m.delivery_id = d.id WHERE d.backend = ? AND d.provider_message_id = ?
  ORDER BY d.created_at DESC, d.id DESC LIMIT 1`;

// ───────────────────────── event log ─────────────────────────

const FIND_EVENT = 'SELECT delivery_id FROM herald_events WHERE backend = ? AND event_id = ?';
const INSERT_EVENT = `INSERT INTO herald_events (backend, event_id, delivery_id, event_type, message_id, timestamp, recipient,
  metadata, tags, reject_reason, description, mta_response, user_agent, click_url, raw, received_at, provider_status)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
/** The delivery an event names by Herald's id (providers that echo it back), only if it is this backend's. */
const GET_FOR_BACKEND = `${SELECT_DELIVERY} WHERE d.id = ? AND d.backend = ?`;
const SET_PROVIDER_STATUS = 'UPDATE herald_deliveries SET provider_status = ?, updated_at = ? WHERE id = ?';
const SET_STATUS = 'UPDATE herald_deliveries SET status = ?, updated_at = ? WHERE id = ?';
const DELETE_EVENT = 'DELETE FROM herald_events WHERE backend = ? AND event_id = ?';
const EVENTS = 'SELECT * FROM herald_events WHERE delivery_id = ? ORDER BY received_at, rowid';
const INSERT_INBOUND = `INSERT OR IGNORE INTO herald_inbound (backend, event_id, timestamp, message, raw, received_at)
  VALUES (?, ?, ?, ?, ?, ?)`;
const DELETE_INBOUND = 'DELETE FROM herald_inbound WHERE backend = ? AND event_id = ?';

// ───────────────────────── audience ─────────────────────────

const OPT_OUTS = `SELECT key, categories FROM herald_opt_outs WHERE key IN (${IDS})`;
const SET_OPT_OUT = `INSERT INTO herald_opt_outs (key, categories, updated_at) VALUES (?, ?, ?)
  ON CONFLICT (key) DO UPDATE SET categories = excluded.categories, updated_at = excluded.updated_at`;
const DELETE_OPT_OUT = 'DELETE FROM herald_opt_outs WHERE key = ?';
const SUPPRESS = `INSERT INTO herald_suppressions (protocol, address, reason, created_at) VALUES (?, ?, ?, ?)
  ON CONFLICT (protocol, address) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at`;
const UNSUPPRESS = 'DELETE FROM herald_suppressions WHERE protocol = ? AND address = ?';
const SUPPRESSED = `SELECT address, reason, created_at FROM herald_suppressions WHERE protocol = ? AND address IN (${IDS})`;
/** `listSuppressions` appends its WHERE, ORDER BY and LIMIT. */
const LIST_SUPPRESSIONS = 'SELECT protocol, address, reason, created_at FROM herald_suppressions';

// ───────────────────────── keys ─────────────────────────

const INSERT_KEY = `INSERT INTO herald_api_keys (id, name, hash, scopes, created_at, revoked_at, last_used_at)
  VALUES (?, ?, ?, ?, ?, ?, ?)`;
const FIND_KEY = 'SELECT * FROM herald_api_keys WHERE id = ?';
const LIST_KEYS = 'SELECT * FROM herald_api_keys ORDER BY created_at DESC, id DESC';
const REVOKE_KEY = 'UPDATE herald_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL';
const KEY_LAST_USED = 'SELECT last_used_at FROM herald_api_keys WHERE id = ?';
const TOUCH_KEY = 'UPDATE herald_api_keys SET last_used_at = ? WHERE id = ?';

// ───────────────────────── lifecycle: prune; rate limits ─────────────────────────

/**
 * A row is written no earlier than it was created, so `created_at < ?` holds for every row `updated_at < ?` picks:
 * it bounds the scan to the old end of each status's range of herald_deliveries_status (whose partial WHERE the
 * `<> 'sending'` term names). A row whose updated_at lags its created_at — clocks skewed between machines — is
 * pruned once the cut-off passes its created_at.
 */
const PRUNE_SELECT = `SELECT id FROM herald_deliveries WHERE status IN (${FINISHED_SQL}) AND status <> 'sending' AND created_at < ?
  AND updated_at < ? LIMIT ?`;
const PRUNE_ATTEMPTS = `DELETE FROM herald_attempts WHERE delivery_id IN (${IDS})`;
const PRUNE_EVENTS = `DELETE FROM herald_events WHERE delivery_id IN (${IDS})`;
const PRUNE_MESSAGES = `DELETE FROM herald_messages WHERE delivery_id IN (${IDS})`;
const PRUNE_DELIVERIES = `DELETE FROM herald_deliveries WHERE id IN (${IDS})`;
/** Tracking events that matched no delivery: nothing else would ever delete them. */
const PRUNE_UNMATCHED_EVENTS = `DELETE FROM herald_events WHERE rowid IN
  (SELECT rowid FROM herald_events WHERE delivery_id IS NULL AND received_at < ? LIMIT ?)`;
const PRUNE_INBOUND = 'DELETE FROM herald_inbound WHERE rowid IN (SELECT rowid FROM herald_inbound WHERE received_at < ? LIMIT ?)';
const GET_RATE = 'SELECT tokens, updated_at FROM herald_rate_limits WHERE key = ?';
const SET_RATE = `INSERT INTO herald_rate_limits (key, tokens, updated_at) VALUES (?, ?, ?)
  ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at`;

// ───────────────────────── built per filter: lists and counts ─────────────────────────

/** WHERE terms of a delivery filter, its status apart (`listSql` splits a status list into index range scans). */
function filterTerms(filter: DeliveryFilter): { terms: string[]; params: Params } {
  const terms: string[] = [];
  const params: Params = [];
  const equal: [keyof DeliveryFilter, string][] = [
    ['notification', 'notification'],
    ['backend', 'backend'],
    ['recipientId', 'recipient_id'],
    ['address', 'address'],
    ['batchId', 'batch_id'],
    ['dedupeKey', 'dedupe_key'],
  ];
  for (const [key, column] of equal) {
    const value = filter[key];
    if (typeof value === 'string') {
      terms.push(`d.${column} = ?`);
      params.push(value);
    }
  }
  if (filter.since !== undefined) {
    terms.push('d.created_at >= ?');
    params.push(filter.since.getTime());
  }
  if (filter.before !== undefined) {
    // A row value compares like the index's (created_at, id) key, so a keyset page is one range of it.
    if (filter.beforeId !== undefined) {
      terms.push('(d.created_at, d.id) < (?, ?)');
      params.push(filter.before.getTime(), filter.beforeId);
    } else {
      terms.push('d.created_at < ?');
      params.push(filter.before.getTime());
    }
  }
  return { terms, params };
}

function whereSql(terms: readonly string[]): string {
  return terms.length ? ` WHERE ${terms.join(' AND ')}` : '';
}

function statusesOf(filter: DeliveryFilter): DeliveryStatus[] | undefined {
  if (filter.status === undefined) return undefined;
  return typeof filter.status === 'string' ? [filter.status] : [...new Set(filter.status)];
}

const NEWEST_FIRST = 'ORDER BY d.created_at DESC, d.id DESC';

/**
 * One status's rows, newest first. herald_deliveries_status leaves out `sending` rows (migration 4: a claim then
 * removes one entry and writes none), so the other statuses name its WHERE term for the planner to use it, and
 * `sending` — the leases in flight — is read from the claim index, which holds only live rows.
 */
function statusArm(status: DeliveryStatus, terms: readonly string[], params: Params, limit: string): { sql: string; params: Params } {
  if (status === 'sending') {
    const from = 'SELECT d.*, m.message AS message FROM herald_deliveries d INDEXED BY herald_deliveries_due LEFT JOIN herald_messages m ON m.delivery_id = d.id';
    return { sql: `${from}${whereSql([`d.${ACTIVE_SQL}`, "d.status = 'sending'", ...terms])} ${NEWEST_FIRST}${limit}`, params };
  }
  return { sql: `${SELECT_DELIVERY}${whereSql(['d.status = ?', "d.status <> 'sending'", ...terms])} ${NEWEST_FIRST}${limit}`, params: [status, ...params] };
}

/**
 * The statement of a `list` page, or null when it cannot match anything (an empty status list). Every filter
 * column leads an index ending in (created_at, id), so a page is one backward range scan that stops at `limit`.
 * Several statuses become one such scan per status, merged and cut to `limit`: a page reads at most
 * `statuses × limit` rows, however many match overall.
 */
export function listSql(filter: DeliveryFilter): { sql: string; params: Params } | null {
  const { terms, params } = filterTerms(filter);
  const statuses = statusesOf(filter);
  const limit = filter.limit === undefined ? undefined : Math.max(0, Math.floor(filter.limit));
  const limitSql = limit === undefined ? '' : ' LIMIT ?';
  const limitParams = limit === undefined ? [] : [limit];
  if (statuses === undefined) {
    return { sql: `${SELECT_DELIVERY}${whereSql(terms)} ${NEWEST_FIRST}${limitSql}`, params: [...params, ...limitParams] };
  }
  if (statuses.length === 0) return null;
  if (statuses.length === 1) {
    const arm = statusArm(statuses[0]!, terms, params, limitSql);
    return { sql: arm.sql, params: [...arm.params, ...limitParams] };
  }
  const arms = statuses.map((status) => statusArm(status, terms, params, limitSql));
  return {
    sql: `${arms.map((arm) => `SELECT * FROM (${arm.sql})`).join(' UNION ALL ')} ORDER BY created_at DESC, id DESC${limitSql}`,
    params: [...arms.flatMap((arm) => [...arm.params, ...limitParams]), ...limitParams],
  };
}

export function countSql(filter: DeliveryFilter): { sql: string; params: Params } {
  const { terms, params } = filterTerms(filter);
  const statuses = statusesOf(filter);
  if (statuses !== undefined) {
    terms.unshift('d.status IN (SELECT value FROM json_each(?))');
    params.unshift(JSON.stringify(statuses));
  }
  return { sql: `SELECT d.status AS status, COUNT(*) AS n FROM herald_deliveries d${whereSql(terms)} GROUP BY d.status`, params };
}

export function suppressionsSql(filter: SuppressionFilter): { sql: string; params: Params } {
  const terms: string[] = [];
  const params: Params = [];
  if (filter.protocol !== undefined) {
    terms.push('protocol = ?');
    params.push(filter.protocol);
  }
  if (filter.search !== undefined) {
    // instr, not LIKE: a plain, case-sensitive substring, with no wildcards to escape.
    terms.push('instr(address, ?) > 0');
    params.push(filter.search);
  }
  if (filter.before !== undefined) {
    if (filter.beforeAddress !== undefined) {
      terms.push('(created_at, address) < (?, ?)');
      params.push(filter.before.getTime(), filter.beforeAddress);
    } else {
      terms.push('created_at < ?');
      params.push(filter.before.getTime());
    }
  }
  params.push(Math.max(0, Math.floor(filter.limit ?? 100)));
  return { sql: `${LIST_SUPPRESSIONS}${whereSql(terms)} ORDER BY created_at DESC, address DESC LIMIT ?`, params };
}

/** The prepared statements of one connection (prepared once the schema is current). */
export interface Statements {
  insertDelivery: Database.Statement<Params>;
  insertMessage: Database.Statement<Params>;
  dedupeHit: Database.Statement<Params, { hit: number }>;
  selectDue: Database.Statement<Params, [number, string, string]>;
  selectDueForBackends: Database.Statement<Params, [number, string, string]>;
  logAbandoned: Database.Statement<Params>;
  lease: Database.Statement<Params, unknown[]>;
  messages: Database.Statement<Params, [string, string]>;
  finishSent: Database.Statement<Params>;
  finishRetrying: Database.Statement<Params>;
  finishFailover: Database.Statement<Params>;
  replaceMessage: Database.Statement<Params>;
  finishFailed: Database.Statement<Params>;
  insertAttempt: Database.Statement<Params>;
  release: Database.Statement<Params>;
  requeue: Database.Statement<Params, DeliveryRow>;
  nextDueAt: Database.Statement<Params, { t: number | null }>;
  selectPolls: Database.Statement<Params, [number]>;
  markPolled: Database.Statement<Params, unknown[]>;
  getForBackend: Database.Statement<Params, DeliveryRow>;
  setProviderStatus: Database.Statement<Params>;
  cancel: Database.Statement<Params, { id: string }>;
  get: Database.Statement<Params, DeliveryRow>;
  message: Database.Statement<Params, { message: string }>;
  attempts: Database.Statement<Params, AttemptRow>;
  byProviderId: Database.Statement<Params, DeliveryRow>;
  findEvent: Database.Statement<Params, { delivery_id: string | null }>;
  insertEvent: Database.Statement<Params>;
  setStatus: Database.Statement<Params>;
  deleteEvent: Database.Statement<Params>;
  events: Database.Statement<Params, EventRow>;
  insertInbound: Database.Statement<Params>;
  deleteInbound: Database.Statement<Params>;
  optOuts: Database.Statement<Params, { key: string; categories: string }>;
  setOptOut: Database.Statement<Params>;
  deleteOptOut: Database.Statement<Params>;
  suppress: Database.Statement<Params>;
  unsuppress: Database.Statement<Params>;
  suppressed: Database.Statement<Params, { address: string; reason: string; created_at: number }>;
  pruneSelect: Database.Statement<Params, { id: string }>;
  pruneAttempts: Database.Statement<Params>;
  pruneEvents: Database.Statement<Params>;
  pruneMessages: Database.Statement<Params>;
  pruneDeliveries: Database.Statement<Params>;
  pruneUnmatchedEvents: Database.Statement<Params>;
  pruneInbound: Database.Statement<Params>;
  getRate: Database.Statement<Params, { tokens: number; updated_at: number }>;
  insertKey: Database.Statement<Params>;
  findKey: Database.Statement<Params, KeyRow>;
  listKeys: Database.Statement<Params, KeyRow>;
  revokeKey: Database.Statement<Params>;
  keyLastUsed: Database.Statement<Params, { last_used_at: number | null }>;
  touchKey: Database.Statement<Params>;
  setRate: Database.Statement<Params>;
}

export function prepareAll(db: Database.Database): Statements {
  const p = <R = unknown>(sql: string) => db.prepare<Params, R>(sql);
  // better-sqlite3 builds arrays much faster than objects: the claim path reads in raw mode.
  const raw = <R extends unknown[]>(sql: string) => db.prepare<Params, R>(sql).raw(true);
  return {
    insertDelivery: p(INSERT_DELIVERY),
    insertMessage: p(INSERT_MESSAGE),
    dedupeHit: p(DEDUPE_HIT),
    selectDue: raw<[number, string, string]>(SELECT_DUE),
    selectDueForBackends: raw<[number, string, string]>(SELECT_DUE_FOR_BACKENDS),
    logAbandoned: p(LOG_ABANDONED),
    lease: raw<unknown[]>(LEASE),
    messages: raw<[string, string]>(SELECT_MESSAGES),
    finishSent: p(FINISH_SENT),
    finishRetrying: p(FINISH_RETRYING),
    finishFailover: p(FINISH_FAILOVER),
    replaceMessage: p(REPLACE_MESSAGE),
    finishFailed: p(FINISH_FAILED),
    insertAttempt: p(INSERT_ATTEMPT),
    release: p(RELEASE),
    requeue: p(REQUEUE),
    nextDueAt: p(NEXT_DUE_AT),
    selectPolls: raw<[number]>(SELECT_POLLS),
    markPolled: raw<unknown[]>(MARK_POLLED),
    getForBackend: p(GET_FOR_BACKEND),
    setProviderStatus: p(SET_PROVIDER_STATUS),
    cancel: p(CANCEL),
    get: p(GET),
    message: p(MESSAGE),
    attempts: p(ATTEMPTS),
    byProviderId: p(BY_PROVIDER_ID),
    findEvent: p(FIND_EVENT),
    insertEvent: p(INSERT_EVENT),
    setStatus: p(SET_STATUS),
    deleteEvent: p(DELETE_EVENT),
    events: p(EVENTS),
    insertInbound: p(INSERT_INBOUND),
    deleteInbound: p(DELETE_INBOUND),
    optOuts: p(OPT_OUTS),
    setOptOut: p(SET_OPT_OUT),
    deleteOptOut: p(DELETE_OPT_OUT),
    suppress: p(SUPPRESS),
    unsuppress: p(UNSUPPRESS),
    suppressed: p(SUPPRESSED),
    pruneSelect: p(PRUNE_SELECT),
    pruneAttempts: p(PRUNE_ATTEMPTS),
    pruneEvents: p(PRUNE_EVENTS),
    pruneMessages: p(PRUNE_MESSAGES),
    pruneDeliveries: p(PRUNE_DELIVERIES),
    pruneUnmatchedEvents: p(PRUNE_UNMATCHED_EVENTS),
    pruneInbound: p(PRUNE_INBOUND),
    getRate: p(GET_RATE),
    setRate: p(SET_RATE),
    insertKey: p(INSERT_KEY),
    findKey: p(FIND_KEY),
    listKeys: p(LIST_KEYS),
    revokeKey: p(REVOKE_KEY),
    keyLastUsed: p(KEY_LAST_USED),
    touchKey: p(TOUCH_KEY),
  };
}
