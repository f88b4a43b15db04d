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
  unsupportedFeature,
  verifyBasicAuth,
  type WebhookRequest,
  type WebhookVerification,
} from '@herald/core';
import { Client } from '@sendgrid/client';
import { type MailDataRequired, MailService } from '@sendgrid/mail';
import { z } from 'zod';
import { mapSendgridError } from './_errors';
import { DELIVERY_ID_ARG, parseSendgridEvents } from './_events';
import { parseSendgridInbound } from './_inbound';
import { type SendgridKey, sendgridPublicKey, verifyEventSignature, verifyRawSignature } from './_signature';

/** HTTP basic-auth credentials a webhook request must carry (put them in the webhook URL at SendGrid). */
export interface WebhookCredentials {
  username: string;
  /** Redacted from every error, attempt and log line. */
  password: string;
}

/** Options of {@link sendgrid}. */
export interface SendgridOptions extends CommonBackendOptions {
  /** API key (`SG.…`, with the Mail Send permission), sent as `Authorization: Bearer`. Required. Redacted from every
   *  error, attempt and log line, in any encoding. */
  apiKey: string;
  /** API base URL. @default 'https://api.sendgrid.com' (EU subusers: 'https://api.eu.sendgrid.com') */
  baseUrl?: string;
  /** Dynamic template id (`d-…`) for the `params` format, or a function of the message. A message's
   *  `providerOptions.sendgrid.template_id` wins. @default the rendered subject */
  templateId?: string | ((message: OutboundMessage) => string);
  /** Validate every send without delivering it (`mail_settings.sandbox_mode`): SendGrid answers 200 and sends nothing. @default false */
  sandboxMode?: boolean;
  /** IP pool to send from (`ip_pool_name`; postmaster's `--sendgrid-ip-pool`). */
  ipPoolName?: string;
  /** Unsubscribe group (`asm.group_id`) of every send: SendGrid adds the group's unsubscribe link and honours it. */
  asmGroupId?: number;
  /** Groups shown on the preference page of that link (`asm.groups_to_display`, at most 25). */
  asmGroupsToDisplay?: number[];
  /** Send on behalf of this subuser (`On-Behalf-Of` header). */
  onBehalfOf?: string;
  /** The Signed Event Webhook's verification key: the base64 public key SendGrid shows (Settings → Mail Settings →
   *  Event Webhooks → Security features). With it, unsigned or wrongly signed events answer 401/403. */
  webhookPublicKey?: string;
  /** The verification key of the Inbound Parse security policy, when it signs (same base64 form). */
  inboundPublicKey?: string;
  /** HTTP basic auth the Event Webhook must carry (several to rotate), instead of or besides the signature. With
   *  neither `webhookAuth` nor `webhookPublicKey`, event posts answer 401. */
  webhookAuth?: WebhookCredentials | WebhookCredentials[];
  /** HTTP basic auth Inbound Parse posts must carry (several to rotate). With neither `inboundAuth` nor
   *  `inboundPublicKey`, inbound posts answer 401. */
  inboundAuth?: WebhookCredentials | WebhookCredentials[];
  /** Largest distance in seconds between a signed webhook's timestamp and now; older (or replayed) requests answer 403. @default 600 */
  webhookToleranceSeconds?: number;
  /** API request timeout in ms. @default 30000 */
  timeoutMs?: number;
}

const credentials = z.object({ username: z.string().min(1), password: z.string().min(1) });

