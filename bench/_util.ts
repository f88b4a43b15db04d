import type { OutboundMessage, Store } from '@herald/core';
import { makeDelivery } from '@herald/core/testing/vitest';
/** Shared bench helpers: loopback sinks, timing. Results are printed with `report()` from `./_report`. */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';

export { median, peakRssMb, report } from './_report';

export interface Sink {
  host: string;
  port: number;
  /** Messages the sink has accepted so far. */
  count(): Promise<number>;
  close(): Promise<void>;
}

/**
 * A sink server running `script` (a worker-thread module that posts `ready`/`count`/`closed` messages) in its own
 * thread, so its parsing does not slow the sender under test. Both sides of a bench send to the same sink.
 */
export async function startThreadSink(script: URL): Promise<Sink> {
  const worker = new Worker(script);
  const next = async (type: string): Promise<Record<string, number>> => {
    for (;;) {
      const [msg] = (await once(worker, 'message')) as [{ type: string } & Record<string, number>];
      if (msg.type === type) return msg;
    }
  };
  const { port } = await next('ready');
  return {
    host: '127.0.0.1',
    port: port!,
    async count() {
      const reply = next('count');
      worker.postMessage('count');
      return (await reply).received!;
    },
    async close() {
      const closed = next('closed');
      worker.postMessage('close');
      await closed;
      await worker.terminate();
    },
  };
}

/** A loopback SMTP server (smtp-server) that accepts and discards every message. */
export function startSmtpSink(): Promise<Sink> {
  return startThreadSink(new URL('./_smtp-sink.mjs', import.meta.url));
}

/** Run `fn` and return its result with the elapsed wall time in seconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const start = performance.now();
  const result = await fn();
  return { result, seconds: (performance.now() - start) / 1000 };
}

/** Run `task` over `items` with at most `concurrency` in flight (the baselines' equivalent of a worker pool). */
export async function runPool<T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}

/**
 * nodemailer `getSocket` hook opening connections with Nagle's algorithm off, as backend-smtp does by default: the
 * baseline gets the same socket tuning so a dispatch ratio measures Herald's overhead, not the tuning.
 */
export function noDelaySocket(host: string, port: number) {
  return function getSocket(_options: unknown, callback: (error: Error | null, socket?: { connection: Socket }) => void): void {
    const socket = connect({ host, port, noDelay: true, keepAlive: true });
    socket.once('error', callback);
    socket.once('connect', () => {
      socket.removeListener('error', callback);
      callback(null, { connection: socket });
    });
  };
}

/** The worker's write path: every store call a drain makes per delivery. */
const TIMED_METHODS = new Set<PropertyKey>(['claim', 'finish', 'finishMany', 'release', 'nextDueAt']);

/**
 * Wrap a store so the time spent in the worker's store calls is counted (better-sqlite3 is synchronous, so this
 * is main-thread time). Benches report it as the store's share of a drain.
 */
export function timedStore<S extends Store>(store: S): { store: S; stats: { calls: number; ms: number } } {
  const stats = { calls: 0, ms: 0 };
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || !TIMED_METHODS.has(key)) return value;
      return async (...args: unknown[]) => {
        const start = performance.now();
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          stats.calls++;
          stats.ms += performance.now() - start;
        }
      };
    },
  });
  return { store: proxy, stats };
}

/**
 * The durable floor of a drain: microseconds per delivery that a store's own work costs a worker, with no send at
 * all. Queues copies of `messages`, then claims them in batches of 2 × `concurrency` and records each batch's
 * outcomes, attempts included, `concurrency` at a time, as the worker does. Whatever else were made free, a
 * drain cannot beat `1 / (1 / baselineRate + floor)`: benches print that ceiling beside their ratio.
 */
export async function storeFloorUs(store: Store, messages: readonly OutboundMessage[], concurrency: number): Promise<number> {
  await store.migrate();
  const backend = messages[0]!.backend;
  await store.enqueue(
    messages.map((message, i) =>
      makeDelivery({ id: `floor-${String(i).padStart(7, '0')}`, protocol: message.protocol, backend, address: message.to, message: { ...message, deliveryId: `floor-${i}` } }),
    ),
  );
  const start = performance.now();
  let done = 0;
  for (;;) {
    const claimed = await store.claim({ owner: 'floor', limit: 2 * concurrency, leaseMs: 60_000, backends: [backend] });
    if (claimed.length === 0) break;
    for (let i = 0; i < claimed.length; i += concurrency) {
      const startedAt = new Date();
      const items = claimed.slice(i, i + concurrency).map((d) => ({
        id: d.id,
        owner: 'floor',
        outcome: {
          status: 'sent' as const,
          providerMessageId: null,
          attempt: {
            deliveryId: d.id,
            attempt: d.attempts,
            startedAt,
            durationMs: 1,
            outcome: 'sent' as const,
            request: { backend, to: d.address, notification: d.notification, format: d.message?.content.format ?? null },
            response: { status: 204, body: '' },
            error: null,
            workerId: 'floor',
            backend,
          },
        },
      }));
      if (store.finishMany) await store.finishMany(items);
      else for (const item of items) await store.finish(item.id, item.owner, item.outcome);
    }
    done += claimed.length;
  }
  if (done !== messages.length) throw new Error(`store floor: claimed ${done} of ${messages.length}`);
  return ((performance.now() - start) * 1000) / done;
}

/** The best ratio a drain could reach given the store's floor: baseline time per delivery ÷ (that + floor). */
export function ceilingRatio(baselineRate: number, floorUs: number): number {
  const bareUs = 1e6 / baselineRate;
  return Math.round((bareUs / (bareUs + floorUs)) * 1000) / 1000;
}

/** Measure the floor on a fresh store (closed afterwards), print it with its ceiling, and return both as report fields. */
export async function floorFields(
  store: Store,
  messages: readonly OutboundMessage[],
  concurrency: number,
  baselineRate: number,
): Promise<{ storeFloorUs: number; ceiling: number }> {
  const floor = await storeFloorUs(store, messages, concurrency);
  await store.close();
  const ceiling = ceilingRatio(baselineRate, floor);
  console.log(`store floor: ${floor.toFixed(1)} µs per delivery for claim + outcome + attempt alone; best ratio possible ${ceiling}`);
  return { storeFloorUs: Math.round(floor * 10) / 10, ceiling };
}
