import { IncomingWebhookHTTPError, IncomingWebhookRequestError } from '@slack/webhook';
import { PermanentError, TransientError, type HeraldError } from '@herald/core';

/** Answers meaning the webhook or its channel is gone for good: suppress the address. */
const GONE = new Set(['channel_not_found', 'channel_is_archived', 'no_service', 'no_active_hooks', 'invalid_token', 'team_disabled', 'user_not_found']);

/** Parse `Retry-After` (delta-seconds or an HTTP date) into milliseconds. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Map what `IncomingWebhook.send` threw to a Herald error. Slack answers in plain text (`invalid_payload` …). */
export function mapSlackError(error: unknown, backend: string, retryAfter: string | null): HeraldError {
  if (error instanceof IncomingWebhookHTTPError) {
    const status = error.statusCode;
    const answer = error.body.trim().slice(0, 500);
    const response = { status, body: answer };
    const message = `Slack answered ${status}: ${answer || error.statusMessage}`;
    if (status === 429 || status >= 500) {
      return new TransientError(message, { backend, response, statusCode: status, retryAfterMs: retryAfterMs(retryAfter) });
    }
    const gone = GONE.has(answer) || status === 404 || status === 410;
    return new PermanentError(message, { backend, response, statusCode: status, ...(gone ? { suppress: true, rejectReason: 'invalid' } : {}) });
  }
  const cause = error instanceof IncomingWebhookRequestError ? error.original : error;
  const detail = cause instanceof Error ? `${cause.message}${cause.cause instanceof Error ? ` (${cause.cause.message})` : ''}` : String(cause);
  return new TransientError(`request to Slack failed: ${detail}`, { backend, response: { error: detail } });
}
