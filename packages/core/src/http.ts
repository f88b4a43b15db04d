/**
 * HTTP plumbing shared by the backends that talk to a provider over HTTP (anymail's `base_requests.py`): a
 * provider's answer → `TransientError | PermanentError` with its failure scope, `Retry-After`, reading an answer
 * as JSON or text within a size limit, and redaction of everything kept. A backend only adds what its provider
 * means by its own error codes.
 */
import { type FailureScope, PermanentError, type RejectReason, TransientError } from './errors';
import { redactorOf, type Secrets } from './secrets';
import type { JsonValue } from './types';

/** Response headers as `fetch` (`Headers`, or anything with its `get`), `node:http` and undici give them. */
export type HeadersLike = { get(name: string): string | null } | { readonly [name: string]: string | readonly string[] | number | undefined };

/** One header's value (the first, when repeated); names are case-insensitive. */
export function headerOf(headers: HeadersLike | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof headers.get === 'function') return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  const record = headers as { readonly [name: string]: string | readonly string[] | number | undefined };
  const lower = name.toLowerCase();
  const value = record[lower] ?? record[Object.keys(record).find((k) => k.toLowerCase() === lower) ?? ''];
  if (value === undefined) return undefined;
  return typeof value === 'object' ? value[0] : String(value);
}

/** The longest wait a provider's `Retry-After` imposes by default; `retry.maxAge` still bounds the delivery. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * `Retry-After` (delta-seconds or an HTTP date) as milliseconds from now, at most `maxMs`; undefined when absent
 * or unreadable. A date in the past is 0.
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from '@herald/core';
 * parseRetryAfter('7'); // 7000
 * parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', { now: Date.parse('Wed, 21 Oct 2015 07:27:00 GMT') }); // 60000
 * ```
 */
export function parseRetryAfter(
  value: string | readonly string[] | null | undefined,
  options: { now?: number; maxMs?: number } = {},
): number | undefined {
  const text = (typeof value === 'string' ? value : value?.[0])?.trim();
  if (!text) return undefined;
  let ms: number;
  if (/^\d+(?:\.\d+)?$/.test(text)) ms = Number(text) * 1000;
  // Date.parse reads "-5" or "12 monkeys" as dates; an HTTP date starts with the day's name.
  else if (!/^[A-Za-z]/.test(text)) return undefined;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = at - (options.now ?? Date.now());
  }
  return Math.min(Math.max(0, Math.round(ms)), options.maxMs ?? MAX_RETRY_AFTER_MS);
}

/** How much of an answer {@link readAnswer} reads by default; the rest is dropped with the connection. */
export const ANSWER_LIMIT_BYTES = 16_384;

/** What {@link readAnswer} reads: a `fetch` `Response`, or undici's `Dispatcher.ResponseData`. */
export interface AnswerSource {
  headers: HeadersLike;
  body: AsyncIterable<Uint8Array> | null;
}

/**
 * Read at most `limit` bytes of an answer as JSON when it is JSON (by content type, or an object or array by
 * shape), else as text. A truncated JSON answer is kept as text. Never throws: an unreadable body is `''`.
 *
 * @example
 * ```ts
 * import { readAnswer } from '@herald/core';
 * const res = await fetch('https://api.example.org/send', { method: 'POST' });
 * const body = await readAnswer(res); // { error: 'bad token' } or 'Service Unavailable'
 * ```
 */
export async function readAnswer(source: AnswerSource, limit = ANSWER_LIMIT_BYTES): Promise<JsonValue> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    if (source.body) {
      for await (const chunk of source.body) {
        chunks.push(chunk);
        size += chunk.length;
        // Leaving the loop cancels the stream: a huge or endless answer costs `limit` bytes.
        if (size >= limit) break;
      }
    }
  } catch {
    // a dropped connection mid-body: keep what arrived
  }
  const text = Buffer.concat(chunks).subarray(0, limit).toString('utf8');
  const type = headerOf(source.headers, 'content-type') ?? '';
  const trimmed = text.trimStart();
  if (text && (type.includes('json') || trimmed.startsWith('{') || trimmed.startsWith('['))) {
    try {
      return JSON.parse(text) as JsonValue;
    } catch {
      // not JSON after all (or cut at the limit): keep the text
    }
  }
  return text;
}

/** What a provider answered. */
export interface HttpAnswer {
  status: number;
  /** The reason phrase, when the message should show it. */
  statusText?: string;
  headers?: HeadersLike;
  /** The answer's body: parsed JSON or text (see {@link readAnswer}). */
  body?: unknown;
}

/**
 * The status-based rule every HTTP backend starts from: 408, 425, 429 and 5xx are transient and about the
 * provider; 401 and 403 are permanent and about the provider (credentials, account, permissions); any other
 * status is permanent and unclassified (the backend knows better, e.g. from the provider's error code).
 */
export function classifyStatus(status: number): { transient: boolean; scope: FailureScope | undefined } {
  if (status === 408 || status === 425 || status === 429 || status >= 500) return { transient: true, scope: 'provider' };
  if (status === 401 || status === 403) return { transient: false, scope: 'provider' };
  return { transient: false, scope: undefined };
}

