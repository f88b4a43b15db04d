import type { Backend, Logger, Store } from './types';
import { RecordFailure, recordTracking, type TrackingDeps } from './tracking';

/**
 * Status polling (`BackendPolling`): for every backend that can be asked, on a timer, take the deliveries the store
 * says are due for a poll (it marks them, so workers in other processes skip them), ask the provider in one batch,
 * and record the answers exactly like webhook events. Runs beside a worker, stops with it. One batch per backend per
 * tick: the provider sees at most `batchSize` lookups per tick from each worker.
 */
export class Poller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly pollable: Backend[];

  constructor(
    private readonly deps: TrackingDeps & { store: Store; logger: Logger; ready(): Promise<void> },
    backends: Iterable<Backend>,
  ) {
    this.pollable = [...backends].filter((b) => b.poll);
  }

  start(): void {
    if (!this.pollable.length) return;
    const every = Math.max(100, Math.min(...this.pollable.map((b) => Math.min(b.poll!.everyMs, b.poll!.afterMs || b.poll!.everyMs))) / 2);
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.tick().finally(() => (this.running = null));
    }, every);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private async tick(): Promise<void> {
    await this.deps.ready();
    for (const backend of this.pollable) {
      if (this.stopped) return;
      const poll = backend.poll!;
      const now = new Date();
      try {
        const due = await this.deps.store.claimPolls({
          backend: backend.name,
          sentBefore: new Date(now.getTime() - poll.afterMs),
          polledBefore: new Date(now.getTime() - poll.everyMs),
          limit: poll.batchSize,
          now,
        });
        if (!due.length) continue;
        const events = await poll.fetch(due);
        for (const event of events) {
          try {
            await recordTracking(this.deps, backend, event, new Date());
          } catch (error) {
            // A listener failed: the event stays recorded (polling asks again only for deliveries still not final).
            const original = error instanceof RecordFailure ? error.original : error;
            this.deps.logger.error('tracking listener failed for a polled status', { backend: backend.name, error: String(original) });
          }
        }
      } catch (error) {
        this.deps.logger.warn('status polling failed; trying again on the next tick', { backend: backend.name, error: String(error) });
      }
    }
  }
}
