/**
 * Herald's error classes. Retry meaning lives in the type:
 * - {@link TransientError}: try again later (optionally after `retryAfterMs`).
 * - {@link PermanentError}: never retry this delivery.
 * - {@link UnsupportedFeatureError}: the backend cannot honour a requested feature.
 *
 * Every message is prefixed `[herald]` (and `[<backend>]` when a backend raised it) and never
 * contains credentials: backends pass their secrets through {@link redact} before raising.
 */
import { maskCredentialShapes } from './secrets';

/** Stable machine-readable error codes. */
export type HeraldErrorCode =
  | 'TRANSIENT'
  | 'PERMANENT'
  | 'UNSUPPORTED_FEATURE'
  | 'CONFIG'
  | 'VALIDATION'
  | 'TEMPLATE'
  | 'NOT_FOUND'
  | 'REQUIRED_NOT_SENT'
  | 'STORE'
  | 'WEBHOOK';

/**
 * What a send failure is about, which decides whether a delivery fails over to the next backend of its
 * protocol: `provider` (auth, account, quota, outage, relay denied — another provider may succeed),
 * `recipient` (invalid address, unknown mailbox, suppressed — every provider would refuse it), `content`
 * (the message itself was refused: spam or policy filters, size). Unclassified transient errors count as
 * `provider` once their retries are exhausted; unclassified permanent errors as `content`.
 */
export type FailureScope = 'provider' | 'recipient' | 'content';

export interface HeraldErrorOptions {
  /** The backend that raised it, when one did. */
  backend?: string;
  /** What the failure is about (see {@link FailureScope}); decides failover. */
  scope?: FailureScope;
  /** The provider's answer (parsed body or text), kept for the attempt log. */
  response?: unknown;
  /** HTTP or protocol status code of the provider's answer. */
  statusCode?: number;
  cause?: unknown;
}

/** Base class of every error Herald raises. */
export class HeraldError extends Error {
  readonly code: HeraldErrorCode;
  readonly backend: string | undefined;
  readonly response: unknown;
  readonly statusCode: number | undefined;
  /** What the failure is about, when the backend classified it. */
  readonly scope: FailureScope | undefined;