export interface HttpFailureOptions {
  /** The backend raising the error (its instance name). */
  backend: string;
  /** Who answered, as the message names it: `Postal API`, `Slack`, `hooks.example.org`. */
  provider: string;
  /** The backend's secrets: redacted from the message and from the kept response. */
  secrets?: Secrets;
  /** The provider's explanation for the message. @default the body's `message`/`error`/`detail`, or its text */
  detail?: string;
  /** Provider-specific classification over {@link classifyStatus}: retry or not. */
  transient?: boolean;
  /** What the failure is about, over {@link classifyStatus}. */
  scope?: FailureScope;
  rejectReason?: RejectReason;
  /** Add the address to the suppression list (permanent errors only). */
  suppress?: boolean;
  /** The wait before a retry when the provider says it otherwise than `Retry-After` (e.g. a rate-limit reset). */
  retryAfterMs?: number;
  /** Longest wait honoured. @default MAX_RETRY_AFTER_MS */
  maxRetryAfterMs?: number;
  /** What the attempt log keeps. @default { status, body } */
  response?: JsonValue;
}

/** The first explanatory text field of a JSON error body, or the body when it is text. */
function detailOf(body: unknown): string {
  if (typeof body === 'string') return body.trim();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return '';
  const record = body as Record<string, unknown>;
  for (const key of ['message', 'Message', 'error_description', 'error', 'detail', 'title']) {
    const value = record[key];
    if (typeof value === 'string' && value) return value;
    if (typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string') return (value as { message: string }).message;
  }
  return '';
}

/**
 * Turn a provider's non-success answer into Herald's error: transient or permanent, with its failure scope, the
 * wait from `Retry-After` (capped), and a message and kept response from which every secret is redacted.
 *
 * @example
 * ```ts
 * import { httpFailure } from '@herald/core';
 * const res = new Response('{"message":"slow down"}', { status: 429, headers: { 'retry-after': '3', 'content-type': 'application/json' } });
 * const error = httpFailure({ status: res.status, headers: res.headers, body: await res.json() }, { backend: 'acme', provider: 'Acme API' });
 * // TransientError "[herald] [acme] Acme API answered 429: slow down", retryAfterMs 3000, scope 'provider'
 * ```
 */
export function httpFailure(answer: HttpAnswer, options: HttpFailureOptions): TransientError | PermanentError {
  const secrets = redactorOf(options.secrets);
  const base = classifyStatus(answer.status);
  const transient = options.transient ?? base.transient;
  const scope = options.scope ?? base.scope;
  // Redacted before it is cut: a secret straddling the cut would otherwise keep its first half.
  const detail = secrets.redact(options.detail ?? detailOf(answer.body)).slice(0, 300);
  const phrase = answer.statusText ? ` ${answer.statusText}` : '';
  const message = secrets.redact(`${options.provider} answered ${answer.status}${phrase}${detail ? `: ${detail}` : ''}`);
  const response = secrets.redactJson(options.response ?? ({ status: answer.status, body: (answer.body ?? null) as JsonValue } as JsonValue));
  const common = { backend: options.backend, statusCode: answer.status, response, ...(scope ? { scope } : {}) };
  if (transient) {
    const maxMs = options.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS;
    const given = options.retryAfterMs === undefined ? undefined : Math.min(Math.max(0, options.retryAfterMs), maxMs);
    const retryAfterMs = given ?? parseRetryAfter(headerOf(answer.headers, 'retry-after'), { maxMs });
    return new TransientError(message, { ...common, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  }
  return new PermanentError(message, {
    ...common,
    ...(options.rejectReason ? { rejectReason: options.rejectReason } : {}),
    ...(options.suppress ? { suppress: true } : {}),
  });
}

/**
 * A request that got no answer (refused, reset, DNS, TLS, timeout): transient and about the provider (unless
 * `scope` says otherwise: a webhook receiver that is down is the recipient's problem). The message names the error
 * code (`ECONNREFUSED` …) and the causes, secrets redacted.
 *
 * @example
 * ```ts
 * import { requestFailure } from '@herald/core';
 * const error = await fetch('http://127.0.0.1:9/').then(() => null, (e: unknown) => requestFailure(e, { backend: 'acme', provider: 'Acme API' }));
 * ```
 */
export function requestFailure(error: unknown, options: { backend: string; provider: string; secrets?: Secrets; scope?: FailureScope }): TransientError {
  const messages: string[] = [];
  let code: string | undefined;
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const text = e instanceof Error ? e.message : String(e);
    if (text && !messages.some((m) => m.includes(text))) messages.push(text);
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string' && !code) code = c;
  }
  const secrets = redactorOf(options.secrets);
  const detail = secrets.redact(messages.join(': ') || 'no answer');
  return new TransientError(`request to ${options.provider} failed${code ? ` (${code})` : ''}: ${detail}`, {
    backend: options.backend,
    scope: options.scope ?? 'provider',
    response: { error: detail, ...(code ? { code } : {}) },
  });
}
