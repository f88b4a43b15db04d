import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Backend,
  type BackendSetupContext,
  type CommonBackendOptions,
  defineBackend,
  type Duration,
  type JsonObject,
  type JsonValue,
  type OutboundMessage,
  PermanentError,
  parseMailbox,
  providerOptionsFor,
  type SendResult,
  secretsOf,
  toMs,
  unsupportedFeature,
} from '@herald/core';
import axios from 'axios';
import notifyClient from 'notifications-node-client';
import { z } from 'zod';
import { parseNotifyCallback, verifyNotifyCallback } from './callbacks';
import { notifyFailure, PROVIDER } from './_errors';
import { notifyPolling } from './_poll';

type NotifyClient = InstanceType<typeof notifyClient.NotifyClient>;

/** When and how fast polling asks Notify about deliveries no callback has settled (the seed's `sync` task). */
export interface GovukNotifyPollOptions {
  /** Ask about a delivery once it has been sent this long without a final status. @default '1m' */
  after?: Duration;
  /** Ask about the same delivery again at most this often (at least 1 s). @default '5m' */
  every?: Duration;
  /** Deliveries asked about per round and worker. @default 50 */
  batchSize?: number;
  /** Lookups per second within a round. Notify allows 3,000 requests a minute per API key, sends included. @default 10 */
  perSecond?: number;
}

/** Files sent by email (Notify's `prepareUpload`): each attachment becomes the value of a placeholder of the template. */
export interface GovukNotifyFileOptions {
  /** The placeholders that take the attachments, in order: the first attachment fills `((keys[0]))` … @default ['link_to_file'] */
  keys?: string[];
  /** Ask the recipient to confirm their email address before downloading. @default Notify's default (true) */
  confirmEmailBeforeDownload?: boolean;
  /** How long Notify keeps the file, `'1 week'` to `'78 weeks'`. @default Notify's default (26 weeks) */
  retentionPeriod?: string;
}

/** Options both {@link govukNotifyEmail} and {@link govukNotifySms} take. */
export interface GovukNotifyOptions extends CommonBackendOptions {
  /**
   * The API key as Notify shows it once: `{key name}-{service id}-{secret key}` (two UUIDs at the end). Its secret
   * part signs each request's JWT and is redacted from every error, attempt and log line, in any encoding.
   */
  apiKey: string;
  /** Notify's API. Point it at a loopback server in tests. @default 'https://api.notifications.service.gov.uk' */
  baseUrl?: string;
  /**
   * The bearer token you set for "callbacks for delivery receipts" in Notify (at least 10 characters). Callbacks
   * answer 401 without it. Redacted like the key.
   */
  callbackToken?: string;
  /** Status polling for deliveries no callback has settled; `false` turns it off. @default { after: '1m', every: '5m', batchSize: 50, perSecond: 10 } */
  poll?: GovukNotifyPollOptions | false;
  /**
   * The Notify template for messages whose template gives none (a template's `templateId` key and
   * `providerOptions.<backend>.templateId` win), or a function choosing it per message.
   */
  templateId?: string | ((message: OutboundMessage) => string | undefined);
  /** Request timeout in ms. @default 30000 */
  timeoutMs?: number;
}

/** Options of {@link govukNotifyEmail}. */
export interface GovukNotifyEmailOptions extends GovukNotifyOptions {
  /** A reply-to address id of the service (Notify's `email_reply_to_id`), unless the message names one. @default the service's default */
  emailReplyToId?: string;
  /** How attachments are sent as files by email. */
  files?: GovukNotifyFileOptions;
}

/** Options of {@link govukNotifySms}. */
export interface GovukNotifySmsOptions extends GovukNotifyOptions {
  /** A text message sender id of the service (Notify's `sms_sender_id`), unless the message names one. @default the service's default */
  smsSenderId?: string;
}

export const DEFAULT_BASE_URL = 'https://api.notifications.service.gov.uk';
const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const API_KEY = new RegExp(`^\\S+-(${UUID})-(${UUID})$`);
const uuid = (what: string) => z.string().regex(new RegExp(`^${UUID}$`), `must be a ${what} id (a UUID) from GOV.UK Notify`);
// A union of plain checks (not `z.custom`), so that inside `poll`'s union with `false` a bad value is reported by its path.
const duration = z.union([
  z.number().nonnegative(),
  z.string().regex(/^\d+(?:\.\d+)?(?:ms|s|m|h|d)$/, 'must be a duration such as 500 (ms), "30s", "5m" or "1h"'),
]) as unknown as z.ZodType<Duration, Duration>;

