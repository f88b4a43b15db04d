// A Herald worker process for the PostgreSQL benchmarks. Loads everything, connects, prints "ready", starts
// its worker when it reads "go" on stdin, and on SIGTERM stops, prints "rss <peak MB>" and exits.
import { createInterface } from 'node:readline';
import { createHerald } from '@herald/core';
import { postgresStore } from '@herald/store-postgres';
import { benchBackend, benchNotification } from './_pg-util';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const store = postgresStore({ connectionString: env('DATABASE_URL'), schema: env('HERALD_SCHEMA'), max: Number(process.env.PG_MAX ?? 4) });
const herald = createHerald({ store, backends: [benchBackend()], notifications: [benchNotification], logger: false });
await store.migrate();
let worker: { stop(): Promise<void> } | null = null;
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === 'go' && !worker) {
    worker = herald.worker({ id: env('WORKER_ID'), concurrency: Number(process.env.CONCURRENCY ?? 16) });
  }
});
store.subscribe(() => undefined);
await store.listening();
process.stdout.write('ready\n');

process.on('SIGTERM', () => {
  void (async () => {
    await worker?.stop();
    await herald.close();
    const usage = process.resourceUsage();
    process.stdout.write(`rss ${usage.maxRSS / 1024} cpu ${Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000)}\n`);
    process.exit(0);
  })();
});
