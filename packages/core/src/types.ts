import type { RejectReason } from './errors';
import type { Protocol } from './protocols';

/** JSON values as stored by every store. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

// ───────────────────────── templates and rendered content ─────────────────────────

/** How a template's source is turned into message content. */
export type TemplateFormat = 'html' | 'markdown' | 'blocks' | 'params' | 'text';
export const TEMPLATE_FORMATS: readonly TemplateFormat[] = ['html', 'markdown', 'blocks', 'params', 'text'];

/** A nested object whose string leaves are Handlebars templates (the `params` format). */
export type ParamsSource = { [key: string]: string | number | boolean | null | ParamsSource | ParamsSource[] | string[] };

/** A template as authored for one channel (a backend name or a protocol). */
export interface TemplateSpec {
  format: TemplateFormat;
  /** Subject line (Handlebars, never HTML-escaped). `blocks` may set it in a `subject` block instead. */
  subject?: string;
  /** The template source. For `params`, key-value lines (`key: value`) or an object of templates. */
  body: string | ParamsSource;
  /** `false`: the template is not used, as if absent (django-vox's `enabled`). @default true */
  enabled?: boolean;
  /** Sender (Handlebars, like the subject; django-vox's `from_address`): rendered into `RenderedContent.from`. */
  from?: string;
}

/** What rendering produces; which fields are set depends on the format. */
export interface RenderedContent {
  format: TemplateFormat;
  subject?: string;
  /** The template's rendered `from`, when it has one; `notify()` makes it the message's `options.from`. */
  from?: string;
  text?: string;
  html?: string;
  /** `params` format output: provider template model, JSON webhook body, Block Kit JSON. */
  params?: JsonObject;
}

/** A file attached to a message. `content` is base64 so it survives the store as JSON. */
export interface Attachment {
  filename: string;
  contentType: string;
  /** base64-encoded bytes. */
  content: string;
  /** Content-ID for inline images; unsupported by some backends. */
  contentId?: string;
}

/** An attachment as returned by a notification's `attachments(data)`: content may be bytes or text. */
export interface AttachmentInput {
  filename: string;
  contentType?: string;
  content: string | Uint8Array;
  contentId?: string;
}

/** Per-send options a notification or `notify()` call may set. Backends declare which they support. */
export interface SendOptions {
  from?: string;
  replyTo?: string[];
  cc?: string[];
  bcc?: string[];
  headers?: Record<string, string>;
  tags?: string[];
  metadata?: Record<string, string>;
  /** Ask the provider to send later (ISO timestamp). Unsupported by most backends. */
  sendAt?: string;
  trackOpens?: boolean;
  trackClicks?: boolean;
  /** Merged into the provider payload as-is (anymail's `esp_extra`). Keyed by backend name. */
  providerOptions?: Record<string, JsonObject>;
}

// ───────────────────────── messages and deliveries ─────────────────────────

/** The fully rendered message one backend sends to one contact. Stored as JSON at enqueue time. */
export interface OutboundMessage {
  /** The delivery id; also the idempotency key passed to providers that accept one. */
  deliveryId: string;
  notification: string;
  protocol: Protocol;
  backend: string;
  /** The contact's address (empty string is valid for a twitter timeline post). */
  to: string;
  recipient: { id?: string; name?: string };
  content: RenderedContent;
  attachments: Attachment[];
  options: SendOptions;
  /**
   * The same message rendered for the protocol's other backends, in failover order (set by `notify()` when the
   * protocol routes by `failover` or `round-robin` and has more than one backend with a template). The worker
   * moves the delivery to the next one when this backend fails over; backends never see this field.
   */
  fallbacks?: FallbackMessage[];
}

/** A message pre-rendered for another backend of the same protocol (see {@link OutboundMessage.fallbacks}). */
export interface FallbackMessage {
  backend: string;
  content: RenderedContent;
  attachments: Attachment[];
  options: SendOptions;
}

