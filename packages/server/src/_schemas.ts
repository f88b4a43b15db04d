// The zod schemas of the HTTP API: they validate the requests and, through @hono/zod-openapi, are the OpenAPI
// document's schemas. One source: a field added here is validated and documented at once.
import { DELIVERY_STATUSES, PROTOCOLS, REJECT_REASONS, TEMPLATE_FORMATS, TRACKING_EVENT_TYPES } from '@herald/core';
import { z } from '@hono/zod-openapi';

const SKIP_REASONS = ['opted-out', 'suppressed', 'duplicate', 'no-backend', 'no-template', 'test-address', 'site-contact-disabled'] as const;
const ATTEMPT_OUTCOMES = ['sent', 'transient', 'permanent', 'unsupported', 'expired', 'abandoned', 'circuit-open'] as const;
const DURATION = /^\d+(?:\.\d+)?(?:ms|s|m|h|d)$/;

// A named component `.nullable()` becomes `allOf: [$ref, { type: [object, null] }]`, which null fails (the $ref
// still applies): a union says it right, `anyOf: [$ref, { type: null }]`.
const orNull = <S extends z.ZodType>(schema: S) => z.union([schema, z.null()]);
const dateTime = () => z.iso.datetime({ offset: true });
const nullableDateTime = () => dateTime().nullable();

// ───────────────────────── errors ─────────────────────────

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'validation_error' }),
      message: z.string(),
      field: z.string().nullable().openapi({ description: 'The request field the error is about (`data.orderId`, `recipients[0].contacts[0].address`), or null.' }),
      issues: z.array(z.object({ field: z.string(), message: z.string() })).optional().openapi({ description: 'Every problem found, when there are several.' }),
    }),
  })
  .openapi('Error');

// ───────────────────────── requests ─────────────────────────

export const ProtocolSchema = z.enum(PROTOCOLS).openapi('Protocol');
export const DeliveryStatusSchema = z.enum(DELIVERY_STATUSES as readonly [string, ...string[]]).openapi('DeliveryStatus');

const ContactSchema = z
  .strictObject({
    protocol: ProtocolSchema,
    address: z.string().max(2048).openapi({ example: 'ada@example.org' }),
    backend: z.string().min(1).optional().openapi({ description: 'Send through this backend instead of routing by protocol.' }),
  })
  .openapi('Contact');

const RecipientSchema = z
  .strictObject({
    id: z.string().min(1).max(256).optional().openapi({ description: 'Your id for this person; keys opt-out preferences.' }),
    name: z.string().max(256).optional(),
    contacts: z.array(ContactSchema).max(100),
    optOut: z.array(z.string().min(1)).optional().openapi({ description: 'Categories this recipient opted out of, besides the stored preferences.' }),
  })
  .openapi('Recipient');

const SendOptionsSchema = z
  .strictObject({
    from: z.string().optional(),
    replyTo: z.array(z.string()).optional(),
    cc: z.array(z.string()).optional(),
    bcc: z.array(z.string()).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    tags: z.array(z.string()).optional(),
    metadata: z.record(z.string(), z.string()).optional(),
    sendAt: z.string().optional().openapi({ description: 'Ask the provider to schedule the send (few support it).' }),
    trackOpens: z.boolean().optional(),
    trackClicks: z.boolean().optional(),
    providerOptions: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  })
  .openapi('SendOptions');

const NotifyOptionsSchema = z
  .strictObject({
    options: SendOptionsSchema.optional(),
    sendAt: dateTime().optional().openapi({ description: 'Hold the deliveries until this instant (ISO 8601 with a time zone).' }),
    delay: z
      .union([z.number().int().nonnegative(), z.string().regex(DURATION, 'a duration such as "30s", "15m" or "2h"')])
      .optional()
      .openapi({ description: 'Hold the deliveries this long: milliseconds or "30s", "15m", "2h", "7d".' }),
  })
  .openapi('NotifyOptions');

export const NotifyBodySchema = z
  .strictObject({
    notification: z.string().min(1).openapi({ example: 'order-shipped', description: 'A notification id (see GET /v1/notifications).' }),
    data: z.unknown().optional().openapi({ description: "The notification's data, validated against its schema (GET /v1/notifications)." }),
    recipients: z.array(RecipientSchema).max(10_000),
    options: NotifyOptionsSchema.optional(),
  })
  .openapi('NotifyRequest');

const limit = (max: number, fallback: number) =>
  z.coerce.number().int().min(1).max(max).default(fallback).openapi({ type: 'integer', minimum: 1, maximum: max, default: fallback });

