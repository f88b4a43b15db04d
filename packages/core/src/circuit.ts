/**
 * A circuit breaker per backend, shared by the workers of one Herald instance. Closed: sends go through and
 * consecutive provider failures are counted. After `failures` of them it opens for `coolDownMs`: deliveries that
 * have another backend fail over without being sent. Then it is half-open: exactly one send probes the backend;
 * its success closes the circuit, its failure opens it for another cool-down.
 */
export class CircuitBreaker {
  private readonly state = new Map<string, { failures: number; openUntil: number; probing: boolean }>();

  constructor(
    private readonly failures: number,
    private readonly coolDownMs: number,
  ) {}

  /** May this backend be sent to now? A half-open circuit lets the first caller through as its probe. */
  allows(backend: string, now: number): boolean {
    const s = this.state.get(backend);
    if (!s || s.openUntil === 0) return true;
    if (now < s.openUntil || s.probing) return false;
    s.probing = true;
    return true;
  }

  /** Whether the circuit is open (or half-open with its probe out) — for status pages and tests. */
  isOpen(backend: string, now: number): boolean {
    const s = this.state.get(backend);
    return !!s && s.openUntil !== 0 && (now < s.openUntil || s.probing);
  }

  succeeded(backend: string): void {
    this.state.delete(backend);
  }

  /** A failure about the provider (not the recipient or the content). Returns true when it opened the circuit. */
  failed(backend: string, now: number): boolean {
    let s = this.state.get(backend);
    if (!s) {
      s = { failures: 0, openUntil: 0, probing: false };
      this.state.set(backend, s);
    }
    s.failures++;
    if (s.probing || (s.openUntil === 0 && s.failures >= this.failures)) {
      s.openUntil = now + this.coolDownMs;
      s.probing = false;
      return true;
    }
    return false;
  }
}
