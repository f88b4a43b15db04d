import { ConfigError, type Delivery, defineNotification, type Herald, type JsonValue, type Protocol, ValidationError } from '@herald/core';
import { z } from 'zod';

const personalisation = z.record(z.string(), z.json());

/**
 * The notification behind {@link sendEmailNotification}: a Notify template id and its personalisation as data.
 * Register it (`createHerald({ notifications: [govukNotifyEmailNotification, …] })`) to use the helper. The seed's
 * `reference` becomes the delivery's dedupe key (recorded, never skipping), because Notify's `reference` carries
 * Herald's delivery id.
 */
export const govukNotifyEmailNotification = defineNotification({
  id: 'govuk-notify-email',
  description: 'GOV.UK Notify email by template id (sendEmailNotification)',
  schema: z.object({
    templateId: z.string().min(1),
    personalisation: personalisation.optional(),
    reference: z.string().optional(),
    emailReplyToId: z.string().optional(),
    oneClickUnsubscribeURL: z.string().optional(),
  }),
  dedupe: { key: (data) => data.reference ?? null, window: 0 },
  templates: {
    email: {
      format: 'params',
      body: {
        templateId: '{{templateId}}',
        personalisation: '{{personalisation}}',
        emailReplyToId: '{{emailReplyToId}}',
        oneClickUnsubscribeURL: '{{oneClickUnsubscribeURL}}',
      },
    },
  },
});

/** The notification behind {@link sendSmsNotification} (see {@link govukNotifyEmailNotification}). */
export const govukNotifySmsNotification = defineNotification({
  id: 'govuk-notify-sms',
  description: 'GOV.UK Notify text message by template id (sendSmsNotification)',
  schema: z.object({
    templateId: z.string().min(1),
    personalisation: personalisation.optional(),
    reference: z.string().optional(),
    smsSenderId: z.string().optional(),
  }),
  dedupe: { key: (data) => data.reference ?? null, window: 0 },
  templates: {
    sms: { format: 'params', body: { templateId: '{{templateId}}', personalisation: '{{personalisation}}', smsSenderId: '{{smsSenderId}}' } },
  },
});

/** Options of {@link sendEmailNotification}: notifications-node-client's `sendEmail` options. */
export interface SendEmailNotificationOptions {
  personalisation?: Record<string, JsonValue>;
  /** Your identifier for this email: kept as the delivery's `dedupeKey` (`herald.deliveries.list({ dedupeKey })`). */
  reference?: string;
  emailReplyToId?: string;
  oneClickUnsubscribeURL?: string;
  /** The backend to send through, by name, when the instance has more than one GOV.UK Notify email backend. */
  backend?: string;
  /** Your id for the person, kept on the delivery. */
  recipientId?: string;
}

/** Options of {@link sendSmsNotification}: notifications-node-client's `sendSms` options. */
export interface SendSmsNotificationOptions {
  personalisation?: Record<string, JsonValue>;
  reference?: string;
  smsSenderId?: string;
  backend?: string;
  recipientId?: string;
}

function notifyBackend(herald: Herald, protocol: Protocol, kind: string, named: string | undefined): string {
  const found = herald.backends.filter((b) => b.kind === kind && (named === undefined || b.name === named));
  if (!found.length) {
    throw new ConfigError(
      named ? `no ${kind} backend named "${named}"` : `no GOV.UK Notify ${protocol} backend: add ${protocol === 'email' ? 'govukNotifyEmail' : 'govukNotifySms'}() to createHerald({ backends })`,
      { field: 'backend' },
    );
  }
  if (found.length > 1) throw new ConfigError(`several ${kind} backends (${found.map((b) => b.name).join(', ')}): name one with options.backend`, { field: 'backend' });
  return found[0]!.name;
}