  constructor(code: HeraldErrorCode, message: string, options: HeraldErrorOptions = {}) {
    const prefix = options.backend ? `[herald] [${options.backend}] ` : '[herald] ';
    // A message quoting an address must not carry its credential (a Slack webhook URL's token, a URL password).
    super(prefix + maskCredentialShapes(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HeraldError';
    this.code = code;
    this.backend = options.backend;
    this.response = options.response;
    this.statusCode = options.statusCode;
    this.scope = options.scope;
  }
}

/** A failure that may succeed later: the worker retries with backoff. */
export class TransientError extends HeraldError {
  /** Minimum wait before the next attempt, e.g. from a `Retry-After` header. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: HeraldErrorOptions & { retryAfterMs?: number } = {}) {
    super('TRANSIENT', message, options);
    this.name = 'TransientError';
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Why a provider refused a recipient (anymail's reject reasons). */
export type RejectReason = 'invalid' | 'bounced' | 'timed_out' | 'blocked' | 'spam' | 'unsubscribed' | 'other';

/** A failure that will not get better by retrying: the delivery fails at once. */
export class PermanentError extends HeraldError {
  /** Why the recipient was refused, when the provider said. */
  readonly rejectReason: RejectReason | undefined;
  /** Add the address to the suppression list (e.g. a 410 Gone webhook, an inactive recipient). */
  readonly suppress: boolean;
  constructor(message: string, options: HeraldErrorOptions & { rejectReason?: RejectReason; suppress?: boolean } = {}) {
    super('PERMANENT', message, options);
    this.name = 'PermanentError';
    this.rejectReason = options.rejectReason;
    this.suppress = options.suppress ?? false;
  }
}

/** The backend cannot do what the message asks (anymail's `AnymailUnsupportedFeature`). */
export class UnsupportedFeatureError extends HeraldError {
  readonly feature: string;
  constructor(backend: string, feature: string) {
    super(
      'UNSUPPORTED_FEATURE',
      `${backend} does not support ${feature}. Remove it from the message, or set ignoreUnsupportedFeatures: true on the backend to drop it.`,
      { backend },
    );
    this.name = 'UnsupportedFeatureError';
    this.feature = feature;
  }
}

/** Bad configuration (createHerald options, backend options, webhook routing). */
export class ConfigError extends HeraldError {
  /** Dotted path of the offending option, e.g. `backends[0].port`. */
  readonly field: string | undefined;
  constructor(message: string, options: HeraldErrorOptions & { field?: string } = {}) {
    super('CONFIG', message, options);
    this.name = 'ConfigError';
    this.field = options.field;
  }
}

/** One problem found while validating input. */
export interface ValidationIssue {
  /** Dotted path of the field, e.g. `recipients[2].contacts[0].address` or `data.orderId`. */
  path: string;
  message: string;
}

/** Bad input to `notify()` or another public call; nothing of that call was stored. */
export class ValidationError extends HeraldError {
  readonly issues: readonly ValidationIssue[];
  constructor(message: string, issues: readonly ValidationIssue[] = [], options: HeraldErrorOptions = {}) {
    const detail = issues.length ? `\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}` : '';
    super('VALIDATION', message + detail, options);
    this.name = 'ValidationError';
    // Issues quote the input (a contact's address): the same masking as the message.
    this.issues = issues.map((i) => ({ ...i, message: maskCredentialShapes(i.message) }));
  }
}

/** A template failed to compile or render. */
export class TemplateError extends HeraldError {
  readonly notification: string;
  /** Backend name or protocol the template was written for. */
  readonly channel: string;
  readonly line: number | undefined;
  readonly file: string | undefined;
  constructor(
    message: string,
    where: { notification: string; channel: string; line?: number; file?: string },
    options: HeraldErrorOptions = {},
  ) {
    const loc = `${where.file ?? `${where.notification} / ${where.channel}`}${where.line ? `, line ${where.line}` : ''}`;
    super('TEMPLATE', `template ${loc} (notification "${where.notification}", channel "${where.channel}"): ${message}`, options);
    this.name = 'TemplateError';
    this.notification = where.notification;
    this.channel = where.channel;
    this.line = where.line;
    this.file = where.file;
  }
}

/** The store failed (connection lost, constraint, disk full): the driver's error is the `cause`. */
export class StoreError extends HeraldError {
  readonly store: string;
  constructor(store: string, message: string, cause?: unknown) {
    super('STORE', `[${store}] ${message}`, { cause });
    this.name = 'StoreError';
    this.store = store;
  }
}

/** No such delivery / notification / backend. */
export class NotFoundError extends HeraldError {
  constructor(message: string) {
    super('NOT_FOUND', message);
    this.name = 'NotFoundError';
  }
}

/** A `required` notification created no delivery at all (django-vox: "Notification required, but no message sent"). */
export class RequiredNotificationError extends HeraldError {
  readonly skipped: readonly { address: string; protocol: string; reason: string }[];
  constructor(notification: string, skipped: readonly { address: string; protocol: string; reason: string }[]) {
    const why = skipped.length ? `; skipped: ${skipped.map((s) => `${s.protocol}:${s.address} (${s.reason})`).join(', ')}` : '';
    super('REQUIRED_NOT_SENT', `notification "${notification}" is required, but no delivery could be created${why}`);
    this.name = 'RequiredNotificationError';
    this.skipped = skipped;
  }
}

export { redact } from './secrets';

/** Redact user:password in connection strings and URLs. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@\s]+:)([^@/\s]+)@/g, '$1[redacted]@');
}

/** True for errors the worker should retry. */
export function isTransient(error: unknown): error is TransientError {
  return error instanceof TransientError;
}
