import { getSystemErrorName } from 'node:util';
import {
  type FailureScope,
  HeraldError,
  type JsonObject,
  PermanentError,
  type RecipientStatus,
  type RejectReason,
  redact,
  type Secrets,
  TransientError,
} from '@herald/core';

/** The fields nodemailer puts on its errors. */
interface SmtpFailure {
  message: string;
  code?: string;
  /** The operating system's code under nodemailer's (`ECONNREFUSED` under `ESOCKET`). */
  systemCode?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  rejected?: string[];
}

function asFailure(error: unknown): SmtpFailure {
  const e = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  let systemCode: string | undefined;
  if (typeof e.errno === 'number' && e.errno < 0) {
    try {
      systemCode = getSystemErrorName(e.errno);
    } catch {
      systemCode = undefined;
    }
  }
  return {
    message: str(e.message) ?? String(error),
    code: str(e.code),
    systemCode,
    responseCode: typeof e.responseCode === 'number' ? e.responseCode : undefined,
    response: str(e.response),
    // Only the verb: nodemailer's command may carry an AUTH payload.
    command: str(e.command)?.match(/^[A-Z]+(?: [A-Z]+)?/)?.[0],
    rejected: Array.isArray(e.rejected) ? e.rejected.filter((r): r is string => typeof r === 'string') : undefined,
  };
}

/** The enhanced status code (RFC 3463) of an answer: `5.1.1` → class 5, subject 1, detail 1. */
function enhancedCode(response: string): { subject: number; detail: number } | undefined {
  const m = /\b[245]\.(\d{1,3})\.(\d{1,3})\b/.exec(response);
  return m ? { subject: Number(m[1]), detail: Number(m[2]) } : undefined;
}

const MAILBOX_FULL = /mailbox (?:is )?full|over quota|quota exceeded|exceeded (?:the )?storage/i;
const RELAY = /relay/i;
// The sending host or domain is refused (block lists, reverse DNS, SPF/DMARC): another provider sends from elsewhere.
const SENDER_BLOCKED = /blocked using|block ?list|black ?list|\bdnsbl\b|\brbl\b|spamhaus|client host|sender ip|your ip|reputation|reverse dns|\bspf\b|dmarc/i;
const CONTENT = /spam|junk|virus|malware|phish|content|attachment/i;
const AUTH = /auth/i;

/**
 * What an SMTP answer is about, for failover (the table on docs/backends/smtp.md, "Failures and failover"), and
 * whether it may pass: 4xx are transient and 5xx permanent, except a full mailbox (x.2.2), which is transient at
 * either class. Enhanced status codes decide first, then the answer's wording, then the SMTP stage it came at.
 */
export function classifyAnswer(code: number, response: string, command: string | undefined): { scope: FailureScope; transient: boolean } {
  const scope = scopeOf(code, response, command);
  const enhanced = enhancedCode(response);
  const full = enhanced ? enhanced.subject === 2 && enhanced.detail === 2 : MAILBOX_FULL.test(response);
  return { scope, transient: code < 500 || full };
}

function scopeOf(code: number, response: string, command = ''): FailureScope {
  const e = enhancedCode(response);
  if (e?.subject === 1) return e.detail === 7 || e.detail === 8 ? 'provider' : 'recipient'; // x.1.7/x.1.8: the sender's address
  if (e?.subject === 2) return e.detail === 3 ? 'content' : 'recipient'; // x.2.3: message over the mailbox's size limit
  if (e?.subject === 3) return e.detail === 4 ? 'content' : 'provider'; // x.3.4: message too big for the system
  if (e?.subject === 4) return e.detail === 4 ? 'recipient' : 'provider'; // x.4.4: no route to the recipient's domain
  if (e?.subject === 5) return 'provider'; // the dialogue itself (syntax, too many recipients)
  if (e?.subject === 6) return 'content'; // media: encoding, conversion
  if (!e && MAILBOX_FULL.test(response)) return 'recipient';
  if (!e && (code === 421 || code === 451 || code === 452)) return 'provider'; // closing, local error, system storage
  if (command.startsWith('AUTH') || [530, 534, 535, 538].includes(code)) return 'provider';
  if (RELAY.test(response) || SENDER_BLOCKED.test(response)) return 'provider';
  if (CONTENT.test(response)) return 'content';
  // x.7.x other than 7.1 is security of the session (authentication, encryption, sender authentication).
  if (e?.subject === 7 && (e.detail !== 1 || AUTH.test(response))) return 'provider';
  if (code === 552 && command === 'DATA') return 'content'; // "exceeded storage allocation" for the message
  if (command === 'RCPT TO') return 'recipient';
  if (command === 'DATA') return 'content';
  return 'provider'; // greeting, EHLO, STARTTLS, AUTH, MAIL FROM, and no stage at all
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
 * Map a nodemailer failure to Herald's retry semantics and failover scope (see {@link classifyAnswer}); no SMTP
 * answer at all (connection refused, timeout, TLS, dropped socket) is transient and about the provider. Secrets are
 * redacted from everything kept.
 */
export function toHeraldError(error: unknown, backend: string, server: string, secrets: Secrets): HeraldError {
  if (error instanceof HeraldError) return error;
  const f = asFailure(error);
  const clean = (s: string) => redact(s, secrets);
  const response: JsonObject = { code: f.systemCode ?? f.code ?? null, responseCode: f.responseCode ?? null, command: f.command ?? null };
  if (f.response) response.response = clean(f.response);
  if (f.rejected) response.rejected = f.rejected;
  const answer = clean(f.response ?? f.message);
  const what = f.command ? `${f.command} refused` : 'send failed';
  const statusCode = f.responseCode;

  if (statusCode && statusCode >= 400) {
    const { scope, transient } = classifyAnswer(statusCode, answer, f.command);
    const message = `SMTP ${what}: ${answer}`;
    if (transient) return new TransientError(message, { backend, statusCode, response, scope });
    const rejectReason = rejectReasonOf(statusCode, answer, f.command);
    const suppress = scope === 'recipient' && f.command === 'RCPT TO' && (rejectReason === 'bounced' || rejectReason === 'invalid');
    return new PermanentError(message, { backend, statusCode, response, rejectReason, suppress, scope });
  }
  // nodemailer refused before the server answered: credentials it cannot use, or a message it cannot send.
  if (f.code === 'EAUTH') return new PermanentError(`SMTP AUTH failed: ${clean(f.message)}`, { backend, response, scope: 'provider' });
  if (f.command === 'API' || f.code === 'EENVELOPE' || f.code === 'EMESSAGE') {
    const scope = /recipient/i.test(f.message) ? 'recipient' : 'content';
    return new PermanentError(`message refused by nodemailer: ${clean(f.message)}`, { backend, response, rejectReason: 'invalid', scope });
  }
  const code = f.systemCode ?? f.code;
  return new TransientError(`could not deliver to SMTP server ${server}${code ? ` (${code})` : ''}: ${clean(f.message)}`, {
    backend,
    response,
    scope: 'provider',
  });
}