/** Delivery status. Tracking outcomes move forward only (see `statusRank`). */
export type DeliveryStatus =
  | 'queued'
  | 'sending'
  | 'retrying'
  | 'sent'
  | 'failed'
  | 'skipped'
  | 'deferred'
  | 'delivered'
  | 'opened'
  | 'clicked'
  | 'bounced'
  | 'rejected'
  | 'complained'
  | 'unsubscribed'
  /** Taken out of the queue before it was sent (`herald.cancel()`): never sent. */
  | 'cancelled';

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = [
  'queued', 'sending', 'retrying', 'sent', 'failed', 'skipped', 'deferred', 'delivered', 'opened', 'clicked', 'bounced', 'rejected', 'complained', 'unsubscribed', 'cancelled',
];

/** Why a contact got no delivery. */
export type SkipReason =
  | 'opted-out'
  | 'suppressed'
  | 'duplicate'
  | 'no-backend'
  | 'no-template'
  | 'test-address'
  | 'site-contact-disabled';

/** One message to one contact through one backend. */
export interface Delivery {
  id: string;
  /** Id shared by every delivery created by one `notify()` call. */
  batchId: string;
  notification: string;
  category: string | null;
  recipientId: string | null;
  protocol: Protocol;
  address: string;
  backend: string | null;
  status: DeliveryStatus;
  skipReason: SkipReason | null;
  dedupeKey: string | null;
  /** Attempts made so far (incremented when a worker claims the delivery). */
  attempts: number;
  maxAttempts: number;
  providerMessageId: string | null;
  lastError: string | null;
  message: OutboundMessage | null;
  createdAt: Date;
  updatedAt: Date;
  /** When the next attempt is due (queued / retrying). */
  nextAttemptAt: Date | null;
  /** After this instant no further attempt is made (retry `maxAge`). */
  expiresAt: Date | null;
  leaseOwner: string | null;
  leaseUntil: Date | null;
  sentAt: Date | null;
  /** The provider's latest status word, verbatim, from tracking events that carry one (null otherwise). */
  providerStatus: string | null;
}

/** One send attempt as kept in the attempt log. */
export interface Attempt {
  deliveryId: string;
  /** 1-based attempt number. */
  attempt: number;
  startedAt: Date;
  durationMs: number;
  /**
   * `abandoned`: a worker claimed the delivery and its lease ran out before it recorded anything (it crashed or
   * lost the store) — the send may or may not have reached the provider. `circuit-open`: not sent, because the
   * backend was marked down after consecutive failures; the delivery failed over or was rescheduled.
   */
  outcome: 'sent' | 'transient' | 'permanent' | 'unsupported' | 'expired' | 'abandoned' | 'circuit-open';
  /** The backend that made (or was to make) this attempt; failover moves later attempts to another one. */
  backend: string | null;
  /** Short description of the request (backend, address, subject) — never credentials. */
  request: JsonObject | null;
  /** The provider's answer (success body or error body). */
  response: JsonValue | null;
  error: string | null;
  workerId: string;
}

/** anymail's per-recipient send status. */
export type RecipientStatus = 'sent' | 'queued' | 'invalid' | 'rejected' | 'failed' | 'unknown';

/** What `backend.send()` returns. */
export interface SendResult {
  /** Provider message id (one for the message, or the `to` recipient's). */
  messageId?: string;
  /** Status per recipient address (to, cc, bcc), when the provider reports it. */
  recipients?: Record<string, { status: RecipientStatus; messageId?: string }>;
  /** The provider's raw answer, stored in the attempt log. */
  response?: JsonValue;
}

// ───────────────────────── tracking and inbound events ─────────────────────────

/** anymail's normalized event types. */
export type TrackingEventType =
  | 'queued'
  | 'sent'
  | 'rejected'
  | 'failed'
  | 'bounced'
  | 'deferred'
  | 'delivered'
  | 'autoresponded'
  | 'opened'
  | 'clicked'
  | 'complained'
  | 'unsubscribed'
  | 'subscribed'
  | 'unknown';

export const TRACKING_EVENT_TYPES: readonly TrackingEventType[] = [
  'queued', 'sent', 'rejected', 'failed', 'bounced', 'deferred', 'delivered', 'autoresponded', 'opened', 'clicked', 'complained', 'unsubscribed', 'subscribed', 'unknown',
];
export const REJECT_REASONS: readonly RejectReason[] = ['invalid', 'bounced', 'timed_out', 'blocked', 'spam', 'unsubscribed', 'other'];

