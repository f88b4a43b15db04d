import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError, redact, ValidationError } from './errors';
import { eventIdOf, RecordFailure, recordTracking } from './tracking';
import type {
  Backend,
  Delivery,
  DeliveryStatus,
  InboundEvent,
  JsonValue,
  Logger,
  Store,
  TrackingEvent,
  WebhookRequest,
  WebhookVerification,
} from './types';

/** What {@link createWebhookHandler} needs from the running Herald instance. */
export interface WebhookHandlerDeps {
  backends: readonly Backend[];
  store: Store;
  logger: Logger;
  /** Largest accepted body in bytes; larger requests get 413 and are not read further. */
  maxBodyBytes: number;
  now: () => Date;
  /** Run the `tracking` listeners; a rejection makes the response 500 so the provider retries. */
  emitTracking(event: TrackingEvent, delivery: Delivery | null): Promise<void>;
  /** Run the `inbound` listeners; a rejection makes the response 500 so the provider retries. */
  emitInbound(event: InboundEvent, backend: string): Promise<void>;
  /** Called when a tracking event moved a delivery's status forward. */
  emitDelivery?(delivery: Delivery, change: { from: DeliveryStatus | null; to: DeliveryStatus }): void;
}

/** The two webhook endpoints every backend may expose. */
export type WebhookKind = 'tracking' | 'inbound';

const ALLOW = 'POST, HEAD, OPTIONS';

function _json(status: number, body: Record<string, JsonValue>, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

function _error(status: number, message: string, headers: Record<string, string> = {}): Response {
  return _json(status, { error: message }, headers);
}

/** Read the body once, refusing more than `limit` bytes (checks Content-Length first, then counts while reading). */
async function _readBody(request: Request, limit: number): Promise<Uint8Array | null> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) return null;
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** `/anything/<backend>/<kind>[/]` → the last two segments. */
function _route(url: URL): { backend: string; kind: string } | null {
  const segments = url.pathname.split('/').filter((s) => s.length > 0);
  if (segments.length < 2) return null;
  try {
    return { backend: decodeURIComponent(segments.at(-2)!), kind: decodeURIComponent(segments.at(-1)!) };
  } catch {
    return null;
  }
}

/** Events need a stable id for idempotency; a backend that has none gets one derived from the raw event. */

/**
 * Build the Fetch-API webhook handler behind `herald.webhooks.handle`. It routes on the last two path segments,
 * `/<backend>/tracking` and `/<backend>/inbound`, so it can be mounted under any prefix.
 *
 * Per request: the body is read once (413 beyond `maxBodyBytes`), verified by the backend (401/403, nothing
 * stored), parsed (400 for a malformed body or a payload sent to the wrong endpoint), then each event is stored
 * idempotently by `(backend, eventId)`, moves its delivery's status forward, adds hard bounces, complaints and
 * unsubscribes to the suppression list, and reaches the listeners. A replayed event changes nothing. When a
 * listener throws, the events whose listeners did not complete are forgotten and the answer is 500, so the
 * provider's retry processes them exactly once.
 *
 * @example
 * ```ts
 * const handle = createWebhookHandler({
 *   backends, store, logger, maxBodyBytes: 1_048_576, now: () => new Date(),
 *   emitTracking: async (event, delivery) => { await myListener(event, delivery) },
 *   emitInbound: async (event, backend) => {},
 * });
 * const response = await handle(new Request('https://app.example/herald/postmark/tracking', { method: 'POST', body }));
 * ```
 */