const sendgridOptions = z.object({
  apiKey: z
    .string({ error: 'required: your SendGrid API key (Settings → API Keys), e.g. apiKey: process.env.SENDGRID_API_KEY' })
    .trim()
    .min(1, 'is empty: set it to your SendGrid API key')
    // Never echo the value: the message names the expected shape only.
    .refine((k) => k.startsWith('SG.'), 'is not a SendGrid API key (they start with "SG."; the key id shown beside it is not the key)'),
  baseUrl: z.url().default('https://api.sendgrid.com'),
  templateId: z.union([z.string().regex(/^d-/, 'must be a dynamic template id (d-…)'), z.custom<(message: OutboundMessage) => string>((v) => typeof v === 'function')]).optional(),
  sandboxMode: z.boolean().default(false),
  ipPoolName: z.string().min(2).max(64).optional(),
  asmGroupId: z.number().int().positive().optional(),
  asmGroupsToDisplay: z.array(z.number().int().positive()).max(25).optional(),
  onBehalfOf: z.string().min(1).optional(),
  webhookPublicKey: z.string().min(1).optional(),
  inboundPublicKey: z.string().min(1).optional(),
  webhookAuth: z.union([credentials, z.array(credentials).min(1)]).optional(),
  inboundAuth: z.union([credentials, z.array(credentials).min(1)]).optional(),
  webhookToleranceSeconds: z.number().positive().default(600),
  timeoutMs: z.number().int().positive().default(30_000),
}) satisfies z.ZodType<unknown, Omit<SendgridOptions, keyof CommonBackendOptions>>;

/** v3 mail send fields the SDK's `Mail` helper keeps; it silently drops any other top-level field. */
const SDK_FIELDS = new Set([
  'to', 'from', 'reply_to', 'reply_to_list', 'cc', 'bcc', 'send_at', 'subject', 'text', 'html', 'content', 'template_id', 'personalizations',
  'attachments', 'ip_pool_name', 'batch_id', 'sections', 'headers', 'categories', 'category', 'custom_args', 'asm', 'mail_settings',
  'tracking_settings', 'substitutions', 'dynamic_template_data', 'hide_warnings',
]);

interface EmailObject {
  email: string;
  name?: string;
}

/** `Name <a@b>` → `{ email, name }` (SendGrid rejects the name inside the email field). */
function emailObject(value: string): EmailObject {
  const parsed = parseMailbox(value);
  if (!parsed) return { email: value.trim() };
  return parsed.name ? { email: parsed.address, name: parsed.name } : { email: parsed.address };
}

const lower = (value: string) => (parseMailbox(value)?.address ?? value).toLowerCase();
/** SendGrid schedules at most 72 hours ahead. */
const MAX_SCHEDULE_MS = 72 * 3_600_000;