/** A provider's status notification, normalized (anymail's `AnymailTrackingEvent`). */
export interface TrackingEvent {
  eventType: TrackingEventType;
  /** Unique id of this event at the provider; replays with the same id are ignored. */
  eventId: string;
  /** The provider's message id, used to find the delivery. */
  messageId: string | null;
  /**
   * Herald's delivery id, when the provider echoes it back (GOV.UK Notify's `reference`, SendGrid `custom_args`):
   * the delivery is then found by it (and its backend) instead of by `messageId`.
   */
  deliveryId?: string | null;
  /** The provider's own status word, verbatim (`permanent-failure`, `temporary-failure` …): kept on the delivery. */
  providerStatus?: string | null;
  timestamp: Date | null;
  recipient: string | null;
  metadata: Record<string, string>;
  tags: string[];
  rejectReason: RejectReason | null;
  description: string | null;
  mtaResponse: string | null;
  userAgent: string | null;
  clickUrl: string | null;
  /** The provider's event as received. */
  raw: JsonValue;
}

/** An attachment of an inbound message (bytes as base64). */
export interface InboundAttachment {
  filename: string | null;
  contentType: string;
  content: string;
  contentId: string | null;
}

/** A message received through a provider's inbound webhook (anymail's `AnymailInboundMessage`). */
export interface InboundMessage {
  from: string | null;
  to: string[];
  cc: string[];
  subject: string | null;
  date: Date | null;
  text: string | null;
  html: string | null;
  headers: Record<string, string>;
  attachments: InboundAttachment[];
  envelopeSender: string | null;
  envelopeRecipient: string | null;
  spamScore: number | null;
}

export interface InboundEvent {
  eventType: 'inbound';
  eventId: string;
  timestamp: Date | null;
  message: InboundMessage;
  raw: JsonValue;
}

/** A stored tracking event, tied to its backend and (when found) its delivery. */
export interface StoredTrackingEvent extends TrackingEvent {
  backend: string;
  deliveryId: string | null;
  receivedAt: Date;
}

// ───────────────────────── store contract ─────────────────────────

/** A delivery as handed to `store.enqueue()`. */
export interface NewDelivery {
  id: string;
  batchId: string;
  notification: string;
  category: string | null;
  recipientId: string | null;
  protocol: Protocol;
  address: string;
  backend: string | null;
  /** `queued`, or `skipped` with a reason. */
  status: 'queued' | 'skipped';
  skipReason: SkipReason | null;
  /** When set, the store skips this row as `duplicate` if a non-failed, non-skipped delivery with the same key
   *  and normalized address was created at or after `dedupeSince`. The check and the insert are atomic. */
  dedupeKey: string | null;
  dedupeSince: Date | null;
  /** Normalized address used for the dedupe comparison. */
  dedupeAddress: string | null;
  maxAttempts: number;
  message: OutboundMessage | null;
  createdAt: Date;
  nextAttemptAt: Date | null;
  expiresAt: Date | null;
}

export interface EnqueueOptions {
  /**
   * A store-specific transaction handle (e.g. a pg client inside BEGIN): enqueue joins it. A store that cannot
   * join it throws `ConfigError`.
   */
  transaction?: unknown;
}

export interface EnqueueResult {
  /** Ids of rows the store turned into `skipped: duplicate` because of the dedupe check. */
  duplicates: string[];
}

export interface ClaimOptions {
  /** Unique id of the claiming worker. */
  owner: string;
  limit: number;
  /** How long the claim holds; after that another worker may reclaim. */
  leaseMs: number;
  now?: Date;
  /** Only claim deliveries for these backends (a worker that lacks some backends). */
  backends?: readonly string[];
}

/** The outcome of one attempt, recorded together with its attempt-log entry. */
export type AttemptOutcome =
  | { status: 'sent'; providerMessageId: string | null; attempt: Attempt }
  | { status: 'retrying'; nextAttemptAt: Date; error: string; attempt: Attempt; failover?: Failover }
  | { status: 'failed'; error: string; attempt: Attempt };

/**
 * Move a delivery to another backend of its protocol (failover): the store sets `backend`, replaces the stored
 * message with the one rendered for that backend, and raises `maxAttempts` so the new backend gets its own
 * attempt budget. `expiresAt` is kept: `retry.maxAge` spans the whole delivery.
 */
export interface Failover {
  backend: string;
  message: OutboundMessage;
  maxAttempts: number;
}

