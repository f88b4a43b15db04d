import { domainToASCII } from 'node:url';
import {
  type Backend,
  type CommonBackendOptions,
  deepMerge,
  defineBackend,
  type FailureScope,
  httpFailure,
  type JsonObject,
  type OutboundMessage,
  PermanentError,
  parseMailbox,
  providerOptionsFor,
  type RecipientStatus,
  readAnswer,
  requestFailure,
  type SendResult,
  unsupportedFeature,
} from '@herald/core';
import { z } from 'zod';
import { postalPublicKey, verifyPostalSignature } from './_signature';
import { parsePostalInbound, parsePostalTracking } from './_webhooks';

/** Options of {@link postal}. */
export interface PostalOptions extends CommonBackendOptions {
  /** Base URL of your Postal instance, e.g. `https://postal.example.com`. */
  apiUrl: string;
  /** A server API credential (`X-Server-API-Key`). Redacted from every error, attempt and log line. */
  apiKey: string;
  /** Postal's public key for webhook signatures: the `p=` value of `postal default-dkim-record`. Webhooks answer 401 without it. */
  webhookKey?: string;
  /** `fetch` to use (proxies, tests). @default globalThis.fetch */
  fetch?: typeof fetch;
  /** API request timeout in ms. @default 30000 */
  timeoutMs?: number;
}

const postalOptions = z.object({
  apiUrl: z.url(),
  apiKey: z.string().min(1),
  webhookKey: z.string().min(1).optional(),
  fetch: z.custom<typeof fetch>((v) => typeof v === 'function').optional(),
  timeoutMs: z.number().int().positive().default(30_000),
}) satisfies z.ZodType<unknown, Omit<PostalOptions, keyof CommonBackendOptions>>;

/** What Postal's `status: "error"` codes are about; others count as the message's content (see docs/backends/postal.md). */
const PROVIDER_CODES = new Set(['InvalidServerAPIKey', 'AccessDenied', 'ServerSuspended', 'UnauthenticatedFromAddress']);

