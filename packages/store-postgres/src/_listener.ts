import pg from 'pg';
import { _ident } from './_schema';

/**
 * One dedicated connection that LISTENs on the store's channel and calls every subscriber on each
 * notification. It reconnects with backoff when the connection drops and wakes every subscriber once it is
 * back, since notifications sent while it was away are lost.
 */
export class _Listener {
  readonly #config: pg.ClientConfig;
  readonly #channel: string;
  readonly #subscribers = new Set<() => void>();
  #client: pg.Client | null = null;
  #connecting: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #delay = 100;
  #closed = false;

  constructor(config: pg.ClientConfig, channel: string) {
    this.#config = config;
    this.#channel = channel;
  }

  subscribe(listener: () => void): () => void {
    this.#subscribers.add(listener);
    if (!this.#client && !this.#connecting && !this.#timer) this.#connect();
    return () => {
      this.#subscribers.delete(listener);
    };
  }

  /** Resolves once the LISTEN is active (or the first attempt failed). For tests and benchmarks. */
  ready(): Promise<void> {
    return this.#connecting ?? Promise.resolve();
  }

  #wake(): void {
    for (const listener of [...this.#subscribers]) {
      try {
        listener();
      } catch {
        // A subscriber's failure must not stop the others from waking.
      }
    }
  }

  #connect(): void {
    if (this.#closed) return;
    const client = new pg.Client(this.#config);
    let dead = false;
    const lost = (): void => {
      if (dead) return;
      dead = true;
      if (this.#client === client) this.#client = null;
      client.removeAllListeners('notification');
      client.end().catch(() => undefined);
      this.#schedule();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', () => this.#wake());
    this.#connecting = (async () => {
      try {
        await client.connect();
        await client.query(`LISTEN ${_ident(this.#channel)}`);
        if (this.#closed || dead) {
          dead = true;
          await client.end().catch(() => undefined);
          return;
        }
        this.#client = client;
        this.#delay = 100;
        this.#wake();
      } catch {
        lost();
      } finally {
        this.#connecting = null;
      }
    })();
  }

  #schedule(): void {
    if (this.#closed || this.#timer) return;
    const delay = this.#delay;
    this.#delay = Math.min(this.#delay * 2, 5000);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#connect();
    }, delay);
    this.#timer.unref?.();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#connecting;
    const client = this.#client;
    this.#client = null;
    this.#subscribers.clear();
    if (client) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