async function deliveryOf(herald: Herald, result: Awaited<ReturnType<Herald['notify']>>): Promise<Delivery> {
  const queued = result.deliveries[0];
  if (queued) return queued;
  const skipped = result.skipped[0];
  const recorded = skipped?.deliveryId ? await herald.deliveries.get(skipped.deliveryId) : null;
  if (recorded) return recorded;
  throw new ValidationError(`nothing was queued${skipped ? ` (${skipped.reason})` : ''}`, [{ path: 'address', message: skipped?.reason ?? 'not sent' }]);
}

/**
 * django-govuk-notify-outbox's `send_email_notification`, in notifications-node-client's argument order
 * (`sendEmail(templateId, emailAddress, { personalisation, reference, emailReplyToId, oneClickUnsubscribeURL })`):
 * queue the email and return its delivery at once; a worker sends it, retries it, and callbacks or polling move it
 * on (`outboxStatus(delivery)` gives the seed's ten states). Needs {@link govukNotifyEmailNotification} registered.
 *
 * @example
 * ```ts
 * import { createHerald } from '@herald/core';
 * import { govukNotifyEmail, govukNotifyEmailNotification, outboxStatus, sendEmailNotification } from '@herald/backend-govuk-notify';
 * import { sqliteStore } from '@herald/store-sqlite';
 *
 * const herald = createHerald({
 *   store: sqliteStore({ path: 'herald.db' }),
 *   backends: [govukNotifyEmail({ apiKey: process.env.NOTIFY_API_KEY! })],
 *   notifications: [govukNotifyEmailNotification],
 * });
 * const delivery = await sendEmailNotification(herald, '9d751e0e-f929-4891-82a1-a3e1c3c18ee3', 'amala@example.com', {
 *   personalisation: { first_name: 'Amala' },
 * });
 * console.log(outboxStatus(delivery)); // 'sending-to-notify'
 * await herald.close();
 * ```
 */
export async function sendEmailNotification(herald: Herald, templateId: string, emailAddress: string, options: SendEmailNotificationOptions = {}): Promise<Delivery> {
  const backend = notifyBackend(herald, 'email', 'govuk-notify-email', options.backend);
  const { personalisation, reference, emailReplyToId, oneClickUnsubscribeURL, recipientId } = options;
  const result = await herald.notify(
    govukNotifyEmailNotification,
    { templateId, personalisation: personalisation ?? {}, reference, emailReplyToId, oneClickUnsubscribeURL },
    [{ ...(recipientId ? { id: recipientId } : {}), contacts: [{ protocol: 'email', address: emailAddress, backend }] }],
  );
  return deliveryOf(herald, result);
}

/**
 * The text-message twin of {@link sendEmailNotification}: `sendSms(templateId, phoneNumber, { personalisation,
 * reference, smsSenderId })`. Needs {@link govukNotifySmsNotification} registered.
 *
 * @example
 * ```ts
 * import { createHerald } from '@herald/core';
 * import { govukNotifySms, govukNotifySmsNotification, sendSmsNotification } from '@herald/backend-govuk-notify';
 * import { sqliteStore } from '@herald/store-sqlite';
 *
 * const herald = createHerald({
 *   store: sqliteStore({ path: 'herald.db' }),
 *   backends: [govukNotifySms({ apiKey: process.env.NOTIFY_API_KEY! })],
 *   notifications: [govukNotifySmsNotification],
 * });
 * await sendSmsNotification(herald, 'a3c1f2d4-5b6e-4f70-8a91-b2c3d4e5f601', '+447700900123', { personalisation: { code: '4821' } });
 * await herald.close();
 * ```
 */
export async function sendSmsNotification(herald: Herald, templateId: string, phoneNumber: string, options: SendSmsNotificationOptions = {}): Promise<Delivery> {
  const backend = notifyBackend(herald, 'sms', 'govuk-notify-sms', options.backend);
  const { personalisation, reference, smsSenderId, recipientId } = options;
  const result = await herald.notify(
    govukNotifySmsNotification,
    { templateId, personalisation: personalisation ?? {}, reference, smsSenderId },
    [{ ...(recipientId ? { id: recipientId } : {}), contacts: [{ protocol: 'sms', address: phoneNumber, backend }] }],
  );
  return deliveryOf(herald, result);
}