/**
 * The parts of an API key Notify's clients use: the service id (the JWT's `iss`) and the secret that signs it; null
 * for a value of another shape.
 *
 * @example
 * ```ts
 * import { apiKeyParts } from '@herald/backend-govuk-notify';
 * apiKeyParts('my_key-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0');
 * // { serviceId: '26785a09-ab16-4eb0-8407-a37497a57506', secret: '3d844edf-8d35-48ac-975b-e847b4f122b0' }
 * ```
 */
export function apiKeyParts(apiKey: string): { serviceId: string; secret: string } | null {
  const m = API_KEY.exec(apiKey);
  return m ? { serviceId: m[1]!, secret: m[2]! } : null;
}

const common = {
  // The refusal never quotes the value: a mistyped key is still mostly the secret.
  apiKey: z
    .string()
    .refine((v) => apiKeyParts(v) !== null, {
      message:
        'is not a GOV.UK Notify API key: expected "{key name}-{service id}-{secret key}", ending in two UUIDs (copy the whole key Notify showed when it was created, without spaces)',
    }),
  baseUrl: z.url().default(DEFAULT_BASE_URL),
  callbackToken: z.string().min(10, 'must be at least 10 characters, as Notify requires for a callback bearer token').optional(),
  poll: z
    .union([
      z.literal(false),
      z.object({
        after: duration.default('1m'),
        every: duration.default('5m'),
        batchSize: z.number().int().min(1).max(1000).default(50),
        perSecond: z.number().positive().default(10),
      }),
    ])
    .default({ after: '1m', every: '5m', batchSize: 50, perSecond: 10 }),
  templateId: z.union([uuid('template'), z.custom<(message: OutboundMessage) => string | undefined>((v) => typeof v === 'function')]).optional(),
  timeoutMs: z.number().int().positive().default(30_000),
};

const emailOptions = z.object({
  ...common,
  emailReplyToId: uuid('reply-to address').optional(),
  files: z
    .object({
      keys: z.array(z.string().min(1)).min(1).default(['link_to_file']),
      confirmEmailBeforeDownload: z.boolean().optional(),
      retentionPeriod: z.string().regex(/^\s*([1-9]|[1-6]\d|7[0-8]) weeks?\s*$/i, 'must be "1 week" to "78 weeks"').optional(),
    })
    .default({ keys: ['link_to_file'] }),
}) satisfies z.ZodType<unknown, Omit<GovukNotifyEmailOptions, keyof CommonBackendOptions>>;

const smsOptions = z.object({
  ...common,
  smsSenderId: uuid('text message sender').optional(),
}) satisfies z.ZodType<unknown, Omit<GovukNotifySmsOptions, keyof CommonBackendOptions>>;

type ParsedEmail = z.output<typeof emailOptions>;
type ParsedSms = z.output<typeof smsOptions>;
type Parsed = ParsedEmail | ParsedSms;

/** Keys of a `params` template (and of `providerOptions`) that are Notify request fields, not personalisation. */
const RESERVED = ['templateId', 'personalisation', 'emailReplyToId', 'oneClickUnsubscribeURL', 'smsSenderId'] as const;
/** Largest file Notify accepts by email (notifications-node-client's `prepareUpload` limit). */
const MAX_FILE_BYTES = 2 * 1024 * 1024;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const given = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

/** Per call: the worker's abort signal, for the axios instance the client sends through. */
const _call = new AsyncLocalStorage<AbortSignal>();

/** Build the official client against `baseUrl`, sending through an axios instance with a timeout and the call's signal. */
function _client(o: Parsed): NotifyClient {
  const client = new notifyClient.NotifyClient(o.baseUrl.replace(/\/+$/, ''), o.apiKey);
  const http = axios.create({ timeout: o.timeoutMs, maxRedirects: 0 });
  http.interceptors.request.use((config) => {
    const signal = _call.getStore();
    if (signal) config.signal = signal;
    return config;
  });
  client.setClient(http);
  return client;
}

/** What one send asks Notify for, from the rendered params, `providerOptions` and the backend's defaults. */
interface NotifyRequest {
  templateId: string;
  personalisation: Record<string, JsonValue>;
  emailReplyToId?: string;
  oneClickUnsubscribeURL?: string;
  smsSenderId?: string;
}

