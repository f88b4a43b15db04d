import { type FailureScope, httpFailure, type JsonValue, type PermanentError, type Redactor, requestFailure, type TransientError } from '@herald/core';
import { isAxiosError } from 'axios';

export const PROVIDER = 'GOV.UK Notify';

/** Notify's v2 error body: `{ errors: [{ error, message }], status_code }`. */
function errorsOf(body: unknown): { error: string; message: string }[] {
  const list = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { errors?: unknown }).errors : undefined;
  if (!Array.isArray(list)) return [];
  return list
    .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
    .map((e) => ({ error: String(e.error ?? 'Error'), message: String(e.message ?? '') }));
}

/**
 * What a 400 is about: the recipient (an invalid address or number, one the key or trial mode may not send to),
 * the service's set-up (a permission it lacks), or else the message (template, personalisation, reply-to or sender
 * id, file).
 */
function scopeOf400(errors: readonly { error: string; message: string }[]): FailureScope {
  for (const { error, message } of errors) {
    if (/^(email_address|phone_number)\b/.test(message) || /^Invalid(Email|Phone)Error$/.test(error)) return 'recipient';
    if (/to this recipient|international mobile numbers|Recipient can.t be empty/i.test(message)) return 'recipient';
    if (/^Service is not allowed to send|Send files by email has not been set up/.test(message)) return 'provider';
  }
  return 'content';
}

/** Axios's response headers as a plain record (what core's `headerOf` reads). */
function headersOf(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const source = headers && typeof (headers as { toJSON?: unknown }).toJSON === 'function' ? (headers as { toJSON(): object }).toJSON() : headers;
  if (source && typeof source === 'object') {
    for (const [k, v] of Object.entries(source)) if (v !== undefined && v !== null) out[k.toLowerCase()] = Array.isArray(v) ? String(v[0]) : String(v);
  }
  return out;
}

/**
 * A failed Notify call (notifications-node-client rejects with axios's error) as Herald's error: no answer →
 * transient; Notify's answer through core's `httpFailure` (429 and 5xx transient, 401/403 permanent and about the
 * configuration, 400 permanent and about the recipient or the message), its `errors` as the message.
 */
export function notifyFailure(error: unknown, context: { backend: string; secrets: Redactor }): TransientError | PermanentError {
  const { backend, secrets } = context;
  if (!isAxiosError(error) || !error.response) return requestFailure(error, { backend, provider: PROVIDER, secrets });
  const { status, data } = error.response;
  const errors = errorsOf(data);
  let detail = errors.map((e) => `${e.error}: ${e.message}`).join('; ') || (typeof data === 'string' ? data.trim() : '');
  let scope: FailureScope | undefined;
  let rejectReason: 'invalid' | undefined;
  if (status === 401 || status === 403) {
    scope = 'provider';
    detail = `${detail || 'authentication failed'} — a configuration problem: check apiKey (the whole key from Notify, not revoked) and that the clock is within 30 s`;
  } else if (status === 400) {
    scope = scopeOf400(errors);
    if (scope === 'recipient') rejectReason = 'invalid';
  }
  return httpFailure(
    { status, headers: headersOf(error.response.headers), body: data },
    {
      backend,
      provider: PROVIDER,
      secrets,
      detail,
      ...(scope ? { scope } : {}),
      ...(rejectReason ? { rejectReason } : {}),
      response: { status, body: (data ?? null) as JsonValue },
    },
  );
}