export const DeliveriesQuerySchema = z.strictObject({
  status: z
    .string()
    .optional()
    .openapi({ description: `Comma-separated statuses: ${DELIVERY_STATUSES.join(', ')}.`, example: 'failed,bounced' }),
  notification: z.string().min(1).optional(),
  backend: z.string().min(1).optional(),
  address: z.string().min(1).optional().openapi({ description: 'The address exactly as the delivery holds it.' }),
  recipientId: z.string().min(1).optional(),
  batchId: z.string().min(1).optional(),
  dedupeKey: z.string().min(1).optional(),
  since: dateTime().optional().openapi({ description: 'Deliveries created at or after this instant.' }),
  limit: limit(500, 50),
  cursor: z.string().min(1).optional().openapi({ description: 'The `nextCursor` of the previous page.' }),
});

export const IdParamSchema = z.object({ id: z.string().min(1).openapi({ param: { name: 'id', in: 'path' }, example: 'd_01J…' }) });
export const KeyParamSchema = z.object({
  key: z.string().min(1).max(512).openapi({ param: { name: 'key', in: 'path' }, description: 'A recipient id or a normalized address.' }),
});

export const CancelBodySchema = z.strictObject({ reason: z.string().min(1).max(1000).optional() }).openapi('CancelRequest');

export const PreferencesBodySchema = z
  .strictObject({ optOut: z.array(z.string().min(1).max(256)).max(1000).openapi({ example: ['marketing'] }) })
  .openapi('PreferencesRequest');

export const SuppressionsQuerySchema = z.strictObject({
  protocol: ProtocolSchema.optional(),
  search: z.string().min(1).optional().openapi({ description: 'Part of the normalized address.' }),
  limit: limit(500, 100),
  cursor: z.string().min(1).optional(),
});

export const SuppressionBodySchema = z
  .strictObject({
    protocol: ProtocolSchema,
    address: z.string().min(1).max(2048),
    reason: z.string().min(1).max(1000).default('manual'),
  })
  .openapi('SuppressionRequest');

export const SuppressionDeleteQuerySchema = z.strictObject({ protocol: ProtocolSchema, address: z.string().min(1).max(2048) });

export const LastSentQuerySchema = z.strictObject({
  address: z.string().min(1).max(2048).openapi({ description: 'Compared normalized (emails case-insensitively).' }),
  dedupeKey: z.string().min(1).max(256).openapi({ description: "The notification's dedupe key (postmaster's uniqueID)." }),
  notification: z.string().min(1).optional(),
});

// ───────────────────────── responses ─────────────────────────

export const DeliverySchema = z
  .object({
    id: z.string(),
    batchId: z.string(),
    notification: z.string(),
    category: z.string().nullable(),
    recipientId: z.string().nullable(),
    protocol: ProtocolSchema,
    address: z.string(),
    backend: z.string().nullable(),
    status: DeliveryStatusSchema,
    skipReason: z.enum(SKIP_REASONS).nullable(),
    dedupeKey: z.string().nullable(),
    attempts: z.number().int(),
    maxAttempts: z.number().int(),
    providerMessageId: z.string().nullable(),
    providerStatus: z.string().nullable(),
    lastError: z.string().nullable(),
    createdAt: dateTime(),
    updatedAt: dateTime(),
    nextAttemptAt: nullableDateTime(),
    expiresAt: nullableDateTime(),
    sentAt: nullableDateTime(),
    leaseOwner: z.string().nullable(),
    leaseUntil: nullableDateTime(),
  })
  .openapi('Delivery');