function _request(message: OutboundMessage, o: Parsed, context: BackendSetupContext & { kind: string; protocol: 'email' | 'sms' }): NotifyRequest {
  const { name } = context;
  const params = message.content.params;
  if (message.content.format !== 'params' || !params) {
    throw new PermanentError('GOV.UK Notify sends its own templates: give the notification a `params` template (personalisation, and a templateId)', {
      backend: name,
      scope: 'content',
    });
  }
  if (message.options.from) unsupportedFeature(context, "`from` (Notify sends from the service's sender; choose one with emailReplyToId or smsSenderId)");
  const extra = providerOptionsFor({ name, kind: context.kind }, message);
  const allowed: readonly string[] = context.protocol === 'email' ? ['templateId', 'personalisation', 'emailReplyToId', 'oneClickUnsubscribeURL'] : ['templateId', 'personalisation', 'smsSenderId'];
  for (const key of Object.keys(extra)) if (!allowed.includes(key)) unsupportedFeature(context, `providerOptions.${key} (GOV.UK Notify takes ${allowed.join(', ')})`);

  const personalisation: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(params)) if (!(RESERVED as readonly string[]).includes(key)) personalisation[key] = value;
  if (isObject(params.personalisation)) Object.assign(personalisation, params.personalisation);
  if (isObject(extra.personalisation)) Object.assign(personalisation, extra.personalisation);

  const fallback = typeof o.templateId === 'function' ? o.templateId(message) : o.templateId;
  const templateId = given(extra.templateId) ?? given(params.templateId) ?? given(fallback);
  if (!templateId) {
    throw new PermanentError(
      `no Notify template for notification "${message.notification}": put a templateId in its params template, or set templateId on the backend or in providerOptions.${name}`,
      { backend: name, scope: 'content' },
    );
  }
  const request: NotifyRequest = { templateId, personalisation };
  const pick = (key: 'emailReplyToId' | 'oneClickUnsubscribeURL' | 'smsSenderId', option?: string) => {
    const value = given(extra[key]) ?? given(params[key]) ?? option;
    if (value) request[key] = value;
  };
  if (context.protocol === 'email') {
    pick('emailReplyToId', (o as ParsedEmail).emailReplyToId);
    pick('oneClickUnsubscribeURL');
  } else pick('smsSenderId', (o as ParsedSms).smsSenderId);
  return request;
}

/** Attachments as files by email: each one `prepareUpload`ed under its placeholder. */
function _files(message: OutboundMessage, o: ParsedEmail, client: NotifyClient, context: BackendSetupContext): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  const { keys, confirmEmailBeforeDownload, retentionPeriod } = o.files;
  let attachments = message.attachments;
  if (attachments.length > keys.length) {
    unsupportedFeature(context, `more attachments than files.keys placeholders (${keys.length}: ${keys.join(', ')})`);
    attachments = attachments.slice(0, keys.length);
  }
  attachments.forEach((attachment, i) => {
    const bytes = Buffer.from(attachment.content, 'base64');
    if (bytes.length > MAX_FILE_BYTES) {
      throw new PermanentError(`attachment "${attachment.filename}" is ${bytes.length} bytes; Notify sends files of at most 2 MB by email`, {
        backend: context.name,
        scope: 'content',
      });
    }
    const file = client.prepareUpload(bytes, {
      filename: attachment.filename,
      ...(confirmEmailBeforeDownload === undefined ? {} : { confirmEmailBeforeDownload }),
      ...(retentionPeriod ? { retentionPeriod: retentionPeriod.trim() } : {}),
    });
    out[keys[i]!] = file as unknown as JsonObject;
  });
  return out;
}

