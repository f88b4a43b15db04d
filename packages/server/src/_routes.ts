// The route table: every route's method, path, request schemas, responses and scope. The server registers its
// handlers on these definitions and the OpenAPI document is generated from them, so the two cannot drift.
import { createRoute, type RouteConfig, z } from '@hono/zod-openapi';
import type { Scope } from './keys';
import {
  CancelBodySchema,
  DeliveriesQuerySchema,
  DeliveryDetailSchema,
  DeliveryPageSchema,
  DeliveryResultSchema,
  ErrorSchema,
  HealthSchema,
  IdParamSchema,
  KeyParamSchema,
  LastSentQuerySchema,
  LastSentSchema,
  NotificationListSchema,
  NotifyBodySchema,
  NotifyResultSchema,
  PreferencesBodySchema,
  PreferencesSchema,
  RemovedSchema,
  RpcRequestSchema,
  RpcResponseSchema,
  SuppressionBodySchema,
  SuppressionDeleteQuerySchema,
  SuppressionPageSchema,
  SuppressionSchema,
  SuppressionsQuerySchema,
} from './_schemas';

const json = <S extends z.ZodType>(schema: S, description: string) => ({ content: { 'application/json': { schema } }, description });
const error = (description: string) => json(ErrorSchema, description);
const body = <S extends z.ZodType>(schema: S, required = true) => ({ body: { content: { 'application/json': { schema } }, required } });

/** The errors every authenticated route may answer. */
const authErrors = {
  401: error('Missing, malformed, unknown or revoked API key.'),
  403: error("The key lacks this route's scope."),
  429: error('Rate limit exceeded; `Retry-After` says when to try again.'),
} as const;
const bodyErrors = {
  400: error('The body is not valid JSON.'),
  413: error('The body is larger than the limit.'),
  415: error('The body is not `application/json`.'),
  422: error('A field is invalid; `error.field` names it.'),
} as const;

const security = [{ bearerAuth: [] }];
const scoped = (scope: Scope) => `Needs an API key with scope \`${scope}\`${scope === 'admin' ? '' : ' (or `admin`)'}.`;

export function defineRoutes(basePath: string) {
  const p = (path: string) => `${basePath}${path}`;
  return {
    notify: createRoute({
      method: 'post',
      path: p('/v1/notify'),
      tags: ['notify'],
      summary: 'Enqueue a notification for recipients',
      description: `Validates, fans out, renders and enqueues in one store transaction: all or nothing. ${scoped('send')}`,
      security,
      request: body(NotifyBodySchema),
      responses: { 201: json(NotifyResultSchema, 'Enqueued.'), ...authErrors, ...bodyErrors, 503: error('The store failed; nothing was enqueued.') },
    }),
    listDeliveries: createRoute({
      method: 'get',
      path: p('/v1/deliveries'),
      tags: ['deliveries'],
      summary: 'List deliveries, newest first',
      description: `Filters combine with AND. Pages by an opaque keyset cursor. ${scoped('read')}`,
      security,
      request: { query: DeliveriesQuerySchema },
      responses: { 200: json(DeliveryPageSchema, 'One page.'), ...authErrors, 422: error('A query parameter is invalid.') },
    }),
    getDelivery: createRoute({
      method: 'get',
      path: p('/v1/deliveries/{id}'),
      tags: ['deliveries'],
      summary: 'One delivery with its message, attempts and tracking events',
      description: scoped('read'),
      security,
      request: { params: IdParamSchema },
      responses: { 200: json(DeliveryDetailSchema, 'The delivery.'), ...authErrors, 404: error('No such delivery.') },
    }),
    redeliver: createRoute({
      method: 'post',
      path: p('/v1/deliveries/{id}/redeliver'),
      tags: ['deliveries'],
      summary: 'Send a finished delivery again with a fresh attempt budget',
      description: scoped('admin'),
      security,
      request: { params: IdParamSchema },
      responses: {
        200: json(DeliveryResultSchema, 'Queued again.'),
        ...authErrors,
        404: error('No such delivery.'),
        409: error('The delivery is still waiting or being sent, or was skipped.'),
      },
    }),
    cancel: createRoute({
      method: 'post',
      path: p('/v1/deliveries/{id}/cancel'),
      tags: ['deliveries'],
      summary: 'Take a waiting delivery out of the queue',
      description: `Only \`queued\` (scheduled ones too) and \`retrying\` deliveries; status becomes \`cancelled\`. ${scoped('admin')}`,
      security,
      request: { params: IdParamSchema, ...body(CancelBodySchema, false) },
      responses: {
        200: json(DeliveryResultSchema, 'Cancelled.'),
        ...authErrors,
        ...bodyErrors,
        404: error('No such delivery.'),
        409: error('The delivery is being sent or already finished.'),
      },
    }),
    getPreferences: createRoute({
      method: 'get',
      path: p('/v1/preferences/{key}'),
      tags: ['audience'],
      summary: 'Opt-out categories of a recipient id or normalized address',
      description: scoped('read'),
      security,
      request: { params: KeyParamSchema },
      responses: { 200: json(PreferencesSchema, 'The categories (empty when none).'), ...authErrors },
    }),
    putPreferences: createRoute({
      method: 'put',
      path: p('/v1/preferences/{key}'),
      tags: ['audience'],
      summary: 'Replace the opt-out categories',
      description: scoped('admin'),
      security,
      request: { params: KeyParamSchema, ...body(PreferencesBodySchema) },
      responses: { 200: json(PreferencesSchema, 'Stored.'), ...authErrors, ...bodyErrors },
    }),
    listSuppressions: createRoute({
      method: 'get',
      path: p('/v1/suppressions'),
      tags: ['audience'],
      summary: 'The suppression list, newest first',
      description: scoped('read'),
      security,
      request: { query: SuppressionsQuerySchema },
      responses: { 200: json(SuppressionPageSchema, 'One page.'), ...authErrors, 422: error('A query parameter is invalid.') },
    }),
    addSuppression: createRoute({
      method: 'post',
      path: p('/v1/suppressions'),
      tags: ['audience'],
      summary: 'Suppress an address (add or replace its entry)',
      description: scoped('admin'),
      security,
      request: body(SuppressionBodySchema),
      responses: { 201: json(SuppressionSchema, 'Suppressed; the address as stored (normalized).'), ...authErrors, ...bodyErrors },
    }),
    removeSuppression: createRoute({
      method: 'delete',
      path: p('/v1/suppressions'),
      tags: ['audience'],
      summary: 'Remove an address from the suppression list',
      description: scoped('admin'),
      security,
      request: { query: SuppressionDeleteQuerySchema },
      responses: { 200: json(RemovedSchema, 'Removed.'), ...authErrors, 404: error('The address was not suppressed.'), 422: error('A query parameter is invalid.') },
    }),
    lastSent: createRoute({
      method: 'get',
      path: p('/v1/last-sent'),
      tags: ['deliveries'],
      summary: 'The last delivery with a dedupe key to an address (postmaster GetLastEmail)',
      description: `Skipped, failed and cancelled deliveries do not count. ${scoped('read')}`,
      security,
      request: { query: LastSentQuerySchema },
      responses: { 200: json(LastSentSchema, 'The delivery, or null.'), ...authErrors, 422: error('A query parameter is invalid.') },
    }),
    notifications: createRoute({
      method: 'get',
      path: p('/v1/notifications'),
      tags: ['notify'],
      summary: 'Every notification: channels and data schema (JSON Schema)',
      description: scoped('read'),
      security,
      responses: { 200: json(NotificationListSchema, 'The notifications.'), ...authErrors },
    }),
    health: createRoute({
      method: 'get',
      path: p('/healthz'),
      tags: ['operations'],
      summary: 'Liveness: the process answers (no store access, no key)',
      responses: { 200: json(HealthSchema, 'Alive.') },
    }),
    openapi: createRoute({
      method: 'get',
      path: p('/v1/openapi.json'),
      tags: ['operations'],
      summary: 'This document (no key)',
      responses: { 200: json(z.record(z.string(), z.unknown()), 'OpenAPI 3.1.') },
    }),
  } satisfies Record<string, RouteConfig>;
}

