import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, ValidationError } from '../errors';
import { newId } from '../ids';
import {
  ABANDONED_ATTEMPT_ERROR,
  type Attempt,
  type AttemptOutcome,
  type Delivery,
  type InboundEvent,
  type NewDelivery,
  type OutboundMessage,
  type Store,
  type Suppression,
  type TrackingEvent,
} from '../types';

/**
 * What a {@link testStore} factory returns: a fresh store, and how to dispose of what it used.
 *
 * @example
 * ```ts
 * const made: StoreUnderTest = { store: memoryStore(), cleanup: async () => {} };
 * ```
 */
export interface StoreUnderTest {
  store: Store;
  /** Runs after `store.close()`: remove temp files, drop the schema… */
  cleanup?: () => Promise<void>;
}

/**
 * What a store under {@link testStore} can do beyond the required contract.
 *
 * @example
 * ```ts
 * testStore('postgres', factory, { joinsTransactions: true });
 * ```
 */
export interface TestStoreOptions {
  /**
   * The store joins a caller's transaction handle passed as `enqueue(rows, { transaction })` (a pg client inside
   * `BEGIN`). Stores that cannot must reject every handle with `ConfigError`; stores that can must still reject
   * an object that is no handle of theirs.
   * @default false
   */
  joinsTransactions?: boolean;
}

/**
 * A valid `NewDelivery` (a queued email, due now) with `overrides` applied. The rendered message follows
 * the overrides' id, notification, protocol, backend and address unless `message` itself is overridden.
 *
 * @example
 * ```ts
 * await store.enqueue([makeDelivery({ backend: 'sms-1', protocol: 'sms', address: '+14155550123' })]);
 * ```
 */
export function makeDelivery(overrides: Partial<NewDelivery> = {}): NewDelivery {
  const createdAt = overrides.createdAt ?? new Date();
  const base: NewDelivery = {
    id: newId('dlv_'),
    batchId: newId('bat_'),
    notification: 'order-shipped',
    category: 'orders',
    recipientId: 'user-1',
    protocol: 'email',
    address: 'ada@example.org',
    backend: 'smtp',
    status: 'queued',
    skipReason: null,
    dedupeKey: null,
    dedupeSince: null,
    dedupeAddress: null,
    maxAttempts: 5,
    message: null,
    createdAt,
    nextAttemptAt: createdAt,
    expiresAt: null,
    ...overrides,
  };
  if (!('message' in overrides)) base.message = makeStoredMessage(base);
  return base;
}

/**
 * The rendered message of a delivery, with a variety of JSON values so stores prove they round-trip it.
 *
 * @example
 * ```ts
 * const message = makeStoredMessage({ id: 'dlv_1', notification: 'welcome', protocol: 'email', backend: 'smtp', address: 'a@b.example' });
 * ```
 */
export function makeStoredMessage(
  delivery: Pick<NewDelivery, 'id' | 'notification' | 'protocol' | 'backend' | 'address'>,
): OutboundMessage {
  return {
    deliveryId: delivery.id,
    notification: delivery.notification,
    protocol: delivery.protocol,
    backend: delivery.backend ?? 'none',
    to: delivery.address,
    recipient: { id: 'user-1', name: 'Ada Lovelace' },
    content: {
      format: 'params',
      subject: 'Your order A1 — shipped ✓',
      text: 'Line one\nLine "two"\t\\ tab',
      html: '<p>Order <b>A1</b> &amp; more 🚚</p>',
      params: { order: { id: 'A1', total: 12.5, items: [1, 2, 3], gift: false, note: null }, unicode: 'žluťoučký kůň' },
    },
    attachments: [{ filename: 'invoice.pdf', contentType: 'application/pdf', content: 'JVBERi0xLjQK' }],
    options: { tags: ['orders'], metadata: { orderId: 'A1' }, headers: { 'X-Priority': '1' } },
  };
}

/**
 * An attempt-log entry for `deliveryId` with `overrides` applied.
 *
 * @example
 * ```ts
 * await store.finish(id, owner, { status: 'sent', providerMessageId: 'pm-1', attempt: makeAttempt(id) });
 * ```
 */
export function makeAttempt(deliveryId: string, overrides: Partial<Attempt> = {}): Attempt {
  return {
    deliveryId,
    attempt: 1,
    startedAt: new Date(),
    durationMs: 42,
    outcome: 'sent',
    backend: 'smtp',
    request: { backend: 'smtp', to: 'ada@example.org', subject: 'Your order A1' },
    response: { id: 'pm-1', accepted: ['ada@example.org'], nested: { ok: true, n: 1 } },
    error: null,
    workerId: 'worker-1',
    ...overrides,
  };
}

/**
 * A normalized tracking event with `overrides` applied (a `delivered` event with a fresh event id).
 *
 * @example
 * ```ts
 * await store.recordEvent('smtp', makeEvent({ messageId: 'pm-1', eventType: 'opened' }), { now: new Date(), status: 'opened' });
 * ```
 */
export function makeEvent(overrides: Partial<TrackingEvent> = {}): TrackingEvent {
  return {
    eventType: 'delivered',
    eventId: newId('evt_'),
    messageId: null,
    timestamp: new Date(),
    recipient: 'ada@example.org',
    metadata: { orderId: 'A1' },
    tags: ['orders'],
    rejectReason: null,
    description: null,
    mtaResponse: '250 2.0.0 OK',
    userAgent: null,
    clickUrl: null,
    raw: { RecordType: 'Delivery', Details: ['a', 1, true, null] },
    ...overrides,
  };
}

/**
 * An inbound message event with `overrides` applied.
 *
 * @example
 * ```ts
 * expect(await store.recordInbound('postal', makeInbound({ eventId: 'in-1' }), new Date())).toBe(true);
 * ```
 */
export function makeInbound(overrides: Partial<InboundEvent> = {}): InboundEvent {
  return {
    eventType: 'inbound',
    eventId: newId('in_'),
    timestamp: new Date(),
    message: {
      from: 'Ada <ada@example.org>',
      to: ['support@example.com'],
      cc: [],
      subject: 'Re: your order',
      date: new Date(),
      text: 'Thanks!',
      html: null,
      headers: { 'Message-ID': '<x@example.org>' },
      attachments: [],
      envelopeSender: 'ada@example.org',
      envelopeRecipient: 'support@example.com',
      spamScore: 0.5,
    },
    raw: { any: 'thing' },
    ...overrides,
  };
}

const MINUTE = 60_000;

/**
 * The shared conformance suite of the {@link Store} contract, in the contract's parts: lifecycle,
 * {@link QueueStore}, {@link DeliveryLog}, {@link EventLog} and {@link Audience}. Call it from a store package's
 * test file; each test gets a fresh store from `factory`, migrated by the suite (`migrate()` first, as core does),
 * and the suite closes it (then runs `cleanup`) afterwards. Optional methods (`finishMany`, `enqueueSync`,
 * `reserveRate`, `subscribe`) are tested only when the store has them.
 *
 * @example
 * ```ts
 * // packages/store-foo/test/store.test.ts
 * import { testStore } from '@herald/core/testing/vitest';
 * import { fooStore } from '../src';
 *
 * testStore('foo', async () => {
 *   const store = fooStore({ url: process.env.FOO_URL });
 *   return { store, cleanup: async () => dropSchema() };
 * });
 * ```
 */
