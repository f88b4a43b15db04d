import { ABANDONED_ATTEMPT_ERROR, type DeliveryFilter, type DeliveryStatus } from '@herald/core';

/**
 * Every statement of the PostgreSQL store, one named text per operation, grouped by the part of the `Store`
 * contract it serves (graphile-worker's `src/sql/*`). `pg` already returns Dates for timestamptz and objects for
 * jsonb, so the SELECT lists alias columns to the contract's field names (pg-boss's `retry_limit as
 * "retryLimit"`) and rows come back as `Delivery`, `Attempt` and `Suppression` objects with no mapper.
 */

/** A delivery as the contract's `Delivery` (everything but the dedupe address and the claim time). */
export const DELIVERY = `id, batch_id AS "batchId", notification, category, recipient_id AS "recipientId", protocol, address, backend,
  status, skip_reason AS "skipReason", dedupe_key AS "dedupeKey", attempts, max_attempts AS "maxAttempts",
  provider_message_id AS "providerMessageId", last_error AS "lastError", message, created_at AS "createdAt",
  updated_at AS "updatedAt", next_attempt_at AS "nextAttemptAt", expires_at AS "expiresAt", lease_owner AS "leaseOwner",
  lease_until AS "leaseUntil", sent_at AS "sentAt", provider_status AS "providerStatus"`;

const API_KEY = `id, name, hash, scopes, created_at AS "createdAt", revoked_at AS "revokedAt", last_used_at AS "lastUsedAt"`;

/** An attempt-log row as the contract's `Attempt`. */
const ATTEMPT = `delivery_id AS "deliveryId", attempt, started_at AS "startedAt", duration_ms AS "durationMs", outcome, backend,
  request, response, error, worker_id AS "workerId"`;

const ATTEMPT_COLUMNS = 'delivery_id, attempt, started_at, duration_ms, outcome, backend, request, response, error, worker_id';

