import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The checkpointer's thread, as CommonJS source run with `eval`: no file of its own, so it works the same from
 * TypeScript sources and from `dist/`. It opens its own connection to the database file and copies committed
 * WAL frames into it (`wal_checkpoint(PASSIVE)`: never blocks writers or readers) every `everyMs`.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs });
let timer = null;
const run = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage({ type: 'error', message: String(error && error.message || error) });
  }
};
timer = setInterval(run, workerData.everyMs);
parentPort.on('message', (msg) => {
  if (msg === 'now') run();
  if (msg === 'stop') {
    clearInterval(timer);
    run();
    db.close();
    parentPort.postMessage({ type: 'stopped' });
  }
});
`;

/** Handle on a running checkpointer thread. */
export interface Checkpointer {
  /** Ask for a checkpoint soon (after a large write), besides the periodic ones. */
  poke(): void;
  /** Checkpoint once more, close the thread's connection and end the thread. */
  stop(): Promise<void>;
}

/**
 * Start a thread that checkpoints the WAL of the database file at `path` off the event loop. Without it SQLite
 * checkpoints inside the commit that crosses `wal_autocheckpoint`, on the caller's thread: a 20,000-delivery
 * `notify()` spent about a third of its enqueue time copying pages back into the database file.
 */
export function startCheckpointer(path: string, options: { busyTimeoutMs: number; everyMs: number; onError(message: string): void }): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const thread = new Worker(THREAD_SOURCE, { eval: true, workerData: { path, driver, busyTimeoutMs: options.busyTimeoutMs, everyMs: options.everyMs } });
  let stopped: Promise<void> | null = null;
  thread.on('message', (msg: { type: string; message?: string }) => {
    if (msg.type === 'error' && msg.message) options.onError(msg.message);
  });
  thread.on('error', (error) => options.onError(String(error)));
  // After the listeners: attaching a 'message' listener refs the worker again. An unclosed store must not keep
  // the process alive.
  thread.unref();
  return {
    poke() {
      if (!stopped) thread.postMessage('now');
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        let fallback: NodeJS.Timeout | undefined;
        const done = () => {
          clearTimeout(fallback);
          thread.terminate().then(() => resolve(), () => resolve());
        };
        // Held while stopping (close() awaits the last checkpoint), and at most 2 s: a thread stuck behind a
        // long lock must not hold close() up forever.
        thread.ref();
        fallback = setTimeout(done, 2000);
        thread.on('message', (msg: { type: string }) => msg.type === 'stopped' && done());
        thread.once('exit', () => {
          clearTimeout(fallback);
          resolve();
        });
        thread.postMessage('stop');
      });
      return stopped;
    },
  };
}