const _sendgrid = defineBackend({
  name: 'sendgrid',
  package: '@herald/backend-sendgrid',
  protocol: 'email',
  formats: ['markdown', 'html', 'blocks', 'params'],
  options: sendgridOptions,
  capabilities: {
    attachments: true,
    inlineAttachments: true,
    cc: true,
    bcc: true,
    replyTo: true,
    headers: true,
    maxTags: 10,
    metadata: true,
    sendAt: true,
    trackOpens: true,
    trackClicks: true,
    providerOptions: true,
    tracking: ['queued', 'rejected', 'deferred', 'delivered', 'bounced', 'opened', 'clicked', 'complained', 'unsubscribed', 'subscribed', 'unknown'],
    inbound: true,
  },
  secrets: (o) => {
    const hooks = [o.webhookAuth ?? [], o.inboundAuth ?? []].flat();
    return secretsOf([o.apiKey, ...hooks.map((c) => c.password)], { basicAuth: hooks.map((c) => [c.username, c.password] as const) });
  },
  setup(options, context) {
    const { name, secrets } = context;
    const client = new Client();
    client.setApiKey(options.apiKey);
    // After setApiKey, which resets the base URL to its region's.
    client.setDefaultRequest('baseUrl', options.baseUrl.replace(/\/+$/, ''));
    if (options.onBehalfOf) client.setImpersonateSubuser(options.onBehalfOf);
    const mail = new MailService();
    mail.setClient(client);
    mail.setTimeout(options.timeoutMs);

    const eventKey: SendgridKey | null = options.webhookPublicKey ? sendgridPublicKey(options.webhookPublicKey, 'webhookPublicKey', name) : null;
    const inboundKey: SendgridKey | null = options.inboundPublicKey ? sendgridPublicKey(options.inboundPublicKey, 'inboundPublicKey', name) : null;
    const eventAuth = [options.webhookAuth ?? []].flat();
    const inboundAuth = [options.inboundAuth ?? []].flat();
    const tolerance = options.webhookToleranceSeconds;

    function templateIdOf(message: OutboundMessage): string | undefined {
      const id = typeof options.templateId === 'function' ? options.templateId(message) : (options.templateId ?? message.content.subject);
      return id?.trim() || undefined;
    }

    function payload(message: OutboundMessage, deliveryId: string): Record<string, unknown> {
      const o = message.options;
      const { content } = message;
      const personalization: Record<string, unknown> = { to: [emailObject(message.to)] };
      if (o.cc?.length) personalization.cc = o.cc.map(emailObject);
      if (o.bcc?.length) personalization.bcc = o.bcc.map(emailObject);
      const body: Record<string, unknown> = { personalizations: [personalization] };
      if (o.from) body.from = emailObject(o.from);
      if (o.replyTo?.length === 1) body.reply_to = emailObject(o.replyTo[0]!);
      else if (o.replyTo?.length) body.reply_to_list = o.replyTo.map(emailObject);
      if (content.format === 'params') {
        const id = templateIdOf(message);
        if (id) body.template_id = id;
        personalization.dynamic_template_data = content.params ?? {};
      } else {
        body.subject = content.subject ?? '';
        // SendGrid wants text/plain before text/html.
        body.content = [
          ...(content.text ? [{ type: 'text/plain', value: content.text }] : []),
          ...(content.html ? [{ type: 'text/html', value: content.html }] : []),
        ];
      }
      if (o.headers && Object.keys(o.headers).length) body.headers = { ...o.headers };
      if (o.tags?.length) body.categories = [...o.tags];
      body.custom_args = { ...o.metadata, [DELIVERY_ID_ARG]: deliveryId };
      if (o.sendAt) {
        const at = Date.parse(o.sendAt);
        if (Number.isNaN(at)) throw new PermanentError(`sendAt "${o.sendAt}" is not a date (ISO 8601 expected)`, { backend: name, scope: 'content' });
        if (at - Date.now() > MAX_SCHEDULE_MS) {
          throw new PermanentError(`sendAt ${o.sendAt} is more than 72 hours ahead; SendGrid schedules at most 72 hours in advance`, { backend: name, scope: 'content' });
        }
        body.send_at = Math.floor(at / 1000);
      }
      if (options.asmGroupId !== undefined) {
        body.asm = { group_id: options.asmGroupId, ...(options.asmGroupsToDisplay ? { groups_to_display: options.asmGroupsToDisplay } : {}) };
      }
      if (options.ipPoolName) body.ip_pool_name = options.ipPoolName;
      const tracking: Record<string, unknown> = {};
      if (o.trackOpens !== undefined) tracking.open_tracking = { enable: o.trackOpens };
      if (o.trackClicks !== undefined) tracking.click_tracking = { enable: o.trackClicks, enable_text: o.trackClicks };
      if (Object.keys(tracking).length) body.tracking_settings = tracking;
      if (options.sandboxMode) body.mail_settings = { sandbox_mode: { enable: true } };
      if (message.attachments.length) {
        body.attachments = message.attachments.map((a) => ({
          content: a.content,
          filename: a.filename,
          type: a.contentType,
          disposition: a.contentId ? 'inline' : 'attachment',
          ...(a.contentId ? { content_id: a.contentId } : {}),
        }));
      }
      const extra = providerOptionsFor({ name, kind: 'sendgrid' }, message);
      for (const key of Object.keys(extra)) {
        if (!SDK_FIELDS.has(key)) unsupportedFeature(context, `providerOptions.${name}.${key} (a field @sendgrid/mail does not send)`);
      }
      const kept = Object.fromEntries(Object.entries(extra).filter(([key]) => SDK_FIELDS.has(key)));
      // The SDK's warning about quotes in template data would print on every send; Herald's params are data, not HTML.
      return { ...deepMerge(body, kept), hide_warnings: true };
    }

    function verifyWith(
      request: WebhookRequest,
      guard: { key: SendgridKey | null; auth: WebhookCredentials[]; check: typeof verifyEventSignature; names: string },
    ): WebhookVerification {
      const { key, auth, check } = guard;
      if (!key && !auth.length) {
        return { ok: false, status: 401, reason: `neither ${guard.names} is configured on backend "${name}"; unauthenticated webhooks are refused` };
      }
      if (auth.length) {
        const basic = verifyBasicAuth(request, auth);
        if (!basic.ok) return basic;
      }
      return key ? check(request, key, tolerance) : { ok: true };
    }

    return {
      async send(message, ctx): Promise<SendResult> {
        const body = payload(message, ctx.idempotencyKey);
        if (message.content.format === 'params' && typeof body.template_id !== 'string') {
          throw new PermanentError('the params format needs a SendGrid dynamic template: give the template a subject (the d-… id), set templateId, or providerOptions.sendgrid.template_id', {
            backend: name,
            scope: 'provider',
          });
        }
        if (typeof body.template_id === 'string' && !body.template_id.startsWith('d-')) {
          // The SDK would treat it as a legacy template and drop the dynamic template data.
          throw new PermanentError(`template id "${body.template_id}" is not a dynamic template id (d-…)`, { backend: name, scope: 'provider' });
        }
        let response: Awaited<ReturnType<MailService['send']>>[0];
        try {
          [response] = await mail.send(body as unknown as MailDataRequired);
        } catch (error) {
          throw mapSendgridError(error, { backend: name, secrets });
        }
        const header = response.headers['x-message-id'];
        const messageId = (Array.isArray(header) ? header[0] : header) || undefined;
        const status: RecipientStatus = 'queued';
        const recipients: Record<string, { status: RecipientStatus; messageId?: string }> = {};
        for (const address of [message.to, ...(message.options.cc ?? []), ...(message.options.bcc ?? [])]) {
          recipients[lower(address)] = messageId ? { status, messageId } : { status };
        }
        const answer: JsonValue = { status: response.statusCode, messageId: messageId ?? null, ...(options.sandboxMode ? { sandbox: true } : {}) };
        return { ...(messageId ? { messageId } : {}), recipients, response: answer };
      },
      webhooks: {
        tracking: {
          verify: (request) => verifyWith(request, { key: eventKey, auth: eventAuth, check: verifyEventSignature, names: 'webhookPublicKey nor webhookAuth' }),
          parse: (request) => parseSendgridEvents(request, name),
        },
        inbound: {
          verify: (request) => verifyWith(request, { key: inboundKey, auth: inboundAuth, check: verifyRawSignature, names: 'inboundPublicKey nor inboundAuth' }),
          parse: (request) => parseSendgridInbound(request, name),
        },
      },
    };
  },
});

/**
 * SendGrid email backend (official `@sendgrid/mail` on `@sendgrid/client`, v3 mail send): `html`, `markdown` and
 * `blocks` are sent as email, `params` as a dynamic template (`template_id` + `dynamic_template_data`). Categories
 * from tags, `custom_args` from metadata plus the delivery id, `send_at`, unsubscribe groups, IP pools, open/click
 * tracking, attachments (inline too), sandbox mode. The Event Webhook is verified with SendGrid's ECDSA signature
 * and/or basic auth; Inbound Parse posts become inbound events.
 *
 * @example
 * ```ts
 * import { sendgrid } from '@herald/backend-sendgrid';
 * const backend = sendgrid({
 *   apiKey: process.env.SENDGRID_API_KEY!,
 *   defaults: { from: 'Shop <shop@example.org>' },
 *   webhookPublicKey: process.env.SENDGRID_WEBHOOK_PUBLIC_KEY,
 * });
 * ```
 */
export function sendgrid(options: SendgridOptions): Backend<'email'> {
  return _sendgrid(options);
}
