import type { DeliveryChange, NotifyOptions, NotifyResult, PreparedNotification, SiteContact, SkippedContact } from './api';
import { ConfigError, HeraldError, RequiredNotificationError, StoreError, ValidationError } from './errors';
import { newId } from './ids';
import { type Notification, type Recipient, toMs } from './notification';
import { planDeliveries } from './plan';
import type { Protocol } from './protocols';
import { renderMessages } from './render';
import type { ResolvedRetry } from './retry';
import type { Router } from './routing';
import type { Backend, Delivery, EnqueueResult, NewDelivery, Store, Suppression } from './types';
import { validateInput } from './validate';
import { unknownKeys } from './options';

const NOTIFY_OPTIONS = ['transaction', 'options', 'sendAt', 'delay'] as const;
const SEND_OPTIONS = ['from', 'replyTo', 'cc', 'bcc', 'headers', 'tags', 'metadata', 'sendAt', 'trackOpens', 'trackClicks', 'providerOptions'] as const;

/** Unknown keys in a call's options are errors, never ignored (`{ transacton }` would silently skip the transaction). */
export function checkCallOptions(call: string, options: unknown): void {
  const issues = [...unknownKeys(options, NOTIFY_OPTIONS, 'options'), ...unknownKeys((options as NotifyOptions | undefined)?.options, SEND_OPTIONS, 'options.options')];
  if (issues.length) throw new ConfigError(`${call}: ${issues.map((i) => i.message).join('; ')}`, { field: issues[0]!.path });
}

export interface NotifyDeps {
  store: Store;
  backends: ReadonlyMap<string, Backend>;
  siteContacts: readonly SiteContact[];
  router: Router;
  retry: ResolvedRetry;
  ready(): Promise<void>;
  registered(notification: Notification): Notification;
  /** Whether anyone listens to delivery events. */
  observed(): boolean;
  emitDelivery(delivery: Delivery, change: DeliveryChange): void;
}

/** A `notify()` call validated, planned and rendered, not yet stored. */
interface Prepared {
  n: Notification;
  batchId: string;
  rows: NewDelivery[];
  skipped: SkippedContact[];
}

/**
 * `notify()` as its stages: **validate** (`validateInput`) → **plan** (`planDeliveries`) → **render**
 * (`renderMessages`) → **enqueue** (one store transaction). `prepare()` runs the first three, so an app can
 * run the last one synchronously inside its own database transaction.
 */
export function createNotifier(deps: NotifyDeps) {
  async function prepareRows(notification: Notification, data: unknown, recipients: readonly Recipient[], callOptions: NotifyOptions): Promise<Prepared> {
    const n = deps.registered(notification);
    checkCallOptions(`notify("${n.id}")`, callOptions);
    if (!Array.isArray(recipients)) {
      throw new ValidationError(`notify("${n.id}"): recipients must be an array of { id?, name?, contacts: [{ protocol, address }] }`, [{ path: 'recipients', message: 'not an array' }]);
    }
    const input = validateInput(n, data, recipients, { backends: deps.backends, siteContacts: deps.siteContacts });
    // Bad data, contacts, or strings a store cannot hold fail before anything is looked up or rendered.
    if (input.issues.length) throw new ValidationError(`notify("${n.id}"): invalid input; nothing was enqueued`, input.issues);
    await deps.ready();
    const { optOuts, suppressed } = await lookupAudience(deps.store, n, input.targets);
    const now = new Date();
    const due = dueAt(callOptions, now);
    const retry = deps.retry;
    const dedupeKey = n.dedupe ? n.dedupe.key(input.data as never) : null;
    const batchId = newId('b_');
    const plan = planDeliveries({
      notification: n,
      targets: input.targets,
      router: deps.router,
      optOuts,
      suppressed,
      batchId,
      now,
      due,
      maxAttempts: retry.maxAttempts,
      expiresAt: new Date(due.getTime() + retry.maxAgeMs),
      dedupe: n.dedupe && dedupeKey !== null ? { key: dedupeKey, since: dedupeSince(now, toMs(n.dedupe.window)) } : null,
      newId: () => newId('d_'),
    });
    if (plan.issues.length) throw new ValidationError(`notify("${n.id}"): invalid input; nothing was enqueued`, plan.issues);
    if (n.required && plan.queued.length === 0) throw new RequiredNotificationError(n.id, plan.skipped);
    await renderMessages({ notification: n, data: input.data as Record<string, unknown>, queued: plan.queued, callOptions: callOptions.options });
    return { n, batchId, rows: plan.rows, skipped: plan.skipped };
  }

  /** What the store's answer means for the caller: the queued deliveries, the store's duplicates as skipped. */
  function settle(prepared: Prepared, result: EnqueueResult): NotifyResult {
    const { n, rows, batchId } = prepared;
    const skipped = prepared.skipped.slice();
    const dup = result.duplicates.length ? new Set(result.duplicates) : null;
    const deliveries: Delivery[] = [];
    for (const row of rows) {
      if (row.status === 'skipped') continue;
      if (dup?.has(row.id)) {
        skipped.push({ recipientId: row.recipientId, protocol: row.protocol, address: row.address, backend: row.backend, reason: 'duplicate', deliveryId: row.id });
        continue;
      }
      deliveries.push(rowToDelivery(row));
    }
    if (n.required && deliveries.length === 0) throw new RequiredNotificationError(n.id, skipped);
    if (deps.observed()) for (const d of deliveries) deps.emitDelivery(d, { from: null, to: 'queued' });
    return { batchId, deliveries, skipped };
  }

  async function notify(notification: Notification, data: unknown, recipients: readonly Recipient[], callOptions: NotifyOptions = {}): Promise<NotifyResult> {
    const prepared = await prepareRows(notification, data, recipients, callOptions);
    const options = callOptions.transaction === undefined ? undefined : { transaction: callOptions.transaction };
    const result = await asHeraldError(deps.store, () => deps.store.enqueue(prepared.rows, options));
    return settle(prepared, result);
  }

  async function prepare(notification: Notification, data: unknown, recipients: readonly Recipient[], callOptions: Omit<NotifyOptions, 'transaction'> = {}): Promise<PreparedNotification> {
    if ((callOptions as NotifyOptions).transaction !== undefined) {
      throw new ConfigError('prepare() takes no transaction option: pass the transaction to prepared.enqueue() instead', { field: 'options.transaction' });
    }
    const prepared = await prepareRows(notification, data, recipients, callOptions);
    const { store } = deps;
    let done = false;
    return {
      batchId: prepared.batchId,
      skipped: prepared.skipped,
      size: prepared.rows.length - prepared.skipped.length,
      enqueue(transaction?: unknown): NotifyResult {
        if (!store.enqueueSync) {
          throw new ConfigError(`store "${store.name}" cannot enqueue synchronously; use notify(…, { transaction }) with its transaction handle instead`, { field: 'store' });
        }
        if (done) throw new ConfigError('this prepared notification was already enqueued; call prepare() again for another copy', { field: 'prepared' });
        const result = store.enqueueSync(prepared.rows, transaction === undefined ? undefined : { transaction });
        done = true;
        return settle(prepared, result);
      },
    };
  }

  return { notify, prepare };
}

