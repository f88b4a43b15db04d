import { type FailureScope, HeraldError, PermanentError, UnsupportedFeatureError } from './errors';
import type { Attempt, Delivery, FallbackMessage } from './types';

/** What the worker does after an attempt — the whole retry and failover policy, as data. */
export type AttemptVerdict =
  | { kind: 'sent' }
  | { kind: 'retry'; at: Date; error: string }
  | { kind: 'failover'; to: FallbackMessage; rest: FallbackMessage[]; error: string }
  | { kind: 'failed'; error: string; suppress: boolean };

export interface ClassifyInput {
  delivery: Pick<Delivery, 'attempts' | 'maxAttempts' | 'expiresAt' | 'message'>;
  /** What the send threw (or the worker's stand-in for an all-refused answer); null when it succeeded. */
  failure: unknown;
  /** The failure as text, redacted. */
  errorText: string;
  /** The backend is marked down and this attempt was not sent. */
  circuitOpen?: boolean;
  now: number;
  /** The retry policy's delay before the next attempt of this delivery. */
  retryDelayMs: number;
  /** Whether this failure moves the delivery to its next backend. */
  failsOver(failure: unknown): boolean;
}

/** The scope of a failure, defaulting unclassified transient errors to `provider` and the rest to `content`. */
export function scopeOf(failure: unknown): FailureScope {
  if (failure instanceof HeraldError && failure.scope) return failure.scope;
  if (failure instanceof UnsupportedFeatureError) return 'content';
  return failure instanceof PermanentError ? 'content' : 'provider';
}

/** True for failures that must not be retried on the same backend. */
export function isPermanent(failure: unknown): boolean {
  return failure instanceof PermanentError || failure instanceof UnsupportedFeatureError;
}

/** How the attempt log names a failure. */
export function attemptOutcome(failure: unknown): Attempt['outcome'] {
  if (failure instanceof UnsupportedFeatureError) return 'unsupported';
  return isPermanent(failure) ? 'permanent' : 'transient';
}

/**
 * Decide what follows an attempt. Pure. In order: success is sent; a transient failure retries on the same
 * backend while its attempt budget and `retry.maxAge` allow; then — a permanent failure, exhausted retries, or an
 * open circuit — the delivery fails over to its next pre-rendered backend when `failsOver` says the failure is
 * one that another provider may not have, and fails otherwise.
 */
export function classifyAttempt(input: ClassifyInput): AttemptVerdict {
  const { delivery, failure, errorText } = input;
  const fallbacks = delivery.message?.fallbacks;
  const failover = (error: string): AttemptVerdict | null =>
    fallbacks?.length ? { kind: 'failover', to: fallbacks[0]!, rest: fallbacks.slice(1), error } : null;
  if (input.circuitOpen) return failover(errorText) ?? { kind: 'retry', at: new Date(input.now + input.retryDelayMs), error: errorText };
  if (failure === null || failure === undefined) return { kind: 'sent' };
  if (isPermanent(failure)) {
    return (input.failsOver(failure) && failover(errorText)) || { kind: 'failed', error: errorText, suppress: failure instanceof PermanentError && failure.suppress };
  }
  const next = input.now + input.retryDelayMs;
  const withinAge = !delivery.expiresAt || next <= delivery.expiresAt.getTime();
  if (delivery.attempts < delivery.maxAttempts && withinAge) return { kind: 'retry', at: new Date(next), error: errorText };
  const why = delivery.attempts >= delivery.maxAttempts ? `gave up after ${delivery.attempts} attempts` : 'gave up: next retry would exceed retry.maxAge';
  return (input.failsOver(failure) && failover(`${why}: ${errorText}`)) || { kind: 'failed', error: `${why}: ${errorText}`, suppress: false };
}

/** Turn the `failover.on` option into the predicate {@link classifyAttempt} takes. */
export function failoverPredicate<D>(on: readonly FailureScope[] | ((error: unknown, delivery: D) => boolean) | undefined, delivery: D): (failure: unknown) => boolean {
  if (typeof on === 'function') return (failure) => on(failure, delivery);
  const scopes = on ?? DEFAULT_FAILOVER_SCOPES;
  return (failure) => scopes.includes(scopeOf(failure));
}

export const DEFAULT_FAILOVER_SCOPES: readonly FailureScope[] = ['provider'];

