import type { ApiKeyRecord, KeyStore, Logger } from '@herald/core';
import { ApiError } from './_errors';
import { RateLimiter } from './_rate-limit';
import { allows, checkKey, type Scope } from './keys';

const CHALLENGE = { 'www-authenticate': 'Bearer realm="herald"' };
const TOUCH_EVERY_MS = 60_000;

export interface Gate {
  /**
   * The caller's key from `Authorization: Bearer hk_…`, or null for a keyless call where `keyless` allows one. A
   * key that is sent is always checked. Throws 401 for a missing, malformed, unknown or revoked key.
   */
  identify(authorization: string | undefined, keyless: boolean): Promise<ApiKeyRecord | null>;
  /** 403 unless the key has the scope (a keyless caller was already allowed everything). */
  authorize(key: ApiKeyRecord | null, scope: Scope): void;
  /** 429 with Retry-After when the caller's bucket is empty. */
  limit(key: ApiKeyRecord | null): void;
}

export function createGate(deps: { store: KeyStore; ready: () => Promise<void>; logger: Logger; perMinute: number | null }): Gate {
  const limiter = deps.perMinute === null ? null : new RateLimiter(deps.perMinute);
  const touched = new Map<string, number>();

  function touch(id: string): void {
    const now = Date.now();
    if (now - (touched.get(id) ?? 0) < TOUCH_EVERY_MS) return;
    touched.set(id, now);
    // Bookkeeping only: a failed write must not fail the request.
    deps.store.touchKey(id, new Date(now)).catch((error: unknown) => deps.logger.warn('could not record API key use', { key: id, error: String(error) }));
  }

  return {
    async identify(authorization, keyless) {
      if (authorization === undefined || authorization === '') {
        if (keyless) return null;
        throw new ApiError(401, 'unauthorized', 'send an API key: Authorization: Bearer hk_<id>_<secret> (herald keys create)', { headers: CHALLENGE });
      }
      const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
      if (!m) throw new ApiError(401, 'unauthorized', 'the Authorization header must be "Bearer hk_<id>_<secret>"', { headers: CHALLENGE });
      await deps.ready();
      const check = await checkKey(deps.store, m[1]!);
      if (!check.ok) {
        const why = {
          malformed: 'the API key is malformed: keys look like hk_<16 hex digits>_<43 characters>',
          unknown: 'the API key is not valid',
          revoked: 'the API key was revoked',
        }[check.reason];
        throw new ApiError(401, 'unauthorized', why, { headers: CHALLENGE });
      }
      touch(check.record.id);
      return check.record;
    },
    authorize(key, scope) {
      if (key === null || allows(key.scopes, scope)) return;
      throw new ApiError(403, 'forbidden', `this API key lacks the \`${scope}\` scope (it has: ${key.scopes.join(', ') || 'none'})`);
    },
    limit(key) {
      if (!limiter) return;
      const waitMs = limiter.take(key?.id ?? '\u0000keyless');
      if (waitMs === 0) return;
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      throw new ApiError(429, 'rate_limited', `rate limit of ${deps.perMinute} requests a minute reached; retry in ${seconds}s`, {
        headers: { 'retry-after': String(seconds) },
      });
    },
  };
}