const ContentSchema = z
  .object({
    format: z.enum(TEMPLATE_FORMATS as readonly [string, ...string[]]),
    subject: z.string().optional(),
    from: z.string().optional(),
    text: z.string().optional(),
    html: z.string().optional(),
    params: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi('RenderedContent');

const MessageSchema = z
  .object({
    to: z.string(),
    recipient: z.object({ id: z.string().optional(), name: z.string().optional() }),
    content: ContentSchema,
    attachments: z.array(z.object({ filename: z.string(), contentType: z.string(), contentId: z.string().optional(), bytes: z.number().int() })),
    options: z.record(z.string(), z.unknown()),
  })
  .openapi('Message');

const AttemptSchema = z
  .object({
    attempt: z.number().int(),
    startedAt: dateTime(),
    durationMs: z.number(),
    outcome: z.enum(ATTEMPT_OUTCOMES),
    backend: z.string().nullable(),
    request: z.record(z.string(), z.unknown()).nullable(),
    response: z.unknown().openapi({ description: "The provider's answer (JSON), or null." }),
    error: z.string().nullable(),
    workerId: z.string(),
  })
  .openapi('Attempt');

const EventSchema = z
  .object({
    eventType: z.enum(TRACKING_EVENT_TYPES as readonly [string, ...string[]]),
    eventId: z.string(),
    backend: z.string(),
    messageId: z.string().nullable(),
    timestamp: nullableDateTime(),
    receivedAt: dateTime(),
    recipient: z.string().nullable(),
    providerStatus: z.string().nullable(),
    rejectReason: z.enum(REJECT_REASONS as readonly [string, ...string[]]).nullable(),
    description: z.string().nullable(),
    mtaResponse: z.string().nullable(),
    userAgent: z.string().nullable(),
    clickUrl: z.string().nullable(),
    metadata: z.record(z.string(), z.string()),
    tags: z.array(z.string()),
  })
  .openapi('TrackingEvent');

const SkippedSchema = z
  .object({
    recipientId: z.string().nullable(),
    protocol: z.string(),
    address: z.string(),
    backend: z.string().nullable(),
    reason: z.enum(SKIP_REASONS),
    deliveryId: z.string().nullable(),
  })
  .openapi('SkippedContact');

export const NotifyResultSchema = z
  .object({ batchId: z.string(), deliveries: z.array(DeliverySchema), skipped: z.array(SkippedSchema) })
  .openapi('NotifyResult');

export const DeliveryPageSchema = z
  .object({
    items: z.array(DeliverySchema),
    nextCursor: z.string().nullable().openapi({ description: 'Pass as `cursor` for the next (older) page; null on the last page.' }),
  })
  .openapi('DeliveryPage');

export const DeliveryDetailSchema = z
  .object({
    delivery: DeliverySchema.extend({ message: orNull(MessageSchema) }),
    attempts: z.array(AttemptSchema),
    events: z.array(EventSchema),
  })
  .openapi('DeliveryDetail');

export const DeliveryResultSchema = z.object({ delivery: DeliverySchema }).openapi('DeliveryResult');
export const LastSentSchema = z.object({ delivery: orNull(DeliverySchema) }).openapi('LastSent');

export const PreferencesSchema = z.object({ key: z.string(), optOut: z.array(z.string()) }).openapi('Preferences');

export const SuppressionSchema = z
  .object({ protocol: ProtocolSchema, address: z.string(), reason: z.string(), createdAt: dateTime() })
  .openapi('Suppression');
export const SuppressionPageSchema = z.object({ items: z.array(SuppressionSchema), nextCursor: z.string().nullable() }).openapi('SuppressionPage');
export const RemovedSchema = z.object({ removed: z.literal(true) }).openapi('Removed');

export const NotificationListSchema = z
  .object({
    items: z.array(
      z
        .object({
          id: z.string(),
          description: z.string().nullable(),
          category: z.string().nullable(),
          required: z.boolean(),
          dedupe: z.object({ window: z.union([z.number(), z.string()]) }).nullable(),
          channels: z.array(
            z.object({
              channel: z.string(),
              backend: z.string().nullable(),
              protocol: ProtocolSchema,
              format: z.enum(TEMPLATE_FORMATS as readonly [string, ...string[]]),
            }),
          ),
          dataSchema: z.record(z.string(), z.unknown()).openapi({ description: "JSON Schema (draft 2020-12) of the notification's data." }),
        })
        .openapi('NotificationInfo'),
    ),
  })
  .openapi('NotificationList');

export const HealthSchema = z.object({ ok: z.literal(true) }).openapi('Health');

// ───────────────────────── JSON-RPC (postmaster) ─────────────────────────

export const RpcRequestSchema = z
  .object({
    jsonrpc: z.literal('2.0'),
    method: z.enum(['Postmaster.Enqueue', 'Postmaster.UpdatePrefs', 'Postmaster.GetLastEmail', 'Postmaster.GetPrefs', 'Postmaster.MovePrefs']),
    params: z.unknown().openapi({ description: "The method's params object (see docs/http-api.md, postmaster compatibility)." }),
    id: z.union([z.string(), z.number(), z.null()]).optional(),
  })
  .openapi('JsonRpcRequest');

export const RpcResponseSchema = z
  .object({
    jsonrpc: z.literal('2.0'),
    id: z.union([z.string(), z.number(), z.null()]),
    result: z.unknown().optional(),
    error: z
      .object({ code: z.number().int(), message: z.string(), data: z.unknown().optional() })
      .optional(),
  })
  .openapi('JsonRpcResponse');
