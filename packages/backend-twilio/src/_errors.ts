import { PermanentError, redact, TransientError, type HeraldError, type JsonValue } from '@herald/core';

/** The fields both of twilio's exception classes (`RestException`, `TwilioServiceException`) carry. */
interface TwilioFailure {
  status?: number;
  code?: number;
  message?: string;
  detail?: string;
  moreInfo?: string;
}

const INVALID_NUMBER = new Set([21211, 21214, 21217, 21401, 21407, 21614]);
const UNSUBSCRIBED = 21610;

/** Parse `Retry-After` (delta-seconds or an HTTP date) into milliseconds. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Turn whatever the twilio SDK threw into a Herald error. `retryAfter` is the Retry-After header of the failed
 * answer when the transport captured it. Never attaches the SDK error as `cause`: axios errors carry the
 * request config, basic-auth credentials included.
 */
export function mapTwilioError(error: unknown, backend: string, secrets: readonly string[], retryAfter?: string): HeraldError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as TwilioFailure & { code?: number | string };
  const status = typeof e.status === 'number' ? e.status : undefined;
  const code = typeof e.code === 'number' ? e.code : undefined;
  const text = redact(e.detail ?? e.message ?? String(error), secrets);
  const response: JsonValue = { status: status ?? null, code: code ?? null, message: text, moreInfo: e.moreInfo ?? null };
  if (status === undefined) {
    // No HTTP answer: connection refused, reset, DNS or timeout.
    const net = typeof e.code === 'string' ? ` (${e.code})` : '';
    return new TransientError(`request to Twilio failed${net}: ${text}`, { backend, response });
  }
  const summary = `Twilio answered ${status}${code ? ` error ${code}` : ''}: ${text}`;
  if (status === 429 || code === 20429 || status >= 500) {
    return new TransientError(summary, { backend, response, statusCode: status, retryAfterMs: retryAfterMs(retryAfter) });
  }
  if (code === UNSUBSCRIBED) {
    return new PermanentError(summary, { backend, response, statusCode: status, rejectReason: 'unsubscribed', suppress: true });
  }
  if (code !== undefined && INVALID_NUMBER.has(code)) {
    return new PermanentError(summary, { backend, response, statusCode: status, rejectReason: 'invalid' });
  }
  return new PermanentError(summary, { backend, response, statusCode: status });
}
