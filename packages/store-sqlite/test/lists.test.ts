import { ConfigError, type DeliveryFilter } from '@herald/core';
import { makeDelivery } from '@herald/core/testing/vitest';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteStore } from '../src';
import { MIGRATIONS } from '../src/_schema';
import { listSql, suppressionsSql } from '../src/_sql';
import { tempDatabase } from './_tmp';

describe('sqliteStore: migrations, list indexes, API keys', () => {
  const dbs: ReturnType<typeof tempDatabase>[] = [];
  afterEach(() => {
    for (const db of dbs.splice(0)) db.remove();
  });
  function temp() {
    const db = tempDatabase();
    dbs.push(db);
    return db;
  }

  it('migrations() lists applied and pending migrations with a sentence each, and writes nothing', async () => {
    const { path } = temp();
    const store = sqliteStore({ path });
    const before = await store.migrations();
    expect(before.applied).toEqual([]);
    expect(before.pending.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
    for (const m of before.pending) expect(m.description).toMatch(/^[A-Z].{20,}\.$/);
    const raw = new Database(path);
    expect(raw.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM sqlite_master WHERE name LIKE 'herald_%'").get()?.n).toBe(0);
    raw.close();
    await store.migrate();
    expect(await store.migrations()).toEqual({ applied: before.pending, pending: [] });
    await store.close();
  });

  it('migrations 4 and 5 on a version-3 database keep its deliveries listable, claimable and pollable; dry-run shows 4 and 5 pending', async () => {
    const { path } = temp();
    const raw = new Database(path);
    raw.exec('CREATE TABLE herald_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const migration of MIGRATIONS.slice(0, 3)) {
      raw.exec(migration.sql);
      raw.prepare('INSERT INTO herald_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, Date.now());
    }
    const insert = raw.prepare(`INSERT INTO herald_deliveries (id, batch_id, notification, protocol, address, backend, status, attempts, max_attempts,
      created_at, updated_at, next_attempt_at) VALUES (?, 'b', 'n', 'email', 'a@shop.dev', 'smtp', ?, 0, 5, ?, ?, ?)`);
    insert.run('old-1', 'failed', 1000, 1000, null);
    insert.run('old-2', 'queued', 2000, 2000, 2000);
    insert.run('old-3', 'sent', 500, 600, null);
    raw.prepare("UPDATE herald_deliveries SET sent_at = 600, provider_message_id = 'pm-3' WHERE id = 'old-3'").run();
    raw.close();

    const store = sqliteStore({ path });
    expect((await store.migrations()).pending.map((m) => m.version)).toEqual([4, 5]);
    await store.migrate();
    expect((await store.list({ status: 'failed' })).map((d) => d.id)).toEqual(['old-1']);
    expect((await store.list({ address: 'a@shop.dev', before: new Date(2000), beforeId: 'old-2' })).map((d) => d.id)).toEqual(['old-1', 'old-3']);
    expect((await store.claim({ owner: 'w', limit: 5, leaseMs: 1000, now: new Date(3000) })).map((d) => d.id)).toEqual(['old-2']);
    const polls = await store.claimPolls({ backend: 'smtp', sentBefore: new Date(3000), polledBefore: new Date(3000), limit: 5, now: new Date(3000) });
    expect(polls).toMatchObject([{ id: 'old-3', providerStatus: null, providerMessageId: 'pm-3' }]);
    await store.close();
  });

  // The dashboard pages through a million deliveries: every filtered page must be one index range scan with no sort,
  // and the claim and webhook lookups must keep their own indexes now that list indexes compete with them. (Plans of
  // SQLite without ANALYZE statistics do not depend on the row count; the README reports them on 1,000,000 rows.)
  it('serves filtered pages from an index with no sort, and pins the claim and provider-id lookups', async () => {
    const { path } = temp();
    const store = sqliteStore({ path });
    await store.migrate();
    await store.enqueue(Array.from({ length: 50 }, (_, i) => makeDelivery({ createdAt: new Date(1000 * i) })));
    await store.close();
    const db = new Database(path, { readonly: true });
    const plan = (sql: string, params: unknown[]) =>
      db
        .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
        .all(...params)
        .map((row) => row.detail)
        .join(' | ');
    const page = (filter: DeliveryFilter) => {
      const query = listSql({ limit: 50, ...filter });
      if (!query) throw new Error('no statement');
      return plan(query.sql, query.params);
    };
    const cursor = { before: new Date(5000), beforeId: 'd-1' };
    const cases: [DeliveryFilter, string][] = [
      [{}, 'herald_deliveries_created'],
      [cursor, 'herald_deliveries_created ((created_at,id)<(?,?))'],
      [{ status: 'failed', since: new Date(0), before: new Date(9000) }, 'herald_deliveries_status (status=? AND created_at>? AND created_at<?)'],
      [{ status: 'bounced', ...cursor }, 'herald_deliveries_status (status=? AND (created_at,id)<(?,?))'],
      [{ notification: 'order-shipped', since: new Date(0) }, 'herald_deliveries_notification (notification=? AND created_at>?)'],
      [{ backend: 'smtp', ...cursor }, 'herald_deliveries_backend (backend=? AND (created_at,id)<(?,?))'],
      [{ address: 'ada@example.org', since: new Date(0) }, 'herald_deliveries_address (address=? AND created_at>?)'],
      [{ recipientId: 'u-1', since: new Date(0) }, 'herald_deliveries_recipient (recipient_id=? AND created_at>?)'],
      [{ batchId: 'b-1' }, 'herald_deliveries_batch (batch_id=?)'],
    ];
    for (const [filter, index] of cases) {
      const detail = page(filter);
      expect(detail, JSON.stringify(filter)).toContain(`USING INDEX ${index}`);
      expect(detail, JSON.stringify(filter)).not.toContain('TEMP B-TREE');
    }
    // Several statuses: one range scan per status, each cut at the limit before the merge.
    const several = page({ status: ['failed', 'bounced'], since: new Date(0) });
    expect(several.match(/SEARCH d USING INDEX herald_deliveries_status \(status=\? AND created_at>\?\)/g)).toHaveLength(2);
    expect(page({ status: 'sending' })).toContain('USING INDEX herald_deliveries_due');

    const suppressions = suppressionsSql({ protocol: 'email', before: new Date(5000), beforeAddress: 'b@example.org' });
    expect(plan(suppressions.sql, suppressions.params)).toContain('herald_suppressions_protocol_created (protocol=? AND (created_at,address)<(?,?))');

    const due = `SELECT rowid, id, status FROM herald_deliveries INDEXED BY herald_deliveries_due
      WHERE status IN ('queued', 'retrying', 'sending') AND next_attempt_at <= ? AND backend IN (SELECT value FROM json_each(?)) ORDER BY next_attempt_at, id LIMIT ?`;
    expect(plan(due, [0, '["smtp"]', 32])).not.toContain('TEMP B-TREE');
    // Regression: unpinned, the planner served this claim from (backend, created_at, id) and sorted every live row of
    // the backend on each claim (3–6× the store floor; 134 ms a claim on a million rows).
    expect(plan(due.replace('INDEXED BY herald_deliveries_due', ''), [0, '["smtp"]', 32])).toContain('TEMP B-TREE');
    db.close();
  });

  it('keys: a second saveKey of an id is a ConfigError naming it; touchKey writes at most once a minute', async () => {
    const { path } = temp();
    const store = sqliteStore({ path });
    await store.migrate();
    const key = { id: 'k1', name: null, hash: 'h', scopes: ['admin'], createdAt: new Date(1000), revokedAt: null, lastUsedAt: null };
    await store.saveKey(key);
    const error = await store.saveKey({ ...key, hash: 'other' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('id');
    expect((error as ConfigError).message).toContain('"k1" exists already');
    expect((await store.findKey('k1'))?.hash).toBe('h');
    await store.touchKey('k1', new Date(10_000));
    await store.touchKey('k1', new Date(69_999));
    expect((await store.findKey('k1'))?.lastUsedAt).toEqual(new Date(10_000));
    await store.touchKey('k1', new Date(70_000));
    expect((await store.findKey('k1'))?.lastUsedAt).toEqual(new Date(70_000));
    await store.touchKey('nope', new Date(70_000));
    expect(await store.listKeys()).toEqual([{ ...key, lastUsedAt: new Date(70_000) }]);
    await store.close();
  });
});
