/** What `herald keys create --scope send,read` does: store a new key's hash and print the key once. */
import { createHerald } from '@herald/core';
import { createApiKey, type Scope } from '@herald/server';
import options from '../herald.config';

const herald = createHerald(options);
await herald.store.migrate();
const scopes = (process.argv[2] ?? 'send,read').split(',') as Scope[];
const { key } = await createApiKey(herald.store, { scopes, name: 'example client' });
console.log(key);
await herald.close();
