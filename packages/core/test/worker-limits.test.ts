import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Backend, type CommonBackendOptions, createHerald, defineBackend, defineNotification, type Store } from '../src';
import { memoryStore } from '../src/testing';

const ping = defineNotification({
  id: 'ping',
  schema: z.object({ n: z.number() }),
  templates: { email: { format: 'text', subject: 'Ping {{n}}', body: 'Ping {{n}}' } },
});

interface Probe {
  backend: Backend;
  /** Sends in flight right now, and the most seen at once. */
  inFlight: number;
  peak: number;
  /** `performance.now()` at the start of each send. */
  starts: number[];
}

/** A test email backend whose sends take `latencyMs` and that records how many overlap and when each starts. */
function probe(name: string, limits: Pick<CommonBackendOptions, 'concurrency' | 'rateLimit'>, latencyMs: number): Probe {
  const p = { inFlight: 0, peak: 0, starts: [] as number[] };
  const slow = defineBackend({
    name: 'probe',
    protocol: 'email',
    formats: ['text'],
    options: z.object({}),
    setup: () => ({
      async send(message) {
        p.starts.push(performance.now());
        p.peak = Math.max(p.peak, ++p.inFlight);
        try {
          if (latencyMs) await new Promise((resolve) => setTimeout(resolve, latencyMs));
          return { messageId: `probe-${message.deliveryId}` };
        } finally {
          p.inFlight--;
        }
      },
    }),
  });
  return Object.assign(p, { backend: slow({ name, test: true, ...limits }) });
}

/** `count` recipients, each with one email contact routed to `backend`. */
const recipients = (backend: string, count: number) =>
  Array.from({ length: count }, (_, i) => ({ id: `${backend}-${i}`, contacts: [{ protocol: 'email', address: `${backend}.${i}@example.com`, backend }] }));

function heraldWith(store: Store, probes: Probe[]) {
  return createHerald({ store, backends: probes.map((p) => p.backend), notifications: [ping], logger: false });
}

/** The memory store without `reserveRate`: the worker then spaces sends itself, in process. */
function withoutSharedRate(store: Store): Store {
  return Object.assign(Object.create(store) as Store, { reserveRate: undefined });
}

// Regression: the worker's per-backend `acquire` and `throttle` could be removed with every test still passing.
describe('worker: per-backend concurrency', () => {
  it('never runs more sends at once than a backend allows, while other backends and the worker run more', async () => {
    const two = probe('two', { concurrency: 2 }, 30);
    const three = probe('three', { concurrency: 3 }, 30);
    const free = probe('free', {}, 30);
    const herald = heraldWith(memoryStore(), [two, three, free]);
    await herald.notify(ping, { n: 1 }, [...recipients('two', 12), ...recipients('three', 12)]);
    expect(await herald.drain({ concurrency: 16 })).toEqual({ sent: 24, failed: 0, retrying: 0 });
    expect(two.peak).toBe(2);
    expect(three.peak).toBe(3);
    // The control: with no backend limit the same worker overlaps far more sends, so the bounds above are the backends'.
    await herald.notify(ping, { n: 2 }, recipients('free', 16));
    expect(await herald.drain({ concurrency: 16 })).toEqual({ sent: 16, failed: 0, retrying: 0 });
    expect(free.peak).toBeGreaterThan(3);
    await herald.close();
  });
});

describe('worker: per-backend rateLimit', () => {
  const perSecond = 20;
  /** Time from the first send's start to the last one's, in ms. */
  const span = (p: Probe) => p.starts.at(-1)! - p.starts[0]!;
  // Timers may fire a little early against performance.now(): allow 5 %.
  const atLeast = (ms: number) => ms * 0.95;

  it('spaces sends in process when the store has no shared rate: N sends span at least (N-1)/perSecond', async () => {
    const limited = probe('limited', { rateLimit: { perSecond } }, 0);
    const herald = heraldWith(withoutSharedRate(memoryStore()), [limited]);
    const n = 11;
    await herald.notify(ping, { n: 1 }, recipients('limited', n));
    expect(await herald.drain({ concurrency: 16 })).toEqual({ sent: n, failed: 0, retrying: 0 });
    expect(span(limited)).toBeGreaterThanOrEqual(atLeast(((n - 1) / perSecond) * 1000));
    await herald.close();
  });

  it("uses the store's shared bucket (a burst of perSecond, then one per interval): N sends span at least (N-perSecond)/perSecond", async () => {
    const store = memoryStore();
    expect(store.reserveRate).toBeTypeOf('function');
    const limited = probe('limited', { rateLimit: { perSecond } }, 0);
    const herald = heraldWith(store, [limited]);
    const n = 30;
    await herald.notify(ping, { n: 1 }, recipients('limited', n));
    expect(await herald.drain({ concurrency: 16 })).toEqual({ sent: n, failed: 0, retrying: 0 });
    expect(span(limited)).toBeGreaterThanOrEqual(atLeast(((n - perSecond) / perSecond) * 1000));
    await herald.close();
  });
});
