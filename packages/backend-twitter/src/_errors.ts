import { type HeraldError, type JsonValue, PermanentError, redact, TransientError } from '@herald/core';
import { ApiResponseError } from 'twitter-api-v2';

/** The provider's answer without anything secret (an error body may quote the request back). */
function _clean(value: unknown, secrets: readonly string[]): JsonValue {
  try {
    return JSON.parse(redact(JSON.stringify(value ?? null), secrets)) as JsonValue;
  } catch {
    return null;
  }
}

/**
 * Map what twitter-api-v2 threw to a Herald error. The library's errors carry the signed request (OAuth header
 * included), so none is kept as `cause`: only the status, the body and the rate-limit reset.
 */
export function _mapTwitterError(error: unknown, backend: string, secrets: readonly string[], now = Date.now()): HeraldError {
  if (error instanceof ApiResponseError) {
    const status = error.code;
    const body = _clean(error.data, secrets);
    const detail = redact([error.data.title, error.data.detail ?? error.data.error].filter(Boolean).join(': ') || error.message, secrets);
    const response = { status, body };
    const message = `Twitter answered ${status}: ${detail}`;
    if (status === 429) {
      const reset = error.rateLimit?.reset ?? Number(error.headers['x-rate-limit-reset']);
      const retryAfterMs = Number.isFinite(reset) && reset > 0 ? Math.max(0, reset * 1000 - now) : undefined;
      return new TransientError(message, { backend, response, statusCode: status, retryAfterMs });
    }
    if (status >= 500) return new TransientError(message, { backend, response, statusCode: status });
    if (/duplicate content/i.test(detail)) {
      return new PermanentError(`duplicate content: Twitter refuses a post identical to a recent one (${message})`, {
        backend,
        response,
        statusCode: status,
        rejectReason: 'other',
      });
    }
    if (status === 401) return new PermanentError(`authentication failed: ${message}`, { backend, response, statusCode: status });
    const blocked = status === 403 && /direct message|not permitted|not allowed/i.test(detail);
    return new PermanentError(message, { backend, response, statusCode: status, ...(blocked ? { rejectReason: 'blocked' as const } : {}) });
  }
  const text = redact(error instanceof Error ? error.message : String(error), secrets);
  return new TransientError(`request to Twitter failed: ${text}`, { backend, response: { error: text } });
}