/** The columns `insertValues` fills at enqueue, in order. */
export const INSERT_COLUMNS = [
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

/** The store's statements for the (quoted) schema `s`. Built once per store. */
export function statements(s: string) {
  /** The attempt row of an outcome, parameters `$5…$14`, written only if the lease check (`updated`) passed. */
  const logAttempt = `logged AS (
    INSERT INTO ${s}.attempts (${ATTEMPT_COLUMNS})
    SELECT id, $5::int, $6::timestamptz, $7::double precision, $8::text, $9::text, $10::jsonb, $11::jsonb, $12::text, $13::text
    FROM updated
  )`;
  const holdsLease = `WHERE id = $1 AND lease_owner = $2 AND status = 'sending' RETURNING id`;
  /** One outcome: move the delivery (only while `$2` holds its lease) and log its attempt, in one statement. */
  const finish = (set: string) => `
    WITH updated AS (
      UPDATE ${s}.deliveries SET ${set}, lease_owner = NULL, lease_until = NULL, updated_at = $3 ${holdsLease}
    ), ${logAttempt}
    SELECT count(*)::int AS n FROM updated`;

  /** A batch of outcomes as parallel arrays, unnested on the server: one round trip and one commit per batch. */
  const finishMany = (failover: boolean) => `
    WITH input AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::text[],
                           $8::int[], $9::timestamptz[], $10::double precision[], $11::text[], $12::text[], $13::jsonb[], $14::jsonb[],
                           $15::text[], $16::text[]${failover ? ', $18::text[], $19::jsonb[], $20::int[]' : ''})
        AS t(id, owner, status, provider_message_id, sent_at, next_attempt_at, last_error,
             attempt, started_at, duration_ms, outcome, backend, request, response, error, worker_id${failover ? ', to_backend, to_message, to_max_attempts' : ''})
    ), updated AS (
      UPDATE ${s}.deliveries AS d
      SET status = i.status,
          provider_message_id = CASE WHEN i.status = 'sent' THEN i.provider_message_id ELSE d.provider_message_id END,
          sent_at = CASE WHEN i.status = 'sent' THEN i.sent_at ELSE d.sent_at END,
          last_error = i.last_error,
          next_attempt_at = i.next_attempt_at,${
            failover
              ? `
          backend = coalesce(i.to_backend, d.backend),
          message = CASE WHEN i.to_backend IS NULL THEN d.message ELSE i.to_message END,
          max_attempts = coalesce(i.to_max_attempts, d.max_attempts),`
              : ''
          }
          lease_owner = NULL, lease_until = NULL, updated_at = $17
      FROM input AS i
      WHERE d.id = i.id AND d.lease_owner = i.owner AND d.status = 'sending'
      RETURNING d.id
    ), logged AS (
      INSERT INTO ${s}.attempts (${ATTEMPT_COLUMNS})
      SELECT i.id, i.attempt, i.started_at, i.duration_ms, i.outcome, i.backend, i.request, i.response, i.error, i.worker_id
      FROM input AS i JOIN updated AS u ON u.id = i.id
    )
    SELECT id FROM updated`;

  return {
    // ── queue: enqueue ──

    /** Serializes concurrent enqueues of one (key, address) for the rest of the transaction. */
    dedupeLock: 'SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k ORDER BY k',
    /** The newest live delivery per (dedupe key, address as given) among the keys of a call. */
    dedupeLast: `SELECT dedupe_key, dedupe_address, max(created_at) AS last FROM ${s}.deliveries
      WHERE dedupe_key = ANY($1::text[]) AND status NOT IN ('failed', 'skipped') GROUP BY dedupe_key, dedupe_address`,

    // ── queue: claim and outcomes ──

    /** The claim function (migrations 2 and 3): SKIP LOCKED in index order; logs expired leases as abandoned. */
    claim: `SELECT ${DELIVERY} FROM ${s}.claim($1, $2, $3, $4, $5::text[])`,
    finishSent: finish(`status = 'sent', provider_message_id = $4, sent_at = $14, last_error = NULL, next_attempt_at = NULL`),
    finishRetrying: finish(`status = 'retrying', next_attempt_at = $14, last_error = $4`),
    /** A retry on another backend: backend, message and attempt budget move with it; expires_at stays. */
    finishFailover: finish(
      `status = 'retrying', next_attempt_at = $14, last_error = $4, backend = $15, message = $16::jsonb, max_attempts = $17`,
    ),
    finishFailed: finish(`status = 'failed', last_error = $4, next_attempt_at = NULL`),
    finishMany: finishMany(false),
    finishManyFailover: finishMany(true),
    release: `UPDATE ${s}.deliveries
      SET status = CASE WHEN attempts > 1 THEN 'retrying' ELSE 'queued' END, attempts = greatest(attempts - 1, 0),
          lease_owner = NULL, lease_until = NULL, next_attempt_at = $3, updated_at = $3
      WHERE id = ANY($1::text[]) AND lease_owner = $2 AND status = 'sending'
      RETURNING id`,
    requeue: `UPDATE ${s}.deliveries
      SET status = 'queued', skip_reason = NULL, next_attempt_at = $2, expires_at = $3, attempts = 0, max_attempts = $4,
          lease_owner = NULL, lease_until = NULL, updated_at = $2
      WHERE id = $1 AND status <> 'sending'
      RETURNING ${DELIVERY}`,
    nextDueAt: `SELECT min(next_attempt_at) AS at FROM ${s}.deliveries WHERE status IN ('queued', 'retrying', 'sending')`,
    wake: 'SELECT pg_notify($1, $2)',
    /** Token bucket (burst = perSecond) in one row per key, updated atomically; may go negative. */
    reserveRate: `INSERT INTO ${s}.rate_limits AS r (key, tokens, at_ms) VALUES ($1, $2::double precision - 1, $3::double precision)
      ON CONFLICT (key) DO UPDATE SET
        tokens = least($2::double precision, r.tokens + greatest(0, $3::double precision - r.at_ms) * $2::double precision / 1000) - 1,
        at_ms = greatest($3::double precision, r.at_ms)
      RETURNING r.tokens + 1 AS available`,

    // ── delivery log ──

    get: `SELECT ${DELIVERY} FROM ${s}.deliveries WHERE id = $1`,
    cancel: `UPDATE ${s}.deliveries SET status = 'cancelled', last_error = $3, next_attempt_at = NULL, updated_at = $2
      WHERE id = $1 AND status IN ('queued', 'retrying') RETURNING ${DELIVERY}`,
    /** Deliveries due for a status poll, marked polled in the same statement (no double polling across workers). */
    claimPolls: `WITH picked AS (
        SELECT id AS picked_id FROM ${s}.deliveries
        WHERE backend = $1 AND status IN ('sent', 'deferred') AND sent_at <= $2 AND (last_polled_at IS NULL OR last_polled_at <= $3)
        ORDER BY last_polled_at NULLS FIRST, sent_at LIMIT $4 FOR UPDATE SKIP LOCKED)
      UPDATE ${s}.deliveries SET last_polled_at = $5 FROM picked WHERE id = picked.picked_id RETURNING ${DELIVERY}`,
    attempts: `SELECT ${ATTEMPT} FROM ${s}.attempts WHERE delivery_id = $1 ORDER BY attempt, seq`,
    byProviderId: `SELECT ${DELIVERY} FROM ${s}.deliveries WHERE backend = $1 AND provider_message_id = $2
      ORDER BY created_at DESC, id DESC LIMIT 1`,

    // ── event log ──

    findEvent: `SELECT delivery_id FROM ${s}.events WHERE backend = $1 AND event_id = $2`,
    /** The delivery a provider names by Herald's id (its `reference`), locked like `lockByProviderId`. */
    lockById: `SELECT ${DELIVERY} FROM ${s}.deliveries WHERE id = $1 AND backend = $2 FOR UPDATE`,
    setProviderStatus: `UPDATE ${s}.deliveries SET provider_status = $2, updated_at = $3 WHERE id = $1 RETURNING ${DELIVERY}`,
    /** The delivery an event belongs to, locked so concurrent events of one delivery apply one after the other. */
    lockByProviderId: `SELECT ${DELIVERY} FROM ${s}.deliveries WHERE backend = $1 AND provider_message_id = $2
      ORDER BY created_at DESC, id DESC LIMIT 1 FOR UPDATE`,
    insertEvent: `INSERT INTO ${s}.events (backend, event_id, delivery_id, event_type, message_id, event, received_at)
      VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) ON CONFLICT (backend, event_id) DO NOTHING RETURNING 1`,
    setStatus: `UPDATE ${s}.deliveries SET status = $2, updated_at = $3 WHERE id = $1 RETURNING ${DELIVERY}`,
    deleteEvent: `DELETE FROM ${s}.events WHERE backend = $1 AND event_id = $2`,
    events: `SELECT backend, delivery_id, event, received_at FROM ${s}.events WHERE delivery_id = $1 ORDER BY received_at, seq`,
    insertInbound: `INSERT INTO ${s}.inbound_events (backend, event_id, event, received_at) VALUES ($1, $2, $3::jsonb, $4)
      ON CONFLICT (backend, event_id) DO NOTHING RETURNING 1`,
    deleteInbound: `DELETE FROM ${s}.inbound_events WHERE backend = $1 AND event_id = $2`,

    // ── audience ──

    optOuts: `SELECT key, categories FROM ${s}.opt_outs WHERE key = ANY($1::text[])`,
    setOptOuts: `INSERT INTO ${s}.opt_outs (key, categories, updated_at) VALUES ($1, $2::text[], now())
      ON CONFLICT (key) DO UPDATE SET categories = EXCLUDED.categories, updated_at = now()`,
    deleteOptOuts: `DELETE FROM ${s}.opt_outs WHERE key = $1`,
    suppress: `INSERT INTO ${s}.suppressions (protocol, address, reason, created_at) VALUES ($1, $2, $3, $4)
      ON CONFLICT (protocol, address) DO UPDATE SET reason = EXCLUDED.reason, created_at = EXCLUDED.created_at`,
    unsuppress: `DELETE FROM ${s}.suppressions WHERE protocol = $1 AND address = $2 RETURNING 1`,
    suppressed: `SELECT protocol, address, reason, created_at AS "createdAt" FROM ${s}.suppressions
      WHERE protocol = $1 AND address = ANY($2::text[])`,
    /** `listSuppressions` appends its WHERE, order and limit. */
    listSuppressions: `SELECT protocol, address, reason, created_at AS "createdAt" FROM ${s}.suppressions`,

    // ── API keys ──

    saveKey: `INSERT INTO ${s}.api_keys (id, name, hash, scopes, created_at, revoked_at, last_used_at) VALUES ($1, $2, $3, $4::text[], $5, $6, $7)
      ON CONFLICT (id) DO NOTHING RETURNING 1`,
    findKey: `SELECT ${API_KEY} FROM ${s}.api_keys WHERE id = $1`,
    listKeys: `SELECT ${API_KEY} FROM ${s}.api_keys ORDER BY created_at DESC, id DESC`,
    revokeKey: `UPDATE ${s}.api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING 1`,
    touchKey: `UPDATE ${s}.api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $2::timestamptz - interval '1 minute')`,
    appliedMigrations: `SELECT version FROM ${s}.herald_migrations ORDER BY version`,

    // ── lifecycle: prune (one short transaction per batch; attempts and events go by ON DELETE CASCADE) ──

    // A row is written no earlier than it was created, so `created_at < $2` keeps every row `updated_at < $2` picks
    // and bounds the scan of deliveries_status_created to the old end of each finished status (migration 5 dropped
    // the updated_at index). A row whose updated_at lags its created_at (clocks skewed between machines) is pruned
    // once the cut-off passes its created_at.

    pruneDeliveries: `WITH gone AS (
        DELETE FROM ${s}.deliveries WHERE id IN (
          SELECT id FROM ${s}.deliveries WHERE status = ANY($1::text[]) AND status <> 'sending' AND created_at < $2 AND updated_at < $2
          LIMIT $3 FOR UPDATE SKIP LOCKED)
        RETURNING 1)
      SELECT count(*)::int AS n FROM gone`,
    /** Tracking events that matched no delivery: nothing else would ever delete them. */
    pruneUnmatchedEvents: `WITH gone AS (
        DELETE FROM ${s}.events WHERE (backend, event_id) IN (
          SELECT backend, event_id FROM ${s}.events WHERE delivery_id IS NULL AND received_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING 1)
      SELECT count(*)::int AS n FROM gone`,
    pruneInbound: `WITH gone AS (
        DELETE FROM ${s}.inbound_events WHERE (backend, event_id) IN (
          SELECT backend, event_id FROM ${s}.inbound_events WHERE received_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING 1)
      SELECT count(*)::int AS n FROM gone`,
  };
}

export type Statements = ReturnType<typeof statements>;

// ───────────────────────── built per filter: lists and counts ─────────────────────────

/** WHERE clauses of a delivery filter, its status apart, numbering parameters after those already in `values`. */
function filterClauses(filter: DeliveryFilter, values: unknown[]): string[] {
  const clauses: string[] = [];
  const add = (sql: string, ...params: unknown[]) => {
    let text = sql;
    for (const param of params) {
      values.push(param);
      text = text.replace('?', `$${values.length}`);
    }
    clauses.push(text);
  };
  if (filter.notification !== undefined) add('notification = ?', filter.notification);
  if (filter.backend !== undefined) add('backend = ?', filter.backend);
  if (filter.recipientId !== undefined) add('recipient_id = ?', filter.recipientId);
  if (filter.address !== undefined) add('address = ?', filter.address);
  if (filter.batchId !== undefined) add('batch_id = ?', filter.batchId);
  if (filter.dedupeKey !== undefined) add('dedupe_key = ?', filter.dedupeKey);
  if (filter.since !== undefined) add('created_at >= ?::timestamptz', filter.since);
  if (filter.before !== undefined) {
    // A row comparison walks the (…, created_at DESC, id DESC) indexes from the cursor on.
    if (filter.beforeId === undefined) add('created_at < ?::timestamptz', filter.before);
    else add('(created_at, id) < (?::timestamptz, ?::text)', filter.before, filter.beforeId);
  }
  return clauses;
}

function statusesOf(filter: DeliveryFilter): DeliveryStatus[] | undefined {
  if (filter.status === undefined) return undefined;
  return typeof filter.status === 'string' ? [filter.status] : [...new Set(filter.status)];
}

function where(clauses: readonly string[]): string {
  return clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '';
}

/**
 * The list indexes (migration 5) leave the leases in flight out, so every page reads two sides: rows not `sending`
 * — one status at a time when the filter names statuses — through the index of the filter's column, and `sending`
 * rows through `deliveries_sending`, which holds only those. Each side is cut at `limit` in index order; the merge
 * of at most `sides × limit` rows is cut again.
 */
function sides(filter: DeliveryFilter, values: unknown[]): string[][] | null {
  const clauses = filterClauses(filter, values);
  const statuses = statusesOf(filter);
  if (statuses?.length === 0) return null;
  const wanted = statuses ?? [undefined, 'sending'];
  return wanted.map((status) => {
    if (status === 'sending') return ["status = 'sending'", ...clauses];
    if (status === undefined) return ["status <> 'sending'", ...clauses];
    values.push(status);
    return [`status = $${values.length}`, "status <> 'sending'", ...clauses];
  });
}

/** A `list` page for the (quoted) schema `s`, or null when it cannot match anything (an empty status list). */
export function listQuery(s: string, filter: DeliveryFilter): { text: string; values: unknown[] } | null {
  const values: unknown[] = [];
  const parts = sides(filter, values);
  if (!parts) return null;
  let limit = '';
  if (filter.limit !== undefined) {
    values.push(Math.max(0, Math.floor(filter.limit)));
    limit = ` LIMIT $${values.length}`;
  }
  const side = (clauses: string[]) => `SELECT ${DELIVERY} FROM ${s}.deliveries${where(clauses)} ORDER BY created_at DESC, id DESC${limit}`;
  if (parts.length === 1) return { text: side(parts[0]!), values };
  return { text: `${parts.map((clauses) => `(${side(clauses)})`).join(' UNION ALL ')} ORDER BY "createdAt" DESC, id DESC${limit}`, values };
}

/** `count` for the schema `s`: per status, each side through its indexes as in {@link listQuery}. */
export function countQuery(s: string, filter: DeliveryFilter): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const parts = sides(filter, values) ?? [['false']];
  const side = (clauses: string[]) => `SELECT status, count(*)::int AS n FROM ${s}.deliveries${where(clauses)} GROUP BY status`;
  return { text: parts.map(side).join(' UNION ALL '), values };
}

