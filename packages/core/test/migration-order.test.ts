import { expect, it } from 'vitest';
import { z } from 'zod';
import { createHerald, defineNotification } from '../src';
import { captureBackend, memoryStore } from '../src/testing';

const ping = defineNotification({ id: 'ping', schema: z.object({}), templates: { email: { format: 'text', subject: 'Ping', body: 'Ping' } } });

// Regression: herald.worker() started claiming while the store's migration was still running.
it('core owns migration: it runs once, and nothing touches the store before it finished', async () => {
  const store = memoryStore();
  const calls: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const migrate = store.migrate.bind(store);
  store.migrate = async () => {
    calls.push('migrate');
    await gate;
    await migrate();
    calls.push('migrated');
  };
  for (const method of ['claim', 'enqueue', 'nextDueAt', 'getOptOuts', 'suppressed'] as const) {
    const original = store[method].bind(store) as (...args: never[]) => Promise<unknown>;
    (store as unknown as Record<string, unknown>)[method] = (...args: never[]) => {
      calls.push(method);
      return original(...args);
    };
  }
  const email = captureBackend({ protocol: 'email' });
  const herald = createHerald({ store, backends: [email], notifications: [ping], logger: false });
  const worker = herald.worker({ pollInterval: 10 });
  const sent = herald.notify(ping, {}, [{ contacts: [{ protocol: 'email', address: 'ada@shop.dev' }] }]);
  await new Promise((resolve) => setTimeout(resolve, 30));
  expect(calls).toEqual(['migrate']);
  release();
  await sent;
  await herald.drain();
  await worker.stop();
  expect(calls.filter((c) => c === 'migrate')).toHaveLength(1);
  expect(calls.indexOf('migrated')).toBe(1);
  expect(email.messages).toHaveLength(1);
  await herald.close();
});
