import { ABANDONED_ATTEMPT_ERROR, FINISHED_STATUSES } from '@herald/core';
import type Database from 'better-sqlite3';
import { type AttemptRow, DELIVERY_COLUMNS, type DeliveryRow, type EventRow } from './_rows';

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

/** Due rows in claim order, as `[id, status]` (raw mode). The index holds only live rows. */
const SELECT_DUE = `SELECT id, status FROM herald_deliveries WHERE ${ACTIVE_SQL} AND next_attempt_at <= ?
  ORDER BY next_attempt_at, id LIMIT ?`;
const SELECT_DUE_FOR_BACKENDS = `SELECT id, status FROM herald_deliveries WHERE ${ACTIVE_SQL} AND next_attempt_at <= ?
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
  WHERE id IN (${IDS}) RETURNING ${DELIVERY_COLUMNS.join(', ')}`;
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
const NEXT_DUE_AT = `SELECT MIN(next_attempt_at) AS t FROM herald_deliveries WHERE ${ACTIVE_SQL}`;

// ───────────────────────── delivery log ─────────────────────────

/** A delivery with its message (the message lives apart, see migration 2). */
export const SELECT_DELIVERY = 'SELECT d.*, m.message AS message FROM herald_deliveries d LEFT JOIN herald_messages m ON m.delivery_id = d.id';
const GET = `${SELECT_DELIVERY} WHERE d.id = ?`;
const MESSAGE = 'SELECT message FROM herald_messages WHERE delivery_id = ?';
const ATTEMPTS = 'SELECT * FROM herald_attempts WHERE delivery_id = ? ORDER BY seq';
const BY_PROVIDER_ID = `${SELECT_DELIVERY} WHERE d.backend = ? AND d.provider_message_id = ?
  ORDER BY d.created_at DESC, d.id DESC LIMIT 1`;

// ───────────────────────── event log ─────────────────────────

const FIND_EVENT = 'SELECT delivery_id FROM herald_events WHERE backend = ? AND event_id = ?';
const INSERT_EVENT = `INSERT INTO herald_events (backend, event_id, delivery_id, event_type, message_id, timestamp, recipient,
  metadata, tags, reject_reason, description, mta_response, user_agent, click_url, raw, received_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
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

// ───────────────────────── lifecycle: prune; rate limits ─────────────────────────

const PRUNE_SELECT = `SELECT id FROM herald_deliveries WHERE status IN (${FINISHED_SQL}) AND updated_at < ? LIMIT ?`;
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

/** The prepared statements of one connection (prepared once the schema is current). */
export interface Statements {
  insertDelivery: Database.Statement<Params>;
  insertMessage: Database.Statement<Params>;
  dedupeHit: Database.Statement<Params, { hit: number }>;
  selectDue: Database.Statement<Params, [string, string]>;
  selectDueForBackends: Database.Statement<Params, [string, string]>;
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
    selectDue: raw<[string, string]>(SELECT_DUE),
    selectDueForBackends: raw<[string, string]>(SELECT_DUE_FOR_BACKENDS),
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
  };
}
