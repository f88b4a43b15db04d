import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, createHerald, defineNotification, NotFoundError, ValidationError } from '../src';
import { captureBackend, memoryStore } from '../src/testing';

const reminder = defineNotification({ id: 'reminder', schema: z.object({}), templates: { email: { format: 'text', subject: 'Reminder', body: 'Soon' } } });
const ada = { id: 'u1', contacts: [{ protocol: 'email', address: 'ada@shop.dev' }] };

function setup() {
  const email = captureBackend({ protocol: 'email' });
  const herald = createHerald({ store: memoryStore(), backends: [email], notifications: [reminder], retry: { maxAge: '2h' }, logger: false });
  return { herald, email };
}

describe('scheduled sends: notify(…, { sendAt | delay })', () => {
  // Regression: sendAt was declared but core sent at once on every backend.
  it('holds the deliveries until they are due, shows the due time, and counts maxAge from it', async () => {
    const { herald, email } = setup();
    const before = Date.now();
    const { deliveries } = await herald.notify(reminder, {}, [ada], { delay: '1h' });
    const d = deliveries[0]!;
    expect(d.nextAttemptAt!.getTime()).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(d.expiresAt!.getTime() - d.nextAttemptAt!.getTime()).toBe(2 * 3_600_000);
    await herald.drain();
    expect(email.messages).toHaveLength(0);
    expect((await herald.deliveries.get(d.id))!.status).toBe('queued');
  });

  it('sendAt in the past sends at once; sendAt a little ahead is sent when due', async () => {
    const { herald, email } = setup();
    await herald.notify(reminder, {}, [ada], { sendAt: new Date(Date.now() - 60_000) });
    await herald.drain();
    expect(email.messages).toHaveLength(1);
    const { deliveries } = await herald.notify(reminder, {}, [{ id: 'u2', contacts: [{ protocol: 'email', address: 'bob@shop.dev' }] }], { sendAt: new Date(Date.now() + 150).toISOString() });
    const worker = herald.worker({ pollInterval: 20 });
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(email.messages).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await worker.stop();
    expect(email.messages).toHaveLength(2);
    expect((await herald.deliveries.get(deliveries[0]!.id))!.status).toBe('sent');
  });

  it('bad schedules are errors naming the option; nothing enqueued', async () => {
    const { herald } = setup();
    await expect(herald.notify(reminder, {}, [ada], { sendAt: 'tomorrow' })).rejects.toThrow(ValidationError);
    await expect(herald.notify(reminder, {}, [ada], { sendAt: '2026-12-24T18:00:00' })).rejects.toThrow(/time zone/);
    await expect(herald.notify(reminder, {}, [ada], { delay: 'soon' as never })).rejects.toThrow(ConfigError);
    await expect(herald.notify(reminder, {}, [ada], { delay: '1h', sendAt: new Date() })).rejects.toThrow(/both set/);
    expect(await herald.deliveries.list()).toEqual([]);
  });
});

describe('herald.cancel()', () => {
  it('takes a held delivery out of the queue: cancelled, never sent', async () => {
    const { herald, email } = setup();
    const changes: string[] = [];
    herald.on('delivery', (_d, { to }) => changes.push(to));
    const { deliveries } = await herald.notify(reminder, {}, [ada], { sendAt: new Date(Date.now() + 100) });
    const cancelled = await herald.cancel(deliveries[0]!.id, { reason: 'customer unsubscribed from reminders' });
    expect(cancelled).toMatchObject({ status: 'cancelled', lastError: 'customer unsubscribed from reminders' });
    await new Promise((resolve) => setTimeout(resolve, 150));
    await herald.drain();
    expect(email.messages).toHaveLength(0);
    expect(changes).toEqual(['queued', 'cancelled']);
  });

  it('refuses a sent delivery (nothing changes) and an unknown id', async () => {
    const { herald } = setup();
    const { deliveries } = await herald.notify(reminder, {}, [ada]);
    await herald.drain();
    await expect(herald.cancel(deliveries[0]!.id)).rejects.toThrow(/already sent/);
    expect((await herald.deliveries.get(deliveries[0]!.id))!.status).toBe('sent');
    await expect(herald.cancel('d_nope')).rejects.toThrow(NotFoundError);
  });
});
