import { isIP } from 'node:net';
import { defineBackend, PermanentError, redact, TransientError, type BackendOptions, type HeraldError, type JsonValue } from '@herald/core';
import { Agent, type Dispatcher } from 'undici';
import { z } from 'zod';
import { findCause, readAnswer, retryAfterMs } from './_http';
import { BlockedAddressError, defaultResolver, guardedLookup, isBlockedAddress, type Resolver } from './ssrf';
import { signatureOf, type WebhookSecret, webhookKey } from './standard-webhooks';

const secret = z.union([z.string().min(1), z.instanceof(Uint8Array)]);

const jsonWebhookOptions = z
  .object({
    /** Standard Webhooks secret (`whsec_<base64>`) signing every request. */
    secret: secret.optional(),
    /** Secrets per endpoint, keyed by the exact URL or its origin (`https://hooks.example.org`); over `secret`. */
    endpointSecrets: z.record(z.string(), secret).default({}),
    /** Send without `webhook-signature` when no secret applies. @default false */
    unsigned: z.boolean().default(false),
    /** Timeout in ms for connecting, for the response headers and between body chunks. @default 10000 */
    timeout: z.number().int().positive().default(10_000),
    /** Redirects (307/308 only, re-checked by the SSRF guard) to follow. @default 0 */
    maxRedirects: z.number().int().min(0).max(10).default(0),
    /** Allow loopback, private and link-local addresses (trusted URLs, tests). @default false */
    allowPrivateNetworks: z.boolean().default(false),
    /** Host names exempt from the SSRF guard, e.g. an internal service. @default [] */
    allowedHosts: z.array(z.string().min(1)).default([]),
    /** Most connections per origin. @default unlimited */
    connectionsPerOrigin: z.number().int().positive().optional(),
    /** Custom DNS resolution (all addresses of a host); used by the SSRF guard. @default dns.lookup with all: true */
    resolve: z.custom<Resolver>((v) => typeof v === 'function').optional(),
  })
  .refine((o) => o.unsigned || o.secret !== undefined || Object.keys(o.endpointSecrets).length > 0, {
    message: 'set `secret` or `endpointSecrets`, or `unsigned: true` to send unsigned requests',
    path: ['secret'],
  });

/** Options of {@link jsonWebhook}. */
export type JsonWebhookOptions = BackendOptions<typeof jsonWebhookOptions>;

/** Each string secret, with and without its `whsec_` prefix (either may be quoted back). */
function _secretTexts(secret: WebhookSecret | undefined, more: readonly WebhookSecret[]): string[] {
  return [secret, ...more].flatMap((s) => (typeof s === 'string' ? [s, s.replace(/^whsec_/, '')] : []));
}

/** Why a URL is refused before any request. */
interface Refusal {
  message: string;
  rejectReason: 'invalid' | 'blocked';
}

const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'host', 'webhook-id', 'webhook-timestamp', 'webhook-signature']);

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
export const jsonWebhook = defineBackend({
  name: 'json-webhook',
  package: '@herald/backend-json-webhook',
  protocol: 'json-webhook',
  formats: ['params'],
  options: jsonWebhookOptions,
  capabilities: { headers: true },
  secrets: (o) => _secretTexts(o.secret, Object.values(o.endpointSecrets)),
  setup(o, { name }) {
    const allowed = new Set(o.allowedHosts.map((h) => h.toLowerCase()));
    const isAllowedHost = (host: string) => o.allowPrivateNetworks || allowed.has(host.toLowerCase());
    const lookup = o.allowPrivateNetworks ? undefined : guardedLookup(o.resolve ?? defaultResolver, isAllowedHost);
    const agent = new Agent({
      connect: { timeout: o.timeout, ...(lookup ? { lookup } : {}) },
      ...(o.connectionsPerOrigin ? { connections: o.connectionsPerOrigin } : {}),
    });
    const globalKey = o.secret === undefined ? undefined : webhookKey(o.secret);
    const endpointKeys = new Map(Object.entries(o.endpointSecrets).map(([k, v]) => [k, webhookKey(v)]));
    const secrets = _secretTexts(o.secret, Object.values(o.endpointSecrets));
    /** A receiver may quote the request back: keep secrets out of errors and the attempt log. */
    const scrub = (value: JsonValue): JsonValue => (secrets.length ? (JSON.parse(redact(JSON.stringify(value), secrets)) as JsonValue) : value);
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
      return refusal && new PermanentError(refusal.message, { backend: name, rejectReason: refusal.rejectReason });
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
        if (!message.content.params) throw new PermanentError('json-webhook sends `params` templates only', { backend: name });
        const body = JSON.stringify(message.content.params);
        let url = new URL(message.to);
        const key = keyFor(url);
        if (!key && !o.unsigned) throw new PermanentError(`no signing secret for ${url.origin}`, { backend: name });
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
            if (blocked) throw new PermanentError(`refused webhook host ${url.host}: ${blocked.message}`, { backend: name, rejectReason: 'blocked' });
            const code = (error as { code?: string }).code;
            throw new TransientError(`request to ${url.host} failed${code ? ` (${code})` : ''}: ${(error as Error).message}`, { backend: name });
          }
          const status = res.statusCode;
          const location = res.headers.location;
          if ((status === 307 || status === 308) && typeof location === 'string' && hop < o.maxRedirects) {
            await res.body.dump();
            url = new URL(location, url);
            continue;
          }
          const answer = await readAnswer(res, 4096).catch(() => null);
          if (status >= 200 && status < 300) return { recipients: { [message.to]: { status: 'sent' } }, response: { status, body: answer } };
          const response = { status, body: scrub(answer) };
          const summary = `${url.host} answered ${status}${typeof response.body === 'string' && response.body ? `: ${response.body.slice(0, 200)}` : ''}`;
          if (status === 429 || status === 408 || status >= 500) {
            throw new TransientError(summary, { backend: name, response, statusCode: status, retryAfterMs: retryAfterMs(res.headers['retry-after']) });
          }
          if (status === 410) throw new PermanentError(summary, { backend: name, response, statusCode: status, suppress: true, rejectReason: 'invalid' });
          if (status >= 300 && status < 400) {
            throw new PermanentError(`${summary} (redirect to ${String(location)} not followed; see maxRedirects)`, { backend: name, response, statusCode: status });
          }
          throw new PermanentError(summary, { backend: name, response, statusCode: status });
        }
      },
      close: () => agent.close(),
    };
  },
});