/** The latest JavaScript date: no delivery is ever created at or after it. */
const NEVER = new Date(8.64e15);

/** Where a dedupe window starts; a zero window records the key without skipping (no earlier row is that new). */
function dedupeSince(now: Date, windowMs: number): Date {
  return windowMs === 0 ? NEVER : new Date(now.getTime() - windowMs);
}

/** When the deliveries of a call become due: now, or held by `sendAt` / `delay`. */
function dueAt(options: NotifyOptions, now: Date): Date {
  const { sendAt, delay } = options;
  if (sendAt !== undefined && delay !== undefined) {
    throw new ConfigError('options.sendAt and options.delay both set; use one', { field: 'options.delay' });
  }
  if (delay !== undefined) return new Date(now.getTime() + toMs(delay, 'options.delay'));
  if (sendAt === undefined) return now;
  const at = sendAt instanceof Date ? sendAt : typeof sendAt === 'string' && /(?:Z|[+-]\d\d:?\d\d)$/i.test(sendAt) ? new Date(sendAt) : new Date(Number.NaN);
  if (Number.isNaN(at.getTime())) {
    throw new ValidationError('options.sendAt must be a Date or an ISO 8601 timestamp with a time zone, e.g. "2026-12-24T18:00:00Z"', [
      { path: 'options.sendAt', message: `got ${JSON.stringify(sendAt)}` },
    ]);
  }
  return at.getTime() > now.getTime() ? at : now;
}

/** Preferences and suppressions for every target, looked up in bulk (one query each). */
async function lookupAudience(store: Store, n: Notification, targets: readonly { recipient: Recipient | null; contact: { protocol: Protocol }; norm: string }[]) {
  const prefKeys = new Set<string>();
  const byProto = new Map<Protocol, Set<string>>();
  for (const t of targets) {
    if (t.recipient?.id) prefKeys.add(t.recipient.id);
    prefKeys.add(t.norm);
    let set = byProto.get(t.contact.protocol);
    if (!set) {
      set = new Set();
      byProto.set(t.contact.protocol, set);
    }
    set.add(t.norm);
  }
  const optOuts = n.category && !n.required ? await store.getOptOuts([...prefKeys]) : new Map<string, string[]>();
  const suppressed = new Map<Protocol, Map<string, Suppression>>();
  for (const [protocol, set] of byProto) suppressed.set(protocol, await store.suppressed(protocol, [...set]));
  return { optOuts, suppressed };
}

/** Every error `notify()` throws is one of Herald's classes: a driver's raw error is wrapped, naming the store. */
async function asHeraldError<T>(store: Store, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof HeraldError) throw error;
    throw new StoreError(store.name, `could not enqueue: ${error instanceof Error ? error.message : String(error)}; nothing was enqueued`, error);
  }
}

function rowToDelivery(row: NewDelivery): Delivery {
  return {
    id: row.id,
    batchId: row.batchId,
    notification: row.notification,
    category: row.category,
    recipientId: row.recipientId,
    protocol: row.protocol,
    address: row.address,
    backend: row.backend,
    status: row.status,
    skipReason: row.skipReason,
    dedupeKey: row.dedupeKey,
    attempts: 0,
    maxAttempts: row.maxAttempts,
    providerMessageId: null,
    lastError: null,
    message: row.message,
    createdAt: row.createdAt,
    updatedAt: row.createdAt,
    nextAttemptAt: row.nextAttemptAt,
    expiresAt: row.expiresAt,
    leaseOwner: null,
    leaseUntil: null,
    sentAt: null,
    providerStatus: null,
  };
}
