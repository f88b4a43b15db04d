import { PermanentError, redact, TransientError, type HeraldError } from '@herald/core';

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

/**
 * Map a postmark SDK error to Herald's retry semantics. Postmark's messages never contain the token, but they pass
 * through `redact` anyway.
 */
export function mapPostmarkError(
  error: unknown,
  context: { backend: string; secrets: readonly string[]; retryAfterMs?: number; signal?: AbortSignal },
): HeraldError {
  const e = (error ?? {}) as SdkError;
  const status = e.statusCode ?? 0;
  const code = e.code ?? 0;
  const text = redact(String(e.message ?? error), context.secrets);
  // The SDK error is not kept as `cause`: its message may quote the request back unredacted.
  const base = { backend: context.backend, statusCode: status || undefined, response: { ErrorCode: code, Message: text } };
  if (context.signal?.aborted) return new TransientError(`request aborted: ${text}`, base);
  if (status === 0 && code === 0) return new TransientError(`could not reach the Postmark API: ${text}`, base);
  if (status === 401 || code === POSTMARK_CODES.badToken) {
    return new PermanentError(`Postmark refused the server token (HTTP ${status}, ErrorCode ${code}): ${text}`, base);
  }
  if (status === 429 || status >= 500 || code === POSTMARK_CODES.maintenance) {
    const retryAfterMs = context.retryAfterMs;
    return new TransientError(`Postmark API answered HTTP ${status} (ErrorCode ${code}): ${text}`, { ...base, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  }
  if (code === POSTMARK_CODES.inactiveRecipient) {
    return new PermanentError(`recipient is inactive at Postmark (hard bounce, spam complaint or manual suppression): ${text}`, {
      ...base,
      rejectReason: 'bounced',
      suppress: true,
    });
  }
  if (code === POSTMARK_CODES.invalidRequest) {
    return new PermanentError(`Postmark rejected the message as invalid (ErrorCode 300): ${text}`, { ...base, rejectReason: 'invalid' });
  }
  return new PermanentError(`Postmark API answered HTTP ${status} (ErrorCode ${code}): ${text}`, base);
}

/** `Retry-After` as milliseconds (seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
