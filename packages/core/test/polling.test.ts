import { expect, it } from 'vitest';
import { z } from 'zod';
import { createHerald, type Delivery, defineBackend, defineNotification, type TrackingEvent } from '../src';
import { memoryStore } from '../src/testing';

const n = defineNotification({ id: 'code', schema: z.object({}), templates: { sms: { format: 'text', body: 'Your code' } } });

/** A provider that can only be asked (no webhooks): every delivery is `delivered` on the second question. */
function pollable(asked: string[][]) {
  const seen = new Map<string, number>();
  return defineBackend({
    name: 'askme',
    protocol: 'sms',
    formats: ['text'],
    options: z.object({}),
    setup: () => ({
      async send(message) {
        return { messageId: `p-${message.deliveryId}` };
      },
      poll: {
        afterMs: 0,
        everyMs: 60,
        batchSize: 10,
        async fetch(deliveries: readonly Delivery[]): Promise<TrackingEvent[]> {
          asked.push(deliveries.map((d) => d.id));
          return deliveries.map((d) => {
            const times = (seen.get(d.id) ?? 0) + 1;
            seen.set(d.id, times);
            const status = times >= 2 ? 'delivered' : 'sending';
            return {
              eventType: times >= 2 ? 'delivered' : 'queued',
              eventId: `${d.id}-${status}`,
              messageId: d.providerMessageId,
              deliveryId: d.id,
              providerStatus: status,
              timestamp: new Date(),
              recipient: d.address,
              metadata: {},
              tags: [],
              rejectReason: null,
              description: null,
              mtaResponse: null,
              userAgent: null,
              clickUrl: null,
              raw: { id: d.id, status },
            };
          });
        },
      },
    }),
  })({});
}

it('polls providers for deliveries not final yet, records what they say, and never polls one delivery from two workers at once', async () => {
  const store = memoryStore();
  const asked: string[][] = [];
  const backend = pollable(asked);
  const options = { store, backends: [backend], notifications: [n], logger: false as const };
  const a = createHerald(options);
  const b = createHerald({ ...options, backends: [backend] });
  const { deliveries } = await a.notify(n, {}, [{ contacts: [{ protocol: 'sms', address: '+14155550123' }] }, { contacts: [{ protocol: 'sms', address: '+14155550124' }] }]);
  await a.drain();
  const tracked: string[] = [];
  a.on('tracking', (event) => {
    tracked.push(event.eventType);
  });
  const w1 = a.worker({ pollInterval: 20 });
  const w2 = b.worker({ pollInterval: 20 });
  for (let i = 0; i < 50; i++) {
    const all = await Promise.all(deliveries.map((d) => store.get(d.id)));
    if (all.every((d) => d?.status === 'delivered')) break;
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
  await Promise.all([w1.stop(), w2.stop()]);
  for (const d of deliveries) {
    const now = (await store.get(d.id))!;
    expect(now.status).toBe('delivered');
    expect(now.providerStatus).toBe('delivered');
    expect((await store.events(d.id)).map((e) => e.providerStatus)).toEqual(['sending', 'delivered']);
  }
  // Each delivery was asked about exactly twice (once per `everyMs` window), never by both workers in one window.
  const perDelivery = new Map<string, number>();
  for (const batch of asked) for (const id of batch) perDelivery.set(id, (perDelivery.get(id) ?? 0) + 1);
  expect([...perDelivery.values()]).toEqual([2, 2]);
  // Delivered deliveries are final: nothing polls them afterwards.
  const before = asked.length;
  const w3 = a.worker({ pollInterval: 20 });
  await new Promise((resolve) => setTimeout(resolve, 200));
  await w3.stop();
  expect(asked.length).toBe(before);
  expect(tracked.length).toBeGreaterThan(0);
});
