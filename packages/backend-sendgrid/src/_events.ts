import {
  ConfigError,
  type JsonObject,
  type JsonValue,
  type RejectReason,
  type TrackingEvent,
  type TrackingEventType,
  ValidationError,
  type WebhookRequest,
  webhookJson,
} from '@herald/core';

/** The custom arg carrying Herald's delivery id on every message this backend sends. */
export const DELIVERY_ID_ARG = 'herald_delivery_id';

/** SendGrid `event` → normalized event type. */
const EVENT_TYPES: Record<string, TrackingEventType> = {
  processed: 'queued',
  dropped: 'rejected',
  deferred: 'deferred',
  delivered: 'delivered',
  bounce: 'bounced',
  blocked: 'bounced',
  open: 'opened',
  click: 'clicked',
  spamreport: 'complained',
  unsubscribe: 'unsubscribed',
  group_unsubscribe: 'unsubscribed',
  group_resubscribe: 'subscribed',
};

/** A `dropped` event's `reason` (lower-cased) → reject reason; anything else is `other`. */
const DROP_REASONS: Record<string, RejectReason> = {
  invalid: 'invalid',
  'invalid smtpapi header': 'invalid',
  'bounced address': 'bounced',
  'unsubscribed address': 'unsubscribed',
  'spam reporting address': 'spam',
  'spam content': 'spam',
  expired: 'timed_out',
};

/** Fields SendGrid itself puts on an event; every other top-level field is a custom arg (metadata). */
const SENDGRID_FIELDS = new Set([
  'email', 'timestamp', 'event', 'sg_event_id', 'sg_message_id', 'smtp-id', 'category', 'reason', 'status', 'response', 'attempt', 'type',
  'bounce_classification', 'useragent', 'ip', 'url', 'url_offset', 'asm_group_id', 'tls', 'cert_err', 'pool', 'sg_machine_open',
  'sg_content_type', 'sg_template_id', 'sg_template_name', 'template_id', 'template_name', 'template_version_id', 'template_hash',
  'marketing_campaign_id', 'marketing_campaign_name', 'marketing_campaign_version', 'marketing_campaign_split_id', 'mc_stats', 'post_type',
  'singlesend_id', 'singlesend_name', 'phase_id', 'send_at', 'newsletter', 'nlvx_campaign_id', 'nlvx_campaign_split_id', 'nlvx_user_id',
]);

const isObject = (v: JsonValue | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: JsonValue | undefined): string | null => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : null);

/**
 * The `X-Message-Id` SendGrid answered the send with: the part of `sg_message_id` before its `.filter…` /
 * `.recvd…` suffix (older ids contain dots themselves, newer ones do not).
 */
export function messageIdOf(sgMessageId: string | null): string | null {
  if (!sgMessageId) return null;
  const suffix = /^(.+?)\.(?:filter|recvd|ismtpd)/.exec(sgMessageId);
  return suffix ? suffix[1]! : sgMessageId.split('.')[0]!;
}

/**
 * Normalize one Event Webhook POST — a JSON array of events, one normalized event each (entries that are not
 * objects are skipped). The delivery is found by the `herald_delivery_id` custom arg; `messageId` is the
 * `X-Message-Id` prefix of `sg_message_id`, `eventId` is `sg_event_id`.
 */
export function parseSendgridEvents(request: WebhookRequest, backend: string): TrackingEvent[] {
  if (/^multipart\/form-data/i.test(request.headers.get('content-type') ?? '')) {
    throw new ConfigError('an Inbound Parse post reached the event webhook URL: point Inbound Parse at /<backend>/inbound and the Event Webhook at /<backend>/tracking', { backend });
  }
  const body = webhookJson(request, backend);
  if (!Array.isArray(body)) throw new ValidationError('SendGrid event webhook body must be a JSON array of events', [], { backend });
  return body.filter(isObject).map(toEvent);
}

function toEvent(e: JsonObject): TrackingEvent {
  const name = str(e.event) ?? '';
  const type = str(e.type);
  const blocked = name === 'blocked' || (name === 'bounce' && type === 'blocked');
  const eventType = EVENT_TYPES[name] ?? 'unknown';
  const reason = str(e.reason);
  let rejectReason: RejectReason | null = null;
  if (eventType === 'bounced') rejectReason = blocked ? 'blocked' : 'bounced';
  else if (eventType === 'rejected') rejectReason = DROP_REASONS[reason?.toLowerCase() ?? ''] ?? 'other';
  else if (eventType === 'complained') rejectReason = 'spam';
  else if (eventType === 'unsubscribed') rejectReason = 'unsubscribed';

  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(e)) {
    if (SENDGRID_FIELDS.has(key) || value === null) continue;
    metadata[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  const category = e.category;
  const tags = Array.isArray(category) ? category.map(str).filter((c): c is string => c !== null) : str(category) ? [str(category)!] : [];
  const seconds = typeof e.timestamp === 'number' ? e.timestamp : Number(str(e.timestamp) ?? Number.NaN);
  const group = str(e.asm_group_id);
  let description = reason;
  if (!description && group && (name === 'group_unsubscribe' || name === 'group_resubscribe')) description = `unsubscribe group ${group}`;
  if (!description && name === 'open' && e.sg_machine_open === true) description = 'machine open (mail privacy protection prefetch)';

  return {
    eventType,
    eventId: str(e.sg_event_id) ?? '',
    messageId: messageIdOf(str(e.sg_message_id)),
    deliveryId: str(e[DELIVERY_ID_ARG]),
    timestamp: Number.isFinite(seconds) ? new Date(seconds * 1000) : null,
    recipient: str(e.email)?.toLowerCase() ?? null,
    metadata,
    tags,
    rejectReason,
    description,
    mtaResponse: str(e.response),
    userAgent: str(e.useragent),
    clickUrl: str(e.url),
    raw: e,
  };
}
