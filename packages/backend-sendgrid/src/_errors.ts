import { type FailureScope, type HeraldError, httpFailure, headerOf, type JsonValue, PermanentError, type Redactor, requestFailure } from '@herald/core';

/** One entry of SendGrid's error body `{ errors: [{ message, field, help }] }`. */
export interface SendgridErrorEntry {
  message: string;
  field: string | null;
  help: string | null;
}

/** What the SDK's `ResponseError` carries: the HTTP status as `code`, the answer's headers and parsed body. */
interface SdkResponseError {
  code: number;
  message?: string;
  response: { headers?: Record<string, string | string[] | undefined>; body?: unknown };
}

const isResponseError = (e: unknown): e is SdkResponseError =>
  typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'number' && typeof (e as { response?: unknown }).response === 'object';

/** The `errors` array of a SendGrid error body (empty when the body has none). */
export function errorsOf(body: unknown): SendgridErrorEntry[] {
  const list = (body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(list)) return [];
  return list
    .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
    .map((e) => ({
      message: typeof e.message === 'string' ? e.message : String(e.message ?? ''),
      field: typeof e.field === 'string' && e.field ? e.field : null,
      help: typeof e.help === 'string' && e.help ? e.help : null,
    }));
}

/** Fields naming an address of the message's recipients: every provider would refuse them. */
const RECIPIENT_FIELD = /^personalizations(?:\.\d+|\[\d+\])?\.(?:to|cc|bcc)\b/;
/** Fields about the account's own set-up (sender identity, templates, groups, IP pools): another provider may succeed. */
const PROVIDER_FIELD = /^(?:from|template_id|asm|ip_pool_name|batch_id|mail_settings\.sandbox_mode)\b/;

/** What a 400's field errors are about: the account beats the message, the message beats one recipient. */
function scopeOfFields(errors: readonly SendgridErrorEntry[]): FailureScope {
  const scopes = errors.map((e): FailureScope => (e.field && RECIPIENT_FIELD.test(e.field) ? 'recipient' : e.field && PROVIDER_FIELD.test(e.field) ? 'provider' : 'content'));
  if (scopes.includes('provider')) return 'provider';
  return scopes.length > 0 && scopes.every((s) => s === 'recipient') ? 'recipient' : 'content';
}

const describe = (errors: readonly SendgridErrorEntry[]) => errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ');

/** Milliseconds until SendGrid's rate-limit window resets (`X-RateLimit-Reset`, Unix seconds). */
function resetIn(value: string | undefined, now: number): number | undefined {
  if (!value || !/^\d+$/.test(value.trim())) return undefined;
  return Math.max(0, Number(value) * 1000 - now);
}

/**
 * Map what `@sendgrid/mail` threw to Herald's retry semantics and failure scope, through core's `httpFailure`
 * (the table under "Failures and failover" in docs/backends/sendgrid.md). Nothing of the SDK's error is passed on
 * as `cause`: an axios error holds the request config, Authorization header included.
 */
export function mapSendgridError(error: unknown, context: { backend: string; secrets: Redactor; now?: number }): HeraldError {
  const { backend, secrets } = context;
  if (!isResponseError(error)) {
    const e = error as { isAxiosError?: unknown; code?: unknown; message?: unknown } | null;
    // No answer: refused, reset, timed out (axios), DNS …
    if (e?.isAxiosError === true || typeof e?.code === 'string') return requestFailure(error, { backend, provider: 'the SendGrid API', secrets });
    // The SDK's own checks (`Integer expected for sendAt` …) ran before any request: the message is malformed.
    const text = e && typeof e.message === 'string' ? e.message : String(error);
    return new PermanentError(secrets.redact(`the SendGrid SDK refused the message: ${text}`), { backend, scope: 'content' });
  }
  const status = error.code;
  const headers = error.response.headers ?? {};
  const body = (error.response.body ?? null) as JsonValue;
  const errors = errorsOf(body);
  const answer = { status, headers, body };
  const options = {
    backend,
    provider: 'SendGrid API',
    secrets,
    response: { status, body } as JsonValue,
    ...(errors.length ? { detail: describe(errors) } : {}),
  };
  if (status === 401) return httpFailure(answer, { ...options, scope: 'provider', detail: `refused the API key: ${describe(errors) || 'unauthorized'}` });
  // 403: the key lacks the Mail Send permission, the account is suspended, or `from` is no verified sender identity.
  if (status === 403) return httpFailure(answer, { ...options, scope: 'provider' });
  if (status === 429) {
    const wait = resetIn(headerOf(headers, 'x-ratelimit-reset'), context.now ?? Date.now());
    return httpFailure(answer, { ...options, ...(wait === undefined ? {} : { retryAfterMs: wait }) });
  }
  if (status === 413) return httpFailure(answer, { ...options, scope: 'content', detail: `message too large: ${describe(errors) || 'payload over SendGrid\u2019s 30 MB limit'}` });
  if (status === 400) {
    const scope = scopeOfFields(errors);
    return httpFailure(answer, { ...options, scope, ...(scope === 'recipient' ? { rejectReason: 'invalid' as const } : {}) });
  }
  // A wrong baseUrl answers 404/405: the set-up, not the message.
  if (status === 404 || status === 405) return httpFailure(answer, { ...options, scope: 'provider' });
  if (status >= 400 && status < 500 && status !== 408 && status !== 425) return httpFailure(answer, { ...options, scope: 'content' });
  return httpFailure(answer, options);
}

