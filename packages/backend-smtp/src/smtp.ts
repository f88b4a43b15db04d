import {
  type Backend,
  type CommonBackendOptions,
  defineBackend,
  parseMailbox,
  providerOptionsFor,
  secretsOf,
  type SendResult,
} from '@herald/core';
import nodemailer, { type Transporter } from 'nodemailer';
import { z } from 'zod';
import { toHeraldError } from './_errors';
import { toMail } from './_mail';
import { type SentInfo, toSendResult } from './_result';
import { noDelaySocket } from './_socket';

/** Options of {@link smtp} (besides the common backend options: `name`, `defaults`, `concurrency` …). */
export interface SmtpOptions {
  /** SMTP server host. @default 'localhost' */
  host?: string;
  /** SMTP server port. @default 465 when `secure`, else 587 */
  port?: number;
  /** Use TLS from the first byte (port 465). When false, STARTTLS is used if the server offers it. @default false */
  secure?: boolean;
  /** Never use STARTTLS, even when offered. @default false */
  ignoreTLS?: boolean;
  /** Refuse to send unless STARTTLS succeeds. @default false */
  requireTLS?: boolean;
  /** Credentials for SMTP AUTH. `pass` is redacted from every error and log line. */
  auth?: { user: string; pass: string };
  /** Keep connections open and reuse them for later messages. @default true */
  pool?: boolean;
  /** Most connections the pool opens at once. @default 5 */
  maxConnections?: number;
  /** Messages sent over one pooled connection before it is replaced (`Infinity`: never). @default 100 */
  maxMessages?: number;
  /** Milliseconds to wait for a connection, and then for the server's greeting. @default 10000 */
  connectionTimeout?: number;
  /** Milliseconds of silence after which a connection is dropped. @default 60000 */
  socketTimeout?: number;
  /** Turn Nagle's algorithm off on SMTP sockets (nodemailer leaves it on, which stalls every message ~40 ms waiting
   *  for a delayed ACK; off, a pooled connection sends 3–4× faster). @default true */
  noDelay?: boolean;
  /** TLS settings, e.g. `{ rejectUnauthorized: false }` for a server with a self-signed certificate. */
  tls?: { rejectUnauthorized?: boolean; servername?: string };
  /** Sender used when neither the notification, the `notify()` call nor `defaults.from` sets one. */
  from?: string;
  /** Domain of the generated `Message-ID` (`<deliveryId@domain>`). @default the sender's domain */
  messageIdDomain?: string;
  /** Send through this nodemailer transporter instead of creating one (tests, other transports).
   *  Herald does not close it: its owner does. */
  transport?: Transporter<unknown>;
}

const mailbox = z.string().refine((v) => parseMailbox(v) !== null, 'must be an email address such as "Shop <shop@example.org>"');
const schema = z.object({
  host: z.string().min(1).default('localhost'),
  port: z.number().int().min(1).max(65_535).optional(),
  secure: z.boolean().default(false),
  ignoreTLS: z.boolean().default(false),
  requireTLS: z.boolean().default(false),
  auth: z.object({ user: z.string().min(1), pass: z.string() }).optional(),
  pool: z.boolean().default(true),
  maxConnections: z.number().int().positive().default(5),
  maxMessages: z.union([z.number().int().positive(), z.literal(Number.POSITIVE_INFINITY)]).default(100),
  connectionTimeout: z.number().int().positive().default(10_000),
  socketTimeout: z.number().int().positive().default(60_000),
  noDelay: z.boolean().default(true),
  tls: z.object({ rejectUnauthorized: z.boolean().optional(), servername: z.string().optional() }).optional(),
  from: mailbox.optional(),
  messageIdDomain: z.string().min(1).optional(),
  transport: z
    .custom<Transporter<unknown>>((v) => typeof (v as { sendMail?: unknown } | null)?.sendMail === 'function', 'must be a nodemailer transporter')
    .optional(),
});

/**
 * Email over SMTP with nodemailer. Formats `html`, `markdown` and `blocks`; attachments (inline too), cc, bcc,
 * reply-to, custom headers; tags and metadata travel as `X-Herald-Tags` and `X-Herald-Metadata-<key>` headers.
 * SMTP 4xx and connection failures are retried (`TransientError`), 5xx fail the delivery (`PermanentError`); each
 * error's `scope` says whether it is about the provider (auth, relay, outage: fail over), the recipient or the
 * message (docs/backends/smtp.md, "Failures and failover").
 *
 * @example
 * ```ts
 * import { smtp } from '@herald/backend-smtp';
 *
 * const mail = smtp({ host: 'smtp.example.org', port: 587, auth: { user: 'app', pass: process.env.SMTP_PASS! },
 *   from: 'Shop <shop@example.org>' });
 * const herald = createHerald({ store, backends: [mail], notifications });
 * ```
 */
export const smtp: (options: SmtpOptions & CommonBackendOptions) => Backend<'email'> = defineBackend({
  name: 'smtp',
  package: '@herald/backend-smtp',
  protocol: 'email',
  formats: ['html', 'markdown', 'blocks'],
  options: schema,
  capabilities: {
    attachments: true,
    inlineAttachments: true,
    cc: true,
    bcc: true,
    replyTo: true,
    headers: true,
    maxTags: Number.POSITIVE_INFINITY,
    metadata: true,
    providerOptions: true,
  },
  // AUTH PLAIN sends base64("\0user\0pass") and AUTH LOGIN base64(pass): both forms are learnt with the password.
  secrets: (o) => secretsOf(o.auth ? [o.auth.pass, `\0${o.auth.user}\0${o.auth.pass}`] : []),
  setup(o, { name, secrets }) {
    const port = o.port ?? (o.secure ? 465 : 587);
    const server = `${o.host}:${port}`;
    const { transport: injected, from, messageIdDomain, pool, noDelay, ...rest } = o;
    // The greeting is part of connecting: a server that accepts and never speaks fails at connectionTimeout too.
    const options = { ...rest, greetingTimeout: o.connectionTimeout };
    const connection = noDelay ? { ...options, getSocket: noDelaySocket(o.host, port, o.connectionTimeout) } : options;
    const transport: Transporter<unknown> =
      injected ?? (pool ? nodemailer.createTransport({ ...connection, pool: true }) : nodemailer.createTransport(connection));
    return {
      // No abort listener: nodemailer cannot cancel one message of a pool, and the worker stops waiting by itself
      // at its sendTimeout (the attempt is then retried); the socket timeouts above bound the SMTP dialogue.
      async send(message): Promise<SendResult> {
        const mail = { ...toMail(message, name, { from, messageIdDomain }), ...providerOptionsFor({ name, kind: 'smtp' }, message) };
        let info: SentInfo;
        try {
          info = (await transport.sendMail(mail)) as SentInfo;
        } catch (error) {
          throw toHeraldError(error, name, server, secrets);
        }
        return toSendResult(info);
      },
      async close() {
        if (!injected) transport.close();
      },
    };
  },
});

