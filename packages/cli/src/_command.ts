import type { Command } from 'commander';
import { loadConfig, type LoadedConfig } from './config';
import { CommandFailed, exitCodeOf, printError } from './_errors';
import { type CliIO, EXIT, type ExitCode, Output } from './_output';

/** Options every command takes. */
export interface CommonOptions {
  config?: string;
  json?: boolean;
}

/** Something that reports SIGINT/SIGTERM (the process's signals; tests may pass their own). */
export interface Signals {
  on(listener: (signal: NodeJS.Signals) => void): () => void;
}

export const processSignals: Signals = {
  on(listener) {
    const handler = (signal: NodeJS.Signals) => listener(signal);
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    return () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    };
  },
};

export interface Runtime {
  io: CliIO;
  signals: Signals;
  /** Where the exit code of the command that ran is left. */
  exitCode: ExitCode;
}

export interface ActionContext<O> {
  opts: O;
  out: Output;
  io: CliIO;
  signals: Signals;
  /** Load the config file once (`--config`, `HERALD_CONFIG`, or herald.config.* in the project root). */
  load(): Promise<LoadedConfig>;
  /**
   * Keep the Herald instance open after the action returns (a command that closes it itself, e.g. once a
   * worker has stopped within its timeout).
   */
  keepOpen(): void;
}

export function withCommonOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config file (default: herald.config.ts, .mts, .js or .mjs in the project root; or $HERALD_CONFIG)')
    .option('--json', 'print one JSON document on stdout, for scripts');
}

export function examples(cmd: Command, lines: readonly string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

/**
 * Wrap a command's action: parse common options, load the config on demand, turn every error into its exit
 * code (printed once, as JSON with `--json`), and close the Herald instance when the action is done.
 */
export function action<O extends CommonOptions, A extends unknown[] = []>(
  runtime: Runtime,
  run: (ctx: ActionContext<O>, ...args: A) => Promise<ExitCode | undefined>,
) {
  return async (...raw: unknown[]): Promise<void> => {
    // commander calls (…arguments, options, command).
    const command = raw[raw.length - 1] as Command;
    const opts = command.optsWithGlobals() as O;
    const args = raw.slice(0, -2) as A;
    const out = new Output(runtime.io, opts.json === true);
    let loaded: Promise<LoadedConfig> | null = null;
    let keepOpen = false;
    const ctx: ActionContext<O> = {
      opts,
      out,
      io: runtime.io,
      signals: runtime.signals,
      load: () => {
        loaded ??= loadConfig({ ...(opts.config ? { config: opts.config } : {}), cwd: runtime.io.cwd, env: runtime.io.env });
        return loaded;
      },
      keepOpen: () => {
        keepOpen = true;
      },
    };
    try {
      runtime.exitCode = (await run(ctx, ...args)) ?? EXIT.ok;
    } catch (error) {
      if (!(error instanceof CommandFailed)) printError(out, error);
      runtime.exitCode = exitCodeOf(error);
    } finally {
      if (loaded && !keepOpen) {
        const config = await (loaded as Promise<LoadedConfig>).catch(() => null);
        await config?.herald.close().catch((error: unknown) => out.warn(`closing Herald failed: ${(error as Error).message}`));
      }
    }
  };
}
