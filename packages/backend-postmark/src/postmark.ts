import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Backend,
  type CommonBackendOptions,
  deepMerge,
  defineBackend,
  type JsonValue,
  type OutboundMessage,
  PermanentError,
  parseMailbox,
  providerOptionsFor,
  type RecipientStatus,
  type SendResult,
  secretsOf,
  verifyBasicAuth,
} from '@herald/core';
import { ServerClient, type Message, type Models, type TemplatedMessage } from 'postmark';
import { z } from 'zod';
import { inactiveAddresses, mapPostmarkError } from './_errors';
import { parsePostmarkTracking } from './_webhooks';

/** HTTP basic-auth credentials a webhook request must carry. */
export interface WebhookCredentials {
  username: string;
  /** Redacted from every error, attempt and log line. */
  password: string;
}

/** Options of {@link postmark}. */
export interface PostmarkOptions extends CommonBackendOptions {
  /** Server API token (`X-Postmark-Server-Token`). Required unless `client` is given. Redacted from every error,
   *  attempt and log line, in any encoding. */
  serverToken?: string;
  /** A ready `ServerClient` (proxies, custom fetch). Cancellation and Retry-After are then not available. */
  client?: ServerClient;
  /** API base URL. @default 'https://api.postmarkapp.com' */
  apiUrl?: string;
  /** Message stream for every send (a message's `providerOptions.postmark.MessageStream` wins). @default Postmark's default transactional stream */
  messageStream?: string;
  /** Template alias for the `params` format, or a function of the message. @default the rendered subject */
  templateAlias?: string | ((message: OutboundMessage) => string);
  /** HTTP basic auth credentials Postmark's webhooks must send (several to rotate). Webhooks answer 401 without them. */
  webhookAuth?: WebhookCredentials | WebhookCredentials[];
  /** API request timeout in seconds. @default 60 */
  timeoutSeconds?: number;
}

const credentials = z.object({ username: z.string().min(1), password: z.string().min(1) });

const postmarkOptions = z
  .object({
    serverToken: z.string().min(1).optional(),
    client: z.custom<ServerClient>((v) => typeof v === 'object' && v !== null && 'sendEmail' in v).optional(),
    apiUrl: z.url().default('https://api.postmarkapp.com'),
    messageStream: z.string().min(1).optional(),
    templateAlias: z.union([z.string().min(1), z.custom<(message: OutboundMessage) => string>((v) => typeof v === 'function')]).optional(),
    webhookAuth: z.union([credentials, z.array(credentials).min(1)]).optional(),
    timeoutSeconds: z.number().positive().default(60),
  })
  .refine((o) => Boolean(o.serverToken) || Boolean(o.client), {
    message: 'set `serverToken` (or pass a `client`)',
    path: ['serverToken'],
  }) satisfies z.ZodType<unknown, Omit<PostmarkOptions, keyof CommonBackendOptions>>;

/** Per send: the worker's abort signal in, the answer's Retry-After out (the SDK drops both). */
const _call = new AsyncLocalStorage<{ signal: AbortSignal; retryAfter: string | null }>();

function _capturingFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const call = _call.getStore();
  const signals = [init?.signal, call?.signal].filter((s): s is AbortSignal => Boolean(s));
  return fetch(input, { ...init, signal: signals.length ? AbortSignal.any(signals) : null }).then((res) => {
    if (call) call.retryAfter = res.headers.get('retry-after');
    return res;
  });
}

const list = (values: readonly string[] | undefined) => (values?.length ? values.join(', ') : undefined);
const addressOf = (value: string) => (parseMailbox(value)?.address ?? value).toLowerCase();