export interface DeliveryFilter {
  status?: DeliveryStatus | readonly DeliveryStatus[];
  notification?: string;
  backend?: string;
  recipientId?: string;
  address?: string;
  batchId?: string;
  /** Deliveries whose notification was sent with this dedupe key (postmaster's uniqueID). */
  dedupeKey?: string;
  /** Deliveries created at or after this instant (a time range's start). */
  since?: Date;
  /**
   * Deliveries created before this instant (for paging newest-first). With `beforeId`, a keyset cursor: those
   * created before `before`, or at `before` with an id sorting before `beforeId` — so pages never skip or repeat
   * rows that share a timestamp. Lists are ordered by `createdAt` then `id`, both descending.
   */
  before?: Date;
  beforeId?: string;
  limit?: number;
}

export interface Suppression {
  protocol: Protocol;
  /** Normalized address. */
  address: string;
  reason: string;
  createdAt: Date;
}

export interface RecordEventResult {
  /** False when an event with the same backend and event id was already stored (a replay). */
  inserted: boolean;
  /** The delivery the event belongs to, after any status change. */
  delivery: Delivery | null;
  /** True when the delivery's status moved forward because of this event. */
  statusChanged: boolean;
  /** The delivery's status before this event (null when no delivery matched). Saves a read before recording. */
  previousStatus: DeliveryStatus | null;
}

export interface DeliveryCounts {
  [status: string]: number;
}

/** The `error` of the attempt-log entry a store writes when it reclaims an expired lease (outcome `abandoned`). */
export const ABANDONED_ATTEMPT_ERROR = 'lease expired before the worker recorded an outcome; the send may have reached the provider';

/**
 * Lifecycle of a store: its name, its schema, retention and shutdown. Core owns the order: it awaits
 * `migrate()` once before the first use of any other method; a store never migrates implicitly.
 */
export interface StoreLifecycle {
  readonly name: string;
  /** Create or upgrade the schema. Idempotent; safe to run concurrently (from many processes, too). */
  migrate(): Promise<void>;
  /**
   * Retention, in batches: delete finished deliveries last updated before `olderThan` with their attempts and
   * events, then tracking events that matched no delivery and inbound events received before `olderThan`
   * (nothing else would ever delete those). Events of deliveries that are kept stay. Returns the number of
   * deliveries deleted.
   */
  prune(options: { olderThan: Date; batchSize?: number }): Promise<number>;
  /** The schema's migrations, applied and pending, without changing anything (`herald migrate --dry-run`). */
  migrations(): Promise<{ applied: MigrationInfo[]; pending: MigrationInfo[] }>;
  close(): Promise<void>;
}

/** One versioned schema migration of a store. */
export interface MigrationInfo {
  version: number;
  description: string;
}

