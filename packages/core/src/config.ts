import { z } from 'zod';
import type { HeraldOptions, WorkerOptions } from './api';
import { ConfigError } from './errors';
import { type Notification, toMs } from './notification';
import { addressSchemas, isProtocol, PROTOCOLS } from './protocols';
import type { Backend } from './types';
import { hasControlCharacter } from './validate';
import { issuesOf } from './options';

const duration = z.union([z.number().nonnegative(), z.string().regex(/^\d+(?:\.\d+)?(?:ms|s|m|h|d)$/, 'must be a duration like "30s", "15m", "24h"')]);
const positiveInt = (what: string) => z.number({ error: `${what} must be a number` }).int(`${what} must be a whole number`).positive(`${what} must be at least 1`);

// Strict objects throughout: an unknown key (`rety`, `siteContacts[0].adress`) is an error naming it, never ignored.
const optionsSchema = z.strictObject({
  store: z.custom<HeraldOptions['store']>(
    (v) => !!v && typeof v === 'object' && typeof (v as { enqueue?: unknown }).enqueue === 'function' && typeof (v as { claim?: unknown }).claim === 'function',
    'must be a Store (e.g. sqliteStore({ path: "herald.db" }) from @herald/store-sqlite)',
  ),
  backends: z.array(
    z.custom<Backend>(
      (v) => !!v && typeof v === 'object' && typeof (v as { send?: unknown }).send === 'function' && isProtocol((v as { protocol?: unknown }).protocol),
      'must be a backend created by a backend factory, e.g. smtp({ ... }) from @herald/backend-smtp',
    ),
  ),
  notifications: z.array(
    z.custom<Notification>((v) => !!v && typeof v === 'object' && (v as { kind?: unknown }).kind === 'herald.notification', 'must be created with defineNotification()'),
  ),
  templatesDir: z.string().optional(),
  templates: z
    .strictObject({
      partials: z.record(z.string(), z.string()).optional(),
      helpers: z.record(z.string(), z.function()).optional(),
      layouts: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  siteContacts: z
    .array(
      z.strictObject({
        name: z.string().optional(),
        protocol: z.enum(PROTOCOLS),
        address: z.string(),
        backend: z.string().optional(),
        only: z.array(z.string()).optional(),
        except: z.array(z.string()).optional(),
      }),
    )
    .optional(),
  routing: z.partialRecord(z.enum(PROTOCOLS), z.enum(['failover', 'round-robin'])).optional(),
  retry: z
    .strictObject({
      maxAttempts: positiveInt('retry.maxAttempts').optional(),
      maxAge: duration.optional(),
      backoff: z
        .union([
          z.function(),
          z.strictObject({ type: z.enum(['exponential', 'fixed']), delay: duration, maxDelay: duration.optional(), jitter: z.enum(['full', 'none']).optional() }),
        ])
        .optional(),
    })
    .optional(),
  failover: z
    .strictObject({
      on: z.union([z.array(z.enum(['provider', 'recipient', 'content'])), z.function()]).optional(),
      circuit: z.union([z.literal(false), z.strictObject({ failures: positiveInt('failover.circuit.failures'), coolDown: duration })]).optional(),
    })
    .optional(),
  logger: z.union([z.literal(false), z.object({ warn: z.function(), error: z.function() }).passthrough()]).optional(),
  webhooks: z.strictObject({ maxBodyBytes: positiveInt('webhooks.maxBodyBytes').optional() }).optional(),
});

function fail(error: z.ZodError, schema: z.ZodType, prefix: string, what: string): never {
  const issues = issuesOf(error, prefix, schema, 'option');
  throw new ConfigError(`invalid ${what}:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`, { field: issues[0]?.path });
}

/** The checked configuration `createHerald` builds on. */
export interface HeraldConfig {
  backends: ReadonlyMap<string, Backend>;
  notifications: ReadonlyMap<string, Notification>;
}

/**
 * Check `createHerald` options: shape (unknown keys are errors), distinct backend names and notification ids,
 * site contact addresses. Errors name the path in words and in `field` (`backends[1].name`).
 */
export function checkOptions(options: HeraldOptions): HeraldConfig {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) fail(parsed.error, optionsSchema, 'options', 'createHerald options');
  const backends = new Map<string, Backend>();
  for (const [i, backend] of options.backends.entries()) {
    const other = backends.get(backend.name);
    if (other) {
      const first = options.backends.indexOf(other);
      throw new ConfigError(`backends[${first}] and backends[${i}] are both named "${backend.name}"; give backends[${i}] a distinct name option`, { field: `options.backends[${i}].name` });
    }
    backends.set(backend.name, backend);
  }
  const notifications = new Map<string, Notification>();
  for (const [i, n] of options.notifications.entries()) {
    if (notifications.has(n.id)) throw new ConfigError(`notifications[${i}]: two notifications have the id "${n.id}"`, { field: `options.notifications[${i}].id` });
    notifications.set(n.id, n);
  }
  for (const [i, sc] of (options.siteContacts ?? []).entries()) {
    const field = `options.siteContacts[${i}]`;
    const ok = addressSchemas[sc.protocol].safeParse(sc.address);
    if (!ok.success || hasControlCharacter(sc.address)) {
      throw new ConfigError(`siteContacts[${i}].address (site contact ${sc.name ?? sc.address}): ${ok.success ? 'contains a control character' : ok.error.issues[0]?.message}`, { field: `${field}.address` });
    }
    if (sc.backend !== undefined && backends.get(sc.backend)?.protocol !== sc.protocol) {
      throw new ConfigError(`siteContacts[${i}].backend: no ${sc.protocol} backend named "${sc.backend}"`, { field: `${field}.backend` });
    }
  }
  return { backends, notifications };
}

const workerSchema = z.strictObject({
  concurrency: positiveInt('concurrency').optional(),
  lease: duration.optional(),
  sendTimeout: duration.optional(),
  pollInterval: duration.optional(),
  id: z.string().min(1).optional(),
  backends: z.array(z.string().min(1)).min(1, 'backends must name at least one backend').optional(),
});

export interface WorkerConfig {
  id?: string;
  concurrency: number;
  leaseMs: number;
  sendTimeoutMs: number;
  pollMs: number;
  /** Claim only these backends' deliveries (checked against the instance's backends by `createHerald`). */
  backends?: readonly string[];
}

/** Check `worker()` / `drain()` options: positive integers, durations, no unknown keys. */
export function checkWorkerOptions(options: WorkerOptions, call: 'worker' | 'drain'): WorkerConfig {
  const parsed = workerSchema.safeParse(options ?? {});
  if (!parsed.success) fail(parsed.error, workerSchema, call, `${call}() options`);
  const leaseMs = toMs(options.lease ?? '5m', `${call}.lease`);
  const sendTimeoutMs = toMs(options.sendTimeout ?? '60s', `${call}.sendTimeout`);
  const pollMs = toMs(options.pollInterval ?? '1s', `${call}.pollInterval`);
  if (leaseMs <= 0) throw new ConfigError(`${call}.lease must be longer than 0`, { field: `${call}.lease` });
  if (sendTimeoutMs <= 0) throw new ConfigError(`${call}.sendTimeout must be longer than 0`, { field: `${call}.sendTimeout` });
  if (pollMs <= 0) throw new ConfigError(`${call}.pollInterval must be longer than 0`, { field: `${call}.pollInterval` });
  return { ...(options.id ? { id: options.id } : {}), ...(options.backends ? { backends: [...new Set(options.backends)] } : {}), concurrency: options.concurrency ?? 8, leaseMs, sendTimeoutMs, pollMs };
}
