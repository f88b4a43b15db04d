import type { FailureScope } from './errors';
import type { TemplateOptions } from './templates/registry';
import type { Duration, Notification, NotificationInput, Recipient } from './notification';
import type { Protocol } from './protocols';
import type {
  Attempt,
  Backend,
  Delivery,
  DeliveryCounts,
  DeliveryFilter,
  DeliveryStatus,
  InboundEvent,
  Logger,
  RenderedContent,
  SendOptions,
  SkipReason,
  Store,
  StoredTrackingEvent,
  Suppression,
  SuppressionFilter,
  TemplateFormat,
  TrackingEvent,
} from './types';

/** A contact configured once that receives notifications too (django-vox site contacts). */
export interface SiteContact {
  name?: string;
  protocol: Protocol;
  address: string;
  backend?: string;
  /** Whitelist: only these notification ids. */
  only?: string[];
  /** Blacklist: every notification but these ids. */
  except?: string[];
}

/** Backoff between attempts (bullmq's shape). A function gets the attempt number (1 = first retry). */
export type BackoffOptions =
  | { type: 'exponential'; delay: Duration; maxDelay?: Duration; jitter?: 'full' | 'none' }
  | { type: 'fixed'; delay: Duration; jitter?: 'full' | 'none' }
  | ((attempt: number, error: unknown) => number);

export interface RetryOptions {
  /** Attempts before a delivery fails. @default 8 */
  maxAttempts?: number;
  /** No attempt starts after this age. @default '24h' */
  maxAge?: Duration;
  /** @default { type: 'exponential', delay: '2s', maxDelay: '1h', jitter: 'full' } */
  backoff?: BackoffOptions;
}

/**
 * When a delivery moves to the next backend of its protocol (see docs/delivery-lifecycle.md, "Failover").
 * A delivery fails over when its backend fails permanently with an error whose scope is in `on`, when it exhausts
 * its transient retries (scope `provider` unless the backend said otherwise), or when its backend's circuit is open.
 */
export interface FailoverOptions {
  /**
   * Which failures move a delivery on: scopes (`provider`, `recipient`, `content`), or a function deciding per
   * error. @default ['provider']
   */
  on?: readonly FailureScope[] | ((error: unknown, delivery: Delivery) => boolean);
  /**
   * Circuit breaker per backend: after `failures` consecutive provider failures the backend is marked down for
   * `coolDown`; deliveries that have another backend go there at once, then one probe send tests it (half-open).
   * `false` turns it off. @default { failures: 5, coolDown: '30s' }
   */
  circuit?: { failures: number; coolDown: Duration } | false;
}

export interface HeraldOptions {
  store: Store;
  backends: Backend[];
  notifications: Notification[];
  /** Folder of template files `<notification>/<backend-or-protocol>.<format>.hbs`. */
  templatesDir?: string;
  /** Partials, helpers and layouts shared by every template (see docs/templates.md). */
  templates?: TemplateOptions;
  siteContacts?: SiteContact[];
  /** How to pick among several backends of one protocol. @default 'failover' */
  routing?: Partial<Record<Protocol, 'failover' | 'round-robin'>>;
  retry?: RetryOptions;
  /** Failover between backends of one protocol. */
  failover?: FailoverOptions;
  /** Structured logger; `false` silences Herald. @default warnings and errors to the console */
  logger?: Logger | false;
  webhooks?: {
    /** Largest accepted webhook body in bytes (413 beyond). @default 1_048_576 */
    maxBodyBytes?: number;
  };
}

export interface NotifyOptions {
  /** Enqueue inside the caller's own transaction (store-specific handle, e.g. a pg client inside BEGIN). */
  transaction?: unknown;
  /** Send options for this call, merged over the notification's and the backend's defaults. */
  options?: SendOptions;
  /**
   * Hold the deliveries until this instant (a `Date` or an ISO 8601 string with a time zone), on every backend:
   * the worker does not claim them before. A past instant sends at once. `retry.maxAge` counts from it. Not the
   * same as `options.sendAt`, which asks a provider that supports it to schedule the send itself.
   */
  sendAt?: Date | string;
  /** Hold the deliveries this long (`'15m'`, `'2h'`, milliseconds). Exclusive with `sendAt`. */
  delay?: Duration;
}