/** The claim function of migration 3 (schema placeholder `{s}`): migration 2's, plus the abandoned-attempt log. */
export const CLAIM_FUNCTION_V3 = `
CREATE OR REPLACE FUNCTION {s}.claim(p_now timestamptz, p_limit integer, p_owner text, p_lease_until timestamptz, p_backends text[])
RETURNS SETOF {s}.deliveries
LANGUAGE plpgsql
SET enable_bitmapscan = off
SET enable_sort = off
AS $$
BEGIN
  RETURN QUERY
  WITH picked AS (
    SELECT id, status, attempts, backend, lease_owner, lease_until, coalesce(claimed_at, updated_at) AS claimed_at
    FROM {s}.deliveries
    WHERE status IN ('queued', 'retrying', 'sending') AND next_attempt_at <= p_now
      AND (p_backends IS NULL OR backend = ANY (p_backends))
    ORDER BY next_attempt_at, id
    LIMIT p_limit
    FOR UPDATE SKIP LOCKED
  ), abandoned AS (
    -- A sending row is due only once its lease expired: its worker died or lost the database mid-attempt, and
    -- the send may have reached the provider. Log that attempt before the lease moves.
    INSERT INTO {s}.attempts (${ATTEMPT_COLUMNS})
    SELECT id, attempts, claimed_at, greatest(0, extract(epoch FROM lease_until - claimed_at) * 1000)::double precision,
           'abandoned', backend, NULL, NULL, '${ABANDONED_ATTEMPT_ERROR.replaceAll("'", "''")}', coalesce(lease_owner, 'unknown')
    FROM picked WHERE status = 'sending'
  )
  UPDATE {s}.deliveries AS d
  SET status = 'sending', lease_owner = p_owner, lease_until = p_lease_until, next_attempt_at = p_lease_until,
      attempts = d.attempts + 1, updated_at = p_now, claimed_at = p_now
  FROM picked
  WHERE d.id = picked.id
  RETURNING d.*;
END
$$;
`;