/** The work queue: deliveries in, leases out, outcomes back. The worker's hot path. */
export interface QueueStore {
  /**
   * Insert every row atomically (all or none), applying the dedupe check inside the same transaction.
   * `dedupeAddress` arrives normalized (core normalizes); the store compares it as given. With
   * `{ transaction }` a store that can join the caller's transaction (a pg client inside `BEGIN`) does so; a
   * store that cannot must throw `ConfigError`, never ignore the handle.
   */
  enqueue(rows: readonly NewDelivery[], options?: EnqueueOptions): Promise<EnqueueResult>;
  /**
   * Optional synchronous {@link enqueue}, for stores whose driver runs transactions synchronously
   * (better-sqlite3): it runs inside whatever transaction is active on the store's connection (a savepoint in
   * the caller's `db.transaction(...)`), so the rows commit or roll back with the caller's own writes. Core's
   * `herald.prepare(...)` → `prepared.enqueue(db)` calls it. `transaction`, when given, must be the store's own
   * connection (`ConfigError` otherwise).
   */
  enqueueSync?(rows: readonly NewDelivery[], options?: EnqueueOptions): EnqueueResult;
  /**
   * Claim due deliveries (`queued`/`retrying` with `nextAttemptAt <= now`, or `sending` whose lease expired):
   * set `sending`, the lease, and `attempts + 1`. Never hands one delivery to two live leases. Reclaiming an
   * expired lease records the lost attempt in the same transaction: an attempt-log entry with the dead lease's
   * attempt number, owner (`workerId`), claim time (`startedAt`), the delivery's backend and outcome `abandoned`.
   */
  claim(options: ClaimOptions): Promise<Delivery[]>;
  /**
   * Record an attempt and move the delivery on, in one write. Returns false (and changes nothing) if `owner` no
   * longer holds the lease. A `retrying` outcome with `failover` also sets the delivery's `backend`, stored
   * message and `maxAttempts` from it (claims then filter by the new backend); `expiresAt` stays.
   */
  finish(id: string, owner: string, outcome: AttemptOutcome): Promise<boolean>;
  /**
   * Optional: record several attempts in one write (one transaction), with `finish`'s semantics per item.
   * Workers group the outcomes of one tick through it; results are in input order.
   */
  finishMany?(items: readonly { id: string; owner: string; outcome: AttemptOutcome }[]): Promise<boolean[]>;
  /** Give claimed deliveries back without counting the attempt (graceful stop). */
  release(ids: readonly string[], owner: string): Promise<void>;
  /** Put a `failed` (or any finished) delivery back in the queue with a fresh attempt budget. */
  requeue(id: string, options: { now: Date; expiresAt: Date | null; maxAttempts: number }): Promise<Delivery | null>;
  /**
   * Cancel a delivery that is still waiting (`queued` or `retrying`): atomically set `cancelled`, `lastError` to
   * `reason`, clear `nextAttemptAt`. A delivery in any other status is left as it is. Returns the delivery as it
   * is afterwards (its status says whether it was cancelled), or null when there is none.
   */
  cancel(id: string, options: { now: Date; reason: string }): Promise<Delivery | null>;
  /**
   * Deliveries of `backend` whose provider should be asked about them (status polling, `BackendPolling`): `sent` or
   * `deferred`, sent at or before `sentBefore`, and polled never or at or before `polledBefore`; least recently
   * polled first, at most `limit`. Marks them polled at `now` in the same statement, so another worker does not poll
   * them again before `polledBefore` passes them — no double polling across processes.
   */
  claimPolls(options: { backend: string; sentBefore: Date; polledBefore: Date; limit: number; now: Date }): Promise<Delivery[]>;
  /** Earliest `nextAttemptAt` of any queued/retrying delivery, or the earliest lease expiry; null when idle. */
  nextDueAt(): Promise<Date | null>;
  /**
   * Optional shared rate limit: reserve one send slot for `key` at `perSecond`; returns how many ms the caller
   * must wait before sending (0 = now). Stores shared by many processes make the limit hold across them.
   */
  reserveRate?(key: string, perSecond: number, now: Date): Promise<number>;
  /** Optional wake-up: call `listener` when new work may be due (in-process event, LISTEN/NOTIFY…). */
  subscribe?(listener: () => void): () => void;
}

/** Reading deliveries and their attempt log (API, dashboard, webhook matching). */
export interface DeliveryLog {
  get(id: string): Promise<Delivery | null>;
  list(filter?: DeliveryFilter): Promise<Delivery[]>;
  count(filter?: Omit<DeliveryFilter, 'status' | 'limit' | 'before'>): Promise<DeliveryCounts>;
  /** The attempt log of a delivery, oldest first (abandoned attempts included). */
  attempts(deliveryId: string): Promise<Attempt[]>;
  /** The newest delivery of `backend` with this provider message id. */
  findByProviderMessageId(backend: string, messageId: string): Promise<Delivery | null>;
}

/** Tracking and inbound events, idempotent by `(backend, eventId)`. */
export interface EventLog {
  /**
   * Store a tracking event (idempotent by backend + eventId), find its delivery by provider message id, and move
   * the delivery's status forward (never backward: `canAdvance`) — one transaction. The result carries the
   * status before the event (`previousStatus`), so the webhook layer needs no read of its own.
   */
  recordEvent(backend: string, event: TrackingEvent, options: { now: Date; status: DeliveryStatus | null }): Promise<RecordEventResult>;
  /** Remove a stored event so a provider retry is processed again (used when a listener failed). Status changes stay. */
  forgetEvent(backend: string, eventId: string): Promise<void>;
  /** Events of a delivery, by `receivedAt`. */
  events(deliveryId: string): Promise<StoredTrackingEvent[]>;
  /** Store an inbound event; false when already stored (replay). */
  recordInbound(backend: string, event: InboundEvent, now: Date): Promise<boolean>;
  /** Remove a stored inbound event so a provider retry is processed again (an `inbound` listener failed). */
  forgetInbound(backend: string, eventId: string): Promise<void>;
}