/**
 * A notification validated, planned and rendered by `herald.prepare()`, waiting to be stored. `enqueue()` is
 * synchronous, so it can run inside a synchronous database transaction (better-sqlite3's `db.transaction`): the
 * deliveries commit or roll back with the app's own writes.
 */
export interface PreparedNotification {
  readonly batchId: string;
  /** Contacts that will get no delivery, with the reason (the store may add duplicates on enqueue). */
  readonly skipped: readonly SkippedContact[];
  /** How many deliveries `enqueue()` will queue (before the store's dedupe check). */
  readonly size: number;
  /**
   * Store the deliveries now, inside the caller's transaction when one is active on the store's connection.
   * Once only. Throws `ConfigError` when the store cannot enqueue synchronously (use `notify(…, { transaction })`).
   */
  enqueue(transaction?: unknown): NotifyResult;
}

export interface SkippedContact {
  recipientId: string | null;
  protocol: string;
  address: string;
  backend: string | null;
  reason: SkipReason;
  /** Set when the skip was recorded as a delivery row. */
  deliveryId: string | null;
}

export interface NotifyResult {
  batchId: string;
  /** The queued deliveries. */
  deliveries: Delivery[];
  /** Every contact that got no delivery, with the reason. */
  skipped: SkippedContact[];
}

/** One channel's rendered message, as `preview()` returns it. */
export interface PreviewMessage {
  /** The backend name or protocol the template was written for. */
  channel: string;
  backend: string | null;
  protocol: Protocol;
  content: RenderedContent;
}

export interface WorkerOptions {
  /** Sends in flight at once. @default 8 */
  concurrency?: number;
  /** How long a claim holds before another worker may reclaim it. @default '5m' */
  lease?: Duration;
  /** Longest a single send may take before it is aborted and retried. @default '60s' */
  sendTimeout?: Duration;
  /** Fallback poll interval when the store has no wake-up. @default '1s' */
  pollInterval?: Duration;
  /** Unique worker id (appears in the attempt log). @default host-pid-random */
  id?: string;
  /**
   * Claim only deliveries of these backends (by instance name), e.g. one worker pool per provider
   * (`herald worker --backends smtp`). Unknown names are a `ConfigError`. @default every backend of the instance
   */
  backends?: readonly string[];
}

export interface HeraldWorker {
  readonly id: string;
  readonly running: boolean;
  /** Stop claiming, finish sends in flight, give back claimed-but-unsent deliveries. */
  stop(): Promise<void>;
}

export interface DrainResult {
  sent: number;
  failed: number;
  retrying: number;
}

export interface DeliveryChange {
  from: DeliveryStatus | null;
  to: DeliveryStatus;
}

/** A delivery moving from one backend to the next (see {@link FailoverOptions}). */
export interface FailoverChange {
  from: string;
  to: string;
  /** Why: the error text of the last attempt, or that the backend's circuit was open. */
  reason: string;
}

export interface HeraldEvents {
  delivery: (delivery: Delivery, change: DeliveryChange) => void;
  failover: (delivery: Delivery, change: FailoverChange) => void;
  /** Every attempt once it is recorded (its outcome, duration, backend, worker): metrics and health endpoints. */
  attempt: (attempt: Attempt, delivery: Delivery) => void;
  tracking: (event: TrackingEvent, delivery: Delivery | null) => void | Promise<void>;
  inbound: (event: InboundEvent, backend: string) => void | Promise<void>;
  error: (error: unknown) => void;
}

