import { ConfigError, ValidationError } from '../errors';
import { ABANDONED_ATTEMPT_ERROR } from '../types';
import type { Protocol } from '../protocols';
import { canAdvance, FINISHED_STATUSES } from '../status';
import type {
  ApiKeyRecord,
  Attempt,
  AttemptOutcome,
  ClaimOptions,
  Delivery,
  DeliveryCounts,
  DeliveryFilter,
  DeliveryStatus,
  EnqueueOptions,
  EnqueueResult,
  InboundEvent,
  NewDelivery,
  RecordEventResult,
  Store,
  StoredTrackingEvent,
  Suppression,
  TrackingEvent,
} from '../types';

/**
 * Options of {@link memoryStore}.
 *
 * @example
 * ```ts
 * const store = memoryStore({ name: 'memory-test' });
 * ```
 */
export interface MemoryStoreOptions {
  /**
   * Store name reported as `store.name`.
   * @default 'memory'
   */
  name?: string;
}

interface Row extends Delivery {
  dedupeAddress: string | null;
  /** When the current (or last) lease started: the `startedAt` of an abandoned attempt. */
  claimedAt: Date | null;
  /** When a worker last polled the provider about it (see `claimPolls`). */
  lastPolledAt: Date | null;
}

const FINISHED = new Set<DeliveryStatus>(FINISHED_STATUSES);
const ACTIVE = new Set<DeliveryStatus>(['queued', 'retrying', 'sending']);

function eventKey(backend: string, eventId: string): string {
  return `${backend}\u0000${eventId}`;
}

function toDelivery(row: Row): Delivery {
  const { dedupeAddress: _dedupeAddress, claimedAt: _claimedAt, lastPolledAt: _lastPolledAt, ...delivery } = row;
  return structuredClone(delivery);
}

function matches(row: Row, filter: DeliveryFilter): boolean {
  if (filter.status !== undefined) {
    const wanted: readonly DeliveryStatus[] = typeof filter.status === 'string' ? [filter.status] : filter.status;
    if (!wanted.includes(row.status)) return false;
  }
  if (filter.notification !== undefined && row.notification !== filter.notification) return false;
  if (filter.backend !== undefined && row.backend !== filter.backend) return false;
  if (filter.recipientId !== undefined && row.recipientId !== filter.recipientId) return false;
  if (filter.address !== undefined && row.address !== filter.address) return false;
  if (filter.batchId !== undefined && row.batchId !== filter.batchId) return false;
  if (filter.dedupeKey !== undefined && row.dedupeKey !== filter.dedupeKey) return false;
  if (filter.since !== undefined && row.createdAt.getTime() < filter.since.getTime()) return false;
  if (filter.before !== undefined) {
    const t = row.createdAt.getTime();
    const b = filter.before.getTime();
    // Keyset paging: created before, or at the same instant with a smaller id.
    if (t > b || (t === b && (filter.beforeId === undefined || row.id >= filter.beforeId))) return false;
  }
  return true;
}

