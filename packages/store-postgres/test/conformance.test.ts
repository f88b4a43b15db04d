import { testStore } from '@herald/core/testing/vitest';
import { postgresStore } from '@herald/store-postgres';
import pg from 'pg';
import { afterAll } from 'vitest';
import { DATABASE_URL, dropSchemas, uniqueSchema } from './_pg';

// One schema for this file, emptied between tests (much faster than migrating a fresh schema per test).
const schema = uniqueSchema();
const TABLES = ['deliveries', 'attempts', 'events', 'inbound_events', 'opt_outs', 'suppressions', 'rate_limits', 'api_keys'];

afterAll(async () => {
  await dropSchemas([schema]);
});

testStore('postgres', async () => {
  const store = postgresStore({ connectionString: DATABASE_URL, schema, max: 4 });
  return {
    store,
    cleanup: async () => {
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      try {
        await client.query(`TRUNCATE ${TABLES.map((t) => `"${schema}".${t}`).join(', ')}`);
      } finally {
        await client.end();
      }
    },
  };
}, { joinsTransactions: true });