export interface Herald {
  /**
   * Fan out, filter, render and enqueue one notification for these recipients — all in one store transaction.
   * Throws `ValidationError` (bad data or contact), `TemplateError`, `UnsupportedFeatureError` or
   * `RequiredNotificationError`; nothing of a failed call is stored.
   */
  notify<N extends Notification>(notification: N, data: NotificationInput<N>, recipients: readonly Recipient[], options?: NotifyOptions): Promise<NotifyResult>;
  /**
   * `notify()` without its last step: validate, plan and render now, and return a {@link PreparedNotification} whose
   * synchronous `enqueue()` stores the deliveries — inside your own better-sqlite3 transaction, for example.
   */
  prepare<N extends Notification>(notification: N, data: NotificationInput<N>, recipients: readonly Recipient[], options?: Omit<NotifyOptions, 'transaction'>): Promise<PreparedNotification>;
  /** Render every channel's message without sending. */
  preview<N extends Notification>(notification: N, data: NotificationInput<N>, options?: { recipient?: { id?: string; name?: string } }): Promise<PreviewMessage[]>;
  /**
   * The channels a notification renders for, without data: `preview()`'s list without content (a backend name or
   * protocol, the backend when one is configured, and the template's format).
   */
  channels(notification: Notification): { channel: string; backend: string | null; protocol: Protocol; format: TemplateFormat }[];
  /** Start a worker in this process. */
  worker(options?: WorkerOptions): HeraldWorker;
  /**
   * Send everything due now and wait until nothing is due or in flight (scripts and tests). End a script with
   * `await herald.close()`: open SMTP connections or a PostgreSQL pool keep Node running until it is closed.
   */
  drain(options?: Omit<WorkerOptions, 'id'>): Promise<DrainResult>;
  /** Send a failed (or finished) delivery again with a fresh attempt budget. */
  redeliver(deliveryId: string): Promise<Delivery>;
  /**
   * Take a delivery that is still waiting (`queued` — a scheduled one too — or `retrying`) out of the queue: status
   * `cancelled`, never sent. Throws `NotFoundError` for an unknown id and `ValidationError` for a delivery that is
   * being sent or already finished (nothing changes then).
   */
  cancel(deliveryId: string, options?: { reason?: string }): Promise<Delivery>;
  on<E extends keyof HeraldEvents>(event: E, listener: HeraldEvents[E]): () => void;
  readonly webhooks: {
    /** Route `/<backend>/tracking` and `/<backend>/inbound` (Fetch API). Mount under any prefix. */
    handle(request: Request): Promise<Response>;
  };
  readonly deliveries: {
    get(id: string): Promise<Delivery | null>;
    list(filter?: DeliveryFilter): Promise<Delivery[]>;
    count(filter?: Omit<DeliveryFilter, 'status' | 'limit' | 'before'>): Promise<DeliveryCounts>;
    attempts(id: string): Promise<Attempt[]>;
    events(id: string): Promise<StoredTrackingEvent[]>;
  };
  readonly preferences: {
    get(key: string): Promise<string[]>;
    set(key: string, optOut: readonly string[]): Promise<void>;
  };
  readonly suppressions: {
    add(protocol: Protocol, address: string, reason: string): Promise<void>;
    remove(protocol: Protocol, address: string): Promise<boolean>;
    check(protocol: Protocol, address: string): Promise<Suppression | null>;
    /** The list, newest first; `search` matches part of the normalized address. */
    list(filter?: SuppressionFilter): Promise<Suppression[]>;
  };
  /** Delete finished deliveries older than this (with their attempts and events). */
  prune(options: { olderThan: Duration | Date; batchSize?: number }): Promise<number>;
  readonly store: Store;
  readonly backends: readonly Backend[];
  /** The registered notifications, in the order given to `createHerald` (the HTTP API and the CLI look them up by id). */
  readonly notifications: readonly Notification[];
  /** Stop workers, close backends and the store. */
  close(): Promise<void>;
}
