// docs/scaling-out.md as a reader runs it: the page's herald.ts and its transactional-enqueue scripts (node-postgres,
// Kysely, Drizzle) run with tsx against a real PostgreSQL database of their own: each updates the order, enqueues
// its notification through the script's own transaction and exits. The page used to say only the pg path was run.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScript, writePage } from './_blocks';

const PAGE = 'docs/scaling-out.md';
const SERVER = process.env.HERALD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';

describe(`${PAGE} runs as written`, () => {
  const { dir, files } = writePage(PAGE);
  // A database per run: the page's herald.ts names its schema `herald`, which other tests must not share.
  const database = `herald_docs_${randomBytes(4).toString('hex')}`;
  const env = { DATABASE_URL: `${SERVER}/${database}` };
  let admin: pg.Client;
  let db: pg.Client;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: `${SERVER}/postgres` });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    db = new pg.Client({ connectionString: env.DATABASE_URL });
    await db.connect();
    await db.query('CREATE TABLE orders (id text PRIMARY KEY, status text NOT NULL)');
  });

  afterAll(async () => {
    await db?.end();
    await admin?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin?.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has the files its scripts import', () => {
    expect(files).toEqual(['herald.ts', 'prune.ts', 'ship-order-drizzle.ts', 'ship-order-kysely.ts', 'ship-order.ts', 'worker.ts']);
  });

  for (const script of ['ship-order.ts', 'ship-order-kysely.ts', 'ship-order-drizzle.ts']) {
    it(`${script} updates the order, enqueues its notification and exits`, async () => {
      await db.query("INSERT INTO orders VALUES ('A1', 'paid') ON CONFLICT (id) DO UPDATE SET status = 'paid'");
      const before = await queued();
      const result = await runScript(script, dir, env);
      expect(result.code, result.output).toBe(0);
      expect((await db.query<{ status: string }>("SELECT status FROM orders WHERE id = 'A1'")).rows).toEqual([{ status: 'shipped' }]);
      expect(await queued()).toBe(before + 1);
    }, 60_000);
  }

  it('prune.ts runs and exits', async () => {
    const result = await runScript('prune.ts', dir, env);
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toContain('0 deliveries removed');
  }, 60_000);

  async function queued(): Promise<number> {
    const exists = await db.query("SELECT to_regclass('herald.deliveries') AS t");
    if (!exists.rows[0]?.t) return 0;
    const { rows } = await db.query<{ n: string }>("SELECT count(*) AS n FROM herald.deliveries WHERE notification = 'order-shipped' AND status = 'queued'");
    return Number(rows[0]?.n);
  }
});
