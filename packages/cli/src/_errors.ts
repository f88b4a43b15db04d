import { CommanderError } from 'commander';
import { EXIT, type ExitCode, type Output } from './_output';

/** An error's fields as the CLI reports them (also the `--json` error document). */
export interface ErrorReport {
  code: string;
  message: string;
  field?: string;
  issues?: { path: string; message: string }[];
}

/**
 * A command ends with this exit code after it has already said why (a summary listing bad lines, a `check`
 * report): the CLI prints nothing more.
 */
export class CommandFailed extends Error {
  constructor(readonly exitCode: ExitCode) {
    super(`exit ${exitCode}`);
    this.name = 'CommandFailed';
  }
}

// Herald's error codes by meaning. The error may come from another copy of @herald/core than the CLI's (the
// config file's own), so errors are recognised by their `code`, not with instanceof.
const BAD_INPUT = new Set(['VALIDATION', 'NOT_FOUND', 'TEMPLATE', 'REQUIRED_NOT_SENT', 'UNSUPPORTED_FEATURE']);
const USAGE = new Set(['CONFIG']);

function heraldCode(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Z_]+$/.test(code) && error.message.startsWith('[herald]') ? code : null;
}

export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof CommandFailed) return error.exitCode;
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  const code = heraldCode(error);
  if (code && USAGE.has(code)) return EXIT.usage;
  if (code && BAD_INPUT.has(code)) return EXIT.badInput;
  return EXIT.failure;
}

export function reportOf(error: unknown): ErrorReport {
  if (!(error instanceof Error)) return { code: 'UNKNOWN', message: String(error) };
  const code = heraldCode(error) ?? (error instanceof CommanderError ? 'USAGE' : 'INTERNAL');
  const report: ErrorReport = { code, message: error.message };
  const field = (error as { field?: unknown }).field;
  if (typeof field === 'string') report.field = field;
  const issues = (error as { issues?: unknown }).issues;
  if (Array.isArray(issues) && issues.length) {
    report.issues = issues.map((i: { path?: unknown; message?: unknown }) => ({ path: String(i.path), message: String(i.message) }));
    report.field ??= report.issues[0]!.path;
  }
  return report;
}

/** Print an error the way the command was asked to talk: one JSON document with `--json`, a red line otherwise. */
export function printError(out: Output, error: unknown): void {
  const report = reportOf(error);
  if (out.json) {
    out.document({ error: report });
    return;
  }
  const c = out.errColor;
  out.note(`${c.red(c.bold('error:'))} ${report.message}`);
  if (report.code === 'INTERNAL' && out.io.env.HERALD_DEBUG && error instanceof Error && error.stack) out.note(c.dim(error.stack));
  let cause = (error as { cause?: unknown }).cause;
  for (let depth = 0; cause instanceof Error && depth < 3; depth++) {
    if (!report.message.includes(cause.message)) out.note(c.dim(`  caused by: ${cause.message}`));
    cause = (cause as { cause?: unknown }).cause;
  }
}
