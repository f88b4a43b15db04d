import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createHerald, defineNotification, type FailoverChange, type HeraldOptions, PermanentError, TransientError } from '../src';
import { captureBackend, memoryStore } from '../src/testing';

const receipt = defineNotification({
  id: 'receipt',
  schema: z.object({ orderId: z.string() }),
  templates: {
    // Each backend renders its own format: the fallback's message must be rendered for it, not copied.
    primary: { format: 'html', subject: 'Receipt {{orderId}}', body: '<p>Order <b>{{orderId}}</b></p>' },
    email: { format: 'text', subject: 'Receipt {{orderId}} (text)', body: 'Order {{orderId}}' },
  },
});

const ada = { id: 'u1', contacts: [{ protocol: 'email', address: 'ada@shop.dev' }] };

function setup(extra: Partial<HeraldOptions> = {}) {
  const primary = captureBackend({ protocol: 'email', name: 'primary', formats: ['html', 'text'] });
  const secondary = captureBackend({ protocol: 'email', name: 'secondary', formats: ['text'] });
  const store = memoryStore();
  const herald = createHerald({
    store,
    backends: [primary, secondary],
    notifications: [receipt],
    retry: { maxAttempts: 2, backoff: { type: 'fixed', delay: 0 } },
    logger: false,
    ...extra,
  });
  const failovers: FailoverChange[] = [];
  herald.on('failover', (_delivery, change) => failovers.push(change));
  return { herald, primary, secondary, store, failovers };
}

