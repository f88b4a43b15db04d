import { type FailureScope, type OutboundMessage, PermanentError, parseMailbox } from '@herald/core';
import type Mail from 'nodemailer/lib/mailer';

/** Headers Herald builds itself: setting them through `options.headers` would corrupt the message. */
const RESERVED = new Set(['from', 'to', 'cc', 'bcc', 'subject', 'message-id', 'date', 'mime-version', 'content-type', 'content-transfer-encoding']);
/** RFC 5322 field name: printable ASCII except colon. */
const FIELD_NAME = /^[!-9;-~]+$/;
/** C0 and C1 controls and Unicode line separators: in an address or display name they can only be an injection. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
/** A value quoted for an error message, every control character escaped (`\r`, `\u2028`). */
const quoted = (value: string) => JSON.stringify(value).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Turn a rendered message into nodemailer message options (headers, attachments, ids). */
export function toMail(message: OutboundMessage, backend: string, defaults: { from?: string; messageIdDomain?: string }): Mail.Options {
  const { options, content } = message;
  const refuse = (why: string, scope: FailureScope = 'content'): never => {
    throw new PermanentError(why, { backend, scope, rejectReason: 'invalid' });
  };
  // Core validates addresses before they are stored; this is the last line before the wire. nodemailer would turn
  // CR/LF into spaces in headers, but re-parses an address string, and `a@b\r\nBcc: c@d` then sends to c@d alone.
  // Each address goes to nodemailer as the { name, address } Herald parsed, never as a string to parse again.
  const mailbox = (value: string, field: string, scope: FailureScope) => {
    if (CONTROL.test(value)) refuse(`${field} ${quoted(value)} contains control characters (CR, LF …)`, scope);
    const parsed = parseMailbox(value) ?? refuse(`${field} ${quoted(value)} is not an email address`, scope);
    return { name: parsed.name ?? '', address: parsed.address };
  };
  const mailboxes = (values: readonly string[] | undefined, field: string, scope: FailureScope) =>
    values?.map((value, i) => mailbox(value, `${field}[${i}]`, scope));

  const from = options.from ?? defaults.from ?? refuse('no sender: set `from` on the backend, in its `defaults`, or on the notification');
  const sender = mailbox(from, '`from`', 'content');
  const domain = defaults.messageIdDomain ?? sender.address.slice(sender.address.lastIndexOf('@') + 1);
  const to = mailbox(message.to, 'recipient address', 'recipient');
  const name = message.recipient.name;
  if (name && CONTROL.test(name)) refuse(`recipient name ${quoted(name)} contains control characters (CR, LF …)`, 'recipient');
  // A bare contact address gets the recipient's name as display name.
  if (!to.name && name) to.name = name;

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

  return {
    from: sender,
    to,
    cc: mailboxes(options.cc, '`cc`', 'recipient'),
    bcc: mailboxes(options.bcc, '`bcc`', 'recipient'),
    replyTo: mailboxes(options.replyTo, '`replyTo`', 'content'),
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