/**
 * Preferences and the suppression list. Addresses arrive normalized (core runs `normalizeAddress` once); a store
 * compares and stores them exactly as given and never normalizes again.
 */
export interface Audience {
  /** Opt-out categories per preference key (a recipient id or a normalized address). */
  getOptOuts(keys: readonly string[]): Promise<Map<string, string[]>>;
  setOptOuts(key: string, categories: readonly string[]): Promise<void>;
  /** Add or replace the entry for `(protocol, address)`. */
  suppress(entry: Omit<Suppression, 'createdAt'> & { createdAt?: Date }): Promise<void>;
  /** True when an entry was removed. */
  unsuppress(protocol: Protocol, address: string): Promise<boolean>;
  /** Which of these (normalized) addresses are suppressed, keyed by the address as given. */
  suppressed(protocol: Protocol, addresses: readonly string[]): Promise<Map<string, Suppression>>;
  /**
   * The suppression list, newest first, for people to read (`herald suppressions list`, the dashboard): optionally one
   * protocol, addresses containing `search`, and keyset paging by (`before`, `beforeAddress`).
   */
  listSuppressions(filter?: SuppressionFilter): Promise<Suppression[]>;
}

export interface SuppressionFilter {
  protocol?: Protocol;
  /** Substring of the (normalized) address. */
  search?: string;
  /** Entries created before this instant, or at it with an address sorting before `beforeAddress`. */
  before?: Date;
  beforeAddress?: string;
  /** @default 100 */
  limit?: number;
}

/**
 * The persistence contract, in four named parts plus lifecycle: {@link QueueStore} (the worker's hot path),
 * {@link DeliveryLog}, {@link EventLog} and {@link Audience}. A store stores; core owns every policy decision
 * (address normalization, status rules, retention cut-offs, migration order). Every store passes the shared
 * conformance suite (`testStore` from `@herald/core/testing/vitest`), grouped in the same parts.
 */
