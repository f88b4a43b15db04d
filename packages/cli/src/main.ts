import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { processSignals, type Runtime, type Signals } from './_command';
import { exitCodeOf, printError } from './_errors';
import { type CliIO, type ExitCode, Output } from './_output';
import { registerAudience } from './commands/audience';
import { registerCheck } from './commands/check';
import { registerDeliveries } from './commands/deliveries';
import { registerKeys } from './commands/keys';
import { registerMigrate } from './commands/migrate';
import { registerPreview } from './commands/preview';
import { registerPrune } from './commands/prune';
import { registerSend } from './commands/send';
import { registerServe } from './commands/serve';
import { registerWorker } from './commands/worker';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

/** Build the `herald` program (commander) for one run. */
export function createProgram(runtime: Runtime): Command {
  const program = new Command('herald')
    .description('Operate Herald: run workers, migrate the store, check the config, send, preview and inspect deliveries, serve the HTTP API.')
    .version(version, '-v, --version')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => runtime.io.stdout.write(s),
      writeErr: (s) => runtime.io.stderr.write(s),
    })
    .addHelpText(
      'after',
      `
Every command loads herald.config.ts (or .mts, .js, .mjs) from the project root, or --config <file>.
Exit codes: 0 ok · 1 bad input or partial failure · 2 usage or config error · 3 runtime failure · 130 interrupted.
See docs/cli.md.`,
    );
  registerWorker(program, runtime);
  registerMigrate(program, runtime);
  registerCheck(program, runtime);
  registerSend(program, runtime);
  registerPreview(program, runtime);
  registerDeliveries(program, runtime);
  registerAudience(program, runtime);
  registerPrune(program, runtime);
  registerKeys(program, runtime);
  registerServe(program, runtime);
  // Subcommands inherit the program's output and exit handling.
  for (const command of program.commands) inherit(command, program);
  return program;
}

function inherit(command: Command, parent: Command): void {
  command.exitOverride().configureOutput(parent.configureOutput()).showSuggestionAfterError();
  for (const sub of command.commands) inherit(sub, command);
}

export interface MainOptions {
  io?: Partial<CliIO>;
  signals?: Signals;
}

/**
 * Run `herald` with these arguments (without `node` and the script) and resolve with the exit code.
 *
 * @example
 * ```ts
 * import { main } from '@herald/cli';
 *
 * process.exitCode = await main(['deliveries', '--status', 'failed', '--json']);
 * ```
 */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<ExitCode> {
  const io: CliIO = {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    cwd: process.cwd(),
    env: process.env,
    ...options.io,
  };
  const runtime: Runtime = { io, signals: options.signals ?? processSignals, exitCode: 0 };
  const program = createProgram(runtime);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    // commander has already printed its usage message; help and version end here too, with 0.
    if (!(error instanceof CommanderError)) printError(new Output(io, argv.includes('--json')), error);
    return exitCodeOf(error);
  }
  return runtime.exitCode;
}
