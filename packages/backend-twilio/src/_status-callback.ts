import { ValidationError, type RejectReason, type TrackingEvent, type TrackingEventType } from '@herald/core';

const STATUS_EVENTS: Record<string, TrackingEventType> = {
  accepted: 'queued',
  scheduled: 'queued',
  queued: 'queued',
  sending: 'sent',
  sent: 'sent',
  delivered: 'delivered',
  read: 'opened',
  canceled: 'rejected',
};

/** Twilio delivery error codes (status callback `ErrorCode`) with a definite outcome. */
const UNDELIVERED: Record<string, { type: TrackingEventType; reason: RejectReason; description: string }> = {
  '30004': { type: 'rejected', reason: 'blocked', description: 'message blocked' },
  '30005': { type: 'bounced', reason: 'invalid', description: 'unknown destination handset' },
  '30006': { type: 'bounced', reason: 'invalid', description: 'landline or unreachable carrier' },
  '30007': { type: 'rejected', reason: 'spam', description: 'message filtered by the carrier' },
  '21610': { type: 'unsubscribed', reason: 'unsubscribed', description: 'recipient replied STOP' },
};

/**
 * Normalize a Twilio message status callback (form-encoded `MessageSid`, `MessageStatus`, `ErrorCode`, `To` …).
 * `undelivered`/`failed` become `bounced`, `rejected` or `unsubscribed` when the error code says why, else `failed`
 * (e.g. 30003 unreachable handset: the number may work tomorrow, so it is not suppressed).
 */
export function parseStatusCallback(body: string): TrackingEvent[] {
  const params = new URLSearchParams(body);
  const sid = params.get('MessageSid') ?? params.get('SmsSid');
  const status = params.get('MessageStatus') ?? params.get('SmsStatus');
  if (!sid || !status) {
    throw new ValidationError('not a Twilio status callback: MessageSid and MessageStatus are required', [
      { path: sid ? 'MessageStatus' : 'MessageSid', message: 'missing' },
    ]);
  }
  const errorCode = params.get('ErrorCode') || null;
  const known = errorCode && (status === 'undelivered' || status === 'failed') ? UNDELIVERED[errorCode] : undefined;
  const eventType: TrackingEventType = STATUS_EVENTS[status] ?? known?.type ?? (status === 'undelivered' || status === 'failed' ? 'failed' : 'unknown');
  const raw: Record<string, string> = {};
  for (const [k, v] of params) raw[k] = v;
  return [
    {
      eventType,
      eventId: `${sid}:${status}`,
      messageId: sid,
      timestamp: null,
      recipient: params.get('To'),
      metadata: {},
      tags: [],
      rejectReason: known?.reason ?? (eventType === 'failed' ? 'other' : null),
      description: known?.description ?? (errorCode ? `Twilio error ${errorCode}` : null),
      mtaResponse: errorCode,
      userAgent: null,
      clickUrl: null,
      raw,
    },
  ];
}
