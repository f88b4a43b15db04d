import { createHash } from 'node:crypto';
import { normalizeAddress } from './protocols';
import { statusForEvent, suppressionReason } from './status';
import { type Backend, type Delivery, type DeliveryStatus, type JsonValue, type Logger, type Store, TRACKING_EVENT_TYPES, type TrackingEvent } from './types';

/** What recording a tracking event needs from the running Herald instance. */
export interface TrackingDeps {
  store: Store;
  logger: Logger;
  /** Run the `tracking` listeners; a rejection is the caller's to handle (webhooks answer 500, the poller logs). */
  emitTracking(event: TrackingEvent, delivery: Delivery | null): Promise<void>;
  /** Called when an event moved a delivery's status forward. */
  emitDelivery?(delivery: Delivery, change: { from: DeliveryStatus | null; to: DeliveryStatus }): void;
}

/** A stable id for events the provider sent without one, so their replays are recognized too. */
export function eventIdOf(backend: string, eventId: string, raw: JsonValue): string {
  if (eventId) return eventId;
  return `sha256:${createHash('sha256').update(backend).update('\0').update(JSON.stringify(raw)).digest('hex').slice(0, 40)}`;
}

/**
 * The **record** step shared by webhooks and status polling: store the event (idempotent by backend + event id;
 * one call that also moves the delivery forward and returns its previous status), emit the status change, add
 * hard bounces, complaints and unsubscribes to the suppression list, and run the `tracking` listeners.
 * Returns null for a replay; otherwise how to forget the event if the caller's processing fails afterwards.
 */
export async function recordTracking(deps: TrackingDeps, backend: Backend, parsed: TrackingEvent, now: Date): Promise<{ forget: () => Promise<void> } | null> {
  const eventType = TRACKING_EVENT_TYPES.includes(parsed.eventType) ? parsed.eventType : 'unknown';
  const event: TrackingEvent = { ...parsed, eventType, eventId: eventIdOf(backend.name, parsed.eventId, parsed.raw) };
  const status = statusForEvent(event.eventType);
  const result = await deps.store.recordEvent(backend.name, event, { now, status });
  if (!result.inserted) return null;
  const recorded = { forget: () => deps.store.forgetEvent(backend.name, event.eventId) };
  try {
    if (result.statusChanged && result.delivery && deps.emitDelivery) {
      try {
        deps.emitDelivery(result.delivery, { from: result.previousStatus, to: result.delivery.status });
      } catch (error) {
        deps.logger.error('delivery listener failed', { backend: backend.name, error: String(error) });
      }
    }
    const reason = suppressionReason(event.eventType);
    const address = event.recipient ?? result.delivery?.address ?? null;
    if (reason && address) {
      await deps.store.suppress({ protocol: backend.protocol, address: normalizeAddress(backend.protocol, address), reason, createdAt: now });
    }
    await deps.emitTracking(event, result.delivery);
  } catch (error) {
    throw new RecordFailure(error, recorded.forget);
  }
  return recorded;
}

/** Processing after the event was stored failed; `forget` removes it so a retry processes it again. */
export class RecordFailure extends Error {
  constructor(
    readonly original: unknown,
    readonly forget: () => Promise<void>,
  ) {
    super(original instanceof Error ? original.message : String(original), { cause: original });
    this.name = 'RecordFailure';
  }
}
