import { AsyncLocalStorage } from 'node:async_hooks';
import { type Backend, type CommonBackendOptions, defineBackend, type HeadersLike, PermanentError, providerOptionsFor, secretsOf, TransientError } from '@herald/core';
import twilioSdk from 'twilio';
import { z } from 'zod';
import { mapTwilioError } from './_errors';
import { smsSegments, truncateToSegments } from './segments';
import { verifyTwilioSignature } from './signature';
import { parseStatusCallback } from './_status-callback';

type TwilioClient = twilioSdk.Twilio;
type RequestClient = twilioSdk.RequestClient;
type RequestOptions<T> = Parameters<RequestClient['request']>[0] & { data?: T };
type TwilioResponse<T> = Awaited<ReturnType<RequestClient['request']>> & { body: T };

/** Where the transport leaves the headers of the answer to the request made inside `run()`. */
const _answer = new AsyncLocalStorage<{ headers?: Record<string, unknown> }>();

/** Wraps twilio's transport to capture response headers (Retry-After) per send; the SDK's errors drop them. */
class _CapturingClient extends twilioSdk.RequestClient {
  readonly #inner: RequestClient | undefined;
  constructor(inner: RequestClient | undefined, timeout: number) {
    super({ timeout, keepAlive: true });
    this.#inner = inner;
  }
  override async request<T>(opts: RequestOptions<T>): Promise<TwilioResponse<T>> {
    const res = (this.#inner ? await this.#inner.request<T>(opts) : await super.request<T>(opts)) as TwilioResponse<T>;
    const slot = _answer.getStore();
    if (slot) slot.headers = res.headers as Record<string, unknown>;
    return res;
  }
}

/** Stop waiting for the SDK when the worker aborts the send (the SDK takes no signal). */
function _abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      promise.catch(() => undefined);
      reject(signal.reason);
      return;
    }
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

const sid = (prefix: string) => z.string().regex(new RegExp(`^${prefix}[0-9a-fA-F]{32}$`), `must be "${prefix}" followed by 32 hex digits`);

/** Options of {@link twilio}. */
export interface TwilioOptions extends CommonBackendOptions {
  /** Account SID (`AC…`). */
  accountSid: string;
  /** Auth token: authenticates API calls (HTTP basic auth with the account SID) and signs status callbacks.
   *  Redacted from every error, attempt and log line, the basic-auth header's base64 included. */
  authToken: string;
  /** Sender: an E.164 number or an alphanumeric sender id. Exactly one of `from` / `messagingServiceSid` is required. */
  from?: string;
  /** Messaging service (`MG…`) that picks the sender. */
  messagingServiceSid?: string;
  /** A ready twilio client (edge/region, credential provider …). Retry-After is then not read from 429 answers. */
  client?: TwilioClient;
  /** Transport for the client Herald builds (e.g. a `twilio.RequestClient` subclass for tests or proxies). */
  httpClient?: RequestClient;
  /** Most segments one message may take. @default 10 */
  maxSegments?: number;
  /** Over `maxSegments`: `error` fails the delivery (permanent), `truncate` cuts the body with an ellipsis. @default 'error' */
  onTooLong?: 'error' | 'truncate';
  /** Public URL of Herald's `/<name>/tracking` endpoint, sent as `StatusCallback` with every message. */
  statusCallback?: string;
  /** URL Twilio signs when it calls back, when a proxy rewrites it. @default statusCallback, else the request URL */
  webhookUrl?: string;
  /** API request timeout in ms. @default 30000 */
  timeout?: number;
}

const twilioOptions = z
  .object({
    accountSid: sid('AC'),
    authToken: z.string().min(1),
    from: z.string().min(1).optional(),
    messagingServiceSid: sid('MG').optional(),
    client: z.custom<TwilioClient>((v) => typeof v === 'object' && v !== null && 'messages' in v).optional(),
    httpClient: z.custom<RequestClient>((v) => typeof v === 'object' && v !== null && 'request' in v).optional(),
    maxSegments: z.number().int().positive().default(10),
    onTooLong: z.enum(['error', 'truncate']).default('error'),
    statusCallback: z.url().optional(),
    webhookUrl: z.url().optional(),
    timeout: z.number().int().positive().default(30_000),
  })
  .refine((o) => Boolean(o.from) !== Boolean(o.messagingServiceSid), {
    message: 'set exactly one of `from` or `messagingServiceSid`',
    path: ['from'],
  }) satisfies z.ZodType<unknown, Omit<TwilioOptions, keyof CommonBackendOptions>>;

