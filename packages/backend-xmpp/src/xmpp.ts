/// <reference path="./_xmpp-client.d.ts" />
import { type Backend, type BackendOptions, defineBackend, PermanentError, redact, type RejectReason, TransientError } from '@herald/core';
import { client as createClient, xml } from '@xmpp/client';
import { z } from 'zod';
import { _session } from './_session';
import type { XmppClient, XmppElement } from './client';

const xmppOptions = z
  .object({
    /** Where to connect: `xmpp://host:5222` (STARTTLS when offered) or `xmpps://host:5223` (direct TLS). */
    service: z.string().min(1).optional(),
    /** The account's domain. @default the host of `service` */
    domain: z.string().min(1).optional(),
    /** The account's local part (`alice` of `alice@chat.example.org`). */
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    /** Resource of the backend's session. @default assigned by the server */
    resource: z.string().min(1).optional(),
    /** Longest wait for connecting and for the server to accept a message, in ms. @default 10000 */
    timeout: z.number().int().positive().default(10_000),
    /** An `@xmpp/client` instance to use instead of building one from the options above. */
    client: z.custom<XmppClient>((v) => typeof v === 'object' && v !== null && 'start' in v && 'send' in v).optional(),
  })
  .refine((o) => o.client || (o.service && o.username && o.password), {
    message: 'give service, username and password, or an @xmpp/client instance as client',
  });

/** Options of {@link xmpp}. */
export type XmppOptions = BackendOptions<typeof xmppOptions>;

/** Stanza errors that mean the address is wrong or unknown (RFC 6120 §8.3.3). */
const INVALID = new Set(['item-not-found', 'jid-malformed', 'service-unavailable', 'remote-server-not-found', 'gone', 'recipient-unavailable']);

function _rejected(error: XmppElement, to: string, backend: string, secrets: string[]): Error {
  const detail = error.getChild('error');
  const type = detail?.attrs.type ?? 'cancel';
  const condition = detail?.getChildElements().find((c) => c.name !== 'text')?.name ?? 'undefined-condition';
  const text = detail?.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas');
  const message = redact(`the server refused the message to ${to}: ${condition}${text ? ` (${text})` : ''}`, secrets);
  const response = { type, condition, ...(text ? { text: redact(text, secrets) } : {}) };
  // Error type `wait` means "retry later"; cancel / modify / auth will not get better by themselves.
  if (type === 'wait') return new TransientError(message, { backend, response });
  const rejectReason: RejectReason = INVALID.has(condition) ? 'invalid' : condition === 'forbidden' || condition === 'not-allowed' ? 'blocked' : 'other';
  return new PermanentError(message, { backend, response, rejectReason });
}

function _failed(error: unknown, account: string, backend: string, secrets: string[]): Error {
  const e = error instanceof Error ? error : new Error(String(error));
  const condition = (e as { condition?: unknown }).condition;
  const message = redact(e.message, secrets);
  if (e.name === 'SASLError' && condition !== 'temporary-auth-failure') {
    return new PermanentError(`authentication failed for ${account}: ${message}`, { backend, response: { condition: String(condition) } });
  }
  return new TransientError(`XMPP connection for ${account} failed: ${message}`, { backend, response: { error: message } });
}

const _xmpp = defineBackend({
  name: 'xmpp',
  package: '@herald/backend-xmpp',
  protocol: 'xmpp',
  formats: ['text'],
  options: xmppOptions,
  secrets: (o) => [o.password],
  setup(o, { name }) {
    const domain = o.domain ?? o.client?.options?.domain ?? new URL(o.service ?? 'xmpp://localhost').hostname;
    const account = o.username ? `${o.username}@${domain}` : domain;
    const client: XmppClient =
      o.client ?? createClient({ service: o.service, domain, username: o.username, password: o.password, resource: o.resource });
    const session = _session(client, domain, o.timeout);
    const secrets = o.password ? [o.password] : [];
    return {
      async send(message, ctx) {
        const body = message.content.text ?? '';
        if (!body.trim()) throw new PermanentError('an XMPP message needs a non-empty text body', { backend: name });
        const id = message.deliveryId;
        const stanza = xml('message', { to: message.to, type: 'chat', id }, xml('body', {}, body));
        let outcome: Awaited<ReturnType<typeof session.deliver>>;
        try {
          outcome = await session.deliver(stanza, ctx.signal);
        } catch (error) {
          throw _failed(error, account, name, secrets);
        }
        if (!outcome.ok) throw _rejected(outcome.error, message.to, name, secrets);
        return { messageId: id, recipients: { [message.to]: { status: 'sent', messageId: id } }, response: { id, from: account } };
      },
      close: () => session.close(),
    };
  },
});

/**
 * XMPP backend (`@xmpp/client`): sends each message as a `<message type="chat">` with a `<body>` from the configured
 * account to the contact's JID. One connection serves every send; it is opened on the first send and reopened on
 * the next send after a drop. A send resolves once the server has accepted the stanza (a ping answered behind it),
 * so a refusal (`service-unavailable`, `not-allowed` …) fails the delivery instead of vanishing.
 *
 * @example
 * ```ts
 * import { xmpp } from '@herald/backend-xmpp';
 * const backend = xmpp({ service: 'xmpp://chat.example.org:5222', username: 'notifier', password: process.env.XMPP_PASSWORD });
 * // contact: { protocol: 'xmpp', address: 'ada@chat.example.org' }
 * ```
 */
export function xmpp(options: XmppOptions): Backend<'xmpp'> {
  return _xmpp(options);
}