export function createWebhookHandler(deps: WebhookHandlerDeps): (request: Request) => Promise<Response> {
  const byName = new Map(deps.backends.map((b) => [b.name, b]));
  const secrets = deps.backends.flatMap((b) => b.secrets);

  return async function handleWebhook(request: Request): Promise<Response> {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return _error(400, 'invalid request URL');
    }
    const route = _route(url);
    if (!route || (route.kind !== 'tracking' && route.kind !== 'inbound')) {
      return _error(404, 'no webhook here: expected a path ending in /<backend>/tracking or /<backend>/inbound');
    }
    const backend = byName.get(route.backend);
    if (!backend) return _error(404, `no backend named "${route.backend}"`);
    const kind = route.kind as WebhookKind;
    const hook = backend.webhooks?.[kind];
    if (!hook) return _error(404, `backend "${backend.name}" has no ${kind} webhook`);

    const method = request.method.toUpperCase();
    if (method === 'HEAD') return new Response(null, { status: 200 });
    if (method === 'OPTIONS') return new Response(null, { status: 204, headers: { allow: ALLOW } });
    if (method !== 'POST') return _error(405, `method ${method} not allowed; webhooks are POSTed`, { allow: ALLOW });

    let body: Uint8Array | null;
    try {
      body = await _readBody(request, deps.maxBodyBytes);
    } catch (error) {
      deps.logger.warn('webhook body could not be read', { backend: backend.name, kind, error: _message(error) });
      return _error(400, 'could not read the request body');
    }
    if (!body) {
      deps.logger.warn('webhook body too large', { backend: backend.name, kind, limit: deps.maxBodyBytes });
      return _error(413, `body larger than ${deps.maxBodyBytes} bytes`);
    }
    const req: WebhookRequest = {
      method,
      url,
      headers: request.headers,
      body,
      text: new TextDecoder().decode(body),
    };
    const log = { backend: backend.name, kind };

    function _failure(error: unknown, stage: 'verify' | 'parse'): Response {
      if (error instanceof ValidationError || error instanceof ConfigError) {
        deps.logger.warn(`webhook ${stage} rejected the request`, { ...log, error: _message(error) });
        return _error(400, _message(error));
      }
      deps.logger.error(`webhook ${stage} failed`, { ...log, error: _message(error) });
      return _error(500, `webhook ${stage} failed`);
    }

    let verification: WebhookVerification;
    try {
      verification = await hook.verify(req);
    } catch (error) {
      return _failure(error, 'verify');
    }
    if (!verification.ok) {
      const status = verification.status ?? 403;
      const reason = verification.reason ?? (status === 401 ? 'missing credentials' : 'invalid credentials');
      deps.logger.warn('webhook verification failed', { ...log, status, reason });
      return _error(status, reason);
    }

    let events: (TrackingEvent | InboundEvent)[];
    try {
      events = await hook.parse(req);
    } catch (error) {
      return _failure(error, 'parse');
    }

    const now = deps.now();
    let processed = 0;
    let replayed = 0;
    for (const [index, parsed] of events.entries()) {
      let recorded: { id: string; forget: () => Promise<void> } | null = null;
      try {
        if (kind === 'tracking') {
          const event = parsed as TrackingEvent;
          try {
            if (!(await recordTracking(deps, backend, event, now))) {
              replayed++;
              continue;
            }
          } catch (error) {
            if (error instanceof RecordFailure) {
              recorded = { id: event.eventId, forget: error.forget };
              throw error.original;
            }
            throw error;
          }
        } else {
          const raw = parsed as InboundEvent;
          const event: InboundEvent = { ...raw, eventId: eventIdOf(backend.name, raw.eventId, raw.raw) };
          if (!(await deps.store.recordInbound(backend.name, event, now))) {
            replayed++;
            continue;
          }
          recorded = { id: event.eventId, forget: () => _forgetInbound(backend.name, event.eventId) };
          await deps.emitInbound(event, backend.name);
        }
        processed++;
      } catch (error) {
        // Forget the event whose processing did not complete; later events were not stored yet.
        if (recorded) {
          await recorded.forget().catch((forgetError: unknown) => {
            deps.logger.error('could not forget webhook event after a failure; the retry will skip it', {
              ...log,
              eventId: recorded?.id,
              error: _message(forgetError),
            });
          });
        }
        deps.logger.error('webhook processing failed; answering 500 so the provider retries', {
          ...log,
          eventIndex: index,
          events: events.length,
          error: _message(error),
        });
        return _error(500, `processing event ${index + 1} of ${events.length} failed; retry later`);
      }
    }
    deps.logger.debug('webhook processed', { ...log, processed, replayed });
    return _json(200, { ok: true, processed, replayed });

  };

  async function _forgetInbound(backend: string, eventId: string): Promise<void> {
    if (!deps.store.forgetInbound) {
      throw new Error(`store "${deps.store.name}" cannot forget inbound events (no forgetInbound)`);
    }
    await deps.store.forgetInbound(backend, eventId);
  }

  function _message(error: unknown): string {
    const text = error instanceof Error ? error.message : String(error);
    return redact(text, secrets);
  }
}