/** Twilio status callbacks are form posts; any other body is not one, whatever its signature says. */
const FORM = 'application/x-www-form-urlencoded';

const _twilio = defineBackend({
  name: 'twilio',
  package: '@herald/backend-twilio',
  protocol: 'sms',
  formats: ['text'],
  options: twilioOptions,
  capabilities: {
    providerOptions: true,
    tracking: ['queued', 'sent', 'delivered', 'opened', 'bounced', 'rejected', 'failed', 'unsubscribed'],
  },
  // The SDK authenticates with basic auth: a provider echoing the Authorization header echoes base64(sid:token).
  secrets: (o) => secretsOf([o.authToken], { basicAuth: [[o.accountSid, o.authToken]] }),
  setup(o, { name, secrets }) {
    const client = o.client ?? twilioSdk(o.accountSid, o.authToken, { httpClient: new _CapturingClient(o.httpClient, o.timeout) });
    return {
      async send(message, ctx) {
        let body = message.content.text ?? '';
        let count = smsSegments(body);
        if (count.segments > o.maxSegments) {
          if (o.onTooLong === 'error') {
            throw new PermanentError(`message takes ${count.segments} ${count.encoding} segments, more than maxSegments (${o.maxSegments})`, {
              backend: name,
            });
          }
          body = truncateToSegments(body, o.maxSegments);
          count = smsSegments(body);
        }
        const sender = message.options.from ?? o.from;
        const params = {
          to: message.to,
          body,
          ...(sender ? { from: sender } : { messagingServiceSid: o.messagingServiceSid }),
          ...(o.statusCallback ? { statusCallback: o.statusCallback } : {}),
          ...providerOptionsFor({ name, kind: 'twilio' }, message),
        };
        const slot: { headers?: Record<string, unknown> } = {};
        try {
          const sent = await _answer.run(slot, () => _abortable(client.messages.create(params), ctx.signal));
          return {
            messageId: sent.sid,
            recipients: { [message.to]: { status: sent.status === 'failed' ? 'failed' : 'queued', messageId: sent.sid } },
            response: { sid: sent.sid, status: sent.status, numSegments: sent.numSegments ?? null, ...count },
          };
        } catch (error) {
          if (ctx.signal.aborted) throw new TransientError('send aborted before Twilio answered', { backend: name });
          throw mapTwilioError(error, name, secrets, slot.headers as HeadersLike | undefined);
        }
      },
      webhooks: {
        tracking: {
          verify(request) {
            const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
            if (type !== FORM) return { ok: false, status: 400, reason: `a Twilio status callback is ${FORM}, not ${type || 'a body without a content type'}` };
            const signature = request.headers.get('x-twilio-signature');
            if (!signature) return { ok: false, status: 401, reason: 'missing X-Twilio-Signature header' };
            const url = o.webhookUrl ?? o.statusCallback ?? request.url.href;
            return verifyTwilioSignature(o.authToken, signature, url, new URLSearchParams(request.text))
              ? { ok: true }
              : { ok: false, status: 403, reason: 'X-Twilio-Signature does not match (check webhookUrl behind a proxy)' };
          },
          parse: (request) => parseStatusCallback(request.text),
        },
      },
    };
  },
});

/**
 * Twilio SMS backend (official `twilio` SDK). Sends `text` templates to E.164 numbers, reports the segment count,
 * maps Twilio's error codes, and verifies signed status callbacks at `/<name>/tracking`.
 *
 * @example
 * ```ts
 * import { twilio } from '@herald/backend-twilio';
 * const sms = twilio({
 *   accountSid: process.env.TWILIO_ACCOUNT_SID!, authToken: process.env.TWILIO_AUTH_TOKEN!,
 *   from: '+14155550100', statusCallback: 'https://app.example.org/herald/twilio/tracking',
 * });
 * ```
 */
export function twilio(options: TwilioOptions): Backend<'sms'> {
  return _twilio(options);
}
