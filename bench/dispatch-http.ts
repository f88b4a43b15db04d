/**
 * bench/dispatch-http — the Herald worker draining 20,000 queued json-webhook deliveries (signed, Standard Webhooks)
 * to a loopback HTTP receiver at concurrency 16, against a bare undici `Pool` posting the same bodies to the same
 * receiver, 16 in flight. Enqueueing (`notify()` into a temp SQLite store) is not timed; only the drain is.
 * The receiver runs in a worker thread. Rounds alternate which side goes first. Target: herald/baseline ≥ 0.8.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonWebhook } from '@herald/backend-json-webhook';
import { createHerald, defineNotification, type OutboundMessage, type Recipient } from '@herald/core';
import { sqliteStore } from '@herald/store-sqlite';
import { Pool } from 'undici';
import { z } from 'zod';
import { floorFields, median, report, runPool, type Sink, startThreadSink, timed, timedStore } from './_util';

const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONCURRENCY = 16;
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/** A loopback HTTP receiver in its own thread, answering 204 to every POST. */
const startHttpSink = (): Promise<Sink> => startThreadSink(new URL('./_http-sink.mjs', import.meta.url));

const orderShipped = defineNotification({
  id: 'order-shipped',
  schema: z.object({ orderId: z.string(), total: z.string(), trackingUrl: z.string() }),
  templates: {
    'json-webhook': {
      format: 'params',
      body: { event: 'order.shipped', orderId: '{{orderId}}', total: '{{total}}', customer: '{{recipient.name}}', trackingUrl: '{{trackingUrl}}' },
    },
  },
});
const data = { orderId: 'A-100234', total: '42.50 EUR', trackingUrl: 'https://track.shop.dev/A-100234' };


/** What the baseline posts: the path and body Herald sent for each delivery. */
interface Post {
  path: string;
  body: string;
}

async function heraldRound(sink: Sink, dir: string, round: string, n: number): Promise<{ rate: number; posts: Post[]; messages: OutboundMessage[] }> {
  // One endpoint per recipient: core sends one delivery per distinct address in a notify() call.
  const url = (i: number) => `http://${sink.host}:${sink.port}/hooks/herald?customer=${i}`;
  const { store, stats } = timedStore(sqliteStore({ path: join(dir, `herald-${round}.db`) }));
  const herald = createHerald({
    store,
    backends: [jsonWebhook({ secret: SECRET, allowedHosts: [sink.host] })],
    notifications: [orderShipped],
    logger: false,
  });
  await store.migrate();
  const recipients: Recipient[] = Array.from({ length: n }, (_, i) => ({ id: `user-${i}`, name: `Customer ${i}`, contacts: [{ protocol: 'json-webhook', address: url(i) }] }));
  const { deliveries } = await herald.notify(orderShipped, data, recipients);
  const before = await sink.count();
  const [calls0, ms0] = [stats.calls, stats.ms];
  const { result, seconds } = await timed(() => herald.drain({ concurrency: CONCURRENCY }));
  const arrived = (await sink.count()) - before;
  if (result.sent !== n || arrived !== n) throw new Error(`herald: sent ${result.sent}, receiver got ${arrived}, expected ${n}`);
  await herald.close();
  const storeShare = (stats.ms - ms0) / 1000 / seconds;
  if (n >= 1000) {
    console.log(`  herald: ${n} in ${seconds.toFixed(2)} s; ${stats.calls - calls0} store calls (claim, finishMany, …) = ${(storeShare * 100).toFixed(1)} % of wall time`);
  }
  lastStoreShare = storeShare;
  const posts = deliveries.map((d) => {
    const target = new URL(d.message!.to);
    return { path: target.pathname + target.search, body: JSON.stringify(d.message!.content.params) };
  });
  return { rate: n / seconds, posts, messages: deliveries.map((d) => d.message!) };
}

/** Bare undici Pool, 16 in flight, same bodies and the same content-type header. */
async function baselineRound(sink: Sink, posts: readonly Post[]): Promise<number> {
  const pool = new Pool(`http://${sink.host}:${sink.port}`, { connections: CONCURRENCY });
  const before = await sink.count();
  const { seconds } = await timed(() =>
    runPool(posts, CONCURRENCY, async ({ path, body }) => {
      const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await res.body.dump();
      if (res.statusCode !== 204) throw new Error(`baseline: status ${res.statusCode}`);
    }),
  );
  const arrived = (await sink.count()) - before;
  await pool.close();
  if (arrived !== posts.length) throw new Error(`baseline: receiver got ${arrived}, expected ${posts.length}`);
  if (posts.length >= 1000) console.log(`  bare undici Pool: ${posts.length} in ${seconds.toFixed(2)} s`);
  return posts.length / seconds;
}

let lastStoreShare = 0;
const sink = await startHttpSink();
const dir = mkdtempSync(join(tmpdir(), 'herald-bench-dispatch-http-'));
try {
  console.log(`dispatch-http: ${DELIVERIES} deliveries, concurrency ${CONCURRENCY}, ${ROUNDS} rounds, receiver on ${sink.host}:${sink.port}`);
  const warm = await heraldRound(sink, dir, 'warm', 1000);
  await baselineRound(sink, warm.posts);
  const herald: number[] = [];
  const baseline: number[] = [];
  let posts = warm.posts;
  let messages = warm.messages;
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 1) baseline.push(await baselineRound(sink, posts));
    const h = await heraldRound(sink, dir, String(round), DELIVERIES);
    herald.push(h.rate);
    posts = h.posts;
    messages = h.messages;
    if (round % 2 === 0) baseline.push(await baselineRound(sink, posts));
    console.log(`round ${round + 1}: herald ${herald.at(-1)!.toFixed(0)} deliveries/s, bare undici Pool ${baseline.at(-1)!.toFixed(0)} requests/s`);
  }
  const floor = await floorFields(sqliteStore({ path: join(dir, 'floor.db') }), messages, CONCURRENCY, median(baseline));
  report({
    bench: 'dispatch-http',
    unit: 'deliveries/s',
    herald: Math.round(median(herald)),
    baseline: Math.round(median(baseline)),
    deliveries: DELIVERIES,
    concurrency: CONCURRENCY,
    storeShare: Math.round(lastStoreShare * 1000) / 1000,
    ...floor,
  });
} finally {
  await sink.close();
  rmSync(dir, { recursive: true, force: true });
}
