import { hostname } from 'node:os';
import type { DeliveryChange, DrainResult, FailoverChange, HeraldWorker } from './api';
import type { CircuitBreaker } from './circuit';
import type { WorkerConfig } from './config';
import { attemptOutcome, classifyAttempt, scopeOf } from './classify';
import { HeraldError, PermanentError, TransientError } from './errors';
import { redact, redactAddress, redactJson } from './secrets';
import { newId } from './ids';
import type { ResolvedRetry } from './retry';
import type { Attempt, AttemptOutcome, Backend, Delivery, JsonObject, JsonValue, Logger, OutboundMessage, SendResult, Store } from './types';

export interface WorkerDeps {
  store: Store;
  /** Resolves once the store is migrated (core owns migration); the worker claims nothing before. */
  ready(): Promise<void>;
  backends: ReadonlyMap<string, Backend>;
  retry: ResolvedRetry;
  logger: Logger;
  emitDelivery(delivery: Delivery, change: DeliveryChange): void;
  /** Whether anyone listens to delivery events (when not, the worker skips building them). */
  observed(): boolean;
  /** Called for hard failures that carry `suppress` (e.g. 410 Gone). */
  suppress(delivery: Delivery, reason: string): Promise<void>;
  /** Per-backend circuit breaker shared by this instance's workers; null when turned off. */
  breaker: CircuitBreaker | null;
  /** Whether a failure moves this delivery to its next backend (the `failover.on` option). */
  failsOver(failure: unknown, delivery: Delivery): boolean;
  emitFailover(delivery: Delivery, change: FailoverChange): void;
  /** Recorded attempts, for `herald.on('attempt')`. */
  emitAttempt(attempt: Attempt, delivery: Delivery): void;
}

export interface WorkerSettings extends WorkerConfig {
  /** Stop by itself once nothing is due and nothing is in flight. */
  drain: boolean;
}

interface TimedSend {
  deadline: number;
  controller: AbortController | null;
  backend: string;
  reject(error: unknown): void;
  /** Set when the send timed out (a signal created later starts aborted). */
  reason: Error | null;
}

/** Longest an outcome waits to be written with others (see `record`). */
const FLUSH_DELAY_MS = 5;

const NOOP = () => {};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** In-process token spacing used when the store offers no shared `reserveRate`. */
class LocalRate {
  private next = 0;
  reserve(perSecond: number, now: number): number {
    const slot = Math.max(now, this.next);
    this.next = slot + 1000 / perSecond;
    return slot - now;
  }
}

/**
 * Claims due deliveries with a lease, sends them through their backends, records every attempt, and retries
 * transient failures with backoff. One instance per `herald.worker()` / `herald.drain()` call.
 */
export class Worker implements HeraldWorker {
  readonly id: string;
  private state: 'running' | 'stopping' | 'stopped' = 'running';
  /** Deliveries being processed, outcome not yet recorded (stop and drain wait for these). */
  private inFlight = 0;
  /** Sends in progress: what `concurrency` limits. A slot frees when the send ends, before its outcome is written. */
  private sending = 0;
  private readonly perBackend = new Map<string, { active: number; waiting: (() => void)[] }>();
  private readonly rates = new Map<string, LocalRate>();
  private wake: (() => void) | null = null;
  private readonly unsubscribe: (() => void) | undefined;
  private readonly loop: Promise<void>;
  /** Claimed deliveries waiting for a free slot: claims are batched, not one per freed slot. */
  private readonly buffer: Delivery[] = [];
  /** Outcomes waiting to be written together (one store transaction per tick). */
  private pending: { delivery: Delivery; outcome: AttemptOutcome; done: (ok: boolean) => void }[] = [];
  private flushScheduled = false;
  private flushTimer: NodeJS.Timeout | null = null;
  /** Sends in progress with their deadlines, checked by {@link ensureSweeper}. */
  private readonly timed = new Set<TimedSend>();
  private sweeper: NodeJS.Timeout | null = null;
  readonly result: DrainResult = { sent: 0, failed: 0, retrying: 0 };

