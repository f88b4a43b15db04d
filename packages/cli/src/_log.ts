import type { CliIO } from './_output';
import { colorsFor } from './_output';

export type Level = 'info' | 'warn' | 'error';
export type Log = (level: Level, message: string, fields?: Record<string, unknown>) => void;

function text(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

/**
 * One line per event: `time LEVEL message key=value …` for people on a terminal, JSON lines otherwise (log
 * collectors), always on stdout.
 */
export function createLog(io: CliIO, json: boolean): Log {
  if (json) {
    return (level, message, fields = {}) => {
      io.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields })}\n`);
    };
  }
  const c = colorsFor(io.stdout, io.env);
  const tag: Record<Level, string> = { info: c.cyan('INFO '), warn: c.yellow('WARN '), error: c.red('ERROR') };
  return (level, message, fields = {}) => {
    const pairs = Object.entries(fields)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => `${c.dim(`${k}=`)}${text(v)}`)
      .join(' ');
    io.stdout.write(`${c.dim(new Date().toISOString())} ${tag[level]} ${message}${pairs ? ` ${pairs}` : ''}\n`);
  };
}
