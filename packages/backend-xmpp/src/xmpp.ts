/// <reference path="./_xmpp-client.d.ts" />
import {
  type Backend,
  type CommonBackendOptions,
  defineBackend,
  type FailureScope,
  PermanentError,
  type Redactor,
  type RejectReason,
  secretsOf,
  TransientError,
} from '@herald/core';
import { client as createClient, xml } from '@xmpp/client';
import { z } from 'zod';
import { _session } from './_session';
import type { XmppClient, XmppElement } from './client';

/** Options of {@link xmpp}: `service`, `username` and `password`, or a ready `client`. */
export interface XmppOptions extends CommonBackendOptions {
  /** Where to connect: `xmpp://host:5222` (STARTTLS when offered) or `xmpps://host:5223` (direct TLS). */
  service?: string;
  /** The account's domain. @default the host of `service` */
  domain?: string;
  /** The account's local part (`alice` of `alice@chat.example.org`). */
  username?: string;
  /** The account's password. Redacted from every error, attempt and log line — the base64 SASL PLAIN token that
   *  carries it included. */
  password?: string;
  /** Resource of the backend's session. @default assigned by the server */
  resource?: string;
  /** Longest wait for connecting and for the server to accept a message, in ms. @default 10000 */
  timeout?: number;
  /** An `@xmpp/client` instance to use instead of building one from the options above. */
  client?: XmppClient;
}

const xmppOptions = z
  .object({
    service: z.string().min(1).optional(),
    domain: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    resource: z.string().min(1).optional(),
    timeout: z.number().int().positive().default(10_000),
    client: z.custom<XmppClient>((v) => typeof v === 'object' && v !== null && 'start' in v && 'send' in v).optional(),
  })
  .refine((o) => o.client || (o.service && o.username && o.password), {
    message: 'give service, username and password, or an @xmpp/client instance as client',
  }) satisfies z.ZodType<unknown, Omit<XmppOptions, keyof CommonBackendOptions>>;

/** Stanza errors that mean the address is wrong or unknown (RFC 6120 §8.3.3). */
const INVALID = new Set(['item-not-found', 'jid-malformed', 'service-unavailable', 'remote-server-not-found', 'gone', 'recipient-unavailable']);
/** Stanza errors about the recipient besides unknown addresses: its server, its privacy rules. */
const RECIPIENT = new Set([...INVALID, 'remote-server-timeout', 'forbidden', 'not-allowed', 'registration-required', 'subscription-required']);
/** Stanza errors about the message itself. */
const CONTENT = new Set(['policy-violation', 'not-acceptable', 'bad-request']);

function _rejected(error: XmppElement, to: string, backend: string, secrets: Redactor): Error {
  const detail = error.getChild('error');
  const type = detail?.attrs.type ?? 'cancel';
  const condition = detail?.getChildElements().find((c) => c.name !== 'text')?.name ?? 'undefined-condition';
  const text = detail?.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas');
  const message = secrets.redact(`the server refused the message to ${to}: ${condition}${text ? ` (${text})` : ''}`);
  const response = { type, condition, ...(text ? { text: secrets.redact(text) } : {}) };
  const scope: FailureScope | undefined = RECIPIENT.has(condition) ? 'recipient' : CONTENT.has(condition) ? 'content' : type === 'wait' ? 'provider' : undefined;
  const base = { backend, response, ...(scope ? { scope } : {}) };
  // Error type `wait` means "retry later"; cancel / modify / auth will not get better by themselves.
  if (type === 'wait') return new TransientError(message, base);
  const rejectReason: RejectReason = INVALID.has(condition) ? 'invalid' : condition === 'forbidden' || condition === 'not-allowed' ? 'blocked' : 'other';
  return new PermanentError(message, { ...base, rejectReason });
}

function _failed(error: unknown, account: string, backend: string, secrets: Redactor): Error {
  const e = error instanceof Error ? error : new Error(String(error));
  const condition = (e as { condition?: unknown }).condition;
  const message = secrets.redact(e.message);
  if (e.name === 'SASLError' && condition !== 'temporary-auth-failure') {
    return new PermanentError(`authentication failed for ${account}: ${message}`, { backend, scope: 'provider', response: { condition: String(condition) } });
  }
  return new TransientError(`XMPP connection for ${account} failed: ${message}`, { backend, scope: 'provider', response: { error: message } });
}

const _xmpp = defineBackend({
  name: 'xmpp',
  package: '@herald/backend-xmpp',
  protocol: 'xmpp',
  formats: ['text'],
  options: xmppOptions,
  // SASL PLAIN sends base64("\0username\0password"): a server quoting the exchange back quotes that.
  secrets: (o) => secretsOf([o.password, o.username && o.password ? `\0${o.username}\0${o.password}` : undefined]),
  setup(o, { name, secrets }) {
    const domain = o.domain ?? o.client?.options?.domain ?? new URL(o.service ?? 'xmpp://localhost').hostname;
    const account = o.username ? `${o.username}@${domain}` : domain;
    const client: XmppClient =
      o.client ?? createClient({ service: o.service, domain, username: o.username, password: o.password, resource: o.resource });
    const session = _session(client, domain, o.timeout);
    return {
      async send(message, ctx) {
        const body = message.content.text ?? '';
        if (!body.trim()) throw new PermanentError('an XMPP message needs a non-empty text body', { backend: name, scope: 'content' });
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
