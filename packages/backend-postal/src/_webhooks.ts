import {
  ConfigError,
  parseMailbox,
  ValidationError,
  webhookJson,
  type InboundAttachment,
  type InboundEvent,
  type JsonObject,
  type JsonValue,
  type TrackingEvent,
  type TrackingEventType,
  type WebhookRequest,
} from '@herald/core';
import { simpleParser, type AddressObject } from 'mailparser';

/** Postal's `payload.status` → normalized event type (anything else is `unknown`). */
const STATUS_EVENTS: Record<string, TrackingEventType> = {
  Sent: 'delivered',
  SoftFail: 'deferred',
  HardFail: 'failed',
  Held: 'queued',
};

const isObject = (v: JsonValue | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: JsonValue | undefined): string | null => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : null);

function jsonObject(request: WebhookRequest, backend: string): JsonObject {
  const body = webhookJson(request, backend);
  if (!isObject(body)) throw new ValidationError('Postal webhook body must be a JSON object', [], { backend });
  return body;
}

/**
 * Normalize a Postal tracking webhook (`{ event, timestamp, payload, uuid }`), SEEDS-SPEC §2.9: `payload.status`
 * Sent → delivered, SoftFail → deferred, HardFail → failed, Held → queued; else a `bounce` → bounced; else a `url`
 * → clicked; else unknown. Incoming messages produce no event.
 */
export function parsePostalTracking(request: WebhookRequest, backend: string): TrackingEvent[] {
  const body = jsonObject(request, backend);
  if ('rcpt_to' in body) {
    throw new ConfigError(
      "an inbound message was posted to the tracking webhook URL: point Postal's HTTP endpoint (incoming route) at /<backend>/inbound, and the server webhook at /<backend>/tracking",
      { backend },
    );
  }
  const payload = isObject(body.payload) ? body.payload : {};
  const message = isObject(payload.message) ? payload.message : isObject(payload.original_message) ? payload.original_message : {};
  if (message.direction === 'incoming') return [];

  let eventType: TrackingEventType = 'unknown';
  if (typeof payload.status === 'string') eventType = STATUS_EVENTS[payload.status] ?? 'unknown';
  else if (payload.bounce !== undefined) eventType = 'bounced';
  else if (payload.url !== undefined) eventType = 'clicked';

  const seconds = typeof body.timestamp === 'number' ? Math.trunc(body.timestamp) : Number.NaN;
  const tag = str(message.tag);
  return [
    {
      eventType,
      eventId: str(body.uuid) ?? '',
      messageId: str(message.id),
      timestamp: Number.isFinite(seconds) ? new Date(seconds * 1000) : null,
      recipient: typeof message.to === 'string' ? (parseMailbox(message.to)?.address.toLowerCase() ?? null) : null,
      metadata: {},
      tags: tag ? [tag] : [],
      rejectReason: eventType === 'bounced' ? 'bounced' : null,
      description: str(payload.details),
      mtaResponse: str(payload.output),
      userAgent: str(payload.user_agent),
      clickUrl: str(payload.url),
      raw: body,
    },
  ];
}

function addresses(value: AddressObject | AddressObject[] | undefined): string[] {
  return [value ?? []]
    .flat()
    .flatMap((a) => a.value)
    .filter((a) => a.address)
    .map((a) => (a.name ? `${a.name} <${a.address}>` : a.address!));
}

/**
 * Normalize a Postal inbound HTTP endpoint POST in the raw-message format (`{ id, rcpt_to, mail_from, message,
 * base64 }`, SEEDS-SPEC §2.10): the MIME message is parsed with mailparser.
 */
export async function parsePostalInbound(request: WebhookRequest, backend: string): Promise<InboundEvent[]> {
  const body = jsonObject(request, backend);
  if ('status' in body || 'payload' in body) {
    throw new ConfigError(
      'a tracking event was posted to the inbound webhook URL: point the Postal server webhook at /<backend>/tracking, and the HTTP endpoint of the incoming route at /<backend>/inbound',
      { backend },
    );
  }
  if (typeof body.message !== 'string') {
    throw new ValidationError(
      'Postal inbound payload has no raw `message`: set the HTTP endpoint format to "Delivered as the raw message"',
      [],
      { backend },
    );
  }
  const mime = body.base64 === true ? Buffer.from(body.message, 'base64') : Buffer.from(body.message, 'utf8');
  const parsed = await simpleParser(mime, { skipTextToHtml: true, skipImageLinks: true });

  const headers: Record<string, string> = {};
  for (const { key, line } of parsed.headerLines) {
    const value = line.slice(line.indexOf(':') + 1).trim();
    headers[key] = headers[key] === undefined ? value : `${headers[key]}\n${value}`;
  }
  const spam = Number(headers['x-postal-spam-score'] ?? headers['x-spam-score']);
  const attachments: InboundAttachment[] = parsed.attachments.map((a) => ({
    filename: a.filename ?? null,
    contentType: a.contentType,
    content: a.content.toString('base64'),
    contentId: a.cid ?? null,
  }));
  return [
    {
      eventType: 'inbound',
      eventId: str(body.id) ?? '',
      timestamp: null,
      message: {
        from: addresses(parsed.from)[0] ?? null,
        to: addresses(parsed.to),
        cc: addresses(parsed.cc),
        subject: parsed.subject ?? null,
        date: parsed.date ?? null,
        text: parsed.text ?? null,
        html: typeof parsed.html === 'string' ? parsed.html : null,
        headers,
        attachments,
        envelopeSender: str(body.mail_from),
        envelopeRecipient: str(body.rcpt_to),
        spamScore: Number.isFinite(spam) ? spam : null,
      },
      raw: body,
    },
  ];
}
