import type { Delivery, JsonObject, JsonValue, RejectReason, TrackingEvent, TrackingEventType } from '@herald/core';

/** How each Notify status becomes a Herald tracking event (docs/backends/govuk-notify.md has the table). */
const NOTIFY_STATUSES: Record<string, { eventType: TrackingEventType; rejectReason: RejectReason | null; description: string }> = {
  created: { eventType: 'queued', rejectReason: null, description: 'Notify has placed the message in a queue, ready to be sent to the provider' },
  sending: { eventType: 'sent', rejectReason: null, description: 'Notify has sent the message to the provider, which tries to deliver it for up to 72 hours' },
  pending: { eventType: 'deferred', rejectReason: null, description: 'Notify is waiting for more delivery information from the provider' },
  sent: { eventType: 'sent', rejectReason: null, description: 'sent to an international number whose network reports no delivery receipts' },
  delivered: { eventType: 'delivered', rejectReason: null, description: 'the message was delivered' },
  'permanent-failure': { eventType: 'bounced', rejectReason: 'bounced', description: 'the provider could not deliver the message: the address or number is wrong' },
  'temporary-failure': { eventType: 'failed', rejectReason: 'timed_out', description: 'the provider could not deliver the message (inbox full, phone off); Notify does not retry' },
  'technical-failure': { eventType: 'failed', rejectReason: 'other', description: 'a technical problem between Notify and its provider; the message was not sent and Notify does not retry' },
};

/** Notify statuses no later status follows (polling skips them). `sent` (international SMS) is final at Notify although Herald keeps it `sent`. */
export const FINAL_NOTIFY_STATUSES: ReadonlySet<string> = new Set(['sent', 'delivered', 'permanent-failure', 'temporary-failure', 'technical-failure']);

const str = (v: JsonValue | undefined): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

function dateOf(v: JsonValue | undefined): Date | null {
  const text = str(v);
  if (!text) return null;
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? null : at;
}

/**
 * A Notify notification (a delivery receipt, or `getNotificationById`'s answer) as a tracking event. The event id is
 * `<notification id>:<status>`, the same from both sources, so a status reported by a callback and by polling is
 * recorded once. `reference` is Herald's delivery id (the backend sends it), which is how the store finds the delivery.
 *
 * @example
 * ```ts
 * import { notifyEvent } from '@herald/backend-govuk-notify';
 * const event = notifyEvent({ id: '740e5834-3a29-46b4-9a6f-16142fde533a', reference: 'dlv_1', status: 'permanent-failure' }, 'amala@example.com');
 * // { eventType: 'bounced', rejectReason: 'bounced', providerStatus: 'permanent-failure', deliveryId: 'dlv_1', … }
 * ```
 */
export function notifyEvent(notification: JsonObject, recipient: string | null): TrackingEvent {
  const id = str(notification.id) ?? '';
  const status = str(notification.status) ?? 'unknown';
  const known = NOTIFY_STATUSES[status];
  return {
    eventType: known?.eventType ?? 'unknown',
    eventId: `${id}:${status}`,
    messageId: id || null,
    deliveryId: str(notification.reference),
    providerStatus: status,
    timestamp: dateOf(notification.completed_at) ?? dateOf(notification.sent_at) ?? dateOf(notification.created_at),
    recipient,
    metadata: {},
    tags: [],
    rejectReason: known?.rejectReason ?? null,
    description: known?.description ?? `Notify status "${status}"`,
    mtaResponse: null,
    userAgent: null,
    clickUrl: null,
    raw: notification,
  };
}

/** django-govuk-notify-outbox's `EmailMessage.status`: its ten states. */
export type OutboxStatus =
  | 'sending-to-notify'
  | 'retrying-send-to-notify'
  | 'failed-send-to-notify'
  | 'sent-to-notify'
  | 'notify-created'
  | 'notify-sending'
  | 'notify-delivered'
  | 'notify-temporary-failure'
  | 'notify-technical-failure'
  | 'notify-permanent-failure';

const FINAL_OUTBOX: Record<string, OutboxStatus> = {
  delivered: 'notify-delivered',
  'permanent-failure': 'notify-permanent-failure',
  'temporary-failure': 'notify-temporary-failure',
  'technical-failure': 'notify-technical-failure',
};

/**
 * The seed's state for a delivery of a GOV.UK Notify backend, from Herald's status and the Notify status kept
 * verbatim on the delivery (`providerStatus`); null for deliveries the seed has no state for (skipped, cancelled).
 * Notify's `pending` and `sent` (text messages only) read as `notify-sending`.
 *
 * @example
 * ```ts
 * import { outboxStatus } from '@herald/backend-govuk-notify';
 * outboxStatus({ status: 'sent', providerStatus: null, attempts: 1 }); // 'sent-to-notify'
 * outboxStatus({ status: 'bounced', providerStatus: 'permanent-failure', attempts: 1 }); // 'notify-permanent-failure'
 * ```
 */
export function outboxStatus(delivery: Pick<Delivery, 'status' | 'providerStatus' | 'attempts'>): OutboxStatus | null {
  const word = delivery.providerStatus;
  if (word && FINAL_OUTBOX[word]) return FINAL_OUTBOX[word];
  switch (delivery.status) {
    case 'delivered':
    case 'opened':
    case 'clicked':
      return 'notify-delivered';
    case 'bounced':
      return 'notify-permanent-failure';
    case 'queued':
      return 'sending-to-notify';
    case 'sending':
      return delivery.attempts > 1 ? 'retrying-send-to-notify' : 'sending-to-notify';
    case 'retrying':
      return 'retrying-send-to-notify';
    case 'failed':
      return word ? 'notify-technical-failure' : 'failed-send-to-notify';
    case 'sent':
    case 'deferred':
      if (word === 'created') return 'notify-created';
      if (word === 'sending' || word === 'pending' || word === 'sent') return 'notify-sending';
      return 'sent-to-notify';
    default:
      return null;
  }
}