// ───────────────────────── helpers for backend authors ─────────────────────────

/**
 * Parse a webhook body as JSON. Throws `ValidationError` (answered 400) when the content type is not JSON or the
 * body does not parse. A missing Content-Type is accepted.
 *
 * @example
 * ```ts
 * parse(request) { const body = webhookJson(request, 'postmark'); ... }
 * ```
 */
export function webhookJson(request: WebhookRequest, backend?: string): JsonValue {
  const type = request.headers.get('content-type');
  const options = backend ? { backend } : {};
  if (type && !/^application\/(?:[\w.+-]+\+)?json\b/i.test(type.trim())) {
    throw new ValidationError(`webhook body must be JSON (Content-Type application/json), got "${type}"`, [], options);
  }
  if (!request.text.trim()) throw new ValidationError('webhook body is empty; expected JSON', [], options);
  try {
    return JSON.parse(request.text) as JsonValue;
  } catch (error) {
    throw new ValidationError(`webhook body is not valid JSON: ${(error as Error).message}`, [], options);
  }
}

/**
 * Parse a form-encoded webhook body (`application/x-www-form-urlencoded`, e.g. Twilio status callbacks).
 * Throws `ValidationError` for another content type.
 *
 * @example
 * ```ts
 * const form = webhookForm(request, 'twilio'); const status = form.get('MessageStatus');
 * ```
 */
export function webhookForm(request: WebhookRequest, backend?: string): URLSearchParams {
  const type = request.headers.get('content-type');
  if (type && !/^application\/x-www-form-urlencoded\b/i.test(type.trim())) {
    throw new ValidationError(
      `webhook body must be form-encoded (application/x-www-form-urlencoded), got "${type}"`,
      [],
      backend ? { backend } : {},
    );
  }
  return new URLSearchParams(request.text);
}

/** A username/password pair the provider sends as HTTP basic auth. */
export interface BasicAuthCredentials {
  username: string;
  password: string;
}

function _sameSecret(a: string, b: string): boolean {
  // Compare digests so neither the length nor the content leaks through timing.
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/**
 * Check HTTP basic auth against any of the configured credentials in constant time.
 * Missing or malformed `Authorization` → 401; wrong credentials → 403.
 *
 * @example
 * ```ts
 * verify: (request) => verifyBasicAuth(request, [{ username: 'hook', password: process.env.HOOK_PASSWORD! }]),
 * ```
 */
export function verifyBasicAuth(request: WebhookRequest, credentials: readonly BasicAuthCredentials[]): WebhookVerification {
  const header = request.headers.get('authorization');
  const match = header ? /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header) : null;
  if (!match) return { ok: false, status: 401, reason: 'missing basic auth credentials' };
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  let ok = false;
  for (const c of credentials) {
    // No early exit: every configured pair is compared.
    if (_sameSecret(decoded, `${c.username}:${c.password}`)) ok = true;
  }
  return ok ? { ok: true } : { ok: false, status: 403, reason: 'invalid basic auth credentials' };
}

