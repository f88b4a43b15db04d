/**
 * bench/notify — fan-out + render + enqueue of 10,000 recipients × 2 contacts (email in Markdown, SMS in text)
 * into SQLite, against a bare loop doing the same work with the same libraries (compiled Handlebars, marked,
 * html-to-text, one better-sqlite3 transaction of prepared inserts). Rounds alternate so both see the same
 * machine state. Target: herald/baseline ≥ 0.8, peak RSS < 300 MB.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHerald, defineNotification, newId, type Recipient } from '@herald/core';
import { captureBackend } from '@herald/core/testing';
import { sqliteStore } from '@herald/store-sqlite';
import Database from 'better-sqlite3';
import Handlebars from 'handlebars';
import { compile as compileHtmlToText } from 'html-to-text';
import { Marked } from 'marked';
import { z } from 'zod';
import { median, peakRssMb, report } from './_report';

const RECIPIENTS = Number(process.env.BENCH_RECIPIENTS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

const SUBJECT = 'Order {{orderId}} is on its way, {{recipient.name}}';
const MARKDOWN = `# Your order has shipped

Hi {{recipient.name}},

Good news: order **{{orderId}}** left our warehouse today and is on its way to you.

| Item | Qty | Price |
|------|-----|-------|
{{#each items}}
| {{name}} | {{qty}} | {{price}} |
{{/each}}

**Total:** {{total}}

You can [track your parcel]({{trackingUrl}}) at any time. Parcels usually arrive within
{{days}} working days. If anything is wrong with your order, reply to this email and a
human will get back to you.

- Returns are free for 30 days
- Keep your order number handy: {{orderId}}

Thanks for shopping with us!

*The Shop team*`;
const SMS = 'Order {{orderId}} shipped. Track: {{trackingUrl}}';

const data = {
  orderId: 'A-100234',
  items: [
    { name: 'Teapot', qty: 1, price: '24.00' },
    { name: 'Cups', qty: 4, price: '32.00' },
    { name: 'Tea sampler', qty: 2, price: '18.50' },
  ],
  total: '74.50',
  trackingUrl: 'https://track.shop.dev/A-100234',
  days: 3,
};
const recipients: Recipient[] = Array.from({ length: RECIPIENTS }, (_, i) => ({
  id: `user-${i}`,
  name: `Customer ${i}`,
  contacts: [
    { protocol: 'email', address: `customer${i}@shop.dev` },
    { protocol: 'sms', address: `+1415555${String(i).padStart(4, '0')}` },
  ],
}));

const orderShipped = defineNotification({
  id: 'order-shipped',
  schema: z.object({
    orderId: z.string(),
    items: z.array(z.object({ name: z.string(), qty: z.number(), price: z.string() })),
    total: z.string(),
    trackingUrl: z.string(),
    days: z.number(),
  }),
  category: 'orders',
  templates: { email: { format: 'markdown', subject: SUBJECT, body: MARKDOWN }, sms: { format: 'text', body: SMS } },
});

async function heraldRound(dir: string, round: number): Promise<number> {
  const store = sqliteStore({ path: join(dir, `herald-${round}.db`) });
  const herald = createHerald({
    store,
    backends: [captureBackend({ protocol: 'email', name: 'email', test: false }), captureBackend({ protocol: 'sms', name: 'sms', test: false })],
    notifications: [orderShipped],
    logger: false,
  });
  await store.migrate();
  const start = performance.now();
  const result = await herald.notify(orderShipped, data, recipients);
  const seconds = (performance.now() - start) / 1000;
  if (result.deliveries.length !== RECIPIENTS * 2) throw new Error(`expected ${RECIPIENTS * 2} deliveries, got ${result.deliveries.length}`);
  await herald.close();
  return (RECIPIENTS * 2) / seconds;
}

function baselineRound(dir: string, round: number): number {
  const db = new Database(join(dir, `bare-${round}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE deliveries (id TEXT PRIMARY KEY, batch_id TEXT, notification TEXT, recipient_id TEXT, protocol TEXT,
    address TEXT, backend TEXT, status TEXT, message TEXT, created_at INTEGER, next_attempt_at INTEGER)`);
  const hb = Handlebars.create();
  const subject = hb.compile(SUBJECT, { noEscape: true });
  const body = hb.compile(MARKDOWN);
  const sms = hb.compile(SMS, { noEscape: true });
  const marked = new Marked({ gfm: true, async: false });
  const toText = compileHtmlToText({ wordwrap: 78 });
  const insert = db.prepare('INSERT INTO deliveries VALUES (?,?,?,?,?,?,?,?,?,?,?)');
  const start = performance.now();
  const batch = newId();
  const now = Date.now();
  const rows: unknown[][] = [];
  for (const r of recipients) {
    const ctx = { ...data, recipient: { id: r.id, name: r.name } };
    const html = marked.parse(body(ctx)) as string;
    const email = { subject: subject(ctx), html, text: toText(html) };
    rows.push([newId(), batch, 'order-shipped', r.id, 'email', r.contacts[0]!.address, 'email', 'queued', JSON.stringify(email), now, now]);
    rows.push([newId(), batch, 'order-shipped', r.id, 'sms', r.contacts[1]!.address, 'sms', 'queued', JSON.stringify({ text: sms(ctx) }), now, now]);
  }
  db.transaction(() => {
    for (const row of rows) insert.run(...row);
  })();
  const seconds = (performance.now() - start) / 1000;
  db.close();
  return (RECIPIENTS * 2) / seconds;
}

/**
 * Peak RSS of one side alone: a child process (same loader and conditions as this one) runs a warm-up and one
 * measured round and reports its own peak. The bench process's peak mixes both sides' rows and garbage over all
 * rounds, so it is reported beside them as `processPeakRssMb`.
 */
