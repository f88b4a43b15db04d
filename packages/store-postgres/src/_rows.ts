import type { StoredTrackingEvent, TrackingEvent } from '@herald/core';

// Deliveries, attempts and suppressions need no mapper: their SELECT lists alias columns to the contract's names
// (see `_sql.ts`). Tracking events keep the provider's event as one jsonb document, whose timestamp is text.

/** A tracking event as kept in the `event` jsonb column (timestamps as ISO strings). */
export type StoredEventJson = Omit<TrackingEvent, 'timestamp'> & { timestamp: string | null };

export interface EventRow {
  backend: string;
  delivery_id: string | null;
  event: StoredEventJson;
  received_at: Date;
}

export function eventJson(event: TrackingEvent): string {
  const stored: StoredEventJson = { ...event, timestamp: event.timestamp ? event.timestamp.toISOString() : null };
  return json(stored) ?? '{}';
}

export function toEvent(row: EventRow): StoredTrackingEvent {
  const { timestamp, ...rest } = row.event;
  return {
    ...rest,
    timestamp: timestamp ? new Date(timestamp) : null,
    backend: row.backend,
    deliveryId: row.delivery_id,
    receivedAt: row.received_at,
  };
}

/** JSON text for a jsonb parameter; `null`/`undefined` become SQL NULL. */
export function json(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const text = JSON.stringify(value);
  // jsonb cannot hold U+0000; providers occasionally send it in free text.
  return text.includes('\\u0000') ? text.replace(/\\u0000/g, '\\ufffd') : text;
}
