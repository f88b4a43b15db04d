/**
 * A token bucket per key, in this process: `perMinute` requests a minute, bursts of up to `perMinute`. Buckets of
 * keys idle for longer than a refill are dropped, so the map stays as small as the set of active keys.
 */
export class RateLimiter {
  readonly #perMs: number;
  readonly #capacity: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  #sweptAt = 0;

  constructor(perMinute: number) {
    this.#capacity = perMinute;
    this.#perMs = perMinute / 60_000;
  }

  /** Take one token for `key`: 0 when allowed, else the milliseconds until one is available. */
  take(key: string, now = Date.now()): number {
    this.#sweep(now);
    const bucket = this.#buckets.get(key) ?? { tokens: this.#capacity, at: now };
    bucket.tokens = Math.min(this.#capacity, bucket.tokens + (now - bucket.at) * this.#perMs);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.#perMs);
  }

  #sweep(now: number): void {
    if (now - this.#sweptAt < 60_000) return;
    this.#sweptAt = now;
    const full = this.#capacity / this.#perMs;
    for (const [key, bucket] of this.#buckets) if (now - bucket.at > full) this.#buckets.delete(key);
  }
}