  constructor(
    private readonly deps: WorkerDeps,
    private readonly settings: WorkerSettings,
  ) {
    this.id = settings.id ?? `${hostname()}-${process.pid}-${newId().slice(-6)}`;
    // Deferred a tick: a store may notify from inside `finish`, before this worker has recorded the outcome.
    this.unsubscribe = deps.store.subscribe?.(() => setImmediate(() => this.poke()));
    this.loop = this.run().catch((error: unknown) => {
      deps.logger.error('worker loop crashed', { worker: this.id, error: String(error) });
    });
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** Resolves when the worker has stopped (after `stop()`, or by itself in drain mode). */
  get done(): Promise<void> {
    return this.loop;
  }

  async stop(): Promise<void> {
    if (this.state === 'running') this.state = 'stopping';
    this.poke();
    await this.loop;
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private async run(): Promise<void> {
    const { store, logger } = this.deps;
    const backendNames = this.settings.backends ?? [...this.deps.backends.keys()];
    // `nextDueAt` counts every backend's deliveries: a drain limited to some backends stops when their claim is empty.
    const limited = this.settings.backends !== undefined;
    const { concurrency } = this.settings;
    let storeFailures = 0;
    try {
      for (;;) {
        try {
          await this.deps.ready();
          break;
        } catch (error) {
          storeFailures++;
          const backoff = Math.min(30_000, 100 * 2 ** Math.min(storeFailures, 9));
          logger.error('store migration failed; retrying', { worker: this.id, error: String(error), retryInMs: backoff });
          await this.idle(backoff);
          if (this.state !== 'running') return;
        }
      }
      storeFailures = 0;
      while (this.state === 'running') {
        // Refill the buffer in batches once at least a whole round of slots is free, so a busy worker makes
        // one claim per `concurrency` sends instead of one per send.
        let claimed: Delivery[] = [];
        const room = 2 * concurrency - this.sending - this.buffer.length;
        if (room >= concurrency) {
          try {
            claimed = await store.claim({ owner: this.id, limit: room, leaseMs: this.settings.leaseMs, backends: backendNames });
            storeFailures = 0;
          } catch (error) {
            storeFailures++;
            const backoff = Math.min(30_000, 100 * 2 ** Math.min(storeFailures, 9));
            logger.error('store claim failed; backing off', { worker: this.id, error: String(error), retryInMs: backoff });
            await this.idle(backoff);
            continue;
          }
          this.buffer.push(...claimed);
        }
        while (this.sending < concurrency && this.buffer.length) this.start(this.buffer.shift()!);
        if (claimed.length === room && this.sending < concurrency) continue;
        if (this.settings.drain && this.inFlight === 0 && this.buffer.length === 0 && claimed.length === 0) {
          if (limited) break;
          const due = await store.nextDueAt().catch(() => null);
          if (!due || due.getTime() > Date.now()) break;
          continue;
        }
        await this.idle(this.sending >= concurrency || this.buffer.length ? this.settings.pollMs : await this.waitMs());
      }
    } finally {
      this.state = 'stopping';
      if (this.buffer.length) {
        const ids = this.buffer.splice(0).map((d) => d.id);
        await store.release(ids, this.id).catch((error: unknown) => {
          logger.warn('could not give back claimed deliveries; they are retried when their lease expires', { worker: this.id, error: String(error) });
        });
      }
      while (this.inFlight > 0) await new Promise<void>((resolve) => (this.wake = resolve));
      this.unsubscribe?.();
      this.state = 'stopped';
    }
  }

  /** How long to sleep when idle: until the next due delivery, bounded by the poll interval. */
  private async waitMs(): Promise<number> {
    try {
      const due = await this.deps.store.nextDueAt();
      if (!due) return this.settings.pollMs;
      const ms = due.getTime() - Date.now();
      // A worker limited to some backends cannot tell whether what is overdue is its own: without this it would
      // spin on another pool's backlog (claims come back empty and the wait is 0, round after round).
      if (ms <= 0 && this.settings.backends) return this.settings.pollMs;
      return Math.max(0, Math.min(this.settings.pollMs, ms));
    } catch {
      return this.settings.pollMs;
    }
  }

  private idle(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private start(delivery: Delivery): void {
    this.inFlight++;
    this.sending++;
    let slotFreed = false;
    const freeSlot = () => {
      if (slotFreed) return;
      slotFreed = true;
      this.sending--;
      this.poke();
    };
    this.process(delivery, freeSlot)
      .catch((error: unknown) => {
        this.deps.logger.error('delivery processing failed', { delivery: delivery.id, error: String(error) });
      })
      .finally(() => {
        freeSlot();
        this.inFlight--;
        this.poke();
      });
  }

  private async acquire(backend: Backend): Promise<() => void> {
    const limit = backend.concurrency;
    if (!limit) return () => {};
    let slot = this.perBackend.get(backend.name);
    if (!slot) {
      slot = { active: 0, waiting: [] };
      this.perBackend.set(backend.name, slot);
    }
    const s = slot;
    if (s.active >= limit) await new Promise<void>((resolve) => s.waiting.push(resolve));
    s.active++;
    return () => {
      s.active--;
      s.waiting.shift()?.();
    };
  }

  private async throttle(backend: Backend): Promise<void> {
    const perSecond = backend.rateLimit?.perSecond;
    if (!perSecond) return;
    const now = new Date();
    let wait: number;
    if (this.deps.store.reserveRate) {
      wait = await this.deps.store.reserveRate(`backend:${backend.name}`, perSecond, now);
    } else {
      const rate = this.rates.get(backend.name) ?? new LocalRate();
      this.rates.set(backend.name, rate);
      wait = rate.reserve(perSecond, now.getTime());
    }
    if (wait > 0) await sleep(wait);
  }

  private async process(delivery: Delivery, freeSlot: () => void): Promise<void> {
    const { emitDelivery } = this.deps;
    if (this.deps.observed()) emitDelivery(delivery, { from: delivery.attempts > 1 ? 'retrying' : 'queued', to: 'sending' });
    const backend = delivery.backend ? this.deps.backends.get(delivery.backend) : undefined;
    const message = delivery.message;
    const startedAt = new Date();
    const workerId = this.id;
    // A literal per attempt (not a spread of a shared base), so V8 keeps it a small fast object.
    const attemptOf = (durationMs: number, outcome: Attempt['outcome'], response: JsonValue | null, error: string | null): Attempt => ({
      deliveryId: delivery.id,
      attempt: delivery.attempts,
      startedAt,
      durationMs,
      outcome,
      request: summarize(delivery),
      response,
      error,
      workerId,
      backend: delivery.backend,
    });
    if (!backend || !message) {
      await this.record(delivery, {
        status: 'failed',
        error: `no backend "${delivery.backend}" in this worker`,
        attempt: attemptOf(0, 'permanent', null, 'no backend'),
      });
      return;
    }
    if (delivery.expiresAt && delivery.expiresAt.getTime() < startedAt.getTime()) {
      const error = `gave up: older than retry.maxAge (expired ${delivery.expiresAt.toISOString()})`;
      await this.record(delivery, { status: 'failed', error, attempt: attemptOf(0, 'expired', null, error) });
      return;
    }
    const breaker = this.deps.breaker;
    if (breaker && message.fallbacks?.length && !breaker.allows(backend.name, startedAt.getTime())) {
      const error = `backend "${backend.name}" is marked down after consecutive failures (circuit open); not sent`;
      await this.decide(delivery, backend, null, error, attemptOf(0, 'circuit-open', null, error), true);
      return;
    }
    const release = backend.concurrency ? await this.acquire(backend) : NOOP;
    let result: SendResult | undefined;
    let failure: unknown;
    try {
      if (backend.rateLimit?.perSecond) await this.throttle(backend);
      result = await this.sendWithTimeout(backend, message, delivery);
    } catch (error) {
      failure = error;
    } finally {
      release();
      freeSlot();
    }
    const durationMs = Date.now() - startedAt.getTime();
    if (result && !failure) {
      if (allRefused(result)) failure = new PermanentError('all recipients were rejected or invalid', { backend: backend.name, response: result.response ?? null, rejectReason: 'invalid', scope: 'recipient' });
    }
    if (!failure) {
      breaker?.succeeded(backend.name);
      const providerMessageId = result?.messageId ?? firstMessageId(result) ?? null;
      await this.record(delivery, {
        status: 'sent',
        providerMessageId,
        attempt: attemptOf(durationMs, 'sent', redactJson(jsonSafe(result?.response ?? null), backend.secrets), null),
      });
      return;
    }
    if (breaker && scopeOf(failure) === 'provider' && breaker.failed(backend.name, Date.now())) {
      this.deps.logger.warn('backend marked down after consecutive failures; deliveries with another backend fail over', { backend: backend.name, worker: this.id });
    }
    const errorText = redact(describe(failure), backend.secrets);
    const response = failure instanceof HeraldError ? redactJson(jsonSafe(failure.response ?? null), backend.secrets) : null;
    await this.decide(delivery, backend, failure, errorText, attemptOf(durationMs, attemptOutcome(failure), response, errorText), false);
  }

  /** Record what {@link classifyAttempt} decides for a failed (or not sent) attempt. */
  private async decide(delivery: Delivery, backend: Backend, failure: unknown, errorText: string, attempt: Attempt, circuitOpen: boolean): Promise<void> {
    const { retry } = this.deps;
    const retryAfter = failure instanceof TransientError ? failure.retryAfterMs : undefined;
    const verdict = classifyAttempt({
      delivery,
      failure,
      errorText,
      circuitOpen,
      now: Date.now(),
      retryDelayMs: retry.delayMs(delivery.attempts, failure, retryAfter),
      failsOver: (f) => this.deps.failsOver(f, delivery),
    });
    switch (verdict.kind) {
      case 'sent':
        return;
      case 'retry':
        await this.record(delivery, { status: 'retrying', nextAttemptAt: verdict.at, error: verdict.error, attempt });
        return;
      case 'failed':
        await this.record(delivery, { status: 'failed', error: verdict.error, attempt });
        if (verdict.suppress && failure instanceof PermanentError) {
          await this.deps.suppress(delivery, failure.rejectReason ?? 'permanent failure').catch(() => {});
        }
        return;
      case 'failover': {
        const { to, rest } = verdict;
        const message: OutboundMessage = { ...delivery.message!, backend: to.backend, content: to.content, attachments: to.attachments, options: to.options };
        if (rest.length) message.fallbacks = rest;
        else delete message.fallbacks;
        const failover = { backend: to.backend, message, maxAttempts: delivery.attempts + retry.maxAttempts };
        const ok = await this.record(delivery, { status: 'retrying', nextAttemptAt: new Date(), error: verdict.error, attempt, failover });
        if (ok) {
          this.deps.logger.info('delivery failed over to the next backend', { delivery: delivery.id, from: backend.name, to: to.backend, worker: this.id });
          this.deps.emitFailover({ ...delivery, backend: to.backend, message, maxAttempts: failover.maxAttempts, status: 'retrying' }, { from: backend.name, to: to.backend, reason: verdict.error });
        }
        return;
      }
    }
  }

  /**
   * Send with the worker's timeout. Deadlines are checked by one sweeper timer per worker rather than a timer per
   * send: a send is aborted within a tenth of the timeout (at most a second) after its deadline passes.
   */
  private sendWithTimeout(backend: Backend, message: NonNullable<Delivery['message']>, delivery: Delivery): Promise<SendResult> {
    const { sendTimeoutMs } = this.settings;
    return new Promise<SendResult>((resolve, reject) => {
      const entry: TimedSend = { deadline: performance.now() + sendTimeoutMs, controller: null, backend: backend.name, reject, reason: null };
      this.timed.add(entry);
      this.ensureSweeper();
      const ctx = {
        attempt: delivery.attempts,
        idempotencyKey: delivery.id,
        logger: this.deps.logger,
        // Created on first use: a backend that never looks at the signal costs no AbortController.
        get signal(): AbortSignal {
          if (!entry.controller) {
            entry.controller = new AbortController();
            if (entry.reason) entry.controller.abort(entry.reason);
          }
          return entry.controller.signal;
        },
      };
      let sending: Promise<SendResult>;
      try {
        sending = backend.send(message.fallbacks ? withoutFallbacks(message) : message, ctx);
      } catch (error) {
        sending = Promise.reject(error);
      }
      sending.then(
        (result) => {
          this.timed.delete(entry);
          resolve(result);
        },
        (error: unknown) => {
          this.timed.delete(entry);
          reject(error);
        },
      );
    });
  }

  private ensureSweeper(): void {
    if (this.sweeper) return;
    const every = Math.max(10, Math.min(1000, Math.floor(this.settings.sendTimeoutMs / 10)));
    this.sweeper = setInterval(() => {
      const now = performance.now();
      for (const entry of this.timed) {
        if (entry.deadline > now) continue;
        this.timed.delete(entry);
        const error = new TransientError(`send timed out after ${this.settings.sendTimeoutMs} ms`, { backend: entry.backend });
        entry.reason = error;
        entry.controller?.abort(error);
        entry.reject(error);
      }
      if (this.timed.size === 0) {
        clearInterval(this.sweeper!);
        this.sweeper = null;
      }
    }, every);
  }

  /**
   * Queue an outcome for the next batched write. A batch is written once `concurrency` outcomes are waiting, or
   * {@link FLUSH_DELAY_MS} after its first one: fewer, larger transactions, and an outcome is never held longer
   * than that (a crash in between only means the send is retried, as for a crash during the send).
   */
  private record(delivery: Delivery, outcome: AttemptOutcome): Promise<boolean> {
    return new Promise<boolean>((done) => {
      this.pending.push({ delivery, outcome, done });
      if (this.pending.length >= this.settings.concurrency || this.state !== 'running') {
        if (this.flushTimer) clearTimeout(this.flushTimer);
        this.flushTimer = null;
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(() => void this.flush());
        }
      } else if (!this.flushScheduled && !this.flushTimer) {
        this.flushTimer = setTimeout(() => {
          this.flushTimer = null;
          if (this.flushScheduled) return;
          this.flushScheduled = true;
          void this.flush();
        }, FLUSH_DELAY_MS);
      }
    });
  }

  /** Runs synchronously as the store confirms, so listeners see transitions in order. */
  private recorded(delivery: Delivery, outcome: AttemptOutcome, ok: boolean): void {
    if (!ok) {
      this.deps.logger.warn('lease lost before the attempt was recorded (another worker took over)', { delivery: delivery.id, worker: this.id });
      return;
    }
    this.deps.emitAttempt(outcome.attempt, delivery);
    if (outcome.status === 'sent') this.result.sent++;
    else if (outcome.status === 'failed') {
      this.result.failed++;
      this.deps.logger.warn('delivery failed', { delivery: delivery.id, backend: delivery.backend, to: maskAddress(delivery.address), error: outcome.error });
    } else {
      this.result.retrying++;
      if (delivery.attempts === 1 && !outcome.failover) {
        this.deps.logger.info('delivery will be retried', { delivery: delivery.id, backend: delivery.backend, to: maskAddress(delivery.address), error: outcome.error, at: outcome.nextAttemptAt.toISOString() });
      }
    }
    if (!this.deps.observed()) return;
    const updated: Delivery = {
      ...delivery,
      status: outcome.status,
      updatedAt: new Date(),
      lastError: outcome.status === 'sent' ? delivery.lastError : outcome.error,
      providerMessageId: outcome.status === 'sent' ? outcome.providerMessageId : delivery.providerMessageId,
      sentAt: outcome.status === 'sent' ? new Date() : delivery.sentAt,
      nextAttemptAt: outcome.status === 'retrying' ? outcome.nextAttemptAt : null,
      leaseOwner: null,
      leaseUntil: null,
    };
    this.deps.emitDelivery(updated, { from: 'sending', to: outcome.status });
  }

  /** Write every outcome queued since the last tick in one store call; retry while the store is unreachable. */
  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.flushScheduled = false;
    if (!batch.length) return;
    const { store, logger } = this.deps;
    for (let i = 0; ; i++) {
      try {
        const results = store.finishMany
          ? await store.finishMany(batch.map((b) => ({ id: b.delivery.id, owner: this.id, outcome: b.outcome })))
          : await Promise.all(batch.map((b) => store.finish(b.delivery.id, this.id, b.outcome)));
        batch.forEach((b, k) => {
          this.recorded(b.delivery, b.outcome, results[k] === true);
          b.done(results[k] === true);
        });
        return;
      } catch (error) {
        // The store is unreachable: keep the outcomes and retry; if the lease runs out first another worker resends.
        if (i >= 8) {
          logger.error('could not record attempts; those deliveries are retried after their lease expires', { worker: this.id, count: batch.length, error: String(error) });
          for (const b of batch) {
            this.recorded(b.delivery, b.outcome, false);
            b.done(false);
          }
          return;
        }
        await sleep(Math.min(10_000, 100 * 2 ** i));
      }
    }
  }
}

/** An address as logs show it: enough to recognise, not enough to harvest (`a***@shop.dev`, `+4415…23`). */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at > 0 && !address.startsWith('http')) return `${address[0]}***${address.slice(at)}`;
  if (/^https?:\/\//.test(address)) {
    try {
      return `${new URL(address).origin}/…`;
    } catch {
      return '…';
    }
  }
  return address.length > 6 ? `${address.slice(0, 5)}…${address.slice(-2)}` : '…';
}

