import { createHash, timingSafeEqual } from 'node:crypto';
import {
  type Backend,
  ConfigError,
  type JsonObject,
  type TrackingEvent,
  ValidationError,
  type WebhookRequest,
  type WebhookVerification,
  webhookJson,
} from '@herald/core';
import { notifyEvent } from './statuses';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Check a Notify callback's `Authorization: Bearer <token>` against the configured token in constant time (both are
 * hashed first, so neither their contents nor their lengths show in the timing). Missing → 401, wrong → 403. The
 * backends' tracking webhook runs it; it is exported for endpoints of your own.
 *
 * @example
 * ```ts
 * import { verifyNotifyCallback } from '@herald/backend-govuk-notify';
 * const body = new TextEncoder().encode('{}');
 * const request = { method: 'POST', url: new URL('https://app.example.org/notify'), headers: new Headers({ authorization: 'Bearer my-callback-token' }), body, text: '{}' };
 * verifyNotifyCallback(request, 'my-callback-token', 'govuk-notify-email'); // { ok: true }
 * ```
 */
export function verifyNotifyCallback(request: WebhookRequest, token: string | undefined, backend: string): WebhookVerification {
  if (!token) return { ok: false, status: 401, reason: `callbackToken is not configured on backend "${backend}"; Notify's callbacks are refused` };
  const header = request.headers.get('authorization');
  const match = header ? /^Bearer\s+(\S.*?)\s*$/i.exec(header) : null;
  if (!match) return { ok: false, status: 401, reason: 'Authorization: Bearer <callback token> header missing from the Notify callback' };
  return timingSafeEqual(digest(match[1]!), digest(token)) ? { ok: true } : { ok: false, status: 403, reason: 'Notify callback bearer token does not match callbackToken' };
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A delivery receipt (`{ id, reference, to, status, created_at, completed_at, sent_at, notification_type, … }`) or a
 * complaint callback (`{ notification_id, complaint_id, reference, to, complaint_date }`) as a tracking event.
 * Throws `ValidationError` for a body that is neither, `ConfigError` for a received-text-message callback.
 *
 * @example
 * ```ts
 * import { parseNotifyCallback } from '@herald/backend-govuk-notify';
 * const text = JSON.stringify({ id: '740e5834-3a29-46b4-9a6f-16142fde533a', reference: 'dlv_1', to: 'amala@example.com', status: 'delivered' });
 * const request = { method: 'POST', url: new URL('https://app.example.org/notify'), headers: new Headers({ 'content-type': 'application/json' }), body: new TextEncoder().encode(text), text };
 * parseNotifyCallback(request, 'govuk-notify-email')[0]?.eventType; // 'delivered'
 * ```
 */
export function parseNotifyCallback(request: WebhookRequest, backend: string): TrackingEvent[] {
  const body = webhookJson(request, backend);
  if (!isObject(body)) throw new ValidationError('a Notify callback is a JSON object', [], { backend });
  if ('source_number' in body && 'message' in body) {
    throw new ConfigError('a received text message was posted to the delivery-receipt URL: Herald takes only delivery receipts from Notify', { backend });
  }
  if (typeof body.complaint_id === 'string') {
    const id = typeof body.notification_id === 'string' ? body.notification_id : null;
    const at = typeof body.complaint_date === 'string' ? new Date(body.complaint_date) : null;
    return [
      {
        eventType: 'complained',
        eventId: `complaint:${body.complaint_id}`,
        messageId: id,
        deliveryId: typeof body.reference === 'string' && body.reference ? body.reference : null,
        providerStatus: null,
        timestamp: at && !Number.isNaN(at.getTime()) ? at : null,
        recipient: typeof body.to === 'string' ? body.to : null,
        metadata: {},
        tags: [],
        rejectReason: 'spam',
        description: 'the recipient marked the email as spam',
        mtaResponse: null,
        userAgent: null,
        clickUrl: null,
        raw: body,
      },
    ];
  }
  const missing = (['id', 'status'] as const).filter((k) => typeof body[k] !== 'string' || !body[k]);
  if (missing.length) {
    throw new ValidationError(
      'not a Notify delivery receipt',
      missing.map((path) => ({ path, message: 'required' })),
      { backend },
    );
  }
  return [notifyEvent(body, typeof body.to === 'string' ? body.to : null)];
}

/**
 * Notify posts every delivery receipt of a service to ONE callback URL, email and text messages alike, while Herald
 * routes webhooks by backend (`/<backend>/tracking`). When one Notify service sends through both a
 * `govukNotifyEmail()` and a `govukNotifySms()` backend, point Notify at any URL of yours and pass each request
 * through this: it returns the request addressed to the backend of the receipt's `notification_type`, for
 * `herald.webhooks.handle`. The body is read once and passed on unchanged; nothing is verified here (the backend
 * does that).
 *
 * @example
 * ```ts
 * import { createHerald } from '@herald/core';
 * import { govukNotifyEmail, govukNotifySms, routeNotifyCallback } from '@herald/backend-govuk-notify';
 * import { memoryStore } from '@herald/core/testing';
 *
 * const options = { apiKey: process.env.NOTIFY_API_KEY!, callbackToken: process.env.NOTIFY_CALLBACK_TOKEN! };
 * const email = govukNotifyEmail(options);
 * const sms = govukNotifySms(options);
 * const herald = createHerald({ store: memoryStore(), backends: [email, sms], notifications: [] });
 * // POST https://app.example.org/herald/notify/callback — the URL set in Notify
 * const handle = async (request: Request) => herald.webhooks.handle(await routeNotifyCallback(request, { email, sms }));
 * void handle;
 * await herald.close();
 * ```
 */
export async function routeNotifyCallback(request: Request, backends: { email?: Pick<Backend, 'name'>; sms?: Pick<Backend, 'name'> }): Promise<Request> {
  const body = new Uint8Array(await request.arrayBuffer());
  let type: unknown;
  try {
    type = (JSON.parse(new TextDecoder().decode(body)) as { notification_type?: unknown }).notification_type;
  } catch {
    type = undefined;
  }
  const target = type === 'sms' ? (backends.sms ?? backends.email) : (backends.email ?? backends.sms);
  const url = new URL(request.url);
  // Herald routes on the last two path segments, so appending them addresses the backend under any mount path.
  if (target) url.pathname = `${url.pathname.replace(/\/+$/, '')}/${encodeURIComponent(target.name)}/tracking`;
  return new Request(url, { method: request.method, headers: request.headers, body: request.method === 'GET' || request.method === 'HEAD' ? null : body });
}
