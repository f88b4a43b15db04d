import { type Delivery, type DeliveryFilter, type DeliveryStatus, type Herald, normalizeAddress, type Protocol } from '@herald/core';

/** Statuses that never count as "sent" for last-sent lookups (postmaster kept no stat for them). */
const NOT_SENT: ReadonlySet<DeliveryStatus> = new Set(['skipped', 'failed', 'cancelled']);

/**
 * The last delivery with `dedupeKey` to `address` (compared normalized for the delivery's protocol), newest first;
 * skipped, failed and cancelled ones do not count. postmaster's GetLastEmail and `GET /v1/last-sent`.
 */
export async function lastSent(herald: Herald, query: { address: string; dedupeKey: string; notification?: string; protocol?: Protocol }): Promise<Delivery | null> {
  let filter: DeliveryFilter = { dedupeKey: query.dedupeKey, limit: 200, ...(query.notification ? { notification: query.notification } : {}) };
  for (;;) {
    const page = await herald.deliveries.list(filter);
    for (const d of page) {
      if (NOT_SENT.has(d.status) || (query.protocol && d.protocol !== query.protocol)) continue;
      if (normalizeAddress(d.protocol, d.address) === normalizeAddress(d.protocol, query.address)) return d;
    }
    const last = page.at(-1);
    if (!last || page.length < (filter.limit ?? 0)) return null;
    filter = { ...filter, before: last.createdAt, beforeId: last.id };
  }
}
