import pc from 'picocolors';
import type { Colors } from 'picocolors/types';

/** The exit codes every command uses (docs/cli.md, "Exit codes"). */
export const EXIT = {
  /** Everything worked. */
  ok: 0,
  /** Bad input or partial failure: invalid data or addresses, a bad line in --recipients, an unknown id, `check` found a problem. */
  badInput: 1,
  /** Usage or configuration error: unknown command or option, bad option value, config file missing or throwing. */
  usage: 2,
  /** Runtime failure: the store or a provider failed, an unexpected error, a worker that did not stop in time. */
  failure: 3,
  /** Stopped by a second SIGINT/SIGTERM before a graceful stop finished. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Where a command reads and writes: the process's streams, or test doubles. */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadableStream;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** Colours only on a terminal, never with `NO_COLOR` (https://no-color.org) or `TERM=dumb`; `FORCE_COLOR` forces them. */
export function colorsFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Colors {
  const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0';
  const enabled = !env.NO_COLOR && (forced || (stream.isTTY === true && env.TERM !== 'dumb'));
  return pc.createColors(enabled);
}

/**
 * A command's output: results on stdout (one JSON document with `--json`), messages and progress on stderr.
 * Every write goes through here so `--json` and colour rules hold everywhere.
 */
export class Output {
  readonly color: Colors;
  readonly errColor: Colors;
  constructor(
    readonly io: CliIO,
    readonly json: boolean,
  ) {
    this.color = colorsFor(io.stdout, io.env);
    this.errColor = colorsFor(io.stderr, io.env);
  }

  /** A line of human output (ignored with `--json`, which prints one document instead). */
  line(text = ''): void {
    if (!this.json) this.io.stdout.write(`${text}\n`);
  }

  /** A note for people on stderr (never mixed into stdout, so pipes stay clean). */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  warn(text: string): void {
    this.io.stderr.write(`${this.errColor.yellow('warning:')} ${text}\n`);
  }

  /** The `--json` document of a command. */
  document(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Human output, or `value` as JSON with `--json`. */
  result(value: unknown, human: () => void): void {
    if (this.json) this.document(value);
    else human();
  }

  /** Print rows as aligned columns (the last column is not padded). */
  table(headers: readonly string[], rows: readonly (readonly string[])[]): void {
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
    const fmt = (cells: readonly string[]) =>
      cells
        .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(Math.max(0, widths[i]! - visibleLength(c)))))
        .join('  ')
        .trimEnd();
    this.line(this.color.bold(fmt(headers)));
    for (const row of rows) this.line(fmt(row));
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour sequences start with ESC
const ANSI = /\u001b\[[0-9;]*m/g;

function visibleLength(text: string): number {
  return text.replace(ANSI, '').length;
}
