import type { BackendPolling, Delivery, JsonObject, TrackingEvent } from '@herald/core';
import { isAxiosError } from 'axios';
import { FINAL_NOTIFY_STATUSES, notifyEvent } from './statuses';

export interface PollingSetup {
  afterMs: number;
  everyMs: number;
  batchSize: number;
  /** Lookups per second within one batch. */
  perSecond: number;
  /** `getNotificationById`, answered as JSON; rejects with the client's (axios) error. */
  lookup(notificationId: string): Promise<JsonObject>;
  /** The client's error as Herald's (redacted). */
  failure(error: unknown): Error;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The seed's Celery-beat `sync` as a `BackendPolling` hook: one `getNotificationById` per delivery, spaced to
 * `perSecond`. A delivery Notify no longer knows (404: past the service's data retention) or whose last Notify status
 * is final (`sent` to an international number) is not asked about. Any other failure ends the batch: the events
 * gathered so far are recorded, and when there are none the error is raised so the worker logs it; the deliveries
 * left out are asked about again once `everyMs` has passed.
 */
export function notifyPolling(setup: PollingSetup): BackendPolling {
  const gapMs = 1000 / setup.perSecond;
  return {
    afterMs: setup.afterMs,
    everyMs: setup.everyMs,
    batchSize: setup.batchSize,
    async fetch(deliveries: readonly Delivery[]): Promise<TrackingEvent[]> {
      const events: TrackingEvent[] = [];
      let next = Date.now();
      for (const delivery of deliveries) {
        const id = delivery.providerMessageId;
        if (!id || (delivery.providerStatus && FINAL_NOTIFY_STATUSES.has(delivery.providerStatus))) continue;
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
        next = Math.max(next, Date.now()) + gapMs;
        let answer: JsonObject;
        try {
          answer = await setup.lookup(id);
        } catch (error) {
          if (isAxiosError(error) && error.response?.status === 404) continue;
          if (events.length) return events;
          throw setup.failure(error);
        }
        // Herald sent the reference; the delivery is found by it even if Notify's answer lacks one.
        const to = answer.email_address ?? answer.phone_number;
        const event = notifyEvent(answer, typeof to === 'string' ? to : delivery.address);
        events.push({ ...event, deliveryId: event.deliveryId ?? delivery.id });
      }
      return events;
    },
  };
}
