import { type FailureScope, type HeraldError, httpFailure, type Redactor, type RejectReason, requestFailure } from '@herald/core';
import { ApiResponseError } from 'twitter-api-v2';

/**
 * Map what twitter-api-v2 threw to a Herald error through core's `httpFailure`, adding what Twitter's answers mean
 * (see the "Failures and failover" table in docs/backends/twitter.md). The library's errors carry the signed
 * request (OAuth header included), so none is kept as `cause`: only the status, the body and the rate-limit reset.
 */
export function _mapTwitterError(error: unknown, backend: string, secrets: Redactor, now = Date.now()): HeraldError {
  if (!(error instanceof ApiResponseError)) {
    return requestFailure(error instanceof Error ? error.message : error, { backend, provider: 'Twitter', secrets });
  }
  const status = error.code;
  const detail = [error.data.title, error.data.detail ?? error.data.error].filter(Boolean).join(': ') || error.message;
  const answer = { status, headers: error.headers, body: error.data };
  const options = { backend, provider: 'Twitter', secrets, detail };
  if (status === 429) {
    // Twitter says when its window resets rather than how long to wait.
    const reset = error.rateLimit?.reset ?? Number(error.headers['x-rate-limit-reset']);
    const retryAfterMs = Number.isFinite(reset) && reset > 0 ? Math.max(0, reset * 1000 - now) : undefined;
    return httpFailure(answer, { ...options, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  }
  if (/duplicate content/i.test(detail)) {
    return httpFailure(answer, { ...options, detail: `duplicate content: Twitter refuses a post identical to a recent one (${detail})`, scope: 'content', rejectReason: 'other' });
  }
  if (status === 401) return httpFailure(answer, { ...options, detail: `authentication failed: ${detail}` });
  const blocked = status === 403 && /direct message|not permitted|not allowed/i.test(detail);
  const scope: FailureScope | undefined = blocked || status === 404 ? 'recipient' : status === 400 || status === 413 || status === 422 ? 'content' : undefined;
  const rejectReason: RejectReason | undefined = blocked ? 'blocked' : undefined;
  return httpFailure(answer, { ...options, ...(scope ? { scope } : {}), ...(rejectReason ? { rejectReason } : {}) });
}
