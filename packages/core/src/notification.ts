import type { z } from 'zod';
import { ConfigError } from './errors';
import { unknownKeys } from './options';
import type { AttachmentInput, SendOptions, TemplateSpec } from './types';

/** A duration: milliseconds, or a string like `30s`, `15m`, `24h`, `7d`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

export function toMs(duration: Duration, field = 'duration'): number {
  if (typeof duration === 'number') {
    if (!Number.isFinite(duration) || duration < 0) throw new ConfigError(`${field} must be a non-negative number of milliseconds`, { field });
    return duration;
  }
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(duration);
  if (!m) throw new ConfigError(`${field} "${duration}" is not a duration; use e.g. 500, "30s", "15m", "24h" or "7d"`, { field });
  const unit = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

/** Who a notification goes to. */
export interface Recipient {
  /** Your id for this person; keys opt-out preferences and appears on every delivery. */
  id?: string;
  name?: string;
  contacts: Contact[];
  /** Categories this recipient opted out of (in addition to those stored with `herald.preferences`). */
  optOut?: string[];
}

export interface Contact {
  protocol: string;
  address: string;
  /** Send through this backend instead of routing by protocol. */
  backend?: string;
}

/** The context templates see: the notification's data plus `recipient` and `contact`. */
export interface RenderContext<D> {
  data: D;
  recipient: { id?: string; name?: string };
  contact: { protocol: string; address: string };
}

export interface DedupeSpec<D> {
  /** The dedupe key for this data (postmaster's uniqueID); the address is added by Herald. `null`: this call has none. */
  key: (data: D) => string | null;
  /**
   * Skip when the same key was sent to the same address within this window (postmaster's GetLastEmail threshold).
   * `0` records the key on each delivery (for `deliveries.list({ dedupeKey })`, the HTTP API's last-sent lookup)
   * and never skips: postmaster's uniqueID without deduplication.
   */
  window: Duration;
}

export interface NotificationSpec<S extends z.ZodType> {
  /** Stable id, e.g. `order-shipped`. Names the templates folder. */
  id: string;
  /** zod schema of the data; `notify()` is typed by it and validates against it. */
  schema: S;
  /** Opt-out category (postmaster's flags, by name). */
  category?: string;
  description?: string;
  /** Inline templates keyed by backend name or protocol (a backend's own template wins). */
  templates?: Record<string, TemplateSpec>;
  /** Skip repeats of the same key to the same address within a window. */
  dedupe?: DedupeSpec<z.output<S>>;
  /** `notify()` raises when no delivery could be created, and opt-out preferences cannot silence it. */
  required?: boolean;
  /** Files to attach, computed from the data (django-vox template attachments). Only for backends with the capability. */
  attachments?: (data: z.output<S>) => AttachmentInput[] | Promise<AttachmentInput[]>;
  /** Default send options for this notification (tags, metadata, reply-to …). */
  options?: SendOptions;
  /** Site contacts receive it too. @default true */
  siteContacts?: boolean;
  /**
   * Check every template's variables against `schema` when `createHerald` runs (a misspelt `{{ordrId}}` is a
   * `TemplateError`). `false` turns the check off for this notification. @default true
   */
  strictTemplates?: boolean;
}

/** A defined notification; `D` is the data type inferred from the schema. */
export interface Notification<S extends z.ZodType = z.ZodType> extends Readonly<NotificationSpec<S>> {
  readonly kind: 'herald.notification';
  /** Phantom field carrying the data type (input side of the schema). */
  readonly __input?: z.input<S>;
}

export type NotificationInput<N> = N extends Notification<infer S> ? z.input<S> : never;
export type NotificationData<N> = N extends Notification<infer S> ? z.output<S> : never;

/**
 * Define a notification. The data type is inferred from `schema`, so `notify()` rejects wrong data at compile time.
 *
 * @example
 * ```ts
 * const orderShipped = defineNotification({
 *   id: 'order-shipped',
 *   schema: z.object({ orderId: z.string() }),
 *   category: 'orders',
 *   templates: { email: { format: 'markdown', subject: 'Order {{orderId}} shipped', body: 'Hi {{recipient.name}} …' } },
 * });
 * ```
 */
const SPEC_KEYS = ['id', 'schema', 'category', 'description', 'templates', 'dedupe', 'required', 'attachments', 'options', 'siteContacts', 'strictTemplates'] as const;

export function defineNotification<S extends z.ZodType>(spec: NotificationSpec<S>): Notification<S> {
  const unknown = unknownKeys(spec, SPEC_KEYS, 'spec');
  if (unknown.length) throw new ConfigError(`notification "${spec.id}": ${unknown.map((i) => i.message).join('; ')}`, { field: unknown[0]!.path });
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(spec.id)) {
    throw new ConfigError(`notification id "${spec.id}" must be letters, digits, ".", "_" or "-"`, { field: 'id' });
  }
  if (spec.dedupe) toMs(spec.dedupe.window, `notification "${spec.id}" dedupe.window`);
  return Object.freeze({ ...spec, kind: 'herald.notification' as const });
}
