import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The test database (trust auth on loopback); override with HERALD_TEST_DATABASE_URL. */
export const DATABASE_URL = process.env.HERALD_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A schema name no other test run uses. */
export function uniqueSchema(prefix = 'herald_test'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** Drop schemas created by a test (CASCADE drops their tables). */
export async function dropSchemas(schemas: Iterable<string>): Promise<void> {
  const list = [...schemas];
  if (list.length === 0) return;
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    for (const schema of list) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
