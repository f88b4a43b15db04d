import type { Logger } from './types';

const noop = () => {};

export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** Default logger: information, warnings and errors to the console, one line each with JSON fields. */
export const consoleLogger: Logger = {
  debug: noop,
  info: (message, fields) => console.info(`[herald] ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`),
  warn: (message, fields) => console.warn(`[herald] ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`),
  error: (message, fields) => console.error(`[herald] ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`),
};

export function resolveLogger(logger: Logger | false | undefined): Logger {
  if (logger === false) return silentLogger;
  return logger ?? consoleLogger;
}
