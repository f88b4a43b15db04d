/**
 * bench/enqueue-pg — `notify()` enqueuing one notification to 10,000 recipients (batched fan-out: validation,
 * routing, render of a `params` template, one transaction of chunked multi-row INSERTs into PostgreSQL), beside a
 * bare `pg` loop inserting the very same rows (captured from Herald's store call) into an identical table with
 * chunked multi-row INSERTs in one transaction. Tables are emptied before every round; rounds alternate which side
 * goes first; medians are reported. Target: herald/baseline ≥ 0.8. `storeEnqueue` / `storeRatio` report the store's
 * own share (store.enqueue() of the same rows, no notify() pipeline) to show where the time goes.
 */
import { createHerald, type EnqueueOptions, type EnqueueResult, type NewDelivery } from '@herald/core';
import { PostgresStore } from '@herald/store-postgres';
import pg from 'pg';
import { median, report } from './_report';
import { benchBackend, benchNotification, benchRecipients, DATABASE_URL, dropSchemas, uniqueSchema } from './_pg-util';

const RECIPIENTS = Number(process.env.BENCH_RECIPIENTS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CHUNK = 1000;

/** The store, recording the rows Herald hands it so the baseline inserts exactly those. */
class CapturingStore extends PostgresStore {
  captured: NewDelivery[] = [];
  override async enqueue(rows: readonly NewDelivery[], options?: EnqueueOptions): Promise<EnqueueResult> {
    this.captured = [...rows];
    return super.enqueue(rows, options);
  }
}

const heraldSchema = uniqueSchema('herald_bench_enq');
const bareSchema = uniqueSchema('herald_bench_bare');
const store = new CapturingStore({ connectionString: DATABASE_URL, schema: heraldSchema, max: 2 });
const herald = createHerald({ store, backends: [benchBackend()], notifications: [benchNotification], logger: false });
await store.migrate();
const bareStore = new PostgresStore({ connectionString: DATABASE_URL, schema: bareSchema, max: 1 });
await bareStore.migrate();
await bareStore.close();
const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
const recipients = benchRecipients(RECIPIENTS, 'http://127.0.0.1:9');

const COLUMNS = [
  'id', 'batch_id', 'notification', 'category', 'recipient_id', 'protocol', 'address', 'backend', 'status', 'skip_reason',
  'dedupe_key', 'dedupe_address', 'max_attempts', 'message', 'created_at', 'updated_at', 'next_attempt_at', 'expires_at',
];

const insertTexts = new Map<number, string>();
function insertSql(count: number): string {
  let sql = insertTexts.get(count);
  if (!sql) {
    const tuples = Array.from({ length: count }, (_, r) => `(${COLUMNS.map((c, j) => `$${r * COLUMNS.length + j + 1}${c === 'message' ? '::jsonb' : ''}`).join(', ')})`);
    sql = `INSERT INTO "${bareSchema}".deliveries (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`;
    insertTexts.set(count, sql);
  }
  return sql;
}

/** The baseline: the same rows, chunked multi-row INSERTs in one transaction, with plain pg. */
async function bareInsert(rows: readonly NewDelivery[], round: number): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (let i = 0; i < rows.length; i += CHUNK) {
      const values: unknown[] = [];
      const chunk = rows.slice(i, i + CHUNK);
      for (const r of chunk) {
        values.push(
          `${r.id}-${round}`, r.batchId, r.notification, r.category, r.recipientId, r.protocol, r.address, r.backend, r.status,
          r.skipReason, r.dedupeKey, r.dedupeAddress, r.maxAttempts, JSON.stringify(r.message), r.createdAt, r.createdAt,
          r.nextAttemptAt, r.expiresAt,
        );
      }
      await client.query(insertSql(chunk.length), values);
    }
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

async function truncate(): Promise<void> {
  await pool.query(`TRUNCATE "${heraldSchema}".deliveries CASCADE`);
  await pool.query(`TRUNCATE "${bareSchema}".deliveries CASCADE`);
  await pool.query('CHECKPOINT').catch(() => undefined);
}

const heraldRates: number[] = [];
const bareRates: number[] = [];
const storeRates: number[] = [];
try {
  // Warm-up round (JIT, template compilation, prepared plans), also captures the rows.
  await herald.notify(benchNotification, { orderId: 'A-1', total: '74.50' }, recipients);
  const rows = store.captured;
  await bareInsert(rows, -1);
  for (let round = 0; round < ROUNDS; round++) {
    const sides = [
      async () => {
        await truncate();
        const t = performance.now();
        await herald.notify(benchNotification, { orderId: 'A-1', total: '74.50' }, recipients);
        heraldRates.push(RECIPIENTS / ((performance.now() - t) / 1000));
      },
      async () => {
        await truncate();
        const t = performance.now();
        await bareInsert(rows, round);
        bareRates.push(rows.length / ((performance.now() - t) / 1000));
      },
    ];
    // Diagnostic: the store's own share — store.enqueue() of the same rows, without notify()'s pipeline.
    sides.push(async () => {
      await truncate();
      const again = rows.map((r) => ({ ...r, id: `${r.id}-s${round}` }));
      const t = performance.now();
      await store.enqueue(again);
      storeRates.push(again.length / ((performance.now() - t) / 1000));
    });
    if (round % 2) sides.reverse();
    for (const side of sides) await side();
    console.log(
      `round ${round + 1}: notify() ${Math.round(heraldRates.at(-1)!)}/s, bare pg insert ${Math.round(bareRates.at(-1)!)}/s, ` +
        `store.enqueue() alone ${Math.round(storeRates.at(-1)!)}/s`,
    );
  }
} finally {
  await herald.close();
  await pool.end();
  await dropSchemas([heraldSchema, bareSchema]);
}

const baseline = Math.round(median(bareRates));
const storeOnly = Math.round(median(storeRates));
report({
  bench: 'enqueue-pg',
  unit: 'deliveries/s',
  herald: Math.round(median(heraldRates)),
  baseline,
  storeEnqueue: storeOnly,
  storeRatio: Math.round((storeOnly / baseline) * 1000) / 1000,
});
