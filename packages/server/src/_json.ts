import type { Attempt, Delivery, JsonObject, StoredTrackingEvent, Suppression } from '@herald/core';

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** A delivery as the API shows it in lists: everything but the stored message. */
export function deliveryJson(d: Delivery) {
  return {
    id: d.id,
    batchId: d.batchId,
    notification: d.notification,
    category: d.category,
    recipientId: d.recipientId,
    protocol: d.protocol,
    address: d.address,
    backend: d.backend,
    status: d.status,
    skipReason: d.skipReason,
    dedupeKey: d.dedupeKey,
    attempts: d.attempts,
    maxAttempts: d.maxAttempts,
    providerMessageId: d.providerMessageId,
    providerStatus: d.providerStatus ?? null,
    lastError: d.lastError,
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
    nextAttemptAt: iso(d.nextAttemptAt),
    expiresAt: iso(d.expiresAt),
    sentAt: iso(d.sentAt),
    leaseOwner: d.leaseOwner,
    leaseUntil: iso(d.leaseUntil),
  };
}

/** The stored message without attachment bytes (their size instead) or the fallbacks of other backends. */
export function messageJson(d: Delivery) {
  const m = d.message;
  if (!m) return null;
  return {
    to: m.to,
    recipient: m.recipient,
    content: m.content,
    attachments: m.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      ...(a.contentId ? { contentId: a.contentId } : {}),
      bytes: Math.floor((a.content.length * 3) / 4) - (a.content.endsWith('==') ? 2 : a.content.endsWith('=') ? 1 : 0),
    })),
    options: m.options as Record<string, unknown>,
  };
}

export function attemptJson(a: Attempt) {
  return {
    attempt: a.attempt,
    startedAt: a.startedAt.toISOString(),
    durationMs: a.durationMs,
    outcome: a.outcome,
    backend: a.backend,
    request: a.request as JsonObject | null,
    response: a.response,
    error: a.error,
    workerId: a.workerId,
  };
}

/** A tracking event without `raw` (the provider's payload as received; the attempt log keeps what matters). */
export function eventJson(e: StoredTrackingEvent) {
  return {
    eventType: e.eventType,
    eventId: e.eventId,
    backend: e.backend,
    messageId: e.messageId,
    timestamp: iso(e.timestamp),
    receivedAt: e.receivedAt.toISOString(),
    recipient: e.recipient,
    providerStatus: e.providerStatus ?? null,
    rejectReason: e.rejectReason,
    description: e.description,
    mtaResponse: e.mtaResponse,
    userAgent: e.userAgent,
    clickUrl: e.clickUrl,
    metadata: e.metadata,
    tags: e.tags,
  };
}

export function suppressionJson(s: Suppression) {
  return { protocol: s.protocol, address: s.address, reason: s.reason, createdAt: s.createdAt.toISOString() };
}
