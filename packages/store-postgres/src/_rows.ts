import type {
  Attempt,
  Delivery,
  DeliveryStatus,
  JsonObject,
  JsonValue,
  OutboundMessage,
  Protocol,
  SkipReason,
  StoredTrackingEvent,
  Suppression,
  TrackingEvent,
} from '@herald/core';

/** A `deliveries` row as pg returns it. */
export interface _DeliveryRow {
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
  attempts: number;
  max_attempts: number;
  provider_message_id: string | null;
  last_error: string | null;
  message: OutboundMessage | null;
  created_at: Date;
  updated_at: Date;
  next_attempt_at: Date | null;
  expires_at: Date | null;
  lease_owner: string | null;
  lease_until: Date | null;
  sent_at: Date | null;
}

/** Columns read back for a delivery (everything but the dedupe address). */
export const _DELIVERY_COLUMNS =
  'id, batch_id, notification, category, recipient_id, protocol, address, backend, status, skip_reason, dedupe_key, attempts, max_attempts, provider_message_id, last_error, message, created_at, updated_at, next_attempt_at, expires_at, lease_owner, lease_until, sent_at';

export function _toDelivery(row: _DeliveryRow): Delivery {
  return {
    id: row.id,
    batchId: row.batch_id,
    notification: row.notification,
    category: row.category,
    recipientId: row.recipient_id,
    protocol: row.protocol as Protocol,
    address: row.address,
    backend: row.backend,
    status: row.status as DeliveryStatus,
    skipReason: row.skip_reason as SkipReason | null,
    dedupeKey: row.dedupe_key,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    providerMessageId: row.provider_message_id,
    lastError: row.last_error,
    message: row.message,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    nextAttemptAt: row.next_attempt_at,
    expiresAt: row.expires_at,
    leaseOwner: row.lease_owner,
    leaseUntil: row.lease_until,
    sentAt: row.sent_at,
  };
}

export interface _AttemptRow {
  delivery_id: string;
  attempt: number;
  started_at: Date;
  duration_ms: number;
  outcome: string;
  request: JsonObject | null;
  response: JsonValue | null;
  error: string | null;
  worker_id: string;
}

export function _toAttempt(row: _AttemptRow): Attempt {
  return {
    deliveryId: row.delivery_id,
    attempt: row.attempt,
    startedAt: row.started_at,
    durationMs: row.duration_ms,
    outcome: row.outcome as Attempt['outcome'],
    request: row.request,
    response: row.response,
    error: row.error,
    workerId: row.worker_id,
  };
}

/** A tracking event as kept in the `event` jsonb column (timestamps as ISO strings). */
export type _StoredEventJson = Omit<TrackingEvent, 'timestamp'> & { timestamp: string | null };

export interface _EventRow {
  backend: string;
  delivery_id: string | null;
  event: _StoredEventJson;
  received_at: Date;
}

export function _eventJson(event: TrackingEvent): string {
  const stored: _StoredEventJson = { ...event, timestamp: event.timestamp ? event.timestamp.toISOString() : null };
  return _json(stored) ?? '{}';
}

export function _toEvent(row: _EventRow): StoredTrackingEvent {
  const { timestamp, ...rest } = row.event;
  return {
    ...rest,
    timestamp: timestamp ? new Date(timestamp) : null,
    backend: row.backend,
    deliveryId: row.delivery_id,
    receivedAt: row.received_at,
  };
}

export interface _SuppressionRow {
  protocol: string;
  address: string;
  reason: string;
  created_at: Date;
}

export function _toSuppression(row: _SuppressionRow): Suppression {
  return { protocol: row.protocol as Protocol, address: row.address, reason: row.reason, createdAt: row.created_at };
}

/** JSON text for a jsonb parameter; `null`/`undefined` become SQL NULL. */
export function _json(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const text = JSON.stringify(value);
  // jsonb cannot hold U+0000; providers occasionally send it in free text.
  return text.includes('\\u0000') ? text.replace(/\\u0000/g, '\\ufffd') : text;
}
