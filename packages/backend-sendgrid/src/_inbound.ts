import {
  ConfigError,
  type InboundAttachment,
  type InboundEvent,
  type InboundMessage,
  type JsonObject,
  type JsonValue,
  ValidationError,
  type WebhookRequest,
} from '@herald/core';
import { type AddressObject, type ParsedMail, simpleParser } from 'mailparser';

function addresses(value: AddressObject | AddressObject[] | undefined): string[] {
  return [value ?? []]
    .flat()
    .flatMap((a) => a.value)
    .filter((a) => a.address)
    .map((a) => (a.name ? `${a.name} <${a.address}>` : a.address!));
}

function headersOf(parsed: ParsedMail): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const { key, line } of parsed.headerLines) {
    const value = line.slice(line.indexOf(':') + 1).trim();
    headers[key] = headers[key] === undefined ? value : `${headers[key]}\n${value}`;
  }
  return headers;
}

function json(value: string | undefined): JsonValue | undefined {
  if (!value) return undefined;
  try {
    return JSON.parse(value) as JsonValue;
  } catch {
    return undefined;
  }
}

const isObject = (v: JsonValue | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: JsonValue | undefined): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/** The envelope field `{"to":["…"],"from":"…"}`. */
function envelopeOf(value: string | undefined): { sender: string | null; recipient: string | null } {
  const envelope = json(value);
  if (!isObject(envelope)) return { sender: null, recipient: null };
  const to = Array.isArray(envelope.to) ? envelope.to.map(text).filter((t): t is string => t !== null) : text(envelope.to) ? [text(envelope.to)!] : [];
  return { sender: text(envelope.from), recipient: to.length ? to.join(', ') : null };
}

async function readForm(request: WebhookRequest, backend: string): Promise<FormData> {
  const type = request.headers.get('content-type') ?? '';
  if (/^application\/(?:[\w.+-]+\+)?json\b/i.test(type.trim())) {
    throw new ConfigError('an Event Webhook post reached the Inbound Parse URL: point the Event Webhook at /<backend>/tracking and Inbound Parse at /<backend>/inbound', { backend });
  }
  if (!/^multipart\/form-data\b/i.test(type.trim())) {
    throw new ValidationError(`Inbound Parse body must be multipart/form-data, got "${type || 'no Content-Type'}"`, [], { backend });
  }
  try {
    // The Fetch API's multipart parser, over the body core read once.
    return await new Response(request.body, { headers: { 'content-type': type } }).formData();
  } catch (error) {
    throw new ValidationError(`Inbound Parse body is not valid multipart/form-data: ${(error as Error).message}`, [], { backend });
  }
}

/**
 * Normalize one Inbound Parse POST (multipart/form-data). "Send raw" mode posts the whole MIME message as `email`,
 * parsed with mailparser; the default mode posts its parts as fields (`headers`, `text`, `html`, `attachment1…`
 * described by `attachment-info`). Both carry `envelope`, `spam_score`, `charsets`.
 */
export async function parseSendgridInbound(request: WebhookRequest, backend: string): Promise<InboundEvent[]> {
  const form = await readForm(request, backend);
  const fields: Record<string, string> = {};
  const files = new Map<string, File>();
  for (const [name, value] of form) {
    if (typeof value === 'string') fields[name] = value;
    else files.set(name, value);
  }
  if (fields.email === undefined && fields.headers === undefined) {
    throw new ValidationError('Inbound Parse post has neither `email` (raw mode) nor `headers` (parsed mode)', [], { backend });
  }
  const envelope = envelopeOf(fields.envelope);
  const spam = Number(fields.spam_score);
  const raw: JsonObject = { ...fields };
  let message: InboundMessage;

  if (fields.email !== undefined) {
    const parsed = await simpleParser(Buffer.from(fields.email, 'utf8'), { skipTextToHtml: true, skipImageLinks: true });
    message = {
      ...fromHeaders(parsed),
      text: parsed.text ?? null,
      html: typeof parsed.html === 'string' ? parsed.html : null,
      attachments: parsed.attachments.map((a) => ({ filename: a.filename ?? null, contentType: a.contentType, content: a.content.toString('base64'), contentId: a.cid ?? null })),
      envelopeSender: envelope.sender,
      envelopeRecipient: envelope.recipient,
      spamScore: Number.isFinite(spam) && fields.spam_score !== '' ? spam : null,
    };
  } else {
    // Only the header block goes through mailparser: it decodes encoded words and address lists.
    const parsed = await simpleParser(Buffer.from(`${fields.headers!.replace(/\r?\n$/, '')}\r\n\r\n`, 'utf8'), { skipTextToHtml: true });
    const info = json(fields['attachment-info']);
    const contentIds = json(fields['content-ids']);
    const cidOf = new Map<string, string>();
    if (isObject(contentIds)) for (const [cid, name] of Object.entries(contentIds)) if (typeof name === 'string') cidOf.set(name, cid);
    const attachments: InboundAttachment[] = [];
    const described: JsonObject = {};
    for (const [name, file] of files) {
      const meta = isObject(info) && isObject(info[name]) ? info[name] : {};
      const contentId = text(meta['content-id']) ?? cidOf.get(name) ?? null;
      attachments.push({
        filename: text(meta.filename) ?? (file.name || null),
        contentType: text(meta.type) ?? (file.type || 'application/octet-stream'),
        content: Buffer.from(await file.arrayBuffer()).toString('base64'),
        contentId,
      });
      described[name] = { filename: file.name, type: file.type, size: file.size };
    }
    if (attachments.length) raw.files = described;
    message = {
      ...fromHeaders(parsed),
      text: fields.text ?? null,
      html: fields.html ?? null,
      attachments,
      envelopeSender: envelope.sender,
      envelopeRecipient: envelope.recipient,
      spamScore: Number.isFinite(spam) && fields.spam_score !== '' ? spam : null,
    };
    // Fields SendGrid sends besides the header block win when the block lacks them.
    if (!message.from && fields.from) message.from = fields.from;
    if (!message.subject && fields.subject) message.subject = fields.subject;
  }
  // SendGrid sends no id: core derives one from `raw`, which holds the headers (Message-ID, Date), so a retried POST is a replay.
  return [{ eventType: 'inbound', eventId: '', timestamp: message.date, message, raw }];
}

function fromHeaders(parsed: ParsedMail): Pick<InboundMessage, 'from' | 'to' | 'cc' | 'subject' | 'date' | 'headers'> {
  return {
    from: addresses(parsed.from)[0] ?? null,
    to: addresses(parsed.to),
    cc: addresses(parsed.cc),
    subject: parsed.subject ?? null,
    date: parsed.date ?? null,
    headers: headersOf(parsed),
  };
}
