import { isIP } from 'node:net';
import {
  type Backend,
  type CommonBackendOptions,
  defineBackend,
  type FailureScope,
  type HeraldError,
  httpFailure,
  PermanentError,
  readAnswer,
  requestFailure,
  secretsOf,
} from '@herald/core';
import { Agent, type Dispatcher } from 'undici';
import { z } from 'zod';
import { findCause } from './_http';
import { BlockedAddressError, defaultResolver, guardedLookup, isBlockedAddress, type Resolver } from './ssrf';
import { signatureOf, type WebhookSecret, webhookKey } from './standard-webhooks';

const secret = z.union([z.string().min(1), z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'must be a string or a Uint8Array')]);

/** Options of {@link jsonWebhook}. */
export interface JsonWebhookOptions extends CommonBackendOptions {
  /** Standard Webhooks secret (`whsec_<base64>`, bare base64, or the key bytes) signing every request. Redacted from
   *  every error, attempt and log line — as typed and as the key it decodes to (text, hex, base64). */
  secret?: WebhookSecret;
  /** Secrets per endpoint, keyed by the exact URL or its origin (`https://hooks.example.org`); over `secret`. @default {} */
  endpointSecrets?: Record<string, WebhookSecret>;
  /** Send without `webhook-signature` when no secret applies. @default false */
  unsigned?: boolean;
  /** Timeout in ms for connecting, for the response headers and between body chunks. @default 10000 */
  timeout?: number;
  /** Redirects (307/308 only, re-checked by the SSRF guard) to follow. @default 0 */
  maxRedirects?: number;
  /** Allow loopback, private and link-local addresses (trusted URLs, tests). @default false */
  allowPrivateNetworks?: boolean;
  /** Host names exempt from the SSRF guard, e.g. an internal service. @default [] */
  allowedHosts?: string[];
  /** Most connections per origin. @default unlimited */
  connectionsPerOrigin?: number;
  /** Custom DNS resolution (all addresses of a host); used by the SSRF guard. @default dns.lookup with all: true */
  resolve?: Resolver;
}

const jsonWebhookOptions = z
  .object({
    secret: secret.optional(),
    endpointSecrets: z.record(z.string(), secret).default({}),
    unsigned: z.boolean().default(false),
    timeout: z.number().int().positive().default(10_000),
    maxRedirects: z.number().int().min(0).max(10).default(0),
    allowPrivateNetworks: z.boolean().default(false),
    allowedHosts: z.array(z.string().min(1)).default([]),
    connectionsPerOrigin: z.number().int().positive().optional(),
    resolve: z.custom<Resolver>((v) => typeof v === 'function').optional(),
  })
  .refine((o) => o.unsigned || o.secret !== undefined || Object.keys(o.endpointSecrets).length > 0, {
    message: 'set `secret` or `endpointSecrets`, or `unsigned: true` to send unsigned requests',
    path: ['secret'],
  }) satisfies z.ZodType<unknown, Omit<JsonWebhookOptions, keyof CommonBackendOptions>>;

/** Every secret as typed (`whsec_…`), and the key it decodes to: a receiver may quote either back, in any encoding. */
function _secrets(all: readonly (WebhookSecret | undefined)[]) {
  const given = all.filter((s): s is WebhookSecret => s !== undefined);
  return secretsOf(
    given.filter((s): s is string => typeof s === 'string'),
    { keys: given.map(webhookKey) },
  );
}

/** The receiver is the recipient: its outages and refusals are about it, not about this backend. */
const RECEIVER: FailureScope = 'recipient';

/** Why a URL is refused before any request. */
interface Refusal {
  message: string;
  rejectReason: 'invalid' | 'blocked';
}

const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'host', 'webhook-id', 'webhook-timestamp', 'webhook-signature']);

