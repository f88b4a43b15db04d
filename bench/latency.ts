/**
 * bench/latency — on an idle system, the time from `notify()` returning to the loopback receiver getting the
 * request, over 1,000 single notifications sent one after another (each waits for the previous to arrive):
 * - PostgreSQL: a worker in its own process, woken by LISTEN/NOTIFY;
 * - SQLite: the worker in the notifying process, woken in-process.
 * Baseline: a bare INSERT + NOTIFY on one pg connection → the notification arriving on a LISTENing connection,
 * timed from sending the INSERT. Clocks are `performance.timeOrigin + performance.now()` (shared across threads).
 * herald = PostgreSQL p50 (ms), ratio = baseline ÷ herald. Target: p50 ≤ 5 ms on both stores.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHerald, type Herald } from '@herald/core';
import { postgresStore } from '@herald/store-postgres';
import { sqliteStore } from '@herald/store-sqlite';
import pg from 'pg';
import { peakRssMb, percentile, report } from './_report';
import {
  benchBackend,
  benchNotification,
  benchRecipients,
  DATABASE_URL,
  dropSchemas,
  type PgSink,
  startPgSink,
  startWorkerProcess,
  uniqueSchema,
  waitUntil,
} from './_pg-util';

const COUNT = Number(process.env.BENCH_COUNT ?? 1000);
const WARMUP = 50;
const now = () => performance.timeOrigin + performance.now();
const round2 = (n: number) => Math.round(n * 100) / 100;

/** Send COUNT + WARMUP single notifications; returns the latencies (ms) after the warm-up. */
async function measure(herald: Herald, sink: PgSink, label: string): Promise<number[]> {
  await sink.reset();
  const returned = new Map<string, number>();
  const order: string[] = [];
  for (let i = 0; i < COUNT + WARMUP; i++) {
    const result = await herald.notify(benchNotification, { orderId: `L${i}`, total: '1.00' }, benchRecipients(1, sink.url, i));
    const id = result.deliveries[0]!.id;
    returned.set(id, now());
    order.push(id);
    await waitUntil(async () => (await sink.count()).received > i, 10_000, `${label} delivery ${i}`, 1);
    if ((i + 1) % 250 === 0) console.log(`  ${label}: ${i + 1} sent`);
  }
  const arrivals = await sink.arrivals();
  return order.slice(WARMUP).map((id) => arrivals.get(id)! - returned.get(id)!);
}

async function bareRoundTrip(schema: string): Promise<number[]> {
  const sender = new pg.Client({ connectionString: DATABASE_URL });
  const listener = new pg.Client({ connectionString: DATABASE_URL });
  await sender.connect();
  await listener.connect();
  await sender.query(`CREATE TABLE "${schema}".bare_outbox (id text PRIMARY KEY, body jsonb NOT NULL, created_at timestamptz NOT NULL)`);
  await listener.query(`LISTEN "${schema}_bare"`);
  const times: number[] = [];
  try {
    for (let i = 0; i < COUNT + WARMUP; i++) {
      const heard = new Promise<number>((resolve) => listener.once('notification', () => resolve(now())));
      const start = now();
      await sender.query(
        `WITH i AS (INSERT INTO "${schema}".bare_outbox VALUES ($1, $2::jsonb, now()) RETURNING 1) SELECT pg_notify($3, '') FROM i`,
        [`b${i}`, JSON.stringify({ orderId: `L${i}` }), `${schema}_bare`],
      );
      const at = await heard;
      if (i >= WARMUP) times.push(at - start);
    }
  } finally {
    await sender.end();
    await listener.end();
  }
  return times;
}

const sink = await startPgSink();
const schema = uniqueSchema('herald_bench_lat');
const dir = mkdtempSync(join(tmpdir(), 'herald-latency-'));
let pgTimes: number[] = [];
let sqliteTimes: number[] = [];
let bareTimes: number[] = [];
let childRss = 0;
try {
  // PostgreSQL: notify() here, the worker in another process.
  const store = postgresStore({ connectionString: DATABASE_URL, schema, max: 2 });
  const pgHerald = createHerald({ store, backends: [benchBackend()], notifications: [benchNotification], logger: false });
  await store.migrate();
  const worker = await startWorkerProcess(schema, 'latency-worker');
  worker.go();
  pgTimes = await measure(pgHerald, sink, 'postgres');
  childRss = (await worker.stop()).rssMb;
  await pgHerald.close();

  // SQLite: worker in this process, in-process wake-up.
  const sqlite = createHerald({
    store: sqliteStore({ path: join(dir, 'herald.db') }),
    backends: [benchBackend()],
    notifications: [benchNotification],
    logger: false,
  });
  const sqliteWorker = sqlite.worker({ concurrency: 16 });
  sqliteTimes = await measure(sqlite, sink, 'sqlite');
  await sqliteWorker.stop();
  await sqlite.close();

  bareTimes = await bareRoundTrip(schema);
} finally {
  await sink.close();
  await dropSchemas([schema]);
  rmSync(dir, { recursive: true, force: true });
}

const pgP50 = round2(percentile(pgTimes, 50));
const bareP50 = round2(percentile(bareTimes, 50));
console.log(`postgres (LISTEN/NOTIFY, worker in another process): p50 ${pgP50} ms, p99 ${round2(percentile(pgTimes, 99))} ms`);
console.log(`sqlite (in-process wake-up): p50 ${round2(percentile(sqliteTimes, 50))} ms, p99 ${round2(percentile(sqliteTimes, 99))} ms`);
console.log(`bare INSERT + NOTIFY -> LISTEN: p50 ${bareP50} ms, p99 ${round2(percentile(bareTimes, 99))} ms`);
report({
  bench: 'latency',
  unit: 'ms (p50, notify() return -> sink)',
  herald: pgP50,
  baseline: bareP50,
  ratio: round2(bareP50 / pgP50),
  postgresP99: round2(percentile(pgTimes, 99)),
  sqliteP50: round2(percentile(sqliteTimes, 50)),
  sqliteP99: round2(percentile(sqliteTimes, 99)),
  baselineP99: round2(percentile(bareTimes, 99)),
  peakRssMb: Math.round((peakRssMb() + childRss) * 10) / 10,
});
