import pg from 'pg';
import { ident } from './_schema';

/**
 * One dedicated connection that LISTENs on the store's channel and calls every subscriber on each
 * notification. It reconnects with backoff when the connection drops and wakes every subscriber once it is
 * back, since notifications sent while it was away are lost.
 */
export class Listener {
  readonly #config: pg.ClientConfig;
  readonly #channel: string;
  readonly #subscribers = new Set<() => void>();
  #client: pg.Client | null = null;
  #connecting: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #delay = 100;
  #closed = false;
  /** Ends the current (or connecting) client without reconnecting. */
  #drop: (() => void) | null = null;

  constructor(config: pg.ClientConfig, channel: string) {
    this.#config = config;
    this.#channel = channel;
  }

  subscribe(listener: () => void): () => void {
    this.#subscribers.add(listener);
    if (!this.#drop && !this.#timer) this.#connect();
    return () => {
      this.#subscribers.delete(listener);
      // With nobody listening, let go of the connection so a script that ran `drain()` can exit.
      if (this.#subscribers.size === 0) this.#release();
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
    const drop = (): void => {
      if (dead) return;
      dead = true;
      if (this.#client === client) this.#client = null;
      if (this.#drop === drop) this.#drop = null;
      client.removeAllListeners('notification');
      client.end().catch(() => undefined);
    };
    const lost = (): void => {
      if (dead) return;
      drop();
      this.#schedule();
    };
    this.#drop = drop;
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', () => this.#wake());
    let connecting: Promise<void> | null = null;
    connecting = (async () => {
      try {
        await client.connect();
        await client.query(`LISTEN ${ident(this.#channel)}`);
        if (this.#closed || dead || this.#subscribers.size === 0) {
          drop();
          return;
        }
        this.#client = client;
        this.#delay = 100;
        this.#wake();
      } catch {
        lost();
      } finally {
        if (this.#connecting === connecting) this.#connecting = null;
      }
    })();
    this.#connecting = connecting;
  }

  #release(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#delay = 100;
    this.#drop?.();
  }

  #schedule(): void {
    if (this.#closed || this.#timer || this.#subscribers.size === 0) return;
    const delay = this.#delay;
    this.#delay = Math.min(this.#delay * 2, 5000);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#subscribers.size > 0) this.#connect();
    }, delay);
    this.#timer.unref?.();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#connecting;
    this.#subscribers.clear();
    const client = this.#client;
    this.#drop?.();
    if (client) {
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
