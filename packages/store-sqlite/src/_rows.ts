import type {
  ApiKeyRecord,
  Attempt,
  Delivery,
  DeliveryStatus,
  JsonObject,
  JsonValue,
  OutboundMessage,
  Protocol,
  RejectReason,
  SkipReason,
  StoredTrackingEvent,
  TrackingEventType,
} from '@herald/core';

/**
 * A `herald_deliveries` row joined with its `herald_messages` row, as better-sqlite3 returns it. Times are epoch
 * milliseconds. (SQLite returns neither Dates nor JSON, so rows go through the mappers below; the PostgreSQL store
 * aliases its columns instead.)
 */
export interface DeliveryRow {
  id: string;
  batch_id: string;
  notification: string;
  category: string | null;
  recipient_id: string | null;
  protocol: string;
  address: string;
  backend: string | null;
  status: string;
  skip_reason: string | null;
  dedupe_key: string | null;
  dedupe_address: string | null;
  attempts: number;
  max_attempts: number;
  provider_message_id: string | null;
  last_error: string | null;
  message: string | null;
  created_at: number;
  updated_at: number;
  next_attempt_at: number | null;
  expires_at: number | null;
  lease_owner: string | null;
  lease_until: number | null;
  sent_at: number | null;
  claimed_at: number | null;
  provider_status: string | null;
  last_polled_at: number | null;
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  started_at: number;
  duration_ms: number;
  outcome: string;
  backend: string | null;
  request: string | null;
  response: string | null;
  error: string | null;
  worker_id: string;
}

export interface EventRow {
  backend: string;
  event_id: string;
  delivery_id: string | null;
  event_type: string;
  message_id: string | null;
  timestamp: number | null;
  recipient: string | null;
  metadata: string;
  tags: string;
  reject_reason: string | null;
  description: string | null;
  mta_response: string | null;
  user_agent: string | null;
  click_url: string | null;
  raw: string | null;
  received_at: number;
  provider_status: string | null;
}

export interface KeyRow {
  id: string;
  name: string | null;
  hash: string;
  scopes: string;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
}

export function ms(date: Date | null | undefined): number | null {
  return date ? date.getTime() : null;
}

export function date(value: number | null): Date | null {
  return value === null ? null : new Date(value);
}

export function json(value: JsonValue | OutboundMessage | null): string | null {
  return value === null ? null : JSON.stringify(value);
}

export function parse<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export function toDelivery(row: DeliveryRow): Delivery {
  return toDeliveryFromValues(
    DELIVERY_COLUMNS.map((column) => row[column]),
    row.message,
  );
}

/** The columns of `herald_deliveries` in this order, for statements read in raw (array) mode. */
export const DELIVERY_COLUMNS = [
  'id', 'batch_id', 'notification', 'category', 'recipient_id', 'protocol', 'address', 'backend', 'status', 'skip_reason',
  'dedupe_key', 'dedupe_address', 'attempts', 'max_attempts', 'provider_message_id', 'last_error', 'created_at',
  'updated_at', 'next_attempt_at', 'expires_at', 'lease_owner', 'lease_until', 'sent_at', 'provider_status',
] as const;

/**
 * {@link toDelivery} for a row read in raw mode (values in {@link DELIVERY_COLUMNS} order) and its message:
 * better-sqlite3 builds arrays much faster than objects, which matters on the claim path.
 */
export function toDeliveryFromValues(v: readonly unknown[], message: string | null): Delivery {
  return {
    id: v[0] as string,
    batchId: v[1] as string,
    notification: v[2] as string,
    category: v[3] as string | null,
    recipientId: v[4] as string | null,
    protocol: v[5] as Protocol,
    address: v[6] as string,
    backend: v[7] as string | null,
    status: v[8] as DeliveryStatus,
    skipReason: v[9] as SkipReason | null,
    dedupeKey: v[10] as string | null,
    attempts: v[12] as number,
    maxAttempts: v[13] as number,
    providerMessageId: v[14] as string | null,
    lastError: v[15] as string | null,
    message: message === null ? null : (JSON.parse(message) as OutboundMessage),
    createdAt: new Date(v[16] as number),
    updatedAt: new Date(v[17] as number),
    nextAttemptAt: date(v[18] as number | null),
    expiresAt: date(v[19] as number | null),
    leaseOwner: v[20] as string | null,
    leaseUntil: date(v[21] as number | null),
    sentAt: date(v[22] as number | null),
    providerStatus: v[23] as string | null,
  };
}

export function toAttempt(row: AttemptRow): Attempt {
  return {
    deliveryId: row.delivery_id,
    attempt: row.attempt,
    startedAt: new Date(row.started_at),
    durationMs: row.duration_ms,
    outcome: row.outcome as Attempt['outcome'],
    backend: row.backend,
    request: parse<JsonObject>(row.request),
    response: parse<JsonValue>(row.response),
    error: row.error,
    workerId: row.worker_id,
  };
}

export function toKey(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    hash: row.hash,
    scopes: JSON.parse(row.scopes) as string[],
    createdAt: new Date(row.created_at),
    revokedAt: date(row.revoked_at),
    lastUsedAt: date(row.last_used_at),
  };
}

export function toEvent(row: EventRow): StoredTrackingEvent {
  return {
    eventType: row.event_type as TrackingEventType,
    eventId: row.event_id,
    messageId: row.message_id,
    timestamp: date(row.timestamp),
    recipient: row.recipient,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    tags: JSON.parse(row.tags) as string[],
    rejectReason: row.reject_reason as RejectReason | null,
    description: row.description,
    mtaResponse: row.mta_response,
    userAgent: row.user_agent,
    clickUrl: row.click_url,
    raw: parse<JsonValue>(row.raw),
    // Present only when the provider sent one, as the event was given.
    ...(row.provider_status === null ? {} : { providerStatus: row.provider_status }),
    backend: row.backend,
    deliveryId: row.delivery_id,
    receivedAt: new Date(row.received_at),
  };
}