const _jsonWebhook = defineBackend({
  name: 'json-webhook',
  package: '@herald/backend-json-webhook',
  protocol: 'json-webhook',
  formats: ['params'],
  options: jsonWebhookOptions,
  capabilities: { headers: true },
  secrets: (o) => _secrets([o.secret, ...Object.values(o.endpointSecrets)]),
  setup(o, { name, secrets }) {
    const allowed = new Set(o.allowedHosts.map((h) => h.toLowerCase()));
    const isAllowedHost = (host: string) => o.allowPrivateNetworks || allowed.has(host.toLowerCase());
    const lookup = o.allowPrivateNetworks ? undefined : guardedLookup(o.resolve ?? defaultResolver, isAllowedHost);
    const agent = new Agent({
      connect: { timeout: o.timeout, ...(lookup ? { lookup } : {}) },
      ...(o.connectionsPerOrigin ? { connections: o.connectionsPerOrigin } : {}),
    });
    const globalKey = o.secret === undefined ? undefined : webhookKey(o.secret);
    const endpointKeys = new Map(Object.entries(o.endpointSecrets).map(([k, v]) => [k, webhookKey(v)]));
    const keyFor = (url: URL) => (endpointKeys.size ? (endpointKeys.get(url.href) ?? endpointKeys.get(url.origin) ?? globalKey) : globalKey);

    /** {@link check} results by scheme and host: webhooks go to few hosts, many times. */
    const refusals = new Map<string, Refusal | null>();
    function refuse(url: URL): HeraldError | null {
      const key = `${url.protocol}//${url.host}`;
      let refusal = refusals.get(key);
      if (refusal === undefined) {
        refusal = check(url);
        if (refusals.size >= 1000) refusals.clear();
        refusals.set(key, refusal);
      }
      return refusal && new PermanentError(refusal.message, { backend: name, scope: RECEIVER, rejectReason: refusal.rejectReason });
    }

    /** IP literals never reach the lookup, so they are checked here. */
    function check(url: URL): Refusal | null {
      if (!/^https?:$/.test(url.protocol)) return { message: `refused ${url.protocol} webhook URL`, rejectReason: 'invalid' };
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (!isAllowedHost(host) && isIP(host) && isBlockedAddress(host)) {
        return { message: `refused webhook host ${url.host}: ${new BlockedAddressError(host, host).message}`, rejectReason: 'blocked' };
      }
      return null;
    }

    return {
      async send(message, ctx) {
        if (!message.content.params) throw new PermanentError('json-webhook sends `params` templates only', { backend: name, scope: 'content' });
        const body = JSON.stringify(message.content.params);
        let url = new URL(message.to);
        const key = keyFor(url);
        if (!key && !o.unsigned) throw new PermanentError(`no signing secret for ${url.origin}`, { backend: name, scope: 'provider' });
        const headers: Record<string, string> = {};
        const extra = message.options.headers;
        if (extra) for (const h in extra) if (!RESERVED_HEADERS.has(h.toLowerCase())) headers[h] = extra[h]!;
        headers['content-type'] = 'application/json';
        headers['user-agent'] = 'herald-webhook';
        headers['webhook-id'] = ctx.idempotencyKey;
        const timestamp = Math.floor(Date.now() / 1000);
        headers['webhook-timestamp'] = String(timestamp);
        if (key) headers['webhook-signature'] = signatureOf(key, ctx.idempotencyKey, timestamp, body);

        for (let hop = 0; ; hop++) {
          const refused = refuse(url);
          if (refused) throw refused;
          let res: Dispatcher.ResponseData;
          try {
            res = await agent.request({
              origin: url.origin,
              path: url.pathname + url.search,
              method: 'POST',
              headers,
              body,
              headersTimeout: o.timeout,
              bodyTimeout: o.timeout,
            });
          } catch (error) {
            const blocked = findCause(error, BlockedAddressError);
            if (blocked) throw new PermanentError(`refused webhook host ${url.host}: ${blocked.message}`, { backend: name, scope: RECEIVER, rejectReason: 'blocked' });
            throw requestFailure(error, { backend: name, provider: url.host, secrets, scope: RECEIVER });
          }
          const status = res.statusCode;
          const location = res.headers.location;
          if ((status === 307 || status === 308) && typeof location === 'string' && hop < o.maxRedirects) {
            await res.body.dump();
            url = new URL(location, url);
            continue;
          }
          const answer = await readAnswer(res, 4096);
          if (status >= 200 && status < 300) return { recipients: { [message.to]: { status: 'sent' } }, response: secrets.redactJson({ status, body: answer }) };
          const failure = { status, headers: res.headers, body: answer };
          const options = { backend: name, provider: url.host, secrets };
          if (status === 401 || status === 403) throw httpFailure(failure, options); // the signature was refused: this backend's secret
          if (status === 410) throw httpFailure(failure, { ...options, scope: RECEIVER, suppress: true, rejectReason: 'invalid' });
          if (status >= 300 && status < 400) {
            const detail = `redirect to ${String(location)} not followed; see maxRedirects`;
            throw httpFailure(failure, { ...options, scope: RECEIVER, detail });
          }
          const content = status === 400 || status === 413 || status === 415 || status === 422;
          throw httpFailure(failure, { ...options, scope: content ? 'content' : RECEIVER });
        }
      },
      close: () => agent.close(),
    };
  },
});

/**
 * JSON webhook backend (undici). Posts the rendered `params` as JSON, signed per the Standard Webhooks spec
 * (`webhook-id` = the delivery id, stable across retries), refusing URLs that resolve to private networks.
 *
 * @example
 * ```ts
 * import { jsonWebhook } from '@herald/backend-json-webhook';
 * const hooks = jsonWebhook({ secret: process.env.WEBHOOK_SECRET! });
 * // contact: { protocol: 'json-webhook', address: 'https://hooks.example.org/herald' }
 * ```
 */
export function jsonWebhook(options: JsonWebhookOptions): Backend<'json-webhook'> {
  return _jsonWebhook(options);
}