const _postmark = defineBackend({
  name: 'postmark',
  package: '@herald/backend-postmark',
  protocol: 'email',
  formats: ['markdown', 'html', 'blocks', 'params'],
  options: postmarkOptions,
  capabilities: {
    attachments: true,
    inlineAttachments: true,
    cc: true,
    bcc: true,
    replyTo: true,
    headers: true,
    maxTags: 1,
    metadata: true,
    trackOpens: true,
    trackClicks: true,
    providerOptions: true,
    tracking: ['delivered', 'bounced', 'deferred', 'rejected', 'failed', 'complained', 'opened', 'clicked', 'unsubscribed', 'subscribed', 'autoresponded', 'unknown'],
  },
  secrets: (o) => {
    const hooks = [o.webhookAuth ?? []].flat();
    return secretsOf([o.serverToken, ...hooks.map((c) => c.password)], { basicAuth: hooks.map((c) => [c.username, c.password] as const) });
  },
  setup(options, { name, secrets }) {
    const url = new URL(options.apiUrl);
    const client =
      options.client ??
      new ServerClient(options.serverToken!, {
        useHttps: url.protocol === 'https:',
        requestHost: url.host,
        timeout: options.timeoutSeconds,
        fetch: _capturingFetch,
      });
    const auth = [options.webhookAuth ?? []].flat();

    function payload(message: OutboundMessage, idempotencyKey: string): Record<string, unknown> {
      const o = message.options;
      const { content } = message;
      const base: Record<string, unknown> = {
        From: o.from,
        To: message.to,
        Cc: list(o.cc),
        Bcc: list(o.bcc),
        ReplyTo: list(o.replyTo),
        Tag: o.tags?.[0],
        Headers: o.headers ? Object.entries(o.headers).map(([Name, Value]) => ({ Name, Value })) : undefined,
        Metadata: { ...o.metadata, herald_delivery_id: idempotencyKey },
        TrackOpens: o.trackOpens,
        TrackLinks: o.trackClicks === undefined ? undefined : o.trackClicks ? 'HtmlAndText' : 'None',
        MessageStream: options.messageStream,
        Attachments: message.attachments.length
          ? message.attachments.map((a) => ({ Name: a.filename, Content: a.content, ContentType: a.contentType, ContentID: a.contentId ? `cid:${a.contentId}` : null }))
          : undefined,
      };
      if (content.format === 'params') {
        const alias = typeof options.templateAlias === 'function' ? options.templateAlias(message) : (options.templateAlias ?? content.subject);
        Object.assign(base, { TemplateAlias: alias, TemplateModel: content.params ?? {} });
      } else {
        Object.assign(base, { Subject: content.subject ?? '', HtmlBody: content.html, TextBody: content.text });
      }
      const merged = deepMerge(base, providerOptionsFor({ name, kind: 'postmark' }, message));
      return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined));
    }

    return {
      async send(message, context): Promise<SendResult> {
        const body = payload(message, context.idempotencyKey);
        const templated = (body.TemplateAlias ?? body.TemplateId ?? null) !== null;
        if (message.content.format === 'params' && !templated) {
          throw new PermanentError('the params format needs a Postmark template: give the template a subject (the alias), set templateAlias, or providerOptions.postmark.TemplateAlias', {
            backend: name,
            scope: 'provider',
          });
        }
        const call = { signal: context.signal, retryAfter: null as string | null };
        let response: Models.MessageSendingResponse;
        try {
          response = await _call.run(call, () =>
            templated ? client.sendEmailWithTemplate(body as unknown as TemplatedMessage) : client.sendEmail(body as unknown as Message),
          );
        } catch (error) {
          throw mapPostmarkError(error, { backend: name, secrets, retryAfter: call.retryAfter, signal: context.signal });
        }
        const inactive = new Set(inactiveAddresses(response.Message ?? ''));
        const recipients: Record<string, { status: RecipientStatus; messageId?: string }> = {};
        for (const address of [message.to, ...(message.options.cc ?? []), ...(message.options.bcc ?? [])]) {
          const a = addressOf(address);
          recipients[a] = inactive.has(a) ? { status: 'rejected' } : { status: 'sent', messageId: response.MessageID };
        }
        if (inactive.has(addressOf(message.to))) {
          throw new PermanentError(`recipient is inactive at Postmark: ${response.Message}`, {
            backend: name,
            scope: 'recipient',
            rejectReason: 'bounced',
            suppress: true,
            response: secrets.redactJson(response as unknown as JsonValue),
          });
        }
        return { messageId: response.MessageID, recipients, response: secrets.redactJson(response as unknown as JsonValue) };
      },
      webhooks: {
        tracking: {
          verify: (request) =>
            auth.length
              ? verifyBasicAuth(request, auth)
              : { ok: false, status: 401, reason: `webhookAuth is not configured on backend "${name}"; unauthenticated webhooks are refused` },
          parse: (request) => parsePostmarkTracking(request, name),
        },
      },
    };
  },
});

/**
 * Postmark email backend (official `postmark` SDK): `html`, `markdown` and `blocks` are sent as plain email,
 * `params` as a Postmark template (alias + model). One tag, metadata, attachments (inline too), open/click
 * tracking, message streams. Tracking webhooks: delivery, bounce, spam complaint, open, click, subscription change,
 * secured by HTTP basic auth.
 *
 * @example
 * ```ts
 * import { postmark } from '@herald/backend-postmark';
 * const backend = postmark({
 *   serverToken: process.env.POSTMARK_SERVER_TOKEN!,
 *   defaults: { from: 'Shop <shop@example.org>' },
 *   webhookAuth: { username: 'postmark', password: process.env.POSTMARK_WEBHOOK_PASSWORD! },
 * });
 * ```
 */
export function postmark(options: PostmarkOptions): Backend<'email'> {
  return _postmark(options);
}
