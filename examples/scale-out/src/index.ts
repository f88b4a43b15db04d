/**
 * Herald on PostgreSQL: the outbox pattern and several worker processes.
 *
 * 1. creates an `orders` table and notifies inside the same transaction as the business write — one order
 *    commits (its webhook is sent), one rolls back (no trace of its notification),
 * 2. enqueues 200 more orders,
 * 3. starts two worker processes (any number, on any number of machines) that wake on LISTEN/NOTIFY,
 * 4. waits until the loopback receiver has every webhook, checks none arrived twice, stops the workers.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { makeHerald, orderPlaced } from './herald';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `herald_example_${randomBytes(4).toString('hex')}`;

// A receiver that records each webhook by its `webhook-id` (the delivery id, stable across retries).
const received = new Map<string, number>();
const receiver = createServer((req, res) => {
  const id = String(req.headers['webhook-id']);
  received.set(id, (received.get(id) ?? 0) + 1);
  req.resume();
  req.on('end', () => res.writeHead(204).end());
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/orders`;
const customer = (i: number) => ({ id: `c${i}`, contacts: [{ protocol: 'json-webhook', address: `${hook}?c=${i}` }] });

const herald = makeHerald(schema);
await herald.store.migrate();
const db = new pg.Client({ connectionString: url });
await db.connect();
await db.query(`CREATE TABLE "${schema}".orders (id text PRIMARY KEY, total numeric)`);

// ── 1. the outbox pattern: the notification exists if and only if the order does ─────────────────
async function placeOrder(orderId: string, total: number, commit: boolean) {
  await db.query('BEGIN');
  await db.query(`INSERT INTO "${schema}".orders VALUES ($1, $2)`, [orderId, total]);
  await herald.notify(orderPlaced, { orderId, total }, [customer(0)], { transaction: db });
  await db.query(commit ? 'COMMIT' : 'ROLLBACK');
}
await placeOrder('A-1', 10, true);
await placeOrder('A-2', 20, false);
const committed = await herald.deliveries.count();
console.log(`after one commit and one rollback: ${committed.queued ?? 0} delivery queued`);

// ── 2. more work ──────────────────────────────────────────────────────────────────────────────────
const batch = Array.from({ length: 200 }, (_, i) => customer(i + 1));
await herald.notify(orderPlaced, { orderId: 'BULK', total: 1 }, batch);

// ── 3. two worker processes ───────────────────────────────────────────────────────────────────────
const workerFile = fileURLToPath(new URL('./worker.ts', import.meta.url));
const workers = [0, 1].map(() => fork(workerFile, [schema], { execArgv: ['--conditions=@herald/source', '--import', 'tsx'], stdio: 'inherit' }));
await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));

// ── 4. wait for every webhook ─────────────────────────────────────────────────────────────────────
const deadline = Date.now() + 60_000;
while (received.size < 201 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
await Promise.all(workers.map((w) => new Promise((resolve) => { w.once('exit', resolve); w.kill('SIGTERM'); })));

const counts = await herald.deliveries.count();
const twice = [...received.values()].filter((n) => n > 1).length;

console.log(`received ${received.size} webhooks (${twice} twice); deliveries: ${JSON.stringify(counts)}`);
const attempts = await Promise.all((await herald.deliveries.list({ limit: 201 })).map((d) => herald.deliveries.attempts(d.id)));
const byWorker = new Map<string, number>();
for (const a of attempts.flat()) byWorker.set(a.workerId, (byWorker.get(a.workerId) ?? 0) + 1);
console.log(`attempts per worker process: ${[...byWorker.values()].join(' + ')}`);


await db.query(`DROP SCHEMA "${schema}" CASCADE`);
await db.end();
await herald.close();
receiver.close();
if (received.size !== 201 || twice !== 0 || counts.sent !== 201) process.exit(1);