async function childPeakRssMb(side: 'herald' | 'bare'): Promise<number> {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), `--${side}-rss`], { encoding: 'utf8' });
  const match = /^rss (\d+(?:\.\d+)?)$/m.exec(child.stdout);
  if (child.status !== 0 || !match) throw new Error(`RSS child failed (${child.status}): ${child.stderr}`);
  return Number(match[1]);
}

const dir = mkdtempSync(join(tmpdir(), 'herald-bench-notify-'));
try {
  if (process.argv.includes('--herald-rss')) {
    await heraldRound(dir, -1);
    await heraldRound(dir, 0);
    console.log(`rss ${peakRssMb()}`);
  } else if (process.argv.includes('--bare-rss')) {
    baselineRound(dir, -1);
    baselineRound(dir, 0);
    console.log(`rss ${peakRssMb()}`);
  } else {
    // Warm-up: JIT and template caches for both sides.
    baselineRound(dir, -1);
    await heraldRound(dir, -1);
    const herald: number[] = [];
    const baseline: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      baseline.push(baselineRound(dir, round));
      herald.push(await heraldRound(dir, round));
      console.log(`round ${round + 1}: herald ${herald.at(-1)!.toFixed(0)} deliveries/s, bare loop ${baseline.at(-1)!.toFixed(0)} deliveries/s`);
    }
    const heraldRss = await childPeakRssMb('herald');
    const bareRss = await childPeakRssMb('bare');
    console.log(`peak RSS, warm-up + one round in a process of its own: Herald ${heraldRss} MB, bare loop ${bareRss} MB; this process (both sides, all rounds) ${peakRssMb()} MB`);
    report({
      bench: 'notify',
      unit: 'deliveries/s',
      herald: Math.round(median(herald)),
      baseline: Math.round(median(baseline)),
      recipients: RECIPIENTS,
      contactsPerRecipient: 2,
      peakRssMb: heraldRss,
      baselinePeakRssMb: bareRss,
      processPeakRssMb: peakRssMb(),
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
