import type { Colors } from 'picocolors/types';

export interface Progress {
  /** Record progress; redraws at most every 100 ms. */
  update(done: number, fraction: number | null): void;
  /** Clear the bar (before the summary is printed). */
  finish(): void;
}

const NOOP: Progress = { update() {}, finish() {} };

function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

/**
 * A one-line progress bar on a terminal's stderr: share done (by bytes of the input file), recipients, rate and
 * ETA. Nothing at all when stderr is not a terminal (CI logs, pipes).
 */
export function progressBar(stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }, color: Colors, label: string): Progress {
  if (!stream.isTTY) return NOOP;
  const started = performance.now();
  let last = 0;
  let drawn = false;
  return {
    update(done, fraction) {
      const now = performance.now();
      if (now - last < 100) return;
      last = now;
      const seconds = (now - started) / 1000;
      const rate = seconds > 0 ? done / seconds : 0;
      const width = Math.max(10, Math.min(30, (stream.columns ?? 80) - 60));
      let line: string;
      if (fraction === null) line = `${label} ${done.toLocaleString('en')} recipients  ${Math.round(rate).toLocaleString('en')}/s`;
      else {
        const f = Math.min(1, Math.max(0, fraction));
        const filled = Math.round(f * width);
        const eta = f > 0 ? seconds * ((1 - f) / f) : Number.NaN;
        line = `${label} ${color.cyan('█'.repeat(filled))}${color.dim('░'.repeat(width - filled))} ${String(Math.floor(f * 100)).padStart(3)}%  ${done.toLocaleString('en')} recipients  ${Math.round(rate).toLocaleString('en')}/s  ETA ${clock(eta)}`;
      }
      stream.write(`\r${line}\u001b[K`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\r\u001b[K');
    },
  };
}
