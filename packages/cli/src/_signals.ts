import type { Signals } from './_command';

export interface Shutdown {
  /** Resolves with the first SIGINT/SIGTERM. */
  readonly requested: Promise<NodeJS.Signals>;
  /** Resolves with a second signal, received while the graceful stop is under way. */
  readonly forced: Promise<NodeJS.Signals>;
  dispose(): void;
}

/**
 * Listen for SIGINT/SIGTERM: the first asks for a graceful stop, a second one (an impatient Ctrl-C) for an
 * immediate exit. Handlers are installed at once so no signal falls through to Node's default (instant death).
 */
export function shutdownOn(signals: Signals): Shutdown {
  let count = 0;
  let first!: (s: NodeJS.Signals) => void;
  let second!: (s: NodeJS.Signals) => void;
  const requested = new Promise<NodeJS.Signals>((resolve) => (first = resolve));
  const forced = new Promise<NodeJS.Signals>((resolve) => (second = resolve));
  const dispose = signals.on((signal) => {
    count++;
    if (count === 1) first(signal);
    else second(signal);
  });
  return { requested, forced, dispose };
}

export const sleep = (ms: number) =>
  new Promise<'timeout'>((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), ms);
    timer.unref?.();
  });
