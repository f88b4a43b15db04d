import type { Pool } from 'pg';
import { CLAIM_FUNCTION_V3 } from './_sql';

/** One schema change. Versions only grow; a released migration is never edited. */
export interface Migration {
  version: number;
  name: string;
  /** SQL with `{s}` standing for the quoted schema name. */
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE {s}.deliveries (
  id text PRIMARY KEY,
  batch_id text NOT NULL,
  notification text NOT NULL,
  category text,
  recipient_id text,
  protocol text NOT NULL,
  address text NOT NULL,
  backend text,
  status text NOT NULL,
  skip_reason text,
  dedupe_key text,
  dedupe_address text,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  provider_message_id text,
  last_error text,
  message jsonb,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  next_attempt_at timestamptz,
  expires_at timestamptz,
  lease_owner text,
  lease_until timestamptz,
  sent_at timestamptz
);
CREATE INDEX deliveries_due ON {s}.deliveries (next_attempt_at, id) WHERE status IN ('queued', 'retrying', 'sending');
CREATE INDEX deliveries_dedupe ON {s}.deliveries (dedupe_key, dedupe_address) WHERE dedupe_key IS NOT NULL;
CREATE INDEX deliveries_provider ON {s}.deliveries (backend, provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE INDEX deliveries_created ON {s}.deliveries (created_at DESC, id DESC);
CREATE INDEX deliveries_updated ON {s}.deliveries (updated_at);
CREATE INDEX deliveries_batch ON {s}.deliveries (batch_id);

CREATE TABLE {s}.attempts (
  seq bigserial PRIMARY KEY,
  delivery_id text NOT NULL REFERENCES {s}.deliveries (id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  started_at timestamptz NOT NULL,
  duration_ms double precision NOT NULL,
  outcome text NOT NULL,
  request jsonb,
  response jsonb,
  error text,
  worker_id text NOT NULL
);
CREATE INDEX attempts_delivery ON {s}.attempts (delivery_id, attempt);

CREATE TABLE {s}.events (
  backend text NOT NULL,
  event_id text NOT NULL,
  seq bigserial NOT NULL,
  delivery_id text REFERENCES {s}.deliveries (id) ON DELETE CASCADE,
  event_type text NOT NULL,
  message_id text,
  event jsonb NOT NULL,
  received_at timestamptz NOT NULL,
  PRIMARY KEY (backend, event_id)
);
CREATE INDEX events_delivery ON {s}.events (delivery_id, seq);

CREATE TABLE {s}.inbound_events (
  backend text NOT NULL,
  event_id text NOT NULL,
  event jsonb NOT NULL,
  received_at timestamptz NOT NULL,
  PRIMARY KEY (backend, event_id)
);
CREATE INDEX inbound_events_received ON {s}.inbound_events (received_at);

CREATE TABLE {s}.opt_outs (
  key text PRIMARY KEY,
  categories text[] NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {s}.suppressions (
  protocol text NOT NULL,
  address text NOT NULL,
  reason text NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (protocol, address)
);

CREATE TABLE {s}.rate_limits (
  key text PRIMARY KEY,
  tokens double precision NOT NULL,
  at_ms double precision NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'claim-function',
    // The claim must walk deliveries_due in order and stop after `limit` rows. Right after a large enqueue the
    // planner's row estimate is stale and it prefers a bitmap scan plus a sort of every due row (~10 ms at
    // 20,000 rows, on every claim). The function pins the plan without touching anyone's session settings, and
    // PL/pgSQL keeps it cached per connection, so a claim costs no planning.
    sql: `
CREATE FUNCTION {s}.claim(p_now timestamptz, p_limit integer, p_owner text, p_lease_until timestamptz, p_backends text[])
RETURNS SETOF {s}.deliveries
LANGUAGE plpgsql
SET enable_bitmapscan = off
SET enable_sort = off
AS $$
BEGIN
  RETURN QUERY
  WITH picked AS (
    SELECT id FROM {s}.deliveries
    WHERE status IN ('queued', 'retrying', 'sending') AND next_attempt_at <= p_now
      AND (p_backends IS NULL OR backend = ANY (p_backends))
    ORDER BY next_attempt_at, id
    LIMIT p_limit
    FOR UPDATE SKIP LOCKED
  )
  UPDATE {s}.deliveries AS d
  SET status = 'sending', lease_owner = p_owner, lease_until = p_lease_until, next_attempt_at = p_lease_until,
      attempts = d.attempts + 1, updated_at = p_now
  FROM picked
  WHERE d.id = picked.id
  RETURNING d.*;
END
$$;
`,
  },
  {
    version: 3,
    name: 'attempt-backend-claim-time-retention',
    // Failover moves a delivery between backends, so each attempt records the backend that made it (before this
    // version every attempt was made by its delivery's backend). claimed_at is when the current lease started: the
    // claim logs a reclaimed lease's lost attempt as started then (outcome 'abandoned'). prune() deletes old
    // unmatched tracking events, which the partial index finds without scanning the matched ones.
    sql: `
ALTER TABLE {s}.attempts ADD COLUMN backend text;
UPDATE {s}.attempts AS a SET backend = d.backend FROM {s}.deliveries AS d WHERE d.id = a.delivery_id;
ALTER TABLE {s}.deliveries ADD COLUMN claimed_at timestamptz;
UPDATE {s}.deliveries SET claimed_at = updated_at WHERE status = 'sending';
CREATE INDEX events_unmatched ON {s}.events (received_at) WHERE delivery_id IS NULL;
${CLAIM_FUNCTION_V3}`,
  },
  {
    version: 4,
    name: 'cancel-paging-keys-polling',
    // The operating surface: keyset pages and time ranges served by indexes (no scan of a million rows per page),
    // dedupe-key lookups (postmaster's GetLastEmail), the suppression list by time, the HTTP API's keys, status
    // polling (the provider's verbatim status, when a delivery was last polled, and the polls' partial index).
    sql: `
ALTER TABLE {s}.deliveries ADD COLUMN provider_status text;
ALTER TABLE {s}.deliveries ADD COLUMN last_polled_at timestamptz;
CREATE INDEX deliveries_status_created ON {s}.deliveries (status, created_at DESC, id DESC);
CREATE INDEX deliveries_notification_created ON {s}.deliveries (notification, created_at DESC, id DESC);
CREATE INDEX deliveries_backend_created ON {s}.deliveries (backend, created_at DESC, id DESC);
CREATE INDEX deliveries_address_created ON {s}.deliveries (address, created_at DESC, id DESC);
CREATE INDEX deliveries_polls ON {s}.deliveries (backend, last_polled_at NULLS FIRST, sent_at) WHERE status IN ('sent', 'deferred');
CREATE INDEX suppressions_created ON {s}.suppressions (created_at DESC, address DESC);
CREATE TABLE {s}.api_keys (
  id text PRIMARY KEY,
  name text,
  hash text NOT NULL,
  scopes text[] NOT NULL,
  created_at timestamptz NOT NULL,
  revoked_at timestamptz,
  last_used_at timestamptz
);`,
  },
  {
    version: 5,
    name: 'list-indexes-claims-do-not-write',
    // A claim and an outcome are non-HOT updates (status and next_attempt_at are indexed), and a non-HOT update adds
    // an entry to every index whose predicate the new row version meets. With migration 4's full list indexes that
    // was 9 entries per claim and per outcome, and the store floor of a drain rose ~30 %. Here every list index
    // leaves `sending` out, so a claim writes only the primary key, the claim index and the small index of leases in
    // flight; lists read the two sides apart and merge them (`listQuery`). updated_at loses its index: prune bounds
    // its scan by created_at (a row is updated no earlier than it was created) on the status index instead.
    sql: `
DROP INDEX {s}.deliveries_created, {s}.deliveries_updated, {s}.deliveries_batch, {s}.deliveries_status_created,
  {s}.deliveries_notification_created, {s}.deliveries_backend_created, {s}.deliveries_address_created;
CREATE INDEX deliveries_created ON {s}.deliveries (created_at DESC, id DESC) WHERE status <> 'sending';
CREATE INDEX deliveries_status_created ON {s}.deliveries (status, created_at DESC, id DESC) WHERE status <> 'sending';
CREATE INDEX deliveries_notification_created ON {s}.deliveries (notification, created_at DESC, id DESC) WHERE status <> 'sending';
CREATE INDEX deliveries_backend_created ON {s}.deliveries (backend, created_at DESC, id DESC) WHERE status <> 'sending';
CREATE INDEX deliveries_address_created ON {s}.deliveries (address, created_at DESC, id DESC) WHERE status <> 'sending';
CREATE INDEX deliveries_recipient_created ON {s}.deliveries (recipient_id, created_at DESC, id DESC)
  WHERE recipient_id IS NOT NULL AND status <> 'sending';
CREATE INDEX deliveries_batch_created ON {s}.deliveries (batch_id, created_at DESC, id DESC) WHERE status <> 'sending';
CREATE INDEX deliveries_sending ON {s}.deliveries (created_at DESC, id DESC) WHERE status = 'sending';
CREATE INDEX suppressions_protocol_created ON {s}.suppressions (protocol, created_at DESC, address DESC);`,
  },
];

/** What `migrations()` says about each version. */
export const DESCRIPTIONS: Record<number, string> = {
  1: 'Create the tables of deliveries, attempts, tracking and inbound events, opt-outs, suppressions and rate limits.',
  2: 'Add the claim function, which walks the claim index in order without planning each claim.',
  3: 'Record the backend of each attempt and when each lease was taken, and index unmatched events for retention.',
  4: 'Index delivery pages, dedupe keys and the suppression list by time; add the API keys table and status polling.',
  5: 'Rebuild the delivery list indexes without the leases in flight, so claims write no list index.',
};

/** The number of migrations this package applies (the schema version it needs). */
export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Quote a (validated) schema name as an identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Apply the missing migrations under a session-level advisory lock, so concurrent callers (two processes
 * starting at once) run them one after the other; the second finds nothing to do.
 */
export async function runMigrations(pool: Pool, schema: string): Promise<number[]> {
  const s = ident(schema);
  const client = await pool.connect();
  let broken = false;
  const onError = () => {
    broken = true;
  };
  client.on('error', onError);
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1), hashtext($2))', ['herald.migrate', schema]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${s}.herald_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${s}.herald_migrations`);
      const done = new Set(rows.map((r) => r.version));
      const applied: number[] = [];
      for (const migration of MIGRATIONS) {
        if (done.has(migration.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(migration.sql.replaceAll('{s}', s));
          await client.query(`INSERT INTO ${s}.herald_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
        applied.push(migration.version);
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', ['herald.migrate', schema]).catch(() => {
        broken = true;
      });
    }
  } catch (error) {
    broken = true;
    throw error;
  } finally {
    // A client that failed mid-migration may still hold the session lock: destroy it rather than pool it.
    client.off('error', onError);
    client.release(broken);
  }
}