export function testStore(name: string, factory: () => Promise<StoreUnderTest>, options: TestStoreOptions = {}): void {
  describe(`store conformance: ${name}`, () => {
    let store: Store;
    let cleanup: (() => Promise<void>) | undefined;
    // Everything the tests create is due a minute ago unless they say otherwise, so a claim at the real clock finds it.
    let base: number;
    const at = (offsetMs: number) => new Date(base + offsetMs);

    beforeEach(async () => {
      const made = await factory();
      store = made.store;
      cleanup = made.cleanup;
      await store.migrate();
      base = Date.now() - 10 * MINUTE;
    });

    afterEach(async () => {
      await store.close();
      await cleanup?.();
    });

    async function enqueueOne(overrides: Partial<NewDelivery> = {}): Promise<NewDelivery> {
      const row = makeDelivery({ createdAt: at(0), nextAttemptAt: at(0), ...overrides });
      await store.enqueue([row]);
      return row;
    }

    async function claimOne(owner = 'w1', now = at(MINUTE), leaseMs = 30_000): Promise<Delivery> {
      const claimed = await store.claim({ owner, limit: 1, leaseMs, now });
      expect(claimed).toHaveLength(1);
      return claimed[0]!;
    }

    async function sendOne(messageId: string, overrides: Partial<NewDelivery> = {}): Promise<Delivery> {
      const row = await enqueueOne(overrides);
      await claimOne('w1');
      expect(await store.finish(row.id, 'w1', sentOutcome(row.id, messageId))).toBe(true);
      return (await store.get(row.id))!;
    }

    function sentOutcome(id: string, providerMessageId: string | null = 'pm-1', attempt = 1): AttemptOutcome {
      return { status: 'sent', providerMessageId, attempt: makeAttempt(id, { attempt, startedAt: at(MINUTE) }) };
    }

    /** The attempt-log entry a store must write when it reclaims the lease `owner` took at `claimedAt`. */
    function abandoned(id: string, attempt: number, owner: string, claimedAt: Date, leaseMs: number, backend: string | null = 'smtp'): Attempt {
      return {
        deliveryId: id,
        attempt,
        startedAt: claimedAt,
        durationMs: leaseMs,
        outcome: 'abandoned',
        backend,
        request: null,
        response: null,
        error: ABANDONED_ATTEMPT_ERROR,
        workerId: owner,
      };
    }

    /** A `retrying` outcome that moves the delivery to `backend` with a message rendered for it. */
    function failoverOutcome(row: NewDelivery, backend: string, maxAttempts: number): AttemptOutcome & { status: 'retrying' } {
      const message = makeStoredMessage({ ...row, backend });
      message.content = { format: 'text', text: `rendered for ${backend} — ✓` };
      return {
        status: 'retrying',
        nextAttemptAt: at(2 * MINUTE),
        error: '535 authentication failed',
        attempt: makeAttempt(row.id, { outcome: 'permanent', backend: row.backend, error: '535 authentication failed', startedAt: at(MINUTE) }),
        failover: { backend, message, maxAttempts },
      };
    }

    // ───────────────────────── lifecycle ─────────────────────────

    describe('lifecycle: migrate, prune', () => {
      it('migrate is idempotent: running it again keeps the data', async () => {
        const row = await enqueueOne();
        await store.migrate();
        await store.migrate();
        expect((await store.get(row.id))?.id).toBe(row.id);
      });

      it('migrate can run concurrently', async () => {
        await Promise.all([store.migrate(), store.migrate(), store.migrate()]);
        await enqueueOne();
        expect(await store.list()).toHaveLength(1);
      });

      it('prune removes finished deliveries updated before olderThan, with their attempts and events, in batches', async () => {
        const sent: Delivery[] = [];
        for (const pm of ['pm-p1', 'pm-p2', 'pm-p3']) sent.push(await sendOne(pm));
        await store.recordEvent('smtp', makeEvent({ messageId: 'pm-p1' }), { now: new Date(), status: 'delivered' });
        const failed = await enqueueOne();
        await claimOne();
        await store.finish(failed.id, 'w1', { status: 'failed', error: 'x', attempt: makeAttempt(failed.id, { outcome: 'permanent' }) });
        const skipped = await enqueueOne({ status: 'skipped', skipReason: 'opted-out', nextAttemptAt: null });
        const queued = await enqueueOne({ nextAttemptAt: at(10 * MINUTE) });
        const retrying = await enqueueOne();
        await claimOne();
        await store.finish(retrying.id, 'w1', { status: 'retrying', nextAttemptAt: at(20 * MINUTE), error: 'e', attempt: makeAttempt(retrying.id) });
        const sending = await enqueueOne();
        await claimOne();

        expect(await store.prune({ olderThan: new Date(Date.now() - 60 * MINUTE) })).toBe(0);
        expect(await store.list()).toHaveLength(8);

        expect(await store.prune({ olderThan: new Date(Date.now() + MINUTE), batchSize: 2 })).toBe(5);
        const left = (await store.list()).map((d) => d.id).sort();
        expect(left).toEqual([queued.id, retrying.id, sending.id].sort());
        for (const id of [...sent.map((d) => d.id), failed.id, skipped.id]) {
          expect(await store.get(id)).toBeNull();
          expect(await store.attempts(id)).toEqual([]);
          expect(await store.events(id)).toEqual([]);
        }
        expect(await store.attempts(retrying.id)).toHaveLength(1);
        expect(await store.prune({ olderThan: new Date(Date.now() + MINUTE) })).toBe(0);
      });

      // Regression: PostgreSQL's prune() kept old inbound events and unmatched tracking events forever.
      it('prune removes old inbound events and old unmatched tracking events; keeps recent ones and events of kept deliveries', async () => {
        const old = new Date(Date.now() - 2 * 60 * MINUTE);
        const cutoff = new Date(Date.now() - 60 * MINUTE);
        const kept = await sendOne('pm-kept');
        // An old event of a delivery that stays (status unchanged, so its updatedAt stays recent).
        const keptEvent = makeEvent({ messageId: 'pm-kept', eventType: 'unknown' });
        await store.recordEvent('smtp', keptEvent, { now: old, status: null });
        const oldOrphans = Array.from({ length: 3 }, () => makeEvent({ messageId: 'pm-nobody' }));
        for (const event of oldOrphans) await store.recordEvent('smtp', event, { now: old, status: 'delivered' });
        const recentOrphan = makeEvent({ messageId: 'pm-nobody' });
        await store.recordEvent('smtp', recentOrphan, { now: new Date(), status: 'delivered' });
        const oldInbound = Array.from({ length: 3 }, () => makeInbound());
        for (const event of oldInbound) await store.recordInbound('postal', event, old);
        const recentInbound = makeInbound();
        await store.recordInbound('postal', recentInbound, new Date());

        expect(await store.prune({ olderThan: cutoff, batchSize: 2 })).toBe(0);

        expect(await store.get(kept.id)).not.toBeNull();
        expect((await store.events(kept.id)).map((e) => e.eventId)).toEqual([keptEvent.eventId]);
        // Recording again is the contract's only view of an unmatched event: true means it was deleted.
        for (const event of oldOrphans) expect((await store.recordEvent('smtp', event, { now: new Date(), status: null })).inserted).toBe(true);
        expect((await store.recordEvent('smtp', recentOrphan, { now: new Date(), status: null })).inserted).toBe(false);
        for (const event of oldInbound) expect(await store.recordInbound('postal', event, new Date())).toBe(true);
        expect(await store.recordInbound('postal', recentInbound, new Date())).toBe(false);
      });
    });

    // ───────────────────────── QueueStore ─────────────────────────

    describe('QueueStore', () => {
      describe('enqueue', () => {
        it('stores every field, with Dates (ms precision) and the JSON message round-tripping exactly', async () => {
          const createdAt = new Date(Date.UTC(2031, 4, 6, 7, 8, 9, 123));
          const row = makeDelivery({
            createdAt,
            nextAttemptAt: new Date(createdAt.getTime() + 1),
            expiresAt: new Date(createdAt.getTime() + 86_400_007),
            maxAttempts: 7,
            category: null,
            recipientId: null,
          });
          expect(await store.enqueue([row])).toEqual({ duplicates: [] });
          const got = await store.get(row.id);
          expect(got).not.toBeNull();
          const d = got!;
          expect(d).toMatchObject({
            id: row.id,
            batchId: row.batchId,
            notification: row.notification,
            category: null,
            recipientId: null,
            protocol: 'email',
            address: row.address,
            backend: 'smtp',
            status: 'queued',
            skipReason: null,
            dedupeKey: null,
            attempts: 0,
            maxAttempts: 7,
            providerMessageId: null,
            lastError: null,
            leaseOwner: null,
            leaseUntil: null,
            sentAt: null,
          });
          expect(d.message).toEqual(row.message);
          for (const date of [d.createdAt, d.updatedAt, d.nextAttemptAt, d.expiresAt]) expect(date).toBeInstanceOf(Date);
          expect(d.createdAt.getTime()).toBe(createdAt.getTime());
          expect(d.nextAttemptAt!.getTime()).toBe(createdAt.getTime() + 1);
          expect(d.expiresAt!.getTime()).toBe(createdAt.getTime() + 86_400_007);
        });

        it('accepts an empty batch', async () => {
          expect(await store.enqueue([])).toEqual({ duplicates: [] });
          expect(await store.list()).toEqual([]);
        });

        it('stores a whole batch', async () => {
          const batchId = newId('bat_');
          const rows = Array.from({ length: 25 }, (_, i) => makeDelivery({ batchId, address: `u${i}@example.org` }));
          await store.enqueue(rows);
          expect(await store.list({ batchId })).toHaveLength(25);
        });

        it('is atomic: a duplicate id inside the batch stores nothing', async () => {
          const a = makeDelivery();
          const b = makeDelivery();
          await expect(store.enqueue([a, b, { ...a, address: 'other@example.org' }])).rejects.toThrow();
          expect(await store.get(a.id)).toBeNull();
          expect(await store.get(b.id)).toBeNull();
          expect(await store.list()).toEqual([]);
        });

        it('is atomic: an id that already exists stores nothing of the new batch', async () => {
          const existing = await enqueueOne();
          const fresh = makeDelivery();
          await expect(store.enqueue([fresh, makeDelivery({ id: existing.id })])).rejects.toThrow();
          expect(await store.get(fresh.id)).toBeNull();
          expect(await store.list()).toHaveLength(1);
        });

        it('stores skipped rows with their reason, and never claims them', async () => {
          const row = await enqueueOne({ status: 'skipped', skipReason: 'opted-out', nextAttemptAt: null });
          const got = await store.get(row.id);
          expect(got).toMatchObject({ status: 'skipped', skipReason: 'opted-out' });
          expect(await store.claim({ owner: 'w1', limit: 10, leaseMs: 1000, now: at(MINUTE) })).toEqual([]);
        });

        // Regression: SQLite and the memory store silently ignored `{ transaction }` (notify() then committed on its own).
        it('a transaction handle the store cannot join is a ConfigError, and nothing is stored', async () => {
          const row = makeDelivery();
          const handles: unknown[] = options.joinsTransactions ? [{ notAHandle: true }] : [{ notAHandle: true }, { query: async () => ({ rows: [] }) }];
          for (const transaction of handles) {
            await expect(store.enqueue([row], { transaction })).rejects.toThrow(ConfigError);
          }
          expect(await store.get(row.id)).toBeNull();
        });

        describe('dedupe', () => {
          const dedupe = (overrides: Partial<NewDelivery> = {}) => ({
            dedupeKey: 'order-A1',
            dedupeAddress: 'ada@example.org',
            dedupeSince: at(-MINUTE),
            ...overrides,
          });

          it('skips a row as duplicate when a live delivery has the same key and address in the window', async () => {
            const first = await enqueueOne(dedupe());
            const second = makeDelivery({ ...dedupe(), createdAt: at(1000), nextAttemptAt: at(1000) });
            const other = makeDelivery({ createdAt: at(1000) });
            expect(await store.enqueue([second, other])).toEqual({ duplicates: [second.id] });
            expect(await store.get(second.id)).toMatchObject({ status: 'skipped', skipReason: 'duplicate' });
            expect(await store.get(first.id)).toMatchObject({ status: 'queued' });
            expect(await store.get(other.id)).toMatchObject({ status: 'queued' });
            const claimed = await store.claim({ owner: 'w1', limit: 10, leaseMs: 1000, now: at(MINUTE) });
            expect(claimed.map((d) => d.id).sort()).toEqual([first.id, other.id].sort());
          });

          it('counts deliveries that were already sent', async () => {
            await sendOne('pm-dedupe', dedupe());
            const again = makeDelivery({ ...dedupe(), createdAt: at(2 * MINUTE) });
            expect((await store.enqueue([again])).duplicates).toEqual([again.id]);
          });

          it('compares key and address separately', async () => {
            await enqueueOne(dedupe());
            const otherAddress = makeDelivery(dedupe({ dedupeAddress: 'bob@example.org', address: 'bob@example.org' }));
            const otherKey = makeDelivery(dedupe({ dedupeKey: 'order-A2' }));
            expect(await store.enqueue([otherAddress, otherKey])).toEqual({ duplicates: [] });
          });

          // Regression: core normalizes dedupeAddress; PostgreSQL substituted the raw address when it was null.
          it('compares dedupeAddress exactly as given: no normalization of its own, null matches null', async () => {
            await enqueueOne(dedupe());
            const otherCase = makeDelivery(dedupe({ dedupeAddress: 'Ada@Example.org' }));
            expect(await store.enqueue([otherCase])).toEqual({ duplicates: [] });
            await enqueueOne(dedupe({ dedupeKey: 'no-address', dedupeAddress: null, address: 'one@example.org' }));
            const sameKey = makeDelivery(dedupe({ dedupeKey: 'no-address', dedupeAddress: null, address: 'two@example.org' }));
            expect(await store.enqueue([sameKey])).toEqual({ duplicates: [sameKey.id] });
          });

          it('ignores failed and skipped deliveries', async () => {
            const failed = await enqueueOne(dedupe());
            await claimOne();
            expect(await store.finish(failed.id, 'w1', { status: 'failed', error: 'boom', attempt: makeAttempt(failed.id, { outcome: 'permanent' }) })).toBe(true);
            await enqueueOne({ ...dedupe(), status: 'skipped', skipReason: 'opted-out', nextAttemptAt: null });
            const again = makeDelivery({ ...dedupe(), createdAt: at(1000) });
            expect(await store.enqueue([again])).toEqual({ duplicates: [] });
            expect(await store.get(again.id)).toMatchObject({ status: 'queued' });
          });

          it('ignores deliveries created before dedupeSince, counts one created exactly at it', async () => {
            await enqueueOne({ ...dedupe(), createdAt: at(-2 * MINUTE) });
            const outside = makeDelivery({ ...dedupe({ dedupeSince: at(-MINUTE) }), createdAt: at(0) });
            expect(await store.enqueue([outside])).toEqual({ duplicates: [] });
            const exact = makeDelivery({ ...dedupe({ dedupeSince: at(0) }), createdAt: at(1) });
            expect(await store.enqueue([exact])).toEqual({ duplicates: [exact.id] });
          });

          it('is atomic with the insert: concurrent enqueues of the same key create one live delivery', async () => {
            const rows = Array.from({ length: 5 }, () => makeDelivery(dedupe()));
            const results = await Promise.all(rows.map((row) => store.enqueue([row])));
            expect(results.flatMap((r) => r.duplicates)).toHaveLength(4);
            expect(await store.count()).toEqual(expect.objectContaining({ queued: 1, skipped: 4 }));
          });
        });
      });

      describe('enqueueSync (if implemented)', () => {
        it('stores rows at once, synchronously, with the dedupe check and the same atomicity', async (ctx) => {
          if (!store.enqueueSync) return ctx.skip();
          const first = makeDelivery({ dedupeKey: 'k-sync', dedupeAddress: 'ada@example.org', dedupeSince: null });
          const second = makeDelivery({ dedupeKey: 'k-sync', dedupeAddress: 'ada@example.org', dedupeSince: null });
          const result = store.enqueueSync([first, second]);
          expect(result).not.toBeInstanceOf(Promise);
          expect(result).toEqual({ duplicates: [second.id] });
          const fresh = makeDelivery();
          expect(() => store.enqueueSync!([fresh, makeDelivery({ id: first.id })])).toThrow(ValidationError);
          expect(await store.get(first.id)).toMatchObject({ status: 'queued', message: first.message });
          expect(await store.get(second.id)).toMatchObject({ status: 'skipped', skipReason: 'duplicate' });
          expect(await store.get(fresh.id)).toBeNull();
        });

        it('rejects a transaction handle that is not its own with a ConfigError', async (ctx) => {
          if (!store.enqueueSync) return ctx.skip();
          expect(() => store.enqueueSync!([makeDelivery()], { transaction: { notAHandle: true } })).toThrow(ConfigError);
        });
      });

      describe('claim', () => {
        it('claims only due queued/retrying rows and marks them sending with a lease and one more attempt', async () => {
          const due = await enqueueOne();
          const later = await enqueueOne({ nextAttemptAt: at(2 * MINUTE) });
          const now = at(MINUTE);
          const claimed = await store.claim({ owner: 'w1', limit: 10, leaseMs: 30_000, now });
          expect(claimed.map((d) => d.id)).toEqual([due.id]);
          const [d] = claimed;
          expect(d).toMatchObject({ status: 'sending', leaseOwner: 'w1', attempts: 1 });
          expect(d!.leaseUntil).toBeInstanceOf(Date);
          expect(d!.leaseUntil!.getTime()).toBe(now.getTime() + 30_000);
          expect(d!.message).toEqual(due.message);
          expect(await store.get(due.id)).toMatchObject({ status: 'sending', leaseOwner: 'w1', attempts: 1 });
          expect(await store.get(later.id)).toMatchObject({ status: 'queued', attempts: 0 });
          expect(await store.attempts(due.id)).toEqual([]);
        });

        it('counts a row due exactly now', async () => {
          const row = await enqueueOne({ nextAttemptAt: at(5000) });
          const claimed = await store.claim({ owner: 'w1', limit: 10, leaseMs: 1000, now: at(5000) });
          expect(claimed.map((d) => d.id)).toEqual([row.id]);
        });

        it('does not claim finished rows', async () => {
          await sendOne('pm-x');
          const failed = await enqueueOne();
          await claimOne();
          await store.finish(failed.id, 'w1', { status: 'failed', error: 'no', attempt: makeAttempt(failed.id, { outcome: 'permanent' }) });
          expect(await store.claim({ owner: 'w2', limit: 10, leaseMs: 1000, now: at(60 * MINUTE) })).toEqual([]);
        });

        it('respects limit and orders by nextAttemptAt, then id', async () => {
          const rows = [
            makeDelivery({ id: 'c-3', nextAttemptAt: at(10) }),
            makeDelivery({ id: 'c-2', nextAttemptAt: at(10) }),
            makeDelivery({ id: 'c-9', nextAttemptAt: at(5) }),
            makeDelivery({ id: 'c-1', nextAttemptAt: at(20) }),
            makeDelivery({ id: 'c-0', nextAttemptAt: at(30) }),
          ];
          await store.enqueue(rows);
          const first = await store.claim({ owner: 'w1', limit: 3, leaseMs: 1000, now: at(MINUTE) });
          expect(first.map((d) => d.id)).toEqual(['c-9', 'c-2', 'c-3']);
          const second = await store.claim({ owner: 'w1', limit: 3, leaseMs: 1000, now: at(MINUTE) });
          expect(second.map((d) => d.id)).toEqual(['c-1', 'c-0']);
          expect(await store.claim({ owner: 'w1', limit: 3, leaseMs: 1000, now: at(MINUTE) })).toEqual([]);
        });

        it('does not hand a delivery under a live lease to another worker', async () => {
          await enqueueOne();
          await claimOne('w1', at(MINUTE), 30_000);
          expect(await store.claim({ owner: 'w2', limit: 10, leaseMs: 1000, now: at(MINUTE + 29_999) })).toEqual([]);
        });

        it('reclaims a delivery whose lease expired, counting another attempt', async () => {
          const row = await enqueueOne();
          await claimOne('w1', at(MINUTE), 30_000);
          const reclaimed = await store.claim({ owner: 'w2', limit: 10, leaseMs: 5000, now: at(MINUTE + 30_001) });
          expect(reclaimed.map((d) => d.id)).toEqual([row.id]);
          expect(reclaimed[0]).toMatchObject({ status: 'sending', leaseOwner: 'w2', attempts: 2 });
          expect(reclaimed[0]!.leaseUntil!.getTime()).toBe(at(MINUTE + 35_001).getTime());
        });

        // Regression: after a worker died mid-send, the delivery showed `attempts: 2` but one attempt-log entry;
        // the lost attempt, which may have reached the provider, left no trace.
        it('reclaiming an expired lease records the lost attempt as abandoned (number, owner, claim time, backend)', async () => {
          const row = await enqueueOne();
          await claimOne('w1', at(MINUTE), 30_000);
          await store.claim({ owner: 'w2', limit: 10, leaseMs: 5000, now: at(MINUTE + 30_001) });
          const lost = abandoned(row.id, 1, 'w1', at(MINUTE), 30_000);
          expect(await store.attempts(row.id)).toEqual([lost]);
          // w2 dies too; w3 reclaims and sends: the log shows both lost attempts, then the one that was recorded.
          await store.claim({ owner: 'w3', limit: 10, leaseMs: 5000, now: at(MINUTE + 40_000) });
          const sent = makeAttempt(row.id, { attempt: 3, workerId: 'w3', startedAt: at(MINUTE + 40_000) });
          expect(await store.finish(row.id, 'w3', { status: 'sent', providerMessageId: 'pm-3', attempt: sent })).toBe(true);
          expect(await store.attempts(row.id)).toEqual([lost, abandoned(row.id, 2, 'w2', at(MINUTE + 30_001), 5000), sent]);
          expect(await store.get(row.id)).toMatchObject({ status: 'sent', attempts: 3 });
        });

        it('an abandoned attempt is logged once per lost lease, with the backend the delivery had, whatever the batch', async () => {
          const rows = [
            makeDelivery({ id: 'ab-1', createdAt: at(0), nextAttemptAt: at(0) }),
            makeDelivery({ id: 'ab-2', createdAt: at(0), nextAttemptAt: at(1), backend: null, message: null }),
            makeDelivery({ id: 'ab-3', createdAt: at(0), nextAttemptAt: at(MINUTE + 20_000) }),
          ];
          await store.enqueue(rows);
          expect((await store.claim({ owner: 'w1', limit: 2, leaseMs: 10_000, now: at(MINUTE) })).map((d) => d.id)).toEqual(['ab-1', 'ab-2']);
          // One claim picks two expired leases and one queued row.
          const second = await store.claim({ owner: 'w2', limit: 10, leaseMs: 10_000, now: at(MINUTE + 30_000) });
          expect(second.map((d) => d.id)).toEqual(['ab-1', 'ab-2', 'ab-3']);
          expect(await store.attempts('ab-1')).toEqual([abandoned('ab-1', 1, 'w1', at(MINUTE), 10_000)]);
          expect(await store.attempts('ab-2')).toEqual([abandoned('ab-2', 1, 'w1', at(MINUTE), 10_000, null)]);
          expect(await store.attempts('ab-3')).toEqual([]);
          // A graceful release gives the lease back without an abandoned entry.
          await store.release(['ab-3'], 'w2');
          const third = await store.claim({ owner: 'w3', limit: 10, leaseMs: 10_000, now: new Date(Date.now() + 1000), backends: ['smtp'] });
          expect(third.map((d) => d.id).sort()).toEqual(['ab-1', 'ab-3']);
          expect(await store.attempts('ab-3')).toEqual([]);
          expect((await store.attempts('ab-1')).map((a) => [a.attempt, a.outcome, a.workerId])).toEqual([
            [1, 'abandoned', 'w1'],
            [2, 'abandoned', 'w2'],
          ]);
        });

        it('claims retrying rows once they are due', async () => {
          const row = await enqueueOne();
          await claimOne();
          await store.finish(row.id, 'w1', {
            status: 'retrying',
            nextAttemptAt: at(5 * MINUTE),
            error: 'try later',
            attempt: makeAttempt(row.id, { outcome: 'transient' }),
          });
          expect(await store.claim({ owner: 'w1', limit: 10, leaseMs: 1000, now: at(5 * MINUTE - 1) })).toEqual([]);
          const claimed = await store.claim({ owner: 'w1', limit: 10, leaseMs: 1000, now: at(5 * MINUTE) });
          expect(claimed.map((d) => d.id)).toEqual([row.id]);
          expect(claimed[0]).toMatchObject({ status: 'sending', attempts: 2 });
        });

        it('filters by backends', async () => {
          const smtp = await enqueueOne({ backend: 'smtp' });
          const sms = await enqueueOne({ backend: 'twilio', protocol: 'sms', address: '+14155550123' });
          expect(await store.claim({ owner: 'w1', limit: 10, leaseMs: 1000, now: at(MINUTE), backends: ['slack'] })).toEqual([]);
          const claimed = await store.claim({ owner: 'w1', limit: 10, leaseMs: 1000, now: at(MINUTE), backends: ['twilio', 'slack'] });
          expect(claimed.map((d) => d.id)).toEqual([sms.id]);
          expect(await store.get(smtp.id)).toMatchObject({ status: 'queued' });
        });

        it('never hands one delivery to two concurrent claims', async () => {
          const rows = Array.from({ length: 60 }, () => makeDelivery({ createdAt: at(0), nextAttemptAt: at(0) }));
          await store.enqueue(rows);
          const batches = await Promise.all(
            Array.from({ length: 6 }, (_, i) => store.claim({ owner: `w${i}`, limit: 15, leaseMs: 30_000, now: at(MINUTE) })),
          );
          const ids = batches.flat().map((d) => d.id);
          expect(new Set(ids).size).toBe(ids.length);
          expect(ids.length).toBe(60);
          for (const [i, batch] of batches.entries()) {
            for (const d of batch) expect((await store.get(d.id))?.leaseOwner).toBe(`w${i}`);
          }
        });
      });

      describe('finish', () => {
        it('sent: records the attempt, the provider message id and sentAt, and drops the lease', async () => {
          const row = await enqueueOne();
          await claimOne();
          const attempt = makeAttempt(row.id, { startedAt: new Date(Date.UTC(2031, 0, 2, 3, 4, 5, 678)), durationMs: 321 });
          expect(await store.finish(row.id, 'w1', { status: 'sent', providerMessageId: 'pm-42', attempt })).toBe(true);
          const d = await store.get(row.id);
          expect(d).toMatchObject({ status: 'sent', providerMessageId: 'pm-42', leaseOwner: null, leaseUntil: null, nextAttemptAt: null, attempts: 1 });
          expect(d!.sentAt).toBeInstanceOf(Date);
          expect(await store.attempts(row.id)).toEqual([attempt]);
        });

        it('sent without a provider message id', async () => {
          const row = await enqueueOne();
          await claimOne();
          expect(await store.finish(row.id, 'w1', sentOutcome(row.id, null))).toBe(true);
          expect(await store.get(row.id)).toMatchObject({ status: 'sent', providerMessageId: null });
        });

        it('retrying: records the error and when the next attempt is due', async () => {
          const row = await enqueueOne();
          await claimOne();
          const attempt = makeAttempt(row.id, { outcome: 'transient', error: '421 try later', response: '421 try later' });
          expect(
            await store.finish(row.id, 'w1', { status: 'retrying', nextAttemptAt: at(3 * MINUTE + 7), error: '421 try later', attempt }),
          ).toBe(true);
          const d = await store.get(row.id);
          expect(d).toMatchObject({ status: 'retrying', lastError: '421 try later', leaseOwner: null, leaseUntil: null, attempts: 1, backend: 'smtp' });
          expect(d!.nextAttemptAt!.getTime()).toBe(at(3 * MINUTE + 7).getTime());
          expect(await store.attempts(row.id)).toEqual([attempt]);
          expect(await store.nextDueAt()).toEqual(at(3 * MINUTE + 7));
        });

        // Regression: failover only picked the first backend; the store had no way to move a delivery to the next one.
        it('retrying with failover: moves the delivery to the new backend, message and attempt budget in the same write', async () => {
          const row = await enqueueOne({ maxAttempts: 3, expiresAt: at(60 * MINUTE) });
          await claimOne();
          const outcome = failoverOutcome(row, 'postmark', 6);
          expect(await store.finish(row.id, 'w1', outcome)).toBe(true);
          const d = await store.get(row.id);
          expect(d).toMatchObject({ status: 'retrying', backend: 'postmark', maxAttempts: 6, attempts: 1, lastError: '535 authentication failed' });
          expect(d!.message).toEqual(outcome.failover!.message);
          expect(d!.expiresAt).toEqual(at(60 * MINUTE));
          expect(await store.attempts(row.id)).toEqual([outcome.attempt]);
          expect((await store.attempts(row.id))[0]?.backend).toBe('smtp');
          // Claims filter by the new backend and hand out the new message.
          expect(await store.claim({ owner: 'w1', limit: 10, leaseMs: 1000, now: at(2 * MINUTE), backends: ['smtp'] })).toEqual([]);
          const [claimed] = await store.claim({ owner: 'w2', limit: 10, leaseMs: 1000, now: at(2 * MINUTE), backends: ['postmark'] });
          expect(claimed).toMatchObject({ id: row.id, backend: 'postmark', attempts: 2 });
          expect(claimed!.message).toEqual(outcome.failover!.message);
          expect(await store.list({ backend: 'postmark' })).toHaveLength(1);
        });

        it('retrying with failover stores the new message even when the delivery had none', async () => {
          const row = await enqueueOne({ message: null });
          await claimOne();
          const outcome = failoverOutcome(row, 'postmark', 4);
          expect(await store.finish(row.id, 'w1', outcome)).toBe(true);
          expect((await store.get(row.id))?.message).toEqual(outcome.failover!.message);
        });

        it('a failover from an owner that lost the lease changes nothing', async () => {
          const row = await enqueueOne();
          const claimed = await claimOne();
          expect(await store.finish(row.id, 'w2', failoverOutcome(row, 'postmark', 6))).toBe(false);
          expect(await store.get(row.id)).toEqual(claimed);
        });

        it('failed: records the error and is never claimed again', async () => {
          const row = await enqueueOne();
          await claimOne();
          const attempt = makeAttempt(row.id, { outcome: 'permanent', error: '550 no such user', response: null, request: null });
          expect(await store.finish(row.id, 'w1', { status: 'failed', error: '550 no such user', attempt })).toBe(true);
          expect(await store.get(row.id)).toMatchObject({ status: 'failed', lastError: '550 no such user', nextAttemptAt: null, leaseOwner: null });
          expect(await store.attempts(row.id)).toEqual([attempt]);
          expect(await store.nextDueAt()).toBeNull();
        });

        it('keeps each attempt’s backend (null included) and the new outcomes', async () => {
          const row = await enqueueOne();
          await claimOne('w1', at(MINUTE));
          const first = makeAttempt(row.id, { attempt: 1, outcome: 'circuit-open', backend: 'smtp', error: 'smtp is down', response: null, startedAt: at(MINUTE) });
          await store.finish(row.id, 'w1', { status: 'retrying', nextAttemptAt: at(2 * MINUTE), error: 'smtp is down', attempt: first });
          await claimOne('w1', at(2 * MINUTE));
          const second = makeAttempt(row.id, { attempt: 2, outcome: 'expired', backend: null, error: 'too old', startedAt: at(2 * MINUTE) });
          await store.finish(row.id, 'w1', { status: 'failed', error: 'too old', attempt: second });
          expect(await store.attempts(row.id)).toEqual([first, second]);
        });

        it('returns false and changes nothing for an owner that does not hold the lease', async () => {
          const row = await enqueueOne();
          const claimed = await claimOne('w1');
          expect(await store.finish(row.id, 'w2', sentOutcome(row.id))).toBe(false);
          expect(await store.get(row.id)).toEqual(claimed);
          expect(await store.attempts(row.id)).toEqual([]);
        });

        it('returns false after the lease expired and another worker reclaimed it', async () => {
          const row = await enqueueOne();
          await claimOne('w1', at(MINUTE), 1000);
          const [reclaimed] = await store.claim({ owner: 'w2', limit: 1, leaseMs: 30_000, now: at(MINUTE + 1001) });
          expect(reclaimed?.id).toBe(row.id);
          const lost = abandoned(row.id, 1, 'w1', at(MINUTE), 1000);
          expect(await store.finish(row.id, 'w1', sentOutcome(row.id, 'pm-late'))).toBe(false);
          expect(await store.get(row.id)).toEqual(reclaimed);
          expect(await store.attempts(row.id)).toEqual([lost]);
          expect(await store.finish(row.id, 'w2', sentOutcome(row.id, 'pm-w2', 2))).toBe(true);
          expect(await store.get(row.id)).toMatchObject({ status: 'sent', providerMessageId: 'pm-w2', attempts: 2 });
          expect((await store.attempts(row.id)).map((a) => [a.attempt, a.outcome, a.workerId])).toEqual([
            [1, 'abandoned', 'w1'],
            [2, 'sent', 'worker-1'],
          ]);
        });

        it('returns false when called twice, or for an unknown or unclaimed delivery', async () => {
          const row = await enqueueOne();
          const queued = await enqueueOne({ nextAttemptAt: at(10 * MINUTE) });
          await claimOne();
          expect(await store.finish(row.id, 'w1', sentOutcome(row.id))).toBe(true);
          expect(await store.finish(row.id, 'w1', sentOutcome(row.id, 'pm-2'))).toBe(false);
          expect(await store.finish('no-such-id', 'w1', sentOutcome('no-such-id'))).toBe(false);
          expect(await store.finish(queued.id, 'w1', sentOutcome(queued.id))).toBe(false);
          expect(await store.get(row.id)).toMatchObject({ providerMessageId: 'pm-1' });
          expect(await store.attempts(row.id)).toHaveLength(1);
        });
      });

      describe('finishMany (if implemented)', () => {
        it('records each outcome with finish semantics, in input order', async (ctx) => {
          if (!store.finishMany) return ctx.skip();
          await store.enqueue([makeDelivery({ id: 'fm-1' }), makeDelivery({ id: 'fm-2' })]);
          const claimed = await store.claim({ owner: 'w1', limit: 2, leaseMs: 60_000 });
          expect(claimed).toHaveLength(2);
          const results = await store.finishMany([
            { id: 'fm-1', owner: 'w1', outcome: { status: 'sent', providerMessageId: 'p-1', attempt: makeAttempt('fm-1') } },
            { id: 'fm-2', owner: 'someone-else', outcome: { status: 'failed', error: 'x', attempt: makeAttempt('fm-2') } },
          ]);
          expect(results).toEqual([true, false]);
          expect((await store.get('fm-1'))?.status).toBe('sent');
          expect((await store.get('fm-2'))?.status).toBe('sending');
          expect(await store.attempts('fm-2')).toEqual([]);
        });

        it('applies a failover among other outcomes of the batch', async (ctx) => {
          if (!store.finishMany) return ctx.skip();
          const rows = ['fo-1', 'fo-2', 'fo-3'].map((id) => makeDelivery({ id, createdAt: at(0), nextAttemptAt: at(0), maxAttempts: 2 }));
          await store.enqueue(rows);
          expect(await store.claim({ owner: 'w1', limit: 3, leaseMs: 60_000, now: at(MINUTE) })).toHaveLength(3);
          const moved = failoverOutcome(rows[1]!, 'postmark', 5);
          const results = await store.finishMany([
            { id: 'fo-1', owner: 'w1', outcome: sentOutcome('fo-1', 'p-1') },
            { id: 'fo-2', owner: 'w1', outcome: moved },
            { id: 'fo-3', owner: 'w1', outcome: { status: 'retrying', nextAttemptAt: at(2 * MINUTE), error: 'later', attempt: makeAttempt('fo-3', { outcome: 'transient' }) } },
          ]);
          expect(results).toEqual([true, true, true]);
          expect(await store.get('fo-1')).toMatchObject({ status: 'sent', backend: 'smtp', maxAttempts: 2 });
          const d = await store.get('fo-2');
          expect(d).toMatchObject({ status: 'retrying', backend: 'postmark', maxAttempts: 5 });
          expect(d!.message).toEqual(moved.failover!.message);
          expect(await store.get('fo-3')).toMatchObject({ status: 'retrying', backend: 'smtp', maxAttempts: 2, message: rows[2]!.message });
          expect(await store.attempts('fo-2')).toEqual([moved.attempt]);
          const claimed = await store.claim({ owner: 'w2', limit: 10, leaseMs: 1000, now: at(2 * MINUTE), backends: ['postmark'] });
          expect(claimed.map((c) => [c.id, c.backend])).toEqual([['fo-2', 'postmark']]);
        });
      });

      describe('release and requeue', () => {
        it('release gives claimed deliveries back without counting the attempt', async () => {
          const a = await enqueueOne();
          const b = await enqueueOne();
          await store.claim({ owner: 'w1', limit: 10, leaseMs: 60_000, now: new Date() });
          await store.release([a.id, b.id], 'w1');
          for (const id of [a.id, b.id]) {
            expect(await store.get(id)).toMatchObject({ status: 'queued', attempts: 0, leaseOwner: null, leaseUntil: null });
          }
          const again = await store.claim({ owner: 'w2', limit: 10, leaseMs: 60_000, now: new Date(Date.now() + 1) });
          expect(again.map((d) => d.id).sort()).toEqual([a.id, b.id].sort());
          expect(again.every((d) => d.attempts === 1)).toBe(true);
          expect(await store.attempts(a.id)).toEqual([]);
        });

        it('release puts a retried delivery back to retrying with its earlier attempts', async () => {
          const row = await enqueueOne();
          await claimOne();
          await store.finish(row.id, 'w1', { status: 'retrying', nextAttemptAt: at(2 * MINUTE), error: 'e', attempt: makeAttempt(row.id) });
          await claimOne('w1', at(2 * MINUTE));
          await store.release([row.id], 'w1');
          expect(await store.get(row.id)).toMatchObject({ status: 'retrying', attempts: 1, leaseOwner: null });
        });

        it('release ignores deliveries leased by another owner', async () => {
          const row = await enqueueOne();
          const claimed = await claimOne('w1');
          await store.release([row.id, 'no-such-id'], 'w2');
          expect(await store.get(row.id)).toEqual(claimed);
        });

        it('requeue gives a failed delivery a fresh attempt budget', async () => {
          const row = await enqueueOne({ maxAttempts: 1 });
          await claimOne();
          await store.finish(row.id, 'w1', { status: 'failed', error: 'gave up', attempt: makeAttempt(row.id, { outcome: 'permanent' }) });
          const now = at(20 * MINUTE);
          const requeued = await store.requeue(row.id, { now, expiresAt: at(80 * MINUTE), maxAttempts: 4 });
          expect(requeued).toMatchObject({ id: row.id, status: 'queued', attempts: 0, maxAttempts: 4, leaseOwner: null });
          expect(requeued!.nextAttemptAt!.getTime()).toBe(now.getTime());
          expect(requeued!.expiresAt!.getTime()).toBe(at(80 * MINUTE).getTime());
          expect(await store.get(row.id)).toEqual(requeued);
          expect(await store.claim({ owner: 'w1', limit: 10, leaseMs: 1000, now: at(20 * MINUTE - 1) })).toEqual([]);
          const claimed = await store.claim({ owner: 'w1', limit: 10, leaseMs: 1000, now });
          expect(claimed.map((d) => [d.id, d.attempts])).toEqual([[row.id, 1]]);
          expect(await store.attempts(row.id)).toHaveLength(1);
        });

        it('requeue of a sent delivery, with no expiry', async () => {
          const sent = await sendOne('pm-r');
          const requeued = await store.requeue(sent.id, { now: at(MINUTE), expiresAt: null, maxAttempts: 2 });
          expect(requeued).toMatchObject({ status: 'queued', attempts: 0, maxAttempts: 2, expiresAt: null });
        });

        it('requeue of an unknown id returns null', async () => {
          expect(await store.requeue('no-such-id', { now: new Date(), expiresAt: null, maxAttempts: 3 })).toBeNull();
        });
      });

      describe('claimPolls', () => {
        it('hands out sent/deferred deliveries of one backend due for a poll, least recently polled first, and marks them', async () => {
          const a = await sendOne('pm-a');
          const b = await sendOne('pm-b');
          await sendOne('pm-other', { backend: 'postmark' });
          const queued = await enqueueOne();
          const now = new Date(Date.now() + MINUTE);
          const first = await store.claimPolls({ backend: 'smtp', sentBefore: now, polledBefore: new Date(now.getTime() - 30_000), limit: 10, now });
          expect(first.map((d) => d.id).sort()).toEqual([a.id, b.id].sort());
          expect(first.map((d) => d.id)).not.toContain(queued.id);
          // Polled just now: not handed out again (another worker) until polledBefore passes them.
          expect(await store.claimPolls({ backend: 'smtp', sentBefore: now, polledBefore: new Date(now.getTime() - 30_000), limit: 10, now })).toEqual([]);
          const later = new Date(now.getTime() + 60_000);
          expect((await store.claimPolls({ backend: 'smtp', sentBefore: later, polledBefore: new Date(later.getTime() - 30_000), limit: 1, now: later })).length).toBe(1);
          // Only deliveries sent long enough ago.
          expect(await store.claimPolls({ backend: 'smtp', sentBefore: new Date(0), polledBefore: later, limit: 10, now: later })).toEqual([]);
        });

        it('skips final deliveries', async () => {
          const d = await sendOne('pm-final');
          await store.recordEvent('smtp', makeEvent({ messageId: 'pm-final', eventType: 'delivered' }), { now: new Date(), status: 'delivered' });
          const now = new Date(Date.now() + MINUTE);
          expect(await store.claimPolls({ backend: 'smtp', sentBefore: now, polledBefore: now, limit: 10, now })).toEqual([]);
          expect(d.status).toBe('sent');
        });
      });

      describe('cancel', () => {
        it('cancels a queued (or scheduled) delivery: never claimed afterwards', async () => {
          const row = await enqueueOne({ nextAttemptAt: at(60 * MINUTE) });
          const cancelled = await store.cancel(row.id, { now: at(MINUTE), reason: 'order withdrawn' });
          expect(cancelled).toMatchObject({ id: row.id, status: 'cancelled', lastError: 'order withdrawn', nextAttemptAt: null });
          expect(await store.get(row.id)).toEqual(cancelled);
          expect(await store.claim({ owner: 'w1', limit: 10, leaseMs: 1000, now: at(120 * MINUTE) })).toEqual([]);
          expect(await store.nextDueAt()).toBeNull();
        });

        it('cancels a retrying delivery and keeps its attempts', async () => {
          const row = await enqueueOne();
          await claimOne();
          await store.finish(row.id, 'w1', { status: 'retrying', nextAttemptAt: at(2 * MINUTE), error: 'e', attempt: makeAttempt(row.id, { outcome: 'transient' }) });
          expect(await store.cancel(row.id, { now: at(MINUTE), reason: 'stop' })).toMatchObject({ status: 'cancelled', attempts: 1 });
          expect(await store.attempts(row.id)).toHaveLength(1);
        });

        it('leaves a sending or finished delivery as it is, and returns null for an unknown id', async () => {
          const sending = await enqueueOne();
          const claimed = await claimOne();
          expect(await store.cancel(sending.id, { now: at(MINUTE), reason: 'x' })).toEqual(claimed);
          const sent = await sendOne('pm-c');
          expect(await store.cancel(sent.id, { now: at(MINUTE), reason: 'x' })).toEqual(sent);
          expect(await store.cancel('no-such-id', { now: at(MINUTE), reason: 'x' })).toBeNull();
        });

        it('a cancelled delivery is finished: counted, pruned, and tracking never moves it', async () => {
          const row = await enqueueOne();
          await store.cancel(row.id, { now: at(MINUTE), reason: 'x' });
          expect((await store.count()).cancelled).toBe(1);
          expect(await store.prune({ olderThan: new Date(Date.now() + MINUTE) })).toBe(1);
          expect(await store.get(row.id)).toBeNull();
        });
      });

      describe('nextDueAt', () => {
        it('is the earliest due time, then the earliest lease expiry, and null when idle', async () => {
          expect(await store.nextDueAt()).toBeNull();
          await enqueueOne({ nextAttemptAt: at(5 * MINUTE) });
          await enqueueOne({ nextAttemptAt: at(3 * MINUTE) });
          await enqueueOne({ status: 'skipped', skipReason: 'duplicate', nextAttemptAt: null });
          expect(await store.nextDueAt()).toEqual(at(3 * MINUTE));
          const claimed = await store.claim({ owner: 'w1', limit: 10, leaseMs: 10_000, now: at(10 * MINUTE) });
          expect(claimed).toHaveLength(2);
          expect(await store.nextDueAt()).toEqual(at(10 * MINUTE + 10_000));
          for (const d of claimed) await store.finish(d.id, 'w1', sentOutcome(d.id, `pm-${d.id}`));
          expect(await store.nextDueAt()).toBeNull();
        });
      });

      describe('reserveRate and subscribe (if implemented)', () => {
        it('reserveRate: the (N+1)-th reservation within a second must wait', async (ctx) => {
          if (!store.reserveRate) return ctx.skip();
          const now = new Date();
          const waits: number[] = [];
          for (let i = 0; i < 4; i++) waits.push(await store.reserveRate('smtp', 3, now));
          expect(waits.slice(0, 3)).toEqual([0, 0, 0]);
          expect(waits[3]).toBeGreaterThan(0);
          expect(waits[3]).toBeLessThanOrEqual(1000);
          expect(await store.reserveRate('twilio', 3, now)).toBe(0);
          expect(await store.reserveRate('smtp', 3, new Date(now.getTime() + 5000))).toBe(0);
        });

        it('subscribe: the listener fires after enqueue, and not after unsubscribing', async (ctx) => {
          if (!store.subscribe) return ctx.skip();
          let calls = 0;
          const unsubscribe = store.subscribe(() => {
            calls++;
          });
          await enqueueOne();
          await vi.waitFor(() => expect(calls).toBeGreaterThan(0), { timeout: 5000, interval: 10 });
          unsubscribe();
          await new Promise((resolve) => setTimeout(resolve, 50));
          const before = calls;
          await enqueueOne();
          await new Promise((resolve) => setTimeout(resolve, 100));
          expect(calls).toBe(before);
        });
      });
    });

    // ───────────────────────── DeliveryLog ─────────────────────────

    describe('DeliveryLog', () => {
      it('get returns null for an unknown id', async () => {
        expect(await store.get('no-such-id')).toBeNull();
      });

      it('list returns newest first and applies every filter', async () => {
        const batchId = newId('bat_');
        const a = makeDelivery({ createdAt: at(1000), notification: 'welcome', batchId, recipientId: 'u-a' });
        const b = makeDelivery({
          createdAt: at(2000),
          notification: 'order-shipped',
          backend: 'twilio',
          protocol: 'sms',
          address: '+14155550123',
          recipientId: 'u-b',
        });
        const c = makeDelivery({ createdAt: at(3000), status: 'skipped', skipReason: 'suppressed', batchId, recipientId: 'u-a' });
        await store.enqueue([a, b, c]);
        const ids = (ds: Delivery[]) => ds.map((d) => d.id);
        expect(ids(await store.list())).toEqual([c.id, b.id, a.id]);
        expect(ids(await store.list({}))).toEqual([c.id, b.id, a.id]);
        expect(ids(await store.list({ status: 'skipped' }))).toEqual([c.id]);
        expect(ids(await store.list({ status: ['queued', 'skipped'] }))).toEqual([c.id, b.id, a.id]);
        expect(ids(await store.list({ status: ['sent', 'failed'] }))).toEqual([]);
        expect(ids(await store.list({ notification: 'welcome' }))).toEqual([a.id]);
        expect(ids(await store.list({ backend: 'twilio' }))).toEqual([b.id]);
        expect(ids(await store.list({ recipientId: 'u-a' }))).toEqual([c.id, a.id]);
        expect(ids(await store.list({ address: '+14155550123' }))).toEqual([b.id]);
        expect(ids(await store.list({ batchId }))).toEqual([c.id, a.id]);
        expect(ids(await store.list({ before: at(3000) }))).toEqual([b.id, a.id]);
        expect(ids(await store.list({ limit: 2 }))).toEqual([c.id, b.id]);
        expect(ids(await store.list({ before: at(3000), limit: 1 }))).toEqual([b.id]);
        expect(ids(await store.list({ recipientId: 'u-a', status: 'queued', batchId }))).toEqual([a.id]);
        expect(ids(await store.list({ since: at(2000) }))).toEqual([c.id, b.id]);
        expect(ids(await store.list({ since: at(1500), before: at(3000) }))).toEqual([b.id]);
      });

      it('list filters by dedupe key (postmaster GetLastEmail)', async () => {
        const a = makeDelivery({ createdAt: at(1000), dedupeKey: 'order-1', dedupeAddress: 'ada@example.org', dedupeSince: at(0) });
        const b = makeDelivery({ createdAt: at(2000), dedupeKey: 'order-2', dedupeAddress: 'ada@example.org', dedupeSince: at(0) });
        await store.enqueue([a, b]);
        expect((await store.list({ dedupeKey: 'order-1' })).map((d) => d.id)).toEqual([a.id]);
        expect(await store.list({ dedupeKey: 'order-3' })).toEqual([]);
      });

      it('keyset pages (before + beforeId) never skip or repeat deliveries that share a timestamp', async () => {
        const rows = Array.from({ length: 7 }, (_, i) => makeDelivery({ createdAt: at(i < 5 ? 1000 : 2000) }));
        await store.enqueue(rows);
        const seen: string[] = [];
        let cursor: { before: Date; beforeId: string } | undefined;
        for (let page = 0; page < 10; page++) {
          const got = await store.list({ limit: 2, ...(cursor ?? {}) });
          if (!got.length) break;
          seen.push(...got.map((d) => d.id));
          const last = got[got.length - 1]!;
          cursor = { before: last.createdAt, beforeId: last.id };
        }
        expect(seen).toHaveLength(7);
        expect(new Set(seen).size).toBe(7);
        expect(seen).toEqual((await store.list()).map((d) => d.id));
      });

      it('count groups by status and applies filters', async () => {
        await enqueueOne();
        await enqueueOne({ notification: 'welcome' });
        await enqueueOne({ status: 'skipped', skipReason: 'opted-out', nextAttemptAt: null });
        await claimOne();
        const counts = await store.count();
        expect(counts.sending ?? 0).toBe(1);
        expect(counts.queued ?? 0).toBe(1);
        expect(counts.skipped ?? 0).toBe(1);
        expect(counts.failed ?? 0).toBe(0);
        const welcome = await store.count({ notification: 'welcome' });
        expect(Object.values(welcome).reduce((n, v) => n + v, 0)).toBe(1);
        expect(Object.values(await store.count({ backend: 'nope' })).reduce((n, v) => n + v, 0)).toBe(0);
      });

      it('attempts lists the attempt log in order', async () => {
        const row = await enqueueOne();
        await claimOne('w1', at(MINUTE));
        const first = makeAttempt(row.id, { attempt: 1, outcome: 'transient', error: 'timeout', response: null, startedAt: at(MINUTE) });
        await store.finish(row.id, 'w1', { status: 'retrying', nextAttemptAt: at(2 * MINUTE), error: 'timeout', attempt: first });
        await claimOne('w2', at(2 * MINUTE));
        const second = makeAttempt(row.id, { attempt: 2, workerId: 'w2', startedAt: at(2 * MINUTE), backend: 'postmark' });
        await store.finish(row.id, 'w2', { status: 'sent', providerMessageId: 'pm-2', attempt: second });
        expect(await store.attempts(row.id)).toEqual([first, second]);
        expect(await store.attempts('no-such-id')).toEqual([]);
      });

      it('findByProviderMessageId looks up by backend and message id', async () => {
        const d = await sendOne('pm-find');
        expect((await store.findByProviderMessageId('smtp', 'pm-find'))?.id).toBe(d.id);
        expect(await store.findByProviderMessageId('postmark', 'pm-find')).toBeNull();
        expect(await store.findByProviderMessageId('smtp', 'pm-other')).toBeNull();
      });
    });

    // ───────────────────────── EventLog ─────────────────────────

    describe('KeyStore', () => {
      const key = (id: string, createdAt: Date) => ({ id, name: `key ${id}`, hash: `hash-${id}`, scopes: ['send', 'read'], createdAt, revokedAt: null, lastUsedAt: null });

      it('saves, finds and lists keys newest first; ids are unique', async () => {
        await store.saveKey(key('k1', at(1000)));
        await store.saveKey(key('k2', at(2000)));
        expect(await store.findKey('k1')).toEqual(key('k1', at(1000)));
        expect(await store.findKey('nope')).toBeNull();
        expect((await store.listKeys()).map((k) => k.id)).toEqual(['k2', 'k1']);
        await expect(store.saveKey(key('k1', at(3000)))).rejects.toThrow();
      });

      it('revokes once, and records use', async () => {
        await store.saveKey(key('k1', at(1000)));
        expect(await store.revokeKey('k1', at(2000))).toBe(true);
        expect(await store.revokeKey('k1', at(3000))).toBe(false);
        expect(await store.revokeKey('nope', at(3000))).toBe(false);
        expect((await store.findKey('k1'))!.revokedAt!.getTime()).toBe(at(2000).getTime());
        await store.touchKey('k1', at(4000));
        expect((await store.findKey('k1'))!.lastUsedAt!.getTime()).toBe(at(4000).getTime());
      });
    });

    describe('EventLog', () => {
      const record = (backend: string, event: TrackingEvent, status: Delivery['status'] | null, now = new Date()) =>
        store.recordEvent(backend, event, { now, status });

      it('finds the delivery by provider message id and moves its status forward', async () => {
        const d = await sendOne('pm-track');
        const result = await record('smtp', makeEvent({ messageId: 'pm-track', eventType: 'delivered' }), 'delivered');
        expect(result.inserted).toBe(true);
        expect(result.statusChanged).toBe(true);
        expect(result.delivery).toMatchObject({ id: d.id, status: 'delivered' });
        expect(await store.get(d.id)).toMatchObject({ status: 'delivered' });
      });

      // Regression: the webhook layer read the delivery before recording each event (two reads per event).
      it('recordEvent returns the status before the event, so no read is needed beforehand', async () => {
        const d = await sendOne('pm-prev');
        const delivered = makeEvent({ messageId: 'pm-prev', eventType: 'delivered' });
        expect(await record('smtp', delivered, 'delivered')).toMatchObject({ inserted: true, statusChanged: true, previousStatus: 'sent' });
        const opened = await record('smtp', makeEvent({ messageId: 'pm-prev', eventType: 'opened' }), 'opened');
        expect(opened).toMatchObject({ statusChanged: true, previousStatus: 'delivered', delivery: { id: d.id, status: 'opened' } });
        // No move (a late delivered), a replay, an event without a status: the previous status is the current one.
        expect(await record('smtp', makeEvent({ messageId: 'pm-prev', eventType: 'delivered' }), 'delivered')).toMatchObject({
          statusChanged: false,
          previousStatus: 'opened',
        });
        expect(await record('smtp', delivered, 'delivered')).toMatchObject({ inserted: false, previousStatus: 'opened' });
        expect(await record('smtp', makeEvent({ messageId: 'pm-prev', eventType: 'unknown' }), null)).toMatchObject({ previousStatus: 'opened' });
        expect((await record('smtp', makeEvent({ messageId: 'pm-nobody' }), 'delivered')).previousStatus).toBeNull();
      });

      it('finds the delivery by Herald delivery id when the provider echoes it (same backend only), and keeps the provider status verbatim', async () => {
        const d = await sendOne('pm-ref');
        const byRef = await record('smtp', makeEvent({ messageId: 'unrelated-id', deliveryId: d.id, eventType: 'deferred', providerStatus: 'temporary-failure' }), 'deferred');
        expect(byRef.delivery).toMatchObject({ id: d.id, status: 'deferred', providerStatus: 'temporary-failure' });
        expect(await store.get(d.id)).toMatchObject({ providerStatus: 'temporary-failure' });
        // The provider's status is kept even when Herald's status does not move.
        await record('smtp', makeEvent({ messageId: 'pm-ref', eventType: 'unknown', providerStatus: 'pending' }), null);
        expect(await store.get(d.id)).toMatchObject({ status: 'deferred', providerStatus: 'pending' });
        expect((await store.events(d.id)).map((e) => e.providerStatus)).toEqual(['temporary-failure', 'pending']);
        // Another backend's event naming this delivery id does not match it.
        expect((await record('postmark', makeEvent({ messageId: null, deliveryId: d.id, eventType: 'delivered' }), 'delivered')).delivery).toBeNull();
        expect(await store.get(d.id)).toMatchObject({ status: 'deferred' });
      });

      it('stores the event with every field, listed by receivedAt', async () => {
        const d = await sendOne('pm-fields');
        const later = makeEvent({
          messageId: 'pm-fields',
          eventType: 'clicked',
          clickUrl: 'https://example.org/a?b=c',
          userAgent: 'Mozilla/5.0',
          timestamp: new Date(Date.UTC(2031, 1, 2, 3, 4, 5, 999)),
        });
        const earlier = makeEvent({
          messageId: 'pm-fields',
          eventType: 'bounced',
          rejectReason: 'bounced',
          description: 'mailbox full',
          timestamp: null,
          metadata: {},
          tags: [],
          raw: [1, 'two', { three: 3 }],
        });
        await record('smtp', later, 'clicked', at(5 * MINUTE + 1));
        await record('smtp', earlier, 'bounced', at(5 * MINUTE));
        const events = await store.events(d.id);
        expect(events).toEqual([
          { ...earlier, backend: 'smtp', deliveryId: d.id, receivedAt: at(5 * MINUTE) },
          { ...later, backend: 'smtp', deliveryId: d.id, receivedAt: at(5 * MINUTE + 1) },
        ]);
        expect(events[1]!.timestamp).toBeInstanceOf(Date);
        expect(await store.events('no-such-id')).toEqual([]);
      });

      it('is idempotent by backend and event id: a replay is not stored and changes nothing', async () => {
        const d = await sendOne('pm-replay');
        const event = makeEvent({ messageId: 'pm-replay', eventType: 'opened' });
        expect((await record('smtp', event, 'opened')).inserted).toBe(true);
        await store.requeue(d.id, { now: at(0), expiresAt: null, maxAttempts: 1 });
        const replay = await record('smtp', { ...event, eventType: 'clicked' }, 'clicked');
        expect(replay.inserted).toBe(false);
        expect(replay.statusChanged).toBe(false);
        expect((await store.get(d.id))?.status).toBe('queued');
        expect(await store.events(d.id)).toHaveLength(1);
        expect((await store.events(d.id))[0]?.eventType).toBe('opened');
      });

      it('keeps events of different backends apart, even with the same ids', async () => {
        const d = await sendOne('pm-same');
        const event = makeEvent({ eventId: 'evt-1', messageId: 'pm-same' });
        expect((await record('smtp', event, 'delivered')).delivery?.id).toBe(d.id);
        const other = await record('postmark', event, 'delivered');
        expect(other).toMatchObject({ inserted: true, delivery: null, statusChanged: false, previousStatus: null });
      });

      it('never moves the status backward: a late delivered after opened changes nothing', async () => {
        const d = await sendOne('pm-late');
        await record('smtp', makeEvent({ messageId: 'pm-late', eventType: 'opened' }), 'opened');
        const late = await record('smtp', makeEvent({ messageId: 'pm-late', eventType: 'delivered' }), 'delivered');
        expect(late).toMatchObject({ inserted: true, statusChanged: false });
        expect(late.delivery?.status).toBe('opened');
        expect((await store.get(d.id))?.status).toBe('opened');
        expect(await store.events(d.id)).toHaveLength(2);
      });

      it('settles on the furthest status whatever the arrival order', async () => {
        const d = await sendOne('pm-order');
        const order: [TrackingEvent['eventType'], Delivery['status']][] = [
          ['clicked', 'clicked'],
          ['delivered', 'delivered'],
          ['opened', 'opened'],
          ['sent', 'sent'],
        ];
        for (const [eventType, status] of order) await record('smtp', makeEvent({ messageId: 'pm-order', eventType }), status);
        expect((await store.get(d.id))?.status).toBe('clicked');
        await record('smtp', makeEvent({ messageId: 'pm-order', eventType: 'bounced' }), 'bounced');
        expect((await store.get(d.id))?.status).toBe('bounced');
      });

      it('stores events with no status change or no matching delivery', async () => {
        const d = await sendOne('pm-none');
        const unknownType = await record('smtp', makeEvent({ messageId: 'pm-none', eventType: 'unknown' }), null);
        expect(unknownType).toMatchObject({ inserted: true, statusChanged: false });
        expect(unknownType.delivery?.status).toBe('sent');
        const orphan = makeEvent({ messageId: 'pm-nobody' });
        expect(await record('smtp', orphan, 'delivered')).toEqual({ inserted: true, delivery: null, statusChanged: false, previousStatus: null });
        expect((await record('smtp', orphan, 'delivered')).inserted).toBe(false);
        const noId = makeEvent({ messageId: null });
        expect(await record('smtp', noId, 'delivered')).toEqual({ inserted: true, delivery: null, statusChanged: false, previousStatus: null });
        expect(await store.events(d.id)).toHaveLength(1);
      });

      it('forgetEvent lets the same event be recorded again; status changes stay', async () => {
        const d = await sendOne('pm-forget');
        const event = makeEvent({ messageId: 'pm-forget', eventType: 'delivered' });
        await record('smtp', event, 'delivered');
        await store.forgetEvent('smtp', event.eventId);
        expect(await store.events(d.id)).toEqual([]);
        expect((await store.get(d.id))?.status).toBe('delivered');
        const again = await record('smtp', event, 'delivered');
        expect(again).toMatchObject({ inserted: true, statusChanged: false });
        expect(await store.events(d.id)).toHaveLength(1);
        await store.forgetEvent('smtp', 'no-such-event');
      });

      it('recordInbound is idempotent by backend and event id', async () => {
        const event = makeInbound();
        expect(await store.recordInbound('postal', event, new Date())).toBe(true);
        expect(await store.recordInbound('postal', event, new Date())).toBe(false);
        expect(await store.recordInbound('postmark', event, new Date())).toBe(true);
      });

      it('forgetInbound lets the same inbound event be recorded again', async () => {
        const event = makeInbound({ eventId: 'in-forget' });
        expect(await store.recordInbound('postal', event, new Date())).toBe(true);
        await store.forgetInbound('postal', 'in-forget');
        expect(await store.recordInbound('postal', event, new Date())).toBe(true);
        expect(await store.recordInbound('postal', event, new Date())).toBe(false);
        expect(await store.recordInbound('postmark', event, new Date())).toBe(true);
        await store.forgetInbound('postal', 'no-such-event');
      });
    });

    // ───────────────────────── Audience ─────────────────────────

    describe('Audience', () => {
      it('listSuppressions lists newest first, filters by protocol and search, and pages by keyset', async () => {
        await store.suppress({ protocol: 'email', address: 'a@example.org', reason: 'hard bounce', createdAt: at(1000) });
        await store.suppress({ protocol: 'email', address: 'b@example.org', reason: 'spam complaint', createdAt: at(2000) });
        await store.suppress({ protocol: 'email', address: 'c@example.org', reason: 'manual', createdAt: at(2000) });
        await store.suppress({ protocol: 'sms', address: '+14155550123', reason: 'unsubscribed', createdAt: at(3000) });
        const addresses = (list: Suppression[]) => list.map((x) => x.address);
        expect(addresses(await store.listSuppressions())).toEqual(['+14155550123', 'c@example.org', 'b@example.org', 'a@example.org']);
        expect(addresses(await store.listSuppressions({ protocol: 'email', limit: 2 }))).toEqual(['c@example.org', 'b@example.org']);
        expect(addresses(await store.listSuppressions({ protocol: 'email', before: at(2000), beforeAddress: 'b@example.org' }))).toEqual(['a@example.org']);
        expect(addresses(await store.listSuppressions({ protocol: 'email', before: at(2000), beforeAddress: 'c@example.org' }))).toEqual(['b@example.org', 'a@example.org']);
        expect(addresses(await store.listSuppressions({ search: 'b@' }))).toEqual(['b@example.org']);
        expect((await store.listSuppressions({ protocol: 'sms' }))[0]).toMatchObject({ reason: 'unsubscribed' });
      });

      it('getOptOuts / setOptOuts replace the categories of a key', async () => {
        expect((await store.getOptOuts(['user-1'])).get('user-1') ?? []).toEqual([]);
        await store.setOptOuts('user-1', ['marketing', 'digest']);
        await store.setOptOuts('ada@example.org', ['orders']);
        let prefs = await store.getOptOuts(['user-1', 'ada@example.org', 'nobody']);
        expect([...(prefs.get('user-1') ?? [])].sort()).toEqual(['digest', 'marketing']);
        expect(prefs.get('ada@example.org')).toEqual(['orders']);
        expect(prefs.get('nobody') ?? []).toEqual([]);
        await store.setOptOuts('user-1', ['orders']);
        prefs = await store.getOptOuts(['user-1']);
        expect(prefs.get('user-1')).toEqual(['orders']);
        await store.setOptOuts('user-1', []);
        expect((await store.getOptOuts(['user-1'])).get('user-1') ?? []).toEqual([]);
        expect(await store.getOptOuts([])).toEqual(new Map());
      });

      it('suppress / suppressed / unsuppress by protocol and address', async () => {
        const createdAt = new Date(Date.UTC(2031, 2, 3, 4, 5, 6, 789));
        await store.suppress({ protocol: 'email', address: 'ada@example.org', reason: 'hard bounce', createdAt });
        await store.suppress({ protocol: 'sms', address: '+14155550123', reason: 'unsubscribed' });
        const found = await store.suppressed('email', ['ada@example.org', 'bob@example.org']);
        expect([...found.keys()]).toEqual(['ada@example.org']);
        expect(found.get('ada@example.org')).toEqual({ protocol: 'email', address: 'ada@example.org', reason: 'hard bounce', createdAt });
        expect((await store.suppressed('sms', ['+14155550123'])).get('+14155550123')?.createdAt).toBeInstanceOf(Date);
        expect((await store.suppressed('xmpp', ['ada@example.org'])).size).toBe(0);
        expect((await store.suppressed('email', [])).size).toBe(0);
        await store.suppress({ protocol: 'email', address: 'ada@example.org', reason: 'spam complaint' });
        expect((await store.suppressed('email', ['ada@example.org'])).get('ada@example.org')?.reason).toBe('spam complaint');
        expect(await store.unsuppress('email', 'ada@example.org')).toBe(true);
        expect(await store.unsuppress('email', 'ada@example.org')).toBe(false);
        expect((await store.suppressed('email', ['ada@example.org'])).size).toBe(0);
        expect((await store.suppressed('sms', ['+14155550123'])).size).toBe(1);
      });

      // Regression: every store normalized addresses again (core already does), so policy lived in four places.
      it('stores and compares addresses exactly as given: core normalizes, the store never does', async () => {
        await store.suppress({ protocol: 'email', address: 'Ada@Example.org', reason: 'as given' });
        await store.suppress({ protocol: 'twitter', address: '@Herald', reason: 'as given' });
        expect((await store.suppressed('email', ['ada@example.org'])).size).toBe(0);
        expect((await store.suppressed('email', ['Ada@Example.org'])).get('Ada@Example.org')?.address).toBe('Ada@Example.org');
        expect((await store.suppressed('twitter', ['herald'])).size).toBe(0);
        expect((await store.suppressed('twitter', ['@Herald'])).size).toBe(1);
        expect(await store.unsuppress('email', 'ada@example.org')).toBe(false);
        expect(await store.unsuppress('email', 'Ada@Example.org')).toBe(true);
      });
    });
  });
}
