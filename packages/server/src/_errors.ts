import {
  ConfigError,
  type HeraldError,
  type Logger,
  NotFoundError,
  RequiredNotificationError,
  StoreError,
  TemplateError,
  UnsupportedFeatureError,
  ValidationError,
} from '@herald/core';
import type { z } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';

/** Machine-readable error codes of the HTTP API (`error.code`). */
export type ApiErrorCode =
  | 'invalid_json'
  | 'unsupported_media_type'
  | 'validation_error'
  | 'unknown_notification'
  | 'required_not_sent'
  | 'template_error'
  | 'unsupported_feature'
  | 'not_found'
  | 'conflict'
  | 'unauthorized'
  | 'forbidden'
  | 'payload_too_large'
  | 'rate_limited'
  | 'rpc_unavailable'
  | 'store_unavailable'
  | 'internal';

export interface ApiIssue {
  field: string;
  message: string;
}

/** An error answer: its status, code, the field it is about and every issue found. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly field: string | null;
  readonly issues: readonly ApiIssue[];
  readonly headers: Record<string, string>;
  constructor(status: number, code: ApiErrorCode, message: string, options: { field?: string | null; issues?: readonly ApiIssue[]; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.issues = options.issues ?? [];
    // An issue about the body as a whole has the empty path: no field.
    this.field = options.field ?? (this.issues[0]?.field || null);
    this.headers = options.headers ?? {};
  }

  body() {
    return { error: { code: this.code, message: this.message, field: this.field, ...(this.issues.length ? { issues: [...this.issues] } : {}) } };
  }

  response(): Response {
    return new Response(JSON.stringify(this.body()), {
      status: this.status,
      headers: { 'content-type': 'application/json; charset=utf-8', ...this.headers },
    });
  }
}

/** `a.b[0].c` from zod's path segments (core's field style). */
export function joinPath(segments: readonly PropertyKey[]): string {
  return segments
    .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
    .join('.')
    .replace(/\.\[/g, '[');
}

/** A zod failure as issues naming fields: unknown keys name themselves, not their parent object. */
export function zodIssues(error: z.ZodError, prefix = ''): ApiIssue[] {
  const out: ApiIssue[] = [];
  const at = (path: readonly PropertyKey[]) => {
    const field = joinPath(path);
    return prefix ? (field ? (field.startsWith('[') ? prefix + field : `${prefix}.${field}`) : prefix) : field;
  };
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ field: at([...issue.path, key]), message: `unknown field \`${key}\`` });
      continue;
    }
    out.push({ field: at(issue.path), message: issue.message });
  }
  return out;
}

/** The first line of a Herald message, without its `[herald]` prefix (issues are listed separately). */
function headline(error: HeraldError): string {
  return error.message.split('\n')[0]!.replace(/^\[herald\] /, '');
}

/**
 * What an error thrown by a handler answers. Herald's typed errors map to 4xx naming the field; anything else is a
 * 500 whose detail goes to the log only (a driver's message may quote connection details).
 */
export function toApiError(error: unknown, logger: Logger): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof HTTPException) {
    // Thrown by hono's own middleware (the media-type gate of @hono/zod-openapi, the JSON validator).
    if (error.status === 415) return new ApiError(415, 'unsupported_media_type', 'send the body as JSON with Content-Type: application/json');
    if (error.status === 413) return new ApiError(413, 'payload_too_large', error.message);
    if (error.status === 400) return new ApiError(400, 'invalid_json', `the body is not valid JSON: ${error.message}`);
    return new ApiError(error.status, error.status === 404 ? 'not_found' : 'validation_error', error.message);
  }
  if (error instanceof ValidationError) {
    const issues = error.issues.map((i) => ({ field: i.path, message: i.message }));
    return new ApiError(422, 'validation_error', headline(error), { issues });
  }
  if (error instanceof RequiredNotificationError) return new ApiError(422, 'required_not_sent', headline(error));
  if (error instanceof TemplateError) return new ApiError(422, 'template_error', headline(error), { field: 'data' });
  if (error instanceof UnsupportedFeatureError) return new ApiError(422, 'unsupported_feature', headline(error), { field: 'options.options' });
  if (error instanceof ConfigError) return new ApiError(422, 'validation_error', headline(error), { field: error.field ?? null });
  if (error instanceof NotFoundError) return new ApiError(404, 'not_found', headline(error));
  if (error instanceof StoreError) {
    logger.error('store failed', { error: error.message });
    return new ApiError(503, 'store_unavailable', 'the store failed; nothing was changed. Try again later');
  }
  logger.error('request failed', { error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  return new ApiError(500, 'internal', 'internal error; the server log has the details');
}