/** `Name <local@domain>` with the domain IDNA-encoded and the display name quoted when it needs to be. */
function formatAddress(value: string): string {
  const parsed = parseMailbox(value);
  if (!parsed) return value;
  const at = parsed.address.lastIndexOf('@');
  const address = `${parsed.address.slice(0, at)}@${domainToASCII(parsed.address.slice(at + 1)) || parsed.address.slice(at + 1)}`;
  if (!parsed.name) return address;
  const name = /[()<>[\]:;@\\,."]/.test(parsed.name) ? `"${parsed.name.replace(/(["\\])/g, '\\$1')}"` : parsed.name;
  return `${name} <${address}>`;
}

const _postal = defineBackend({
  name: 'postal',
  package: '@herald/backend-postal',
  protocol: 'email',
  formats: ['markdown', 'html', 'blocks'],
  options: postalOptions,
  capabilities: {
    attachments: true,
    cc: true,
    bcc: true,
    replyTo: true,
    headers: true,
    maxTags: 1,
    providerOptions: true,
    tracking: ['queued', 'delivered', 'deferred', 'failed', 'bounced', 'clicked', 'unknown'],
    inbound: true,
  },
  secrets: (o) => [o.apiKey],
  setup(options, context) {
    const { name, secrets } = context;
    const endpoint = new URL('api/v1/send/message', options.apiUrl.endsWith('/') ? options.apiUrl : `${options.apiUrl}/`).toString();
    const doFetch = options.fetch ?? fetch;
    const key = options.webhookKey ? postalPublicKey(options.webhookKey, name) : null;
    const provider = 'Postal API';

    function payload(message: OutboundMessage): Record<string, unknown> {
      const o = message.options;
      const body: Record<string, unknown> = { to: [formatAddress(message.to)] };
      if (o.cc?.length) body.cc = o.cc.map(formatAddress);
      if (o.bcc?.length) body.bcc = o.bcc.map(formatAddress);
      if (o.from) body.from = formatAddress(o.from);
      if (message.content.subject !== undefined) body.subject = message.content.subject;
      if (message.content.text) body.plain_body = message.content.text;
      if (message.content.html) body.html_body = message.content.html;
      if (o.replyTo?.length) {
        if (o.replyTo.length > 1) unsupportedFeature(context, 'multiple reply-to addresses');
        body.reply_to = formatAddress(o.replyTo[0]!);
      }
      if (o.headers && Object.keys(o.headers).length) body.headers = { ...o.headers };
      if (o.tags?.length) body.tag = o.tags[0];
      const named = message.attachments.filter((a) => a.filename);
      if (named.length < message.attachments.length) unsupportedFeature(context, 'attachments without a filename');
      if (named.length) body.attachments = named.map((a) => ({ name: a.filename, content_type: a.contentType, data: a.content }));
      return deepMerge(body, providerOptionsFor({ name, kind: 'postal' }, message));
    }

    return {
      async send(message, ctx): Promise<SendResult> {
        const body = payload(message);
        let res: Response;
        try {
          res = await doFetch(endpoint, {
            method: 'POST',
            headers: { 'X-Server-API-Key': options.apiKey, 'Content-Type': 'application/json', Accept: 'application/json' },
            body: JSON.stringify(body),
            signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(options.timeoutMs)]),
          });
        } catch (error) {
          throw requestFailure(error, { backend: name, provider, secrets });
        }
        const answer = await readAnswer(res);
        const json: JsonObject | null = typeof answer === 'object' && answer !== null && !Array.isArray(answer) ? answer : null;
        const data = typeof json?.data === 'object' && json.data !== null && !Array.isArray(json.data) ? json.data : {};
        const code = typeof data.code === 'string' ? data.code : undefined;
        if (!res.ok) {
          const scope: FailureScope | undefined = code && PROVIDER_CODES.has(code) ? 'provider' : undefined;
          throw httpFailure(
            { status: res.status, statusText: res.statusText, headers: res.headers, body: answer },
            { backend: name, provider, secrets, response: answer, ...(scope ? { scope } : {}) },
          );
        }
        // The message may have been accepted: a retry could send it twice, so this is permanent.
        if (!json) throw new PermanentError('Invalid JSON in Postal API response', { backend: name, statusCode: res.status, response: secrets.redactJson(answer) });
        if (json.status !== 'success') {
          // Postal answers 200 for refusals; its code says what they are about.
          const detail = `${code ? `${code}: ` : ''}${String(data.message ?? 'no message')}`;
          throw new PermanentError(secrets.redact(`${provider} answered status "${String(json.status)}": ${detail}`), {
            backend: name,
            statusCode: res.status,
            response: secrets.redactJson(json),
            scope: code && PROVIDER_CODES.has(code) ? 'provider' : 'content',
          });
        }
        const sent = typeof data.messages === 'object' && data.messages !== null && !Array.isArray(data.messages) ? data.messages : {};
        const recipients: Record<string, { status: RecipientStatus; messageId?: string }> = {};
        for (const [email, info] of Object.entries(sent)) {
          const id = typeof info === 'object' && info !== null && !Array.isArray(info) ? info.id : undefined;
          recipients[email.toLowerCase()] = id === undefined || id === null ? { status: 'queued' } : { status: 'queued', messageId: String(id) };
        }
        const to = (parseMailbox(message.to)?.address ?? message.to).toLowerCase();
        return { messageId: recipients[to]?.messageId ?? Object.values(recipients)[0]?.messageId, recipients, response: json };
      },
      webhooks: {
        tracking: {
          verify: (request) => (key ? verifyPostalSignature(request, key) : { ok: false, status: 401, reason: `webhookKey is not configured on backend "${name}"` }),
          parse: (request) => parsePostalTracking(request, name),
        },
        inbound: {
          verify: (request) => (key ? verifyPostalSignature(request, key) : { ok: false, status: 401, reason: `webhookKey is not configured on backend "${name}"` }),
          parse: (request) => parsePostalInbound(request, name),
        },
      },
    };
  },
});

/**
 * Postal backend (its HTTP API, through `fetch`): html / markdown / blocks email with cc, bcc, one reply-to,
 * headers, one tag and named attachments; `providerOptions` are deep-merged into the JSON payload. Signed
 * tracking and inbound (raw message) webhooks.
 *
 * @example
 * ```ts
 * import { postal } from '@herald/backend-postal';
 * const backend = postal({
 *   apiUrl: 'https://postal.example.com',
 *   apiKey: process.env.POSTAL_API_KEY!,
 *   webhookKey: process.env.POSTAL_WEBHOOK_KEY, // the p= value of `postal default-dkim-record`
 *   defaults: { from: 'Shop <shop@example.org>' },
 * });
 * ```
 */
export function postal(options: PostalOptions): Backend<'email'> {
  return _postal(options);
}
