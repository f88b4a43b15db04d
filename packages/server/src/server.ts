import {
  addressSchemas,
  ConfigError,
  DELIVERY_STATUSES,
  type DeliveryFilter,
  type DeliveryStatus,
  type Duration,
  type Herald,
  type Notification,
  type NotifyOptions,
  type Protocol,
  ValidationError,
} from '@herald/core';
import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { createGate } from './_auth';
import { decodeCursor, encodeCursor } from './_cursor';
import { ApiError, toApiError, zodIssues } from './_errors';
import { attemptJson, deliveryJson, eventJson, messageJson, suppressionJson } from './_json';
import { defineRoutes, ROUTE_SCOPES } from './_routes';
import type { Scope } from './keys';
import { openApiDocument } from './openapi';
import { resolveOptions, type ServerOptions } from './options';
import { POSTMASTER_NOTIFICATION_ID } from './postmaster';
import { lastSent } from './_last-sent';
import { createRpcHandler, rpcErrorResponse } from './rpc';

type Env = { Variables: { key: { id: string; scopes: string[] } | null } };

/** A Herald HTTP API: a Fetch handler (`fetch(request) → response`) to serve or mount in any Fetch framework. */
export interface HeraldServer {
  fetch(request: Request): Promise<Response>;
  /** The Hono app itself, to mount with `app.route('/', server.app)` in a Hono application. */
  readonly app: OpenAPIHono<Env>;
}

const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json$/i;

/**
 * Create the HTTP API for a Herald instance: `/v1` (notify, deliveries, preferences, suppressions, last-sent,
 * notifications, openapi.json), `/webhooks/…` (the backends' provider webhooks), postmaster's JSON-RPC at `/rpc`
 * and `/healthz`. Options are checked now (`ConfigError` names the field). Serve it with {@link serve} or mount its
 * `fetch` in any Fetch-API framework.
 *
 * @example
 * ```ts
 * import { createHerald, defineNotification } from '@herald/core';
 * import { captureBackend } from '@herald/core/testing';
 * import { createServer, serve } from '@herald/server';
 * import { sqliteStore } from '@herald/store-sqlite';
 * import { z } from 'zod';
 *
 * const welcome = defineNotification({ id: 'welcome', schema: z.object({ name: z.string() }), templates: { email: { format: 'text', subject: 'Hi', body: 'Hi {{name}}' } } });
 * const herald = createHerald({ store: sqliteStore({ path: 'herald.db' }), backends: [captureBackend({ protocol: 'email' })], notifications: [welcome] });
 * const server = await serve(createServer(herald), { port: 8080 });
 * console.log(server.url); // http://127.0.0.1:8080
 * ```
 */