function _setup<P extends 'email' | 'sms'>(protocol: P, kind: string) {
  return (o: Parsed, context: BackendSetupContext) => {
    const { name, secrets } = context;
    const client = _client(o);
    const ctx = { ...context, kind, protocol };

    async function send(message: OutboundMessage, signal: AbortSignal): Promise<SendResult> {
      const request = _request(message, o, ctx);
      const to = protocol === 'email' ? (parseMailbox(message.to)?.address ?? message.to) : message.to;
      const personalisation = protocol === 'email' ? { ...request.personalisation, ..._files(message, o as ParsedEmail, client, context) } : request.personalisation;
      let answer: JsonValue;
      try {
        const res = await _call.run(signal, () =>
          protocol === 'email'
            ? client.sendEmail(request.templateId, to, {
                personalisation,
                reference: message.deliveryId,
                ...(request.emailReplyToId ? { emailReplyToId: request.emailReplyToId } : {}),
                ...(request.oneClickUnsubscribeURL ? { oneClickUnsubscribeURL: request.oneClickUnsubscribeURL } : {}),
              })
            : client.sendSms(request.templateId, to, {
                personalisation,
                reference: message.deliveryId,
                ...(request.smsSenderId ? { smsSenderId: request.smsSenderId } : {}),
              }),
        );
        answer = res.data as unknown as JsonValue;
      } catch (error) {
        throw notifyFailure(error, { backend: name, secrets });
      }
      const id = isObject(answer) && typeof answer.id === 'string' ? answer.id : undefined;
      // Notify may have accepted it: a retry could send it twice, so this is permanent.
      if (!id) throw new PermanentError(`${PROVIDER} answered without a notification id`, { backend: name, response: secrets.redactJson(answer) });
      const key = protocol === 'email' ? to.toLowerCase() : to;
      return { messageId: id, recipients: { [key]: { status: 'queued', messageId: id } }, response: secrets.redactJson(answer) };
    }

    return {
      send: (message: OutboundMessage, sendContext: { signal: AbortSignal }) => send(message, sendContext.signal),
      webhooks: {
        tracking: {
          verify: (request: Parameters<typeof verifyNotifyCallback>[0]) => verifyNotifyCallback(request, o.callbackToken, name),
          parse: (request: Parameters<typeof parseNotifyCallback>[0]) => parseNotifyCallback(request, name),
        },
      },
      ...(o.poll
        ? {
            poll: notifyPolling({
              afterMs: toMs(o.poll.after, 'poll.after'),
              everyMs: Math.max(1000, toMs(o.poll.every, 'poll.every')),
              batchSize: o.poll.batchSize,
              perSecond: o.poll.perSecond,
              lookup: async (id) => (await client.getNotificationById(id)).data as unknown as JsonObject,
              failure: (error) => notifyFailure(error, { backend: name, secrets }),
            }),
          }
        : {}),
    };
  };
}

/** The key's secret part, the key itself and the callback token, in every form they may travel in. */
const secrets = (o: Parsed) => secretsOf([o.apiKey, apiKeyParts(o.apiKey)?.secret, o.callbackToken]);

const TRACKING = ['queued', 'sent', 'deferred', 'delivered', 'bounced', 'failed', 'unknown'] as const;

const _email = defineBackend({
  name: 'govuk-notify-email',
  package: '@herald/backend-govuk-notify',
  protocol: 'email',
  formats: ['params'],
  options: emailOptions,
  capabilities: { attachments: true, providerOptions: true, tracking: [...TRACKING, 'complained'] },
  secrets,
  setup: _setup('email', 'govuk-notify-email'),
});

const _sms = defineBackend({
  name: 'govuk-notify-sms',
  package: '@herald/backend-govuk-notify',
  protocol: 'sms',
  formats: ['params'],
  options: smsOptions,
  capabilities: { providerOptions: true, tracking: TRACKING },
  secrets,
  setup: _setup('sms', 'govuk-notify-sms'),
});

/**
 * GOV.UK Notify email (official `notifications-node-client`): a `params` template becomes the personalisation of a
 * Notify template (its `templateId` key names the template), the delivery id is the `reference`, attachments are sent
 * as files by email. Delivery receipts arrive at `/<name>/tracking` (bearer token), and deliveries no receipt has
 * settled are polled with `getNotificationById`.
 *
 * @example
 * ```ts
 * import { govukNotifyEmail } from '@herald/backend-govuk-notify';
 * const email = govukNotifyEmail({
 *   apiKey: process.env.NOTIFY_API_KEY!,
 *   callbackToken: process.env.NOTIFY_CALLBACK_TOKEN, // the bearer token set for delivery receipts in Notify
 *   poll: { after: '2m', every: '10m' },
 * });
 * ```
 */
export function govukNotifyEmail(options: GovukNotifyEmailOptions): Backend<'email'> {
  return _email(options);
}

/**
 * GOV.UK Notify text messages (official `notifications-node-client`), like {@link govukNotifyEmail}: a `params`
 * template's personalisation for a Notify SMS template, the delivery id as `reference`, callbacks and polling.
 *
 * @example
 * ```ts
 * import { govukNotifySms } from '@herald/backend-govuk-notify';
 * const sms = govukNotifySms({ apiKey: process.env.NOTIFY_API_KEY!, smsSenderId: '2f5e6a0c-7d1b-4c3e-9f8a-1b2c3d4e5f60' });
 * ```
 */
export function govukNotifySms(options: GovukNotifySmsOptions): Backend<'sms'> {
  return _sms(options);
}
