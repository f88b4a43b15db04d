import { type HeraldError, httpFailure, type Redactor, requestFailure, TransientError } from '@herald/core';

/** Postmark API error codes (the `ErrorCode` of a JSON error body) Herald treats specially. */
export const POSTMARK_CODES = { badToken: 10, maintenance: 100, invalidRequest: 300, inactiveRecipient: 406 } as const;

/** Addresses named in Postmark's inactive-recipient messages (406 errors, and "Message OK, but …" partial sends). */
export function inactiveAddresses(message: string): string[] {
  const m = /inactive addresses:\s*(.+?)(?:\.\s+Inactive|\.?\s*$)/is.exec(message);
  if (!m) return [];
  return m[1]!
    .split(/[,;]/)
    .map((a) => a.trim().toLowerCase())
    .filter((a) => a.includes('@'));
}

/** What the SDK's errors carry: the HTTP status (0 when no answer) and Postmark's ErrorCode. */
interface SdkError {
  message: string;
  code?: number;
  statusCode?: number;
}

/** ErrorCodes about the account, its senders or its templates: another provider may succeed. */
const PROVIDER_CODES = new Set([POSTMARK_CODES.badToken, 400, 401, 405, 412, 413, 1101]);
/** An invalid request (300) that names an address field is about the recipient, not the message. */
const ADDRESS_FIELD = /'(?:To|Cc|Bcc)'/;

/**
 * Map a postmark SDK error to Herald's retry semantics and failure scope through core's `httpFailure` (see the
 * "Failures and failover" table in docs/backends/postmark.md). The SDK keeps neither the answer's headers nor the
 * request, so `retryAfter` is the header the capturing fetch saw.
 */
export function mapPostmarkError(
  error: unknown,
  context: { backend: string; secrets: Redactor; retryAfter?: string | null; signal?: AbortSignal },
): HeraldError {
  const { backend, secrets } = context;
  const e = (error ?? {}) as SdkError;
  const status = e.statusCode ?? 0;
  const code = e.code ?? 0;
  const text = String(e.message ?? error);
  if (context.signal?.aborted) return new TransientError(secrets.redact(`request aborted: ${text}`), { backend, scope: 'provider' });
  // The SDK error is not passed on: its message may quote the request back unredacted.
  if (status === 0 && code === 0) return requestFailure(text, { backend, provider: 'the Postmark API', secrets });
  const body = { ErrorCode: code, Message: text };
  const answer = { status, headers: context.retryAfter ? { 'retry-after': context.retryAfter } : undefined, body };
  const options = { backend, provider: 'Postmark API', secrets, response: body, detail: `ErrorCode ${code}: ${text}` };
  if (code === POSTMARK_CODES.maintenance) return httpFailure(answer, { ...options, transient: true, scope: 'provider' });
  if (status === 401 || code === POSTMARK_CODES.badToken) {
    return httpFailure(answer, { ...options, scope: 'provider', detail: `refused the server token (ErrorCode ${code}): ${text}` });
  }
  if (code === POSTMARK_CODES.inactiveRecipient) {
    const detail = `recipient is inactive (hard bounce, spam complaint or manual suppression): ${text}`;
    return httpFailure(answer, { ...options, detail, scope: 'recipient', rejectReason: 'bounced', suppress: true });
  }
  if (code === POSTMARK_CODES.invalidRequest) {
    return httpFailure(answer, { ...options, scope: ADDRESS_FIELD.test(text) ? 'recipient' : 'content', rejectReason: 'invalid' });
  }
  if (PROVIDER_CODES.has(code)) return httpFailure(answer, { ...options, scope: 'provider' });
  // Other 4xx codes (invalid JSON, forbidden attachment type …) are about the message.
  return httpFailure(answer, status >= 400 && status < 500 && status !== 429 ? { ...options, scope: 'content' } : options);
}
