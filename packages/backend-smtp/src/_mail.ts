import { type OutboundMessage, PermanentError, parseMailbox } from '@herald/core';
import type Mail from 'nodemailer/lib/mailer';

/** Headers Herald builds itself: setting them through `options.headers` would corrupt the message. */
const RESERVED = new Set(['from', 'to', 'cc', 'bcc', 'subject', 'message-id', 'date', 'mime-version', 'content-type', 'content-transfer-encoding']);
/** RFC 5322 field name: printable ASCII except colon. */
const FIELD_NAME = /^[!-9;-~]+$/;

/** Turn a rendered message into nodemailer message options (headers, attachments, ids). */
export function toMail(message: OutboundMessage, backend: string, defaults: { from?: string; messageIdDomain?: string }): Mail.Options {
  const { options, content } = message;
  const refuse = (why: string): never => {
    throw new PermanentError(why, { backend });
  };
  const from = options.from ?? defaults.from ?? refuse('no sender: set `from` on the backend, in its `defaults`, or on the notification');
  const sender = parseMailbox(from) ?? refuse(`\`from\` "${from}" is not an email address`);
  const domain = defaults.messageIdDomain ?? sender.address.slice(sender.address.lastIndexOf('@') + 1);

  const headers: Record<string, string> = {};
  const header = (name: string, value: string) => {
    if (!FIELD_NAME.test(name)) refuse(`"${name}" is not a valid header name`);
    headers[name] = value;
  };
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    const lower = name.toLowerCase();
    if (RESERVED.has(lower) || lower.startsWith('x-herald-')) refuse(`header "${name}" is set by Herald; use the matching option instead`);
    header(name, value);
  }
  if (options.tags?.length) header('X-Herald-Tags', options.tags.join(', '));
  for (const [key, value] of Object.entries(options.metadata ?? {})) header(`X-Herald-Metadata-${key}`, value);
  header('X-Herald-Delivery-Id', message.deliveryId);

  const to = parseMailbox(message.to);
  return {
    from,
    // A bare contact address gets the recipient's name as display name.
    to: to && !to.name && message.recipient.name ? { name: message.recipient.name, address: to.address } : message.to,
    cc: options.cc,
    bcc: options.bcc,
    replyTo: options.replyTo,
    subject: content.subject,
    text: content.text,
    html: content.html,
    headers,
    // Stable across retries, so receivers can spot a message that was delivered twice.
    messageId: `<${message.deliveryId}@${domain}>`,
    attachments: message.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: a.content,
      encoding: 'base64',
      ...(a.contentId ? { cid: a.contentId, contentDisposition: 'inline' as const } : { contentDisposition: 'attachment' as const }),
    })),
  };
}
