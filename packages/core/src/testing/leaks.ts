import { Buffer } from 'node:buffer';
import { z } from 'zod';
import { createHerald } from '../herald';
import { defineNotification } from '../notification';
import type { Attempt, Backend, Delivery, Logger, TemplateSpec } from '../types';
import { memoryStore } from './memory-store';

/**
 * The forms a secret travels in that a provider might quote back, by name: raw, URL-encoded, base64 (unpadded, so
 * it also matches padded), base64url and hex (both cases). For fake providers that echo a credential in every form.
 *
 * @example
 * ```ts
 * import { secretForms } from '@herald/core/testing';
 * secretForms('tok-123456').base64; // 'dG9rLTEyMzQ1Ng'
 * ```
 */
export function secretForms(secret: string): Record<'raw' | 'urlEncoded' | 'base64' | 'base64url' | 'hex' | 'HEX', string> {
  const bytes = Buffer.from(secret);
  return {
    raw: secret,
    urlEncoded: encodeURIComponent(secret),
    base64: bytes.toString('base64').replace(/=+$/, ''),
    base64url: bytes.toString('base64url'),
    hex: bytes.toString('hex'),
    HEX: bytes.toString('hex').toUpperCase(),
  };
}

/**
 * The forms of `secret` (see {@link secretForms}) found anywhere in `value` — strings as they are, anything else as
 * JSON, errors with their message and stack. Computed independently of core's redaction, to check it.
 *
 * @example
 * ```ts
 * import { secretLeaks } from '@herald/core/testing';
 * secretLeaks({ error: 'Basic dG9rLTEyMzQ1Ng==' }, ['tok-123456']); // ['base64 of "to…"']
 * ```
 */
export function secretLeaks(value: unknown, secrets: readonly string[]): string[] {
  const text = typeof value === 'string' ? value : JSON.stringify(value, (_k, v: unknown) => (v instanceof Error ? { ...v, message: v.message, stack: v.stack } : v));
  const found: string[] = [];
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    for (const [name, form] of Object.entries(secretForms(secret))) if (text?.includes(form)) found.push(`${name} of "${secret.slice(0, 2)}…"`);
  }
  return found;
}

/** Everything Herald kept or said about one delivery (see {@link traceDelivery}). */
export interface DeliveryTrace {
  /** The delivery as stored (`status`, `lastError` …); null when `notify()` threw. */
  delivery: Delivery | null;
  /** Its attempt log (`error`, `request`, `response` of each). */
  attempts: Attempt[];
  /** Every event Herald emitted: `delivery` and `failover` changes, `error`s. */
  events: unknown[];
  /** Every logger call, as `[level, message, fields]`. */
  logs: unknown[];
  /** What `notify()` threw, when it refused the contact. */
  notifyError: unknown;
}

/**
 * Send one notification through `backend` with a real Herald (memory store, no retry delay) to `address`, drain,
 * and return everything Herald kept or said about the delivery — to check that a backend's failure leaks no
 * secret (`expect(secretLeaks(trace, secrets)).toEqual([])`). The backend stays open (close it yourself). A reserved test address
 * (`example.org` …) needs a backend created with `test: true`.
 *
 * @example
 * ```ts
 * import { secretLeaks, traceDelivery } from '@herald/core/testing';
 * const trace = await traceDelivery(backend, '+14155550123', { format: 'text', body: 'Hi {{name}}' });
 * if (secretLeaks(trace, ['my-auth-token']).length) throw new Error('leaked');
 * ```
 */
export async function traceDelivery(
  backend: Backend,
  address: string,
  template: TemplateSpec,
  options: { maxAttempts?: number; data?: Record<string, string> } = {},
): Promise<DeliveryTrace> {
  const logs: unknown[] = [];
  const log =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      logs.push([level, message, fields ?? null]);
    };
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  const notification = defineNotification({ id: 'leak-check', schema: z.record(z.string(), z.string()), templates: { [backend.name]: template } });
  const herald = createHerald({
    store: memoryStore(),
    // Herald closes its backends; this one is the caller's.
    backends: [{ ...backend, close: undefined }],
    notifications: [notification],
    retry: { maxAttempts: options.maxAttempts ?? 2, backoff: { type: 'fixed', delay: 0 } },
    logger,
  });
  const events: unknown[] = [];
  herald.on('delivery', (delivery, change) => events.push(['delivery', delivery, change]));
  herald.on('failover', (delivery, change) => events.push(['failover', delivery, change]));
  herald.on('error', (error) => events.push(['error', error]));
  try {
    let id: string | undefined;
    let notifyError: unknown = null;
    try {
      const result = await herald.notify(notification, options.data ?? { name: 'Ada' }, [{ id: 'u1', contacts: [{ protocol: backend.protocol, address }] }]);
      const skipped = result.skipped[0];
      if (skipped) throw new Error(`traceDelivery: the delivery was skipped (${skipped.reason}); a reserved test address needs a backend with test: true`);
      id = result.deliveries[0]?.id;
      await herald.drain();
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('traceDelivery:')) throw error;
      notifyError = error;
    }
    const delivery = id ? await herald.deliveries.get(id) : null;
    const attempts = id ? await herald.deliveries.attempts(id) : [];
    return { delivery, attempts, events, logs, notifyError };
  } finally {
    await herald.close();
  }
}
