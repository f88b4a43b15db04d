import { createHmac, type KeyObject, timingSafeEqual } from 'node:crypto';

/** A Standard Webhooks secret: `whsec_<base64>`, bare base64, or the raw key bytes. */
export type WebhookSecret = string | Uint8Array;

/**
 * Decode a secret into HMAC key bytes (the `whsec_` prefix is optional).
 *
 * @example
 * ```ts
 * webhookKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw').length; // 24
 * ```
 */
export function webhookKey(secret: WebhookSecret): Buffer {
  if (typeof secret !== 'string') return Buffer.from(secret);
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

function _sign(key: Buffer | KeyObject, id: string, timestamp: number | string, body: string | Uint8Array): string {
  const hmac = createHmac('sha256', key).update(`${id}.${timestamp}.`, 'utf8');
  hmac.update(body);
  return hmac.digest('base64');
}

/** The `webhook-signature` value (`v1,<base64>`) for a decoded key, as sent by the backend. @internal */
export function signatureOf(key: Buffer | KeyObject, id: string, timestamp: number, body: string): string {
  return `v1,${_sign(key, id, timestamp, body)}`;
}

/** The three headers of a signed Standard Webhooks request. */
export type StandardWebhookHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/**
 * Sign a webhook body per the Standard Webhooks spec: `webhook-signature` is `v1,` + base64 HMAC-SHA256 of
 * `{webhook-id}.{webhook-timestamp}.{body}` keyed with the decoded secret.
 *
 * @example
 * ```ts
 * const headers = signWebhook({ secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', id: 'msg_1', body: '{"ok":true}' });
 * ```
 */
export function signWebhook(input: {
  secret: WebhookSecret;
  id: string;
  body: string | Uint8Array;
  /** Unix seconds. @default now */
  timestamp?: number;
}): StandardWebhookHeaders {
  const timestamp = input.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    'webhook-id': input.id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': `v1,${_sign(webhookKey(input.secret), input.id, timestamp, input.body)}`,
  };
}

/** Result of {@link verifyWebhook}; the same shape as a Herald webhook verification. */
export interface WebhookVerifyResult {
  ok: boolean;
  status?: 400 | 401 | 403;
  reason?: string;
  /** `webhook-id` of a verified request: deduplicate on it (it is stable across retries). */
  id?: string;
  timestamp?: Date;
}

function _header(headers: Headers | Record<string, string | string[] | undefined>, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const value = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Verify a received Standard Webhooks request: checks the timestamp is within `toleranceSeconds` of now and that one
 * of the space-separated `v1,` signatures matches (several secrets may be given during a rotation).
 *
 * @example
 * ```ts
 * const result = verifyWebhook({ secret: process.env.WEBHOOK_SECRET!, headers: request.headers, body: rawBody });
 * if (!result.ok) return new Response(result.reason, { status: result.status });
 * ```
 */
export function verifyWebhook(input: {
  secret: WebhookSecret | readonly WebhookSecret[];
  headers: Headers | Record<string, string | string[] | undefined>;
  /** The raw body, exactly as received. */
  body: string | Uint8Array;
  /** @default 300 */
  toleranceSeconds?: number;
  /** @default new Date() */
  now?: Date;
}): WebhookVerifyResult {
  const id = _header(input.headers, 'webhook-id');
  const timestamp = _header(input.headers, 'webhook-timestamp');
  const signatures = _header(input.headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) return { ok: false, status: 401, reason: 'missing webhook-id, webhook-timestamp or webhook-signature header' };
  const seconds = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || !Number.isSafeInteger(seconds)) return { ok: false, status: 400, reason: 'invalid webhook-timestamp' };
  const now = Math.floor((input.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - seconds) > (input.toleranceSeconds ?? 300)) return { ok: false, status: 403, reason: 'webhook-timestamp outside the tolerance' };
  const secrets = Array.isArray(input.secret) ? input.secret : [input.secret as WebhookSecret];
  const received = signatures
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3)));
  for (const secret of secrets) {
    const expected = Buffer.from(_sign(webhookKey(secret), id, timestamp, input.body));
    if (received.some((r) => r.length === expected.length && timingSafeEqual(r, expected))) {
      return { ok: true, id, timestamp: new Date(seconds * 1000) };
    }
  }
  return { ok: false, status: 403, reason: 'no matching webhook-signature' };
}