function byDue(a: Row, b: Row): number {
  const d = (a.nextAttemptAt?.getTime() ?? 0) - (b.nextAttemptAt?.getTime() ?? 0);
  if (d !== 0) return d;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * An in-memory {@link Store} for unit tests and local experiments. It passes the shared conformance suite,
 * keeps everything in one process, and loses everything on exit. A sending delivery's `nextAttemptAt` is its
 * lease expiry, as in the SQL stores.
 *
 * @example
 * ```ts
 * import { createHerald } from '@herald/core';
 * import { memoryStore } from '@herald/core/testing';
 *
 * const herald = createHerald({ store: memoryStore(), backends: [testBackend()], notifications: [welcome] });
 * ```
 */
export function memoryStore(options: MemoryStoreOptions = {}): Store {
  const deliveries = new Map<string, Row>();
  const attemptLog = new Map<string, Attempt[]>();
  const keys = new Map<string, ApiKeyRecord>();
  const trackingEvents = new Map<string, StoredTrackingEvent>();
  const inbound = new Map<string, { event: InboundEvent; receivedAt: Date }>();
  const optOuts = new Map<string, string[]>();
  const suppressions = new Map<string, Suppression>();
  const rates = new Map<string, { tokens: number; at: number }>();
  const listeners = new Set<() => void>();

  function notify(): void {
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch {
        // A failing listener must not fail the write that already happened.
      }
    }
  }

  function isDuplicate(row: NewDelivery): boolean {
    if (row.dedupeKey === null) return false;
    const since = row.dedupeSince?.getTime() ?? Number.NEGATIVE_INFINITY;
    for (const other of deliveries.values()) {
      if (
        other.dedupeKey === row.dedupeKey &&
        other.dedupeAddress === row.dedupeAddress &&
        other.status !== 'failed' &&
        other.status !== 'skipped' &&
        other.createdAt.getTime() >= since
      ) {
        return true;
      }
    }
    return false;
  }

  function enqueueNow(rows: readonly NewDelivery[], opts: EnqueueOptions | undefined): EnqueueResult {
    if (opts?.transaction !== undefined && opts.transaction !== null) {
      throw new ConfigError(
        'memoryStore cannot join a transaction handle; drop the `transaction` option (stores that share your database join one: @herald/store-postgres through notify(…, { transaction }), @herald/store-sqlite through herald.prepare(...).enqueue(db))',
        { field: 'transaction' },
      );
    }
    const ids = new Set<string>();
    for (const [index, row] of rows.entries()) {
      if (ids.has(row.id) || deliveries.has(row.id)) {
        throw new ValidationError('enqueue failed; nothing was stored', [
          { path: `rows[${index}].id`, message: `delivery id ${row.id} already exists` },
        ]);
      }
      ids.add(row.id);
    }
    const result: EnqueueResult = { duplicates: [] };
    let queued = false;
    for (const input of rows) {
      const row: Row = {
        id: input.id,
        batchId: input.batchId,
        notification: input.notification,
        category: input.category,
        recipientId: input.recipientId,
        protocol: input.protocol,
        address: input.address,
        backend: input.backend,
        status: input.status,
        skipReason: input.skipReason,
        dedupeKey: input.dedupeKey,
        dedupeAddress: input.dedupeAddress,
        attempts: 0,
        maxAttempts: input.maxAttempts,
        providerMessageId: null,
        lastError: null,
        message: structuredClone(input.message),
        createdAt: new Date(input.createdAt),
        updatedAt: new Date(input.createdAt),
        nextAttemptAt: input.status === 'queued' ? new Date(input.nextAttemptAt ?? input.createdAt) : null,
        expiresAt: input.expiresAt ? new Date(input.expiresAt) : null,
        leaseOwner: null,
        leaseUntil: null,
        sentAt: null,
        claimedAt: null,
        lastPolledAt: null,
        providerStatus: null,
      };
      if (row.status === 'queued' && isDuplicate(input)) {
        row.status = 'skipped';
        row.skipReason = 'duplicate';
        row.nextAttemptAt = null;
        result.duplicates.push(row.id);
      }
      if (row.status === 'queued') queued = true;
      deliveries.set(row.id, row);
    }
    if (queued) notify();
    return result;
  }

  /** The attempt a worker lost: its lease expired before it recorded an outcome (see `Store.claim`). */
  function recordAbandoned(row: Row): void {
    const startedAt = row.claimedAt ?? row.updatedAt;
    const list = attemptLog.get(row.id) ?? [];
    list.push({
      deliveryId: row.id,
      attempt: row.attempts,
      startedAt: new Date(startedAt),
      durationMs: Math.max(0, (row.leaseUntil?.getTime() ?? startedAt.getTime()) - startedAt.getTime()),
      outcome: 'abandoned',
      backend: row.backend,
      request: null,
      response: null,
      error: ABANDONED_ATTEMPT_ERROR,
      workerId: row.leaseOwner ?? 'unknown',
    });
    attemptLog.set(row.id, list);
  }

  return {
    name: options.name ?? 'memory',

    async migrate() {},

    async migrations() {
      return { applied: [{ version: 1, description: 'in memory: nothing to migrate' }], pending: [] };
    },

    async enqueue(rows, opts) {
      return enqueueNow(rows, opts);
    },

    enqueueSync(rows, opts) {
      return enqueueNow(rows, opts);
    },

    async claim(opts: ClaimOptions) {
      const now = opts.now ?? new Date();
      const due = [...deliveries.values()]
        .filter(
          (row) =>
            ACTIVE.has(row.status) &&
            row.nextAttemptAt !== null &&
            row.nextAttemptAt.getTime() <= now.getTime() &&
            (opts.backends === undefined || (row.backend !== null && opts.backends.includes(row.backend))),
        )
        .sort(byDue)
        .slice(0, Math.max(0, opts.limit));
      const leaseUntil = new Date(now.getTime() + opts.leaseMs);
      for (const row of due) {
        if (row.status === 'sending') recordAbandoned(row);
        row.status = 'sending';
        row.leaseOwner = opts.owner;
        row.leaseUntil = new Date(leaseUntil);
        row.nextAttemptAt = new Date(leaseUntil);
        row.claimedAt = new Date(now);
        row.attempts += 1;
        row.updatedAt = new Date(now);
      }
      return due.map(toDelivery);
    },

    async finish(id: string, owner: string, outcome: AttemptOutcome) {
      const row = deliveries.get(id);
      if (row?.status !== 'sending' || row.leaseOwner !== owner) return false;
      const list = attemptLog.get(id) ?? [];
      list.push(structuredClone({ ...outcome.attempt, deliveryId: id }));
      attemptLog.set(id, list);
      row.leaseOwner = null;
      row.leaseUntil = null;
      row.updatedAt = new Date();
      if (outcome.status === 'sent') {
        row.status = 'sent';
        row.providerMessageId = outcome.providerMessageId;
        row.sentAt = new Date(outcome.attempt.startedAt.getTime() + outcome.attempt.durationMs);
        row.lastError = null;
        row.nextAttemptAt = null;
      } else if (outcome.status === 'retrying') {
        row.status = 'retrying';
        row.lastError = outcome.error;
        row.nextAttemptAt = new Date(outcome.nextAttemptAt);
        if (outcome.failover) {
          row.backend = outcome.failover.backend;
          row.message = structuredClone(outcome.failover.message);
          row.maxAttempts = outcome.failover.maxAttempts;
        }
      } else {
        row.status = 'failed';
        row.lastError = outcome.error;
        row.nextAttemptAt = null;
      }
      if (outcome.status === 'retrying') notify();
      return true;
    },

    async release(ids, owner) {
      const now = new Date();
      let released = false;
      for (const id of ids) {
        const row = deliveries.get(id);
        if (row?.status !== 'sending' || row.leaseOwner !== owner) continue;
        row.attempts = Math.max(0, row.attempts - 1);
        row.status = row.attempts > 0 ? 'retrying' : 'queued';
        row.leaseOwner = null;
        row.leaseUntil = null;
        row.nextAttemptAt = new Date(now);
        row.updatedAt = new Date(now);
        released = true;
      }
      if (released) notify();
    },

    async requeue(id, opts) {
      const row = deliveries.get(id);
      if (!row) return null;
      if (row.status === 'sending') return toDelivery(row);
      row.status = 'queued';
      row.skipReason = null;
      row.attempts = 0;
      row.maxAttempts = opts.maxAttempts;
      row.expiresAt = opts.expiresAt ? new Date(opts.expiresAt) : null;
      row.nextAttemptAt = new Date(opts.now);
      row.updatedAt = new Date(opts.now);
      row.leaseOwner = null;
      row.leaseUntil = null;
      notify();
      return toDelivery(row);
    },

    async claimPolls(opts) {
      const due = [...deliveries.values()]
        .filter(
          (row) =>
            row.backend === opts.backend &&
            (row.status === 'sent' || row.status === 'deferred') &&
            row.sentAt !== null &&
            row.sentAt.getTime() <= opts.sentBefore.getTime() &&
            (row.lastPolledAt === null || row.lastPolledAt.getTime() <= opts.polledBefore.getTime()),
        )
        .sort((a, b) => (a.lastPolledAt?.getTime() ?? 0) - (b.lastPolledAt?.getTime() ?? 0) || a.sentAt!.getTime() - b.sentAt!.getTime())
        .slice(0, opts.limit);
      for (const row of due) row.lastPolledAt = new Date(opts.now);
      return due.map(toDelivery);
    },

    async cancel(id, opts) {
      const row = deliveries.get(id);
      if (!row) return null;
      if (row.status === 'queued' || row.status === 'retrying') {
        row.status = 'cancelled';
        row.lastError = opts.reason;
        row.nextAttemptAt = null;
        row.updatedAt = new Date(opts.now);
      }
      return toDelivery(row);
    },

    async get(id) {
      const row = deliveries.get(id);
      return row ? toDelivery(row) : null;
    },

    async list(filter = {}) {
      const rows = [...deliveries.values()]
        .filter((row) => matches(row, filter))
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
      return (filter.limit === undefined ? rows : rows.slice(0, filter.limit)).map(toDelivery);
    },

    async count(filter = {}) {
      const counts: DeliveryCounts = {};
      for (const row of deliveries.values()) {
        if (matches(row, filter)) counts[row.status] = (counts[row.status] ?? 0) + 1;
      }
      return counts;
    },

    async attempts(deliveryId) {
      return structuredClone(attemptLog.get(deliveryId) ?? []);
    },

    async nextDueAt() {
      let earliest: number | null = null;
      for (const row of deliveries.values()) {
        if (!ACTIVE.has(row.status) || row.nextAttemptAt === null) continue;
        const t = row.nextAttemptAt.getTime();
        if (earliest === null || t < earliest) earliest = t;
      }
      return earliest === null ? null : new Date(earliest);
    },

    async recordEvent(backend: string, event: TrackingEvent, opts) {
      const key = eventKey(backend, event.eventId);
      const existing = trackingEvents.get(key);
      if (existing) {
        const row = existing.deliveryId ? deliveries.get(existing.deliveryId) : undefined;
        return { inserted: false, delivery: row ? toDelivery(row) : null, statusChanged: false, previousStatus: row?.status ?? null };
      }
      let row: Row | undefined;
      if (event.deliveryId) {
        const byId = deliveries.get(event.deliveryId);
        if (byId && byId.backend === backend) row = byId;
      }
      if (!row && event.messageId !== null) {
        for (const candidate of deliveries.values()) {
          if (candidate.backend === backend && candidate.providerMessageId === event.messageId) {
            if (!row || candidate.createdAt.getTime() > row.createdAt.getTime()) row = candidate;
          }
        }
      }
      trackingEvents.set(key, structuredClone({ ...event, backend, deliveryId: row?.id ?? null, receivedAt: opts.now }));
      let statusChanged = false;
      const previousStatus = row?.status ?? null;
      if (row && event.providerStatus) {
        row.providerStatus = event.providerStatus;
        row.updatedAt = new Date(opts.now);
      }
      if (row && opts.status !== null && canAdvance(row.status, opts.status)) {
        row.status = opts.status;
        row.updatedAt = new Date(opts.now);
        statusChanged = true;
      }
      const result: RecordEventResult = { inserted: true, delivery: row ? toDelivery(row) : null, statusChanged, previousStatus };
      return result;
    },

    async forgetEvent(backend, eventId) {
      trackingEvents.delete(eventKey(backend, eventId));
    },

    async events(deliveryId) {
      return [...trackingEvents.values()]
        .filter((event) => event.deliveryId === deliveryId)
        .sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime())
        .map((event) => structuredClone(event));
    },

    async recordInbound(backend, event, now) {
      const key = eventKey(backend, event.eventId);
      if (inbound.has(key)) return false;
      inbound.set(key, { event: structuredClone(event), receivedAt: new Date(now) });
      return true;
    },

    async finishMany(items) {
      const results: boolean[] = [];
      for (const item of items) results.push(await this.finish(item.id, item.owner, item.outcome));
      return results;
    },

    async forgetInbound(backend, eventId) {
      inbound.delete(eventKey(backend, eventId));
    },

    async findByProviderMessageId(backend, messageId) {
      let found: Row | undefined;
      for (const row of deliveries.values()) {
        if (row.backend === backend && row.providerMessageId === messageId) {
          if (!found || row.createdAt.getTime() > found.createdAt.getTime()) found = row;
        }
      }
      return found ? toDelivery(found) : null;
    },

    async getOptOuts(keys) {
      const result = new Map<string, string[]>();
      for (const key of keys) {
        const categories = optOuts.get(key);
        if (categories) result.set(key, [...categories]);
      }
      return result;
    },

    async setOptOuts(key, categories) {
      if (categories.length === 0) optOuts.delete(key);
      else optOuts.set(key, [...new Set(categories)]);
    },

    async suppress(entry) {
      suppressions.set(eventKey(entry.protocol, entry.address), {
        protocol: entry.protocol,
        address: entry.address,
        reason: entry.reason,
        createdAt: new Date(entry.createdAt ?? new Date()),
      });
    },

    async unsuppress(protocol: Protocol, address: string) {
      return suppressions.delete(eventKey(protocol, address));
    },

    async suppressed(protocol, addresses) {
      const result = new Map<string, Suppression>();
      for (const address of addresses) {
        const entry = suppressions.get(eventKey(protocol, address));
        if (entry) result.set(address, structuredClone(entry));
      }
      return result;
    },

    async listSuppressions(filter = {}) {
      const limit = filter.limit ?? 100;
      return [...suppressions.values()]
        .filter((s) => filter.protocol === undefined || s.protocol === filter.protocol)
        .filter((s) => filter.search === undefined || s.address.includes(filter.search))
        .filter((s) => {
          if (filter.before === undefined) return true;
          const t = s.createdAt.getTime();
          const b = filter.before.getTime();
          return t < b || (t === b && filter.beforeAddress !== undefined && s.address < filter.beforeAddress);
        })
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.address < b.address ? 1 : a.address > b.address ? -1 : 0))
        .slice(0, limit)
        .map((s) => structuredClone(s));
    },

    async prune(opts) {
      const batchSize = Math.max(1, opts.batchSize ?? 1000);
      let removed = 0;
      for (;;) {
        const batch: string[] = [];
        for (const row of deliveries.values()) {
          if (FINISHED.has(row.status) && row.updatedAt.getTime() < opts.olderThan.getTime()) {
            batch.push(row.id);
            if (batch.length === batchSize) break;
          }
        }
        for (const id of batch) {
          deliveries.delete(id);
          attemptLog.delete(id);
        }
        const gone = new Set(batch);
        for (const [key, event] of trackingEvents) {
          if (event.deliveryId !== null && gone.has(event.deliveryId)) trackingEvents.delete(key);
        }
        removed += batch.length;
        if (batch.length < batchSize) break;
      }
      // Unmatched events and inbound messages follow the same retention (as in the SQL stores).
      for (const [key, event] of trackingEvents) {
        if (event.deliveryId === null && event.receivedAt.getTime() < opts.olderThan.getTime()) trackingEvents.delete(key);
      }
      for (const [key, entry] of inbound) {
        if (entry.receivedAt.getTime() < opts.olderThan.getTime()) inbound.delete(key);
      }
      return removed;
    },

    async reserveRate(key, perSecond, now) {
      // Token bucket that may go negative: each reservation past the burst waits one more interval.
      const t = now.getTime();
      const state = rates.get(key) ?? { tokens: perSecond, at: t };
      const elapsed = Math.max(0, t - state.at);
      let tokens = Math.min(perSecond, state.tokens + (elapsed * perSecond) / 1000);
      const wait = tokens >= 1 ? 0 : Math.ceil(((1 - tokens) * 1000) / perSecond);
      tokens -= 1;
      rates.set(key, { tokens, at: Math.max(t, state.at) });
      return wait;
    },

    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    async saveKey(record) {
      if (keys.has(record.id)) throw new ConfigError(`an API key with id "${record.id}" exists already`, { field: 'id' });
      keys.set(record.id, { ...record, scopes: [...record.scopes] });
    },
    async findKey(id) {
      const key = keys.get(id);
      return key ? { ...key, scopes: [...key.scopes] } : null;
    },
    async listKeys() {
      return [...keys.values()].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).map((k) => ({ ...k, scopes: [...k.scopes] }));
    },
    async revokeKey(id, now) {
      const key = keys.get(id);
      if (!key || key.revokedAt) return false;
      key.revokedAt = new Date(now);
      return true;
    },
    async touchKey(id, now) {
      const key = keys.get(id);
      if (key) key.lastUsedAt = new Date(now);
    },

    async close() {
      listeners.clear();
    },
  };
}
