/**
 * bench/dispatch-smtp — the Herald worker draining 20,000 queued deliveries through backend-smtp to a loopback SMTP
 * sink at concurrency 16, against bare pooled nodemailer sending the same rendered messages to the same sink with
 * the same pool settings, 16 in flight. Enqueueing (`notify()` into a temp SQLite store) is not timed; only the
 * drain is. Rounds alternate so both sides see the same machine state. Target: herald/baseline ≥ 0.9.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { smtp } from '@herald/backend-smtp';
import { createHerald, defineNotification, type OutboundMessage, type Recipient } from '@herald/core';
import { sqliteStore } from '@herald/store-sqlite';
import nodemailer from 'nodemailer';
import { z } from 'zod';
import { floorFields, median, noDelaySocket, report, runPool, type Sink, startSmtpSink, timed, timedStore } from './_util';

const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONCURRENCY = 16;
/** Same pool for both sides: one connection per in-flight send, never recycled (recycling costs a 100 ms greeting). */
const POOL = { maxConnections: CONCURRENCY, maxMessages: Number.POSITIVE_INFINITY };
const FROM = 'Shop <shop@example.org>';

const orderShipped = defineNotification({
  id: 'order-shipped',
  schema: z.object({ orderId: z.string(), items: z.array(z.object({ name: z.string(), qty: z.number() })), trackingUrl: z.string() }),
  templates: {
    email: {
      format: 'markdown',
      subject: 'Order {{orderId}} is on its way, {{recipient.name}}',
      body: `# Your order has shipped

Hi {{recipient.name}},

Order **{{orderId}}** left our warehouse today.

{{#each items}}
- {{qty}} × {{name}}
{{/each}}

You can [track your parcel]({{trackingUrl}}) at any time. Reply to this email if anything is wrong.

*The Shop team*`,
    },
  },
});
const data = {
  orderId: 'A-100234',
  items: [
    { name: 'Teapot', qty: 1 },
    { name: 'Cups', qty: 4 },
  ],
  trackingUrl: 'https://track.shop.dev/A-100234',
};
const recipientsOf = (n: number): Recipient[] =>
  Array.from({ length: n }, (_, i) => ({ id: `user-${i}`, name: `Customer ${i}`, contacts: [{ protocol: 'email', address: `customer${i}@shop.dev` }] }));


async function heraldRound(sink: Sink, dir: string, round: string, n: number): Promise<{ rate: number; messages: OutboundMessage[] }> {
  const timing = timedStore(sqliteStore({ path: join(dir, `herald-${round}.db`) }));
  const herald = createHerald({
    store: timing.store,
    backends: [smtp({ host: sink.host, port: sink.port, ignoreTLS: true, from: FROM, ...POOL })],
    notifications: [orderShipped],
    logger: false,
  });
  await timing.store.migrate();
  const { deliveries } = await herald.notify(orderShipped, data, recipientsOf(n));
  const before = await sink.count();
  const storeBefore = timing.stats.ms;
  const { result, seconds } = await timed(() => herald.drain({ concurrency: CONCURRENCY }));
  const arrived = (await sink.count()) - before;
  if (result.sent !== n || arrived !== n) throw new Error(`herald: sent ${result.sent}, sink got ${arrived}, expected ${n}`);
  const storeShare = (timing.stats.ms - storeBefore) / 1000 / seconds;
  await herald.close();
  if (n >= 1000) console.log(`  herald: ${n} in ${seconds.toFixed(2)} s, store calls ${(storeShare * 100).toFixed(1)} % of wall time`);
  return { rate: n / seconds, messages: deliveries.map((d) => d.message!) };
}

/** Bare pooled nodemailer, 16 in flight. `tuned`: sockets with Nagle off, as backend-smtp opens them by default. */
async function baselineRound(sink: Sink, messages: readonly OutboundMessage[], tuned = true): Promise<number> {
  const transport = nodemailer.createTransport({
    pool: true,
    host: sink.host,
    port: sink.port,
    secure: false,
    ignoreTLS: true,
    ...POOL,
    ...(tuned ? { getSocket: noDelaySocket(sink.host, sink.port) } : {}),
  });
  const before = await sink.count();
  const { seconds } = await timed(() =>
    runPool(messages, CONCURRENCY, (m) => transport.sendMail({ from: FROM, to: m.to, subject: m.content.subject, text: m.content.text, html: m.content.html })),
  );
  const arrived = (await sink.count()) - before;
  transport.close();
  if (arrived !== messages.length) throw new Error(`baseline: sink got ${arrived}, expected ${messages.length}`);
  if (messages.length >= 1000) console.log(`  bare nodemailer${tuned ? '' : ' (Nagle on)'}: ${messages.length} in ${seconds.toFixed(2)} s`);
  return messages.length / seconds;
}

const sink = await startSmtpSink();
const dir = mkdtempSync(join(tmpdir(), 'herald-bench-dispatch-smtp-'));
try {
  console.log(`dispatch-smtp: ${DELIVERIES} deliveries, concurrency ${CONCURRENCY}, ${ROUNDS} rounds, sink on 127.0.0.1:${sink.port}`);
  // Warm-up: JIT, pools and caches on both sides.
  const warm = await heraldRound(sink, dir, 'warm', 500);
  await baselineRound(sink, warm.messages);
  // For reference only: nodemailer's default sockets (Nagle on), on the first 2,000 messages.
  const untuned = await baselineRound(sink, (await heraldRound(sink, dir, 'ref', 2000)).messages, false);
  const herald: number[] = [];
  const baseline: number[] = [];
  let messages = warm.messages;
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which side goes first; the baseline sends the messages Herald rendered (the previous round's when first).
    if (round % 2 === 1) baseline.push(await baselineRound(sink, messages));
    const h = await heraldRound(sink, dir, String(round), DELIVERIES);
    herald.push(h.rate);
    messages = h.messages;
    if (round % 2 === 0) baseline.push(await baselineRound(sink, messages));
    console.log(`round ${round + 1}: herald ${herald.at(-1)!.toFixed(0)} messages/s, bare nodemailer ${baseline.at(-1)!.toFixed(0)} messages/s`);
  }
  const floor = await floorFields(sqliteStore({ path: join(dir, 'floor.db') }), messages, CONCURRENCY, median(baseline));
  report({
    bench: 'dispatch-smtp',
    unit: 'messages/s',
    herald: Math.round(median(herald)),
    baseline: Math.round(median(baseline)),
    deliveries: DELIVERIES,
    concurrency: CONCURRENCY,
    nodemailerDefaultSockets: Math.round(untuned),
    ...floor,
  });
} finally {
  await sink.close();
  rmSync(dir, { recursive: true, force: true });
}