/** Backends never see the pre-rendered messages of the other backends. */
function withoutFallbacks(message: OutboundMessage): OutboundMessage {
  const { fallbacks: _, ...plain } = message;
  return plain;
}

function summarize(delivery: Delivery): JsonObject {
  const m = delivery.message;
  // The address may be a credential (a Slack webhook URL's path): the log keeps it masked.
  const out: JsonObject = { backend: delivery.backend, to: redactAddress(delivery.address), notification: delivery.notification };
  if (m?.content.subject) out.subject = m.content.subject;
  if (m) out.format = m.content.format;
  return out;
}

/** True when the provider answered for every recipient and refused them all. */
function allRefused(result: SendResult): boolean {
  let any = false;
  for (const key in result.recipients) {
    const status = result.recipients[key]!.status;
    if (status !== 'invalid' && status !== 'rejected') return false;
    any = true;
  }
  return any;
}

function firstMessageId(result: SendResult | undefined): string | undefined {
  if (!result?.recipients) return undefined;
  for (const r of Object.values(result.recipients)) if (r.messageId) return r.messageId;
  return undefined;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error && !error.message.includes(error.cause.message) ? ` (cause: ${error.cause.message})` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

/** True when `value` is already plain JSON (no class instances, functions, cycles or non-finite numbers). */
function isPlainJson(value: unknown, depth = 0): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'object' || depth > 8) return false;
  if (Array.isArray(value)) return value.every((v) => isPlainJson(v, depth + 1));
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value) if (!isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
  return true;
}

/** Keep only what survives JSON (provider answers may hold class instances or cycles). */
function jsonSafe(value: unknown): JsonValue {
  if (value === undefined) return null;
  if (isPlainJson(value)) return value as JsonValue;
  try {
    return JSON.parse(JSON.stringify(value)) as JsonValue;
  } catch {
    return String(value);
  }
}
