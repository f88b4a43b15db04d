import type { DeliveryStatus, TrackingEventType } from './types';

/**
 * Order of delivery statuses for tracking updates: a delivery's status only moves to a higher rank, so a late
 * `delivered` after `opened` changes nothing and out-of-order webhooks settle on the furthest outcome.
 * Bad outcomes rank above the good ones they can follow (a bounce can arrive after `delivered`).
 */
const RANK: Record<DeliveryStatus, number> = {
  skipped: -1,
  queued: 0,
  retrying: 1,
  sending: 2,
  sent: 4,
  deferred: 5,
  delivered: 6,
  opened: 7,
  clicked: 8,
  // `failed` ranks with the bad outcomes: a provider's "failed" event (Postal HardFail) must move a sent
  // delivery; a delivery the worker gave up on never had a provider message, so no tracking event reaches it.
  failed: 9,
  rejected: 9,
  bounced: 10,
  unsubscribed: 11,
  complained: 12,
  // Never sent, so no tracking event can reach it.
  cancelled: 13,
};

export function statusRank(status: DeliveryStatus): number {
  return RANK[status];
}

/** True when a tracking update may move `current` to `next`. */
export function canAdvance(current: DeliveryStatus, next: DeliveryStatus): boolean {
  if (current === 'skipped' || current === 'cancelled') return false;
  return RANK[next] > RANK[current];
}

/** The delivery status a tracking event implies, or null for events that do not change it. */
export function statusForEvent(eventType: TrackingEventType): DeliveryStatus | null {
  switch (eventType) {
    case 'queued':
    case 'sent':
      return 'sent';
    case 'deferred':
      return 'deferred';
    case 'delivered':
    case 'autoresponded':
      return 'delivered';
    case 'opened':
      return 'opened';
    case 'clicked':
      return 'clicked';
    case 'bounced':
      return 'bounced';
    case 'rejected':
      return 'rejected';
    case 'failed':
      return 'failed';
    case 'complained':
      return 'complained';
    case 'unsubscribed':
      return 'unsubscribed';
    default:
      return null;
  }
}

/** Statuses after which the worker does nothing more with a delivery. */
export const FINISHED_STATUSES: readonly DeliveryStatus[] = [
  'sent', 'failed', 'skipped', 'deferred', 'delivered', 'opened', 'clicked', 'bounced', 'rejected', 'complained', 'unsubscribed', 'cancelled',
];

/** Tracking outcomes that put the address on the suppression list. */
export function suppressionReason(eventType: TrackingEventType): string | null {
  if (eventType === 'bounced') return 'hard bounce';
  if (eventType === 'complained') return 'spam complaint';
  if (eventType === 'unsubscribed') return 'unsubscribed';
  return null;
}
