import {
  ConfigError,
  ValidationError,
  webhookJson,
  type JsonObject,
  type JsonValue,
  type RejectReason,
  type TrackingEvent,
  type TrackingEventType,
  type WebhookRequest,
} from '@herald/core';

/** Postmark bounce `Type` → normalized event type and reject reason. */
const BOUNCE_TYPES: Record<string, [TrackingEventType, RejectReason | null]> = {
  HardBounce: ['bounced', 'bounced'],
  BadEmailAddress: ['bounced', 'invalid'],
  SoftBounce: ['deferred', 'other'],
  Transient: ['deferred', 'other'],
  DnsError: ['deferred', 'other'],
  SpamNotification: ['complained', 'spam'],
  SpamComplaint: ['complained', 'spam'],
  Blocked: ['rejected', 'blocked'],
  ManuallyDeactivated: ['rejected', 'blocked'],
  DMARCPolicy: ['rejected', 'blocked'],
  VirusNotification: ['rejected', 'other'],
  Unconfirmed: ['rejected', 'other'],
  Unsubscribe: ['unsubscribed', 'unsubscribed'],
  Subscribe: ['subscribed', null],
  AutoResponder: ['autoresponded', null],
  AddressChange: ['autoresponded', null],
  ChallengeVerification: ['autoresponded', null],
  SMTPApiError: ['failed', null],
  TemplateRenderingFailed: ['failed', null],
};

/** SubscriptionChange `SuppressionReason` → reject reason of the `unsubscribed` event. */
const SUPPRESSION_REASONS: Record<string, RejectReason> = {
  HardBounce: 'bounced',
  SpamComplaint: 'spam',
  ManualSuppression: 'unsubscribed',
};

const str = (v: JsonValue | undefined): string | null => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : null);

function date(v: JsonValue | undefined): Date | null {
  if (typeof v !== 'string') return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

function metadata(v: JsonValue | undefined): Record<string, string> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typeof x === 'string' ? x : JSON.stringify(x)]));
}

/**
 * Normalize one Postmark webhook POST (Delivery, Bounce, SpamComplaint, Open, Click, SubscriptionChange).
 * Postmark sends no event id, so one is derived from the record type, message, recipient and time: a retried
 * POST gets the same id and is recognized as a replay.
 */
export function parsePostmarkTracking(request: WebhookRequest, backend: string): TrackingEvent[] {
  const body = webhookJson(request, backend);
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError('Postmark webhook body must be a JSON object', [], { backend });
  }
  if ('FromFull' in body || 'StrippedTextReply' in body) {
    throw new ConfigError(
      `an inbound email payload was posted to the tracking webhook URL; Postmark's inbound webhook is not supported by this backend — point Postmark's inbound hook elsewhere`,
      { backend },
    );
  }
  return [toEvent(body)];
}

function toEvent(e: JsonObject): TrackingEvent {
  const record = str(e.RecordType) ?? (e.BouncedAt ? 'Bounce' : e.DeliveredAt ? 'Delivery' : 'Unknown');
  const messageId = str(e.MessageID);
  const recipient = str(e.Recipient) ?? str(e.Email);
  const tag = str(e.Tag);
  let eventType: TrackingEventType = 'unknown';
  let rejectReason: RejectReason | null = null;
  let timestamp: Date | null = null;
  let eventId = '';
  const key = (...parts: (string | null)[]) => [record, ...parts].map((p) => p ?? '').join(':');

  switch (record) {
    case 'Delivery':
      eventType = 'delivered';
      timestamp = date(e.DeliveredAt);
      eventId = key(messageId, recipient, str(e.DeliveredAt));
      break;
    case 'Bounce':
    case 'SpamComplaint': {
      const [type, reason] = BOUNCE_TYPES[str(e.Type) ?? ''] ?? (record === 'SpamComplaint' ? ['complained', 'spam'] : ['unknown', null]);
      eventType = type;
      rejectReason = reason;
      timestamp = date(e.BouncedAt);
      eventId = key(str(e.ID), messageId, recipient, str(e.Type), str(e.BouncedAt));
      break;
    }
    case 'Open':
      eventType = 'opened';
      timestamp = date(e.ReceivedAt);
      eventId = key(messageId, recipient, str(e.ReceivedAt));
      break;
    case 'Click':
      eventType = 'clicked';
      timestamp = date(e.ReceivedAt);
      eventId = key(messageId, recipient, str(e.OriginalLink), str(e.ReceivedAt));
      break;
    case 'SubscriptionChange':
      eventType = e.SuppressSending === false ? 'subscribed' : 'unsubscribed';
      rejectReason = eventType === 'unsubscribed' ? (SUPPRESSION_REASONS[str(e.SuppressionReason) ?? ''] ?? 'unsubscribed') : null;
      timestamp = date(e.ChangedAt);
      eventId = key(messageId, recipient, str(e.ChangedAt), String(e.SuppressSending));
      break;
    default:
      // Unknown record type: core derives an id from the raw event.
      break;
  }

  return {
    eventType,
    eventId,
    messageId,
    timestamp,
    recipient: recipient?.toLowerCase() ?? null,
    metadata: metadata(e.Metadata),
    tags: tag ? [tag] : [],
    rejectReason,
    description: str(e.Description) ?? (record === 'Bounce' || record === 'SpamComplaint' ? str(e.Name) : null),
    mtaResponse: record === 'Delivery' || record === 'Bounce' ? str(e.Details) : null,
    userAgent: str(e.UserAgent),
    clickUrl: str(e.OriginalLink),
    raw: e,
  };
}
