/**
 * A second process for the multi-process tests, started by `_spawn.ts`. Commands:
 * - `claim <path> <owner> <limit> <leaseMs>`: claim once, print the ids, then hang until killed.
 * - `drain <path> <owner> <limit>`: print `ready`, wait for `go` on stdin, claim until nothing is left, print the ids.
 * - `enqueue-forever <path> <batchSize>`: enqueue batches until killed; print `started` after the first.
 * - `enqueue-and-leave <path> <count>`: enqueue, print `done`, and return without closing the store.
 * - `enqueue-and-close <path> <count>`: enqueue, `await store.close()` as the last thing, print `closed`.
 */
import { makeDelivery } from '@herald/core/testing/vitest';
import { sqliteStore } from '../src';

const [command, path, ...args] = process.argv.slice(2);
const store = sqliteStore({ path: path!, busyTimeoutMs: 30_000 });
await store.migrate();

function send(line: unknown): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

if (command === 'claim') {
  const [owner, limit, leaseMs] = args;
  const claimed = await store.claim({ owner: owner!, limit: Number(limit), leaseMs: Number(leaseMs) });
  send(claimed.map((d) => d.id));
  setInterval(() => {}, 60_000);
} else if (command === 'drain') {
  const [owner, limit] = args;
  send('ready');
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  const ids: string[] = [];
  for (;;) {
    const claimed = await store.claim({ owner: owner!, limit: Number(limit), leaseMs: 600_000 });
    if (claimed.length === 0) break;
    ids.push(...claimed.map((d) => d.id));
    // Pretend to send, as a worker would; without a pause one process wins every lock race and the test proves less.
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  send(ids);
  await store.close();
  process.exit(0);
} else if (command === 'enqueue-forever') {
  const size = Number(args[0]);
  for (let n = 0; ; n++) {
    const batchId = `batch-${process.pid}-${n}`;
    await store.enqueue(Array.from({ length: size }, (_, i) => makeDelivery({ batchId, address: `u${i}@example.org` })));
    if (n === 0) send('started');
  }
} else if (command === 'enqueue-and-leave') {
  await store.enqueue(Array.from({ length: Number(args[0]) }, (_, i) => makeDelivery({ address: `u${i}@example.org` })));
  send('done');
  // No close(): the checkpointer thread must not keep the process alive.
} else if (command === 'enqueue-and-close') {
  await store.enqueue(Array.from({ length: Number(args[0]) }, (_, i) => makeDelivery({ address: `u${i}@example.org` })));
  // Nothing else keeps this process alive while close() waits for the thread's last checkpoint.
  await store.close();
  send('closed');
} else {
  throw new Error(`unknown command ${command}`);
}