/** An API key of the HTTP API, as stored: only a hash of the secret part, never the key itself. */
export interface ApiKeyRecord {
  /** Public id, shown in lists and logs (the key is `hk_<id>_<secret>`). */
  id: string;
  name: string | null;
  /** Hash of the whole key (e.g. SHA-256, hex). */
  hash: string;
  /** What the key may do, e.g. `send`, `read`, `admin`. */
  scopes: string[];
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

/** The HTTP API's keys. */
export interface KeyStore {
  /** Insert a new key (ids are unique). */
  saveKey(record: ApiKeyRecord): Promise<void>;
  findKey(id: string): Promise<ApiKeyRecord | null>;
  /** Every key, revoked ones included, newest first. */
  listKeys(): Promise<ApiKeyRecord[]>;
  /** Mark a key revoked; false when there is no such key or it was revoked already. */
  revokeKey(id: string, now: Date): Promise<boolean>;
  /** Record a use (at most once a minute per key is enough; stores may skip writes). */
  touchKey(id: string, now: Date): Promise<void>;
}

export interface Store extends StoreLifecycle, QueueStore, DeliveryLog, EventLog, Audience, KeyStore {}

// ───────────────────────── backend contract ─────────────────────────

/**
 * How a backend asks its provider about deliveries that webhooks have not settled (GOV.UK Notify's
 * `getNotificationById`, the seed's Celery-beat sync). The worker runs it on a schedule for `sent` / `deferred`
 * deliveries of this backend sent more than `afterMs` ago and not polled in the last `everyMs`; the store hands
 * each delivery to one worker at a time (no double polling across processes). What `fetch` returns is recorded
 * exactly like webhook events: idempotent by event id, status forward only, listeners called.
 */
export interface BackendPolling {
  /** Poll a delivery once it has been `sent` this long without a final status. */
  afterMs: number;
  /** Poll the same delivery again at most this often. */
  everyMs: number;
  /** Deliveries per `fetch` call. */
  batchSize: number;
  fetch(deliveries: readonly Delivery[]): Promise<TrackingEvent[]>;
}

/** What a backend can do. Core checks messages against it before enqueueing. */
export interface Capabilities {
  attachments: boolean;
  /** Inline (Content-ID) attachments. */
  inlineAttachments: boolean;
  cc: boolean;
  bcc: boolean;
  replyTo: boolean;
  headers: boolean;
  /** Maximum number of tags (0 = none, Infinity = any). */
  maxTags: number;
  metadata: boolean;
  sendAt: boolean;
  trackOpens: boolean;
  trackClicks: boolean;
  providerOptions: boolean;
  /** Tracking event types its webhooks report. */
  tracking: readonly TrackingEventType[];
  inbound: boolean;
}

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Passed to `backend.send()`. */
export interface SendContext {
  /** 1-based attempt number. */
  attempt: number;
  /** Stable across retries: the delivery id. Pass it to providers that accept an idempotency key. */
  idempotencyKey: string;
  /**
   * Aborted when the worker gives up on the send (its `sendTimeout`); the worker stops waiting then whether or
   * not the backend listens. Created on first access: on Node 20 an `AbortController` costs more than a loopback
   * HTTP request, so a backend whose client already bounds every request with its own timeouts need not read it.
   */
  signal: AbortSignal;
  logger: Logger;
}

/** A webhook request after the body was read (bodies are read once, by core, with a size limit). */
export interface WebhookRequest {
  method: string;
  url: URL;
  headers: Headers;
  /** Raw body bytes, exactly as received (signatures are computed over them). */
  body: Uint8Array;
  /** Body decoded as UTF-8. */
  text: string;
}

/** Verification failure answers 401 (missing credentials) or 403 (wrong credentials). */
export interface WebhookVerification {
  ok: boolean;
  status?: 401 | 403 | 400;
  reason?: string;
}

export interface TrackingWebhook {
  verify(request: WebhookRequest): WebhookVerification | Promise<WebhookVerification>;
  /** Turn a verified request into normalized events. Throw `ValidationError` for a malformed body, `ConfigError`
   *  for a payload that belongs to the other endpoint (inbound posted to tracking). */
  parse(request: WebhookRequest): TrackingEvent[] | Promise<TrackingEvent[]>;
}

export interface InboundWebhook {
  verify(request: WebhookRequest): WebhookVerification | Promise<WebhookVerification>;
  parse(request: WebhookRequest): InboundEvent[] | Promise<InboundEvent[]>;
}

/** A configured backend instance, as passed to `createHerald({ backends })`. */
export interface Backend<P extends Protocol = Protocol> {
  /** Instance name: routes templates (`<notification>/<name>.<format>.hbs`) and webhooks (`/<name>/tracking`). */
  readonly name: string;
  /** The backend kind, e.g. `smtp` (equals `name` unless renamed). */
  readonly kind: string;
  readonly protocol: P;
  /** Template formats it renders, preferred first. */
  readonly formats: readonly TemplateFormat[];
  readonly capabilities: Capabilities;
  readonly ignoreUnsupportedFeatures: boolean;
  /** A test sink: may receive reserved test addresses (.test, example.com …). */
  readonly test: boolean;
  /** Most sends in flight at once for this backend in one worker. */
  readonly concurrency: number | undefined;
  /** Sends per second across all workers sharing the store. */
  readonly rateLimit: { perSecond: number } | undefined;
  /** Escape applied to data values before rendering `text` templates (e.g. Slack mrkdwn). */
  readonly escapeText: ((value: string) => string) | undefined;
  /** Default send options (e.g. `from`), merged under the notification's and the call's. */
  readonly defaults: SendOptions;
  /** Extra validation of a contact address beyond the protocol's schema (e.g. Slack host allow-list). */
  validateAddress?(address: string): string | null;
  send(message: OutboundMessage, context: SendContext): Promise<SendResult>;
  readonly webhooks: { tracking?: TrackingWebhook; inbound?: InboundWebhook } | undefined;
  /** Secrets to redact from any error or log line. */
  readonly secrets: readonly string[];
  /** Reach the provider without sending (see `BackendImplementation.ping`); absent when the backend has no such call. */
  ping?(): Promise<void>;
  /** Status polling, for providers that can be asked (see `BackendPolling` in `defineBackend`). */
  poll?: BackendPolling;
  close?(): Promise<void>;
}
