import { type HeadersLike, type HeraldError, httpFailure, type JsonValue, type Redactor, requestFailure } from '@herald/core';

/** The fields both of twilio's exception classes (`RestException`, `TwilioServiceException`) carry. */
interface TwilioFailure {
  status?: number;
  code?: number;
  message?: string;
  detail?: string;
  moreInfo?: string;
}

/** Error codes (the `code` of Twilio's error answer) that say what a refusal is about. */
const INVALID_NUMBER = new Set([21211, 21214, 21217, 21401, 21407, 21421, 21614]);
const UNREACHABLE = 21612;
const UNSUBSCRIBED = 21610;
/** The account or sender: suspended account, region not enabled, a `from` that is not yours, unknown service. */
const PROVIDER = new Set([20005, 20404, 21212, 21408, 21606, 21659, 21660]);
/** The message itself: empty or longer than 1600 characters. */
const CONTENT = new Set([21602, 21617]);
/** The sender's queue is full: sends succeed again once it drains. */
const QUEUE_FULL = 21611;

/**
 * Turn whatever the twilio SDK threw into a Herald error through core's `httpFailure`, adding what Twilio's error
 * codes mean (see the "Failures and failover" table in docs/backends/twilio.md). `headers` are those of the failed
 * answer when the transport captured them. Never attaches the SDK error as `cause`: axios errors carry the
 * request config, basic-auth credentials included.
 */
export function mapTwilioError(error: unknown, backend: string, secrets: Redactor, headers?: HeadersLike): HeraldError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as TwilioFailure & { code?: number | string };
  const status = typeof e.status === 'number' ? e.status : undefined;
  // No HTTP answer: connection refused, reset, DNS or timeout.
  if (status === undefined) return requestFailure(error, { backend, provider: 'Twilio', secrets });
  const code = typeof e.code === 'number' ? e.code : undefined;
  const text = e.detail ?? e.message ?? String(error);
  const response: JsonValue = { status, code: code ?? null, message: text, moreInfo: e.moreInfo ?? null };
  const answer = { status, headers, body: response };
  const options = { backend, provider: 'Twilio', secrets, response, detail: code ? `error ${code}: ${text}` : text };
  if (code === 20429 || code === QUEUE_FULL) return httpFailure(answer, { ...options, transient: true, scope: 'provider' });
  if (code === UNSUBSCRIBED) return httpFailure(answer, { ...options, scope: 'recipient', rejectReason: 'unsubscribed', suppress: true });
  if (code !== undefined && INVALID_NUMBER.has(code)) return httpFailure(answer, { ...options, scope: 'recipient', rejectReason: 'invalid' });
  if (code === UNREACHABLE) return httpFailure(answer, { ...options, scope: 'recipient', rejectReason: 'other' });
  if (code !== undefined && PROVIDER.has(code)) return httpFailure(answer, { ...options, scope: 'provider' });
  if (code !== undefined && CONTENT.has(code)) return httpFailure(answer, { ...options, scope: 'content' });
  return httpFailure(answer, options);
}
