import { HeraldError, type JsonObject, PermanentError, type RecipientStatus, type RejectReason, redact, TransientError } from '@herald/core';

/** The fields nodemailer puts on its errors. */
interface SmtpFailure {
  message: string;
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  rejected?: string[];
}

function asFailure(error: unknown): SmtpFailure {
  const e = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    message: str(e.message) ?? String(error),
    code: str(e.code),
    responseCode: typeof e.responseCode === 'number' ? e.responseCode : undefined,
    response: str(e.response),
    // Only the verb: nodemailer's command may carry an AUTH payload.
    command: str(e.command)?.match(/^[A-Z]+(?: [A-Z]+)?/)?.[0],
    rejected: Array.isArray(e.rejected) ? e.rejected.filter((r): r is string => typeof r === 'string') : undefined,
  };
}

/** anymail's reject reason for an SMTP refusal, from the enhanced status code (RFC 3463) when present. */
export function rejectReasonOf(code: number, response: string, command: string | undefined): RejectReason {
  const enhanced = /\b[245]\.(\d{1,3})\.(\d{1,3})\b/.exec(response);
  if (enhanced?.[1] === '7') return /spam|junk/i.test(response) ? 'spam' : 'blocked';
  if (command !== 'RCPT TO') return 'other';
  if (code === 501 || code === 553 || (enhanced?.[1] === '1' && enhanced[2] === '3')) return 'invalid';
  return 'bounced';
}

/** Per-recipient status of an SMTP answer: accepted → queued at the relay; refused → rejected, invalid or failed. */
export function recipientStatusOf(code: number | undefined, response: string, command = 'RCPT TO'): RecipientStatus {
  if (!code || code < 500) return 'failed';
  return rejectReasonOf(code, response, command) === 'invalid' ? 'invalid' : 'rejected';
}

/**
 * Map a nodemailer failure to Herald's retry semantics: SMTP 5xx → permanent, 4xx → transient, no SMTP answer
 * (connection refused, timeout, TLS, dropped socket) → transient. Secrets are redacted from everything kept.
 */
export function toHeraldError(error: unknown, backend: string, server: string, secrets: readonly (string | undefined)[]): HeraldError {
  if (error instanceof HeraldError) return error;
  const f = asFailure(error);
  const clean = (s: string) => redact(s, secrets);
  const response: JsonObject = { code: f.code ?? null, responseCode: f.responseCode ?? null, command: f.command ?? null };
  if (f.response) response.response = clean(f.response);
  if (f.rejected) response.rejected = f.rejected;
  const answer = clean(f.response ?? f.message);
  const what = f.command ? `${f.command} refused` : 'send failed';
  const statusCode = f.responseCode;

  if (statusCode && statusCode >= 500) {
    const rejectReason = rejectReasonOf(statusCode, answer, f.command);
    const suppress = f.command === 'RCPT TO' && (rejectReason === 'bounced' || rejectReason === 'invalid');
    return new PermanentError(`SMTP ${what}: ${answer}`, { backend, statusCode, response, rejectReason, suppress });
  }
  if (statusCode && statusCode >= 400) return new TransientError(`SMTP ${what}: ${answer}`, { backend, statusCode, response });
  // nodemailer refused the message before talking to the server (no recipients, malformed address or sender).
  if (f.command === 'API' || (f.code === 'EENVELOPE' && !statusCode)) {
    return new PermanentError(`message refused by nodemailer: ${clean(f.message)}`, { backend, response, rejectReason: 'invalid' });
  }
  return new TransientError(`could not deliver to SMTP server ${server}${f.code ? ` (${f.code})` : ''}: ${clean(f.message)}`, {
    backend,
    response,
  });
}
