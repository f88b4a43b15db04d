import { testStore } from '@herald/core/testing/vitest';
import { sqliteStore } from '../src';
import { tempDatabase } from './_tmp';

testStore('sqlite', async () => {
  const db = tempDatabase();
  return { store: sqliteStore({ path: db.path }), cleanup: async () => db.remove() };
});