/** Routes documented here but served by other handlers (JSON-RPC answers its own errors; webhooks are core's). */
export function documentedOnlyRoutes(basePath: string, rpc: boolean): RouteConfig[] {
  const out: RouteConfig[] = [
    {
      method: 'post',
      path: `${basePath}/webhooks/{backend}/{kind}`,
      tags: ['webhooks'],
      summary: "A backend's provider webhook (herald.webhooks.handle)",
      description: "Authenticated by the provider's signature or basic auth, not by an API key. See docs/webhooks.md.",
      request: {
        params: z.object({
          backend: z.string().openapi({ param: { name: 'backend', in: 'path' } }),
          kind: z.enum(['tracking', 'inbound']).openapi({ param: { name: 'kind', in: 'path' } }),
        }),
      },
      responses: {
        200: { description: 'Processed (also for replays).' },
        400: { description: 'Malformed payload.' },
        401: { description: 'Missing credentials.' },
        403: { description: 'Wrong signature or credentials.' },
        404: { description: 'No such backend or webhook.' },
        413: { description: 'Body too large.' },
      },
    },
  ];
  if (rpc) {
    out.push({
      method: 'post',
      path: `${basePath}/rpc`,
      tags: ['postmaster'],
      summary: "postmaster's JSON-RPC 2.0 API",
      description:
        'Methods `Postmaster.Enqueue` (scope send), `Postmaster.GetLastEmail` and `Postmaster.GetPrefs` (read), `Postmaster.UpdatePrefs` and `Postmaster.MovePrefs` (admin). A batch (array) is accepted too. Errors are JSON-RPC errors (HTTP 200); missing or refused keys are HTTP 401/403 with a JSON-RPC error body.',
      security: [{ bearerAuth: [] }, {}],
      request: { body: { content: { 'application/json': { schema: z.union([RpcRequestSchema, z.array(RpcRequestSchema).min(1)]) } }, required: true } },
      responses: {
        200: json(z.union([RpcResponseSchema, z.array(RpcResponseSchema)]), 'The result or a JSON-RPC error; an array of them for a batch.'),
        204: { description: 'Only notifications (requests without an id) were sent.' },
        401: json(RpcResponseSchema, 'Missing, malformed, unknown or revoked API key.'),
        403: json(RpcResponseSchema, "The key lacks the method's scope."),
        413: json(RpcResponseSchema, 'The body is larger than the limit.'),
        415: json(RpcResponseSchema, 'The body is not application/json.'),
        429: json(RpcResponseSchema, 'Rate limit exceeded.'),
        501: json(RpcResponseSchema, 'postmasterNotification is not registered with the Herald instance.'),
      },
    });
  }
  return out;
}

/** The scope each route needs (routes not listed need none). */
export const ROUTE_SCOPES: Record<string, Scope> = {
  notify: 'send',
  listDeliveries: 'read',
  getDelivery: 'read',
  redeliver: 'admin',
  cancel: 'admin',
  getPreferences: 'read',
  putPreferences: 'admin',
  listSuppressions: 'read',
  addSuppression: 'admin',
  removeSuppression: 'admin',
  lastSent: 'read',
  notifications: 'read',
};