describe('failover', () => {
  // Regression: routing 'failover' only picked the first backend with a template; the second was never tried.
  it('moves a delivery to the next backend when its backend fails permanently about the provider, re-rendered for it', async () => {
    const { herald, primary, secondary, failovers } = setup();
    primary.failNext(new PermanentError('535 authentication failed', { backend: 'primary', scope: 'provider' }));
    const { deliveries } = await herald.notify(receipt, { orderId: 'A1' }, [ada]);
    await herald.drain();
    const d = (await herald.deliveries.get(deliveries[0]!.id))!;
    expect(d.status).toBe('sent');
    expect(d.backend).toBe('secondary');
    expect(primary.messages).toHaveLength(0);
    expect(secondary.messages).toHaveLength(1);
    expect(secondary.messages[0]!.backend).toBe('secondary');
    expect(secondary.messages[0]!.content).toMatchObject({ format: 'text', subject: 'Receipt A1 (text)', text: 'Order A1' });
    // Backends never see the other backends' pre-rendered messages.
    expect(secondary.messages[0]).not.toHaveProperty('fallbacks');
    const attempts = await herald.deliveries.attempts(d.id);
    expect(attempts.map((a) => [a.attempt, a.backend, a.outcome])).toEqual([
      [1, 'primary', 'permanent'],
      [2, 'secondary', 'sent'],
    ]);
    expect(failovers).toEqual([{ from: 'primary', to: 'secondary', reason: expect.stringContaining('535 authentication failed') }]);
  });

  it('does not fail over an error about the recipient', async () => {
    const { herald, primary, secondary, failovers } = setup();
    primary.failNext(new PermanentError('550 5.1.1 no such user', { backend: 'primary', scope: 'recipient', rejectReason: 'invalid' }));
    const { deliveries } = await herald.notify(receipt, { orderId: 'A2' }, [ada]);
    await herald.drain();
    const d = (await herald.deliveries.get(deliveries[0]!.id))!;
    expect(d.status).toBe('failed');
    expect(d.backend).toBe('primary');
    expect(secondary.messages).toHaveLength(0);
    expect(failovers).toEqual([]);
  });

  it('fails over once the transient retries are exhausted, and the next backend gets its own attempt budget', async () => {
    const { herald, primary, secondary } = setup();
    primary.failNext('transient', 2);
    secondary.failNext('transient', 1);
    const { deliveries } = await herald.notify(receipt, { orderId: 'A3' }, [ada]);
    await herald.drain();
    const d = (await herald.deliveries.get(deliveries[0]!.id))!;
    expect(d.status).toBe('sent');
    expect(d.backend).toBe('secondary');
    const attempts = await herald.deliveries.attempts(d.id);
    expect(attempts.map((a) => [a.backend, a.outcome])).toEqual([
      ['primary', 'transient'],
      ['primary', 'transient'],
      ['secondary', 'transient'],
      ['secondary', 'sent'],
    ]);
    expect(secondary.messages).toHaveLength(1);
  });

  it('keeps retry.maxAge over the whole delivery', async () => {
    const { herald, primary } = setup();
    primary.failNext(new PermanentError('account suspended', { backend: 'primary', scope: 'provider' }));
    const { deliveries } = await herald.notify(receipt, { orderId: 'A4' }, [ada]);
    const before = deliveries[0]!.expiresAt;
    await herald.drain();
    const d = (await herald.deliveries.get(deliveries[0]!.id))!;
    expect(d.backend).toBe('secondary');
    expect(d.expiresAt?.getTime()).toBe(before?.getTime());
  });

  it('fails when the last backend fails too', async () => {
    const { herald, primary, secondary } = setup();
    primary.failNext(new PermanentError('quota exceeded', { backend: 'primary', scope: 'provider' }));
    secondary.failNext(new PermanentError('quota exceeded', { backend: 'secondary', scope: 'provider' }));
    const { deliveries } = await herald.notify(receipt, { orderId: 'A5' }, [ada]);
    await herald.drain();
    const d = (await herald.deliveries.get(deliveries[0]!.id))!;
    expect(d.status).toBe('failed');
    expect(d.backend).toBe('secondary');
    expect((await herald.deliveries.attempts(d.id)).map((a) => a.backend)).toEqual(['primary', 'secondary']);
  });

  it('follows failover.on: a function decides per error', async () => {
    const { herald, primary, secondary } = setup({ failover: { on: (error) => error instanceof PermanentError && error.message.includes('mailbox') } });
    primary.failNext(new PermanentError('mailbox full at this provider', { backend: 'primary', scope: 'recipient' }));
    const { deliveries } = await herald.notify(receipt, { orderId: 'A6' }, [ada]);
    await herald.drain();
    expect((await herald.deliveries.get(deliveries[0]!.id))!.backend).toBe('secondary');
    expect(secondary.messages).toHaveLength(1);
  });

  it('an explicit contact backend never fails over', async () => {
    const { herald, primary, secondary } = setup();
    primary.failNext(new PermanentError('535 authentication failed', { backend: 'primary', scope: 'provider' }));
    const { deliveries } = await herald.notify(receipt, { orderId: 'A7' }, [{ id: 'u1', contacts: [{ protocol: 'email', address: 'ada@shop.dev', backend: 'primary' }] }]);
    await herald.drain();
    expect((await herald.deliveries.get(deliveries[0]!.id))!.status).toBe('failed');
    expect(secondary.messages).toHaveLength(0);
  });

  it('round-robin falls back the same way', async () => {
    const { herald, primary, secondary } = setup({ routing: { email: 'round-robin' } });
    primary.failNext(new TransientError('503 service unavailable', { backend: 'primary', scope: 'provider' }), 10);
    // Two notifications: one starts on primary, one on secondary; the first falls back to secondary.
    const a = await herald.notify(receipt, { orderId: 'R1' }, [ada]);
    const b = await herald.notify(receipt, { orderId: 'R2' }, [{ id: 'u2', contacts: [{ protocol: 'email', address: 'bob@shop.dev' }] }]);
    expect(new Set([a.deliveries[0]!.backend, b.deliveries[0]!.backend])).toEqual(new Set(['primary', 'secondary']));
    await herald.drain();
    const da = (await herald.deliveries.get(a.deliveries[0]!.id))!;
    const db = (await herald.deliveries.get(b.deliveries[0]!.id))!;
    expect([da.status, db.status]).toEqual(['sent', 'sent']);
    expect([da.backend, db.backend]).toEqual(['secondary', 'secondary']);
    expect(secondary.messages.map((m) => m.content.subject).sort()).toEqual(['Receipt R1 (text)', 'Receipt R2 (text)']);
  });

  it('the circuit breaker marks a backend down after consecutive provider failures and sends its deliveries elsewhere unsent', async () => {
    const { herald, primary, secondary } = setup({ failover: { circuit: { failures: 2, coolDown: '1h' } }, retry: { maxAttempts: 1, backoff: { type: 'fixed', delay: 0 } } });
    primary.failNext(new TransientError('connection refused', { backend: 'primary', scope: 'provider' }), 100);
    const recipients = Array.from({ length: 6 }, (_, i) => ({ id: `u${i}`, contacts: [{ protocol: 'email', address: `user${i}@shop.dev` }] }));
    const { deliveries } = await herald.notify(receipt, { orderId: 'C1' }, recipients);
    await herald.drain({ concurrency: 1 });
    for (const d of deliveries) expect((await herald.deliveries.get(d.id))!.status).toBe('sent');
    expect(secondary.messages).toHaveLength(6);
    // Only the first two reached the primary; the others were failed over without a send.
    const outcomes = await Promise.all(deliveries.map(async (d) => (await herald.deliveries.attempts(d.id))[0]!.outcome));
    expect(outcomes.filter((o) => o === 'transient')).toHaveLength(2);
    expect(outcomes.filter((o) => o === 'circuit-open')).toHaveLength(4);
  });

  it('a half-open circuit lets one probe through after the cool-down, and its success closes it', async () => {
    const { herald, primary, secondary } = setup({ failover: { circuit: { failures: 1, coolDown: 50 } }, retry: { maxAttempts: 1, backoff: { type: 'fixed', delay: 0 } } });
    primary.failNext('transient', 1);
    await herald.notify(receipt, { orderId: 'H1' }, [ada]);
    await herald.drain();
    expect(secondary.messages).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    await herald.notify(receipt, { orderId: 'H2' }, [ada]);
    await herald.notify(receipt, { orderId: 'H3' }, [ada]);
    await herald.drain({ concurrency: 1 });
    expect(primary.messages.map((m) => m.content.subject)).toEqual(['Receipt H2', 'Receipt H3']);
  });
});
