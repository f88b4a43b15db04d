import type { BackoffOptions, RetryOptions } from './api';
import { toMs } from './notification';

export interface ResolvedRetry {
  maxAttempts: number;
  maxAgeMs: number;
  /** Delay before retry number `attempt` (1 = first retry), honouring a provider's `retryAfterMs`. */
  delayMs(attempt: number, error: unknown, retryAfterMs: number | undefined): number;
}

const DEFAULT_BACKOFF: BackoffOptions = { type: 'exponential', delay: '2s', maxDelay: '1h', jitter: 'full' };

/** Resolve retry options; exponential backoff with full jitter ("AWS full jitter"), never below Retry-After. */
export function resolveRetry(options: RetryOptions = {}): ResolvedRetry {
  const maxAttempts = options.maxAttempts ?? 8;
  const maxAgeMs = toMs(options.maxAge ?? '24h', 'retry.maxAge');
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  let base: (attempt: number, error: unknown) => number;
  if (typeof backoff === 'function') {
    base = backoff;
  } else {
    const delay = toMs(backoff.delay, 'retry.backoff.delay');
    const cap = backoff.type === 'exponential' && backoff.maxDelay !== undefined ? toMs(backoff.maxDelay, 'retry.backoff.maxDelay') : Number.POSITIVE_INFINITY;
    const jitter = backoff.jitter ?? (backoff.type === 'exponential' ? 'full' : 'none');
    base = (attempt) => {
      const d = backoff.type === 'fixed' ? delay : Math.min(cap, delay * 2 ** Math.max(0, attempt - 1));
      return jitter === 'full' ? Math.random() * d : d;
    };
  }
  return {
    maxAttempts,
    maxAgeMs,
    delayMs(attempt, error, retryAfterMs) {
      const d = Math.max(0, base(attempt, error));
      return retryAfterMs !== undefined ? Math.max(d, retryAfterMs) : d;
    },
  };
}