export function createServer(herald: Herald, options: ServerOptions = {}): HeraldServer {
  const settings = resolveOptions(options);
  const { logger, basePath } = settings;
  const p = (path: string) => `${basePath}${path}`;
  const postmaster = herald.notifications.find((n) => n.id === POSTMASTER_NOTIFICATION_ID) ?? null;
  if (settings.rpc.enabled === true && !postmaster) {
    throw new ConfigError(
      `rpc.enabled: postmaster's JSON-RPC needs its notification; add postmasterNotification (from @herald/server) to createHerald({ notifications })`,
      { field: 'rpc.enabled' },
    );
  }

  let migrated: Promise<void> | null = null;
  // Keys are read from the store directly, so the schema must exist first (core migrates on its own first call).
  const ready = () => {
    if (!migrated) {
      migrated = herald.store.migrate();
      migrated.catch(() => {
        migrated = null;
      });
    }
    return migrated;
  };
  const gate = createGate({ store: herald.store, ready, logger, perMinute: settings.rateLimit === false ? null : settings.rateLimit.perMinute });

  const app = new OpenAPIHono<Env>({
    defaultHook: (result) => {
      if (result.success) return;
      const issues = zodIssues(result.error);
      const where = result.target === 'json' ? 'body' : result.target === 'query' ? 'query' : 'path';
      throw new ApiError(422, 'validation_error', `invalid request ${where}: ${issues.map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)).join('; ')}`, { issues });
    },
  });

  app.onError((error, c) => {
    if (c.req.path === p('/rpc')) return rpcErrorResponse(error, logger);
    return toApiError(error, logger).response();
  });
  app.notFound((c) => new ApiError(404, 'not_found', `no route ${c.req.method} ${c.req.path}; see ${p('/v1/openapi.json')}`).response());

  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    // The path only: query strings carry addresses, and the Authorization header is never logged.
    logger.debug('request', { method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started), key: c.get('key')?.id ?? null });
  });
  if (settings.cors) {
    app.use(
      '*',
      cors({ origin: settings.cors.origins, allowHeaders: ['Authorization', 'Content-Type'], allowMethods: ['GET', 'POST', 'PUT', 'DELETE'], maxAge: 600 }),
    );
  }
  const limitBody = bodyLimit({
    maxSize: settings.bodyLimitBytes,
    onError: () => {
      throw new ApiError(413, 'payload_too_large', `the body is larger than ${settings.bodyLimitBytes} bytes`);
    },
  });
  app.use(p('/v1/*'), limitBody);
  app.use(p('/rpc'), limitBody);

  /** Key, scope and rate limit, in that order: 401, then 403, then 429. */
  const guard = (scope: Scope): MiddlewareHandler<Env> =>
    async function guard(c, next) {
      const key = await gate.identify(c.req.header('authorization'), settings.auth === 'none');
      c.set('key', key);
      if (settings.auth !== 'none') gate.authorize(key, scope);
      gate.limit(key);
      await next();
    };

  /** A JSON body, read once: 415 for another type, 400 naming the syntax error (before the schema is checked). */
  const jsonBody = (optional: boolean): MiddlewareHandler<Env> =>
    async function jsonBody(c, next) {
      const text = await c.req.text();
      if (optional && text === '') return next();
      const type = c.req.header('content-type')?.split(';')[0]?.trim() ?? '';
      if (!JSON_TYPE.test(type)) throw new ApiError(415, 'unsupported_media_type', `send the body as JSON with Content-Type: application/json (got ${type || 'none'})`);
      try {
        JSON.parse(text);
      } catch (error) {
        throw new ApiError(400, 'invalid_json', `the body is not valid JSON: ${(error as Error).message}`);
      }
      await next();
    };

  const routes = defineRoutes(basePath);
  const mw = (name: keyof typeof routes, body?: 'required' | 'optional') => {
    const scope = ROUTE_SCOPES[name];
    const list: MiddlewareHandler<Env>[] = scope ? [guard(scope)] : [];
    if (body) list.push(jsonBody(body === 'optional'));
    return list;
  };

  function notificationById(id: string): Notification {
    const n = herald.notifications.find((x) => x.id === id);
    if (n) return n;
    const known = herald.notifications.map((x) => x.id);
    throw new ApiError(422, 'unknown_notification', `unknown notification "${id}"; registered: ${known.join(', ') || 'none'} (GET ${p('/v1/notifications')})`, {
      field: 'notification',
    });
  }

  app.openapi({ ...routes.notify, middleware: mw('notify', 'required') }, async (c) => {
    const body = c.req.valid('json');
    const n = notificationById(body.notification);
    const result = await herald.notify(n, body.data, body.recipients, (body.options ?? {}) as Omit<NotifyOptions, 'transaction'> & { delay?: Duration });
    return c.json({ batchId: result.batchId, deliveries: result.deliveries.map(deliveryJson), skipped: result.skipped }, 201);
  });

  app.openapi({ ...routes.listDeliveries, middleware: mw('listDeliveries') }, async (c) => {
    const q = c.req.valid('query');
    const filter: DeliveryFilter = { limit: q.limit + 1 };
    if (q.status) {
      const statuses = q.status.split(',').map((s) => s.trim());
      const bad = statuses.find((s) => !(DELIVERY_STATUSES as readonly string[]).includes(s));
      if (bad !== undefined) throw new ApiError(422, 'validation_error', `status "${bad}" is not a status; use ${DELIVERY_STATUSES.join(', ')}`, { field: 'status' });
      filter.status = statuses as DeliveryStatus[];
    }
    for (const k of ['notification', 'backend', 'address', 'recipientId', 'batchId', 'dedupeKey'] as const) if (q[k] !== undefined) filter[k] = q[k];
    if (q.since) filter.since = new Date(q.since);
    if (q.cursor) {
      const { before, tieBreak } = decodeCursor(q.cursor);
      filter.before = before;
      filter.beforeId = tieBreak;
    }
    const rows = await herald.deliveries.list(filter);
    const items = rows.slice(0, q.limit);
    const last = items.at(-1);
    return c.json({ items: items.map(deliveryJson), nextCursor: rows.length > q.limit && last ? encodeCursor(last.createdAt, last.id) : null }, 200);
  });

  app.openapi({ ...routes.getDelivery, middleware: mw('getDelivery') }, async (c) => {
    const { id } = c.req.valid('param');
    const d = await herald.deliveries.get(id);
    if (!d) throw new ApiError(404, 'not_found', `no delivery "${id}"`, { field: 'id' });
    const [attempts, events] = await Promise.all([herald.deliveries.attempts(id), herald.deliveries.events(id)]);
    return c.json({ delivery: { ...deliveryJson(d), message: messageJson(d) }, attempts: attempts.map(attemptJson), events: events.map(eventJson) }, 200);
  });

  /** A delivery in the wrong state for the call is a conflict, not bad input. */
  const conflictOf = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      if (error instanceof ValidationError) throw new ApiError(409, 'conflict', error.message.split('\n')[0]!.replace(/^\[herald\] /, ''), { field: 'id' });
      throw error;
    }
  };

  app.openapi({ ...routes.redeliver, middleware: mw('redeliver') }, async (c) => {
    const { id } = c.req.valid('param');
    const d = await conflictOf(() => herald.redeliver(id));
    return c.json({ delivery: deliveryJson(d) }, 200);
  });

  app.openapi({ ...routes.cancel, middleware: mw('cancel', 'optional') }, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const d = await conflictOf(() => herald.cancel(id, body.reason ? { reason: body.reason } : {}));
    return c.json({ delivery: deliveryJson(d) }, 200);
  });

  app.openapi({ ...routes.getPreferences, middleware: mw('getPreferences') }, async (c) => {
    const { key } = c.req.valid('param');
    return c.json({ key, optOut: await herald.preferences.get(key) }, 200);
  });

  app.openapi({ ...routes.putPreferences, middleware: mw('putPreferences', 'required') }, async (c) => {
    const { key } = c.req.valid('param');
    const { optOut } = c.req.valid('json');
    const unique = [...new Set(optOut)];
    await herald.preferences.set(key, unique);
    return c.json({ key, optOut: unique }, 200);
  });

  app.openapi({ ...routes.listSuppressions, middleware: mw('listSuppressions') }, async (c) => {
    const q = c.req.valid('query');
    const cursor = q.cursor ? decodeCursor(q.cursor) : null;
    const rows = await herald.suppressions.list({
      limit: q.limit + 1,
      ...(q.protocol ? { protocol: q.protocol } : {}),
      ...(q.search ? { search: q.search } : {}),
      ...(cursor ? { before: cursor.before, beforeAddress: cursor.tieBreak } : {}),
    });
    const items = rows.slice(0, q.limit);
    const last = items.at(-1);
    return c.json({ items: items.map(suppressionJson), nextCursor: rows.length > q.limit && last ? encodeCursor(last.createdAt, last.address) : null }, 200);
  });

  const checkAddress = (protocol: Protocol, address: string) => {
    const parsed = addressSchemas[protocol].safeParse(address);
    if (!parsed.success) throw new ApiError(422, 'validation_error', `address: ${parsed.error.issues[0]?.message ?? 'invalid'}`, { field: 'address' });
  };

  app.openapi({ ...routes.addSuppression, middleware: mw('addSuppression', 'required') }, async (c) => {
    const { protocol, address, reason } = c.req.valid('json');
    checkAddress(protocol, address);
    await herald.suppressions.add(protocol, address, reason);
    const entry = await herald.suppressions.check(protocol, address);
    if (!entry) throw new Error('suppression not found right after it was added');
    return c.json(suppressionJson(entry), 201);
  });

  app.openapi({ ...routes.removeSuppression, middleware: mw('removeSuppression') }, async (c) => {
    const { protocol, address } = c.req.valid('query');
    if (!(await herald.suppressions.remove(protocol, address))) {
      throw new ApiError(404, 'not_found', `${protocol} address "${address}" is not suppressed`, { field: 'address' });
    }
    return c.json({ removed: true as const }, 200);
  });

  app.openapi({ ...routes.lastSent, middleware: mw('lastSent') }, async (c) => {
    const q = c.req.valid('query');
    const d = await lastSent(herald, q);
    return c.json({ delivery: d ? deliveryJson(d) : null }, 200);
  });

  let notificationList: z.infer<(typeof routes.notifications.responses)[200]['content']['application/json']['schema']> | null = null;
  app.openapi({ ...routes.notifications, middleware: mw('notifications') }, (c) => {
    notificationList ??= {
      items: herald.notifications.map((n) => ({
        id: n.id,
        description: n.description ?? null,
        category: n.category ?? null,
        required: n.required === true,
        dedupe: n.dedupe ? { window: n.dedupe.window } : null,
        channels: herald.channels(n),
        dataSchema: dataSchemaOf(n),
      })),
    };
    return c.json(notificationList, 200);
  });

  const document = openApiDocument(options);
  app.openapi(routes.openapi, (c) => c.json(document, 200));
  app.openapi(routes.health, (c) => c.json({ ok: true as const }, 200));

  // Providers authenticate with their own signatures; core reads the body with its own limit.
  app.all(p('/webhooks/*'), (c) => herald.webhooks.handle(c.req.raw));

  if (settings.rpc.enabled !== false) {
    const rpc = postmaster ? createRpcHandler({ herald, notification: postmaster, gate, settings, logger }) : null;
    app.post(p('/rpc'), async (c) => {
      if (!rpc) {
        return c.json(
          {
            jsonrpc: '2.0',
            id: null,
            error: {
              code: -32601,
              message: `postmaster's JSON-RPC is not available: add postmasterNotification (from @herald/server) to createHerald({ notifications }) and restart`,
            },
          },
          501,
        );
      }
      return rpc(c.req.raw.headers, await c.req.text());
    });
  }

  return {
    app,
    async fetch(request) {
      return app.fetch(request);
    },
  };
}

/** The notification's data schema as JSON Schema (the input side: what a client sends). */
function dataSchemaOf(n: Notification): Record<string, unknown> {
  try {
    return z.toJSONSchema(n.schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  } catch (error) {
    return { description: `not representable as JSON Schema: ${(error as Error).message}` };
  }
}
