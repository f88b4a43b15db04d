import { ConfigError, HeraldError, TransientError, redact, redactUrl } from '@herald/core';
import type { PoolConfig } from 'pg';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '57P01', // admin_shutdown (pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up / shutting down)
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);

/** Errors that mean the connection settings are wrong, not that the server is briefly away. */
const CONFIG_CODES = new Set(['28P01', '28000', '3D000', '3F000']);

/** A schema that was never migrated: no such schema, table or (claim) function. The store never migrates on its own. */
const UNMIGRATED_CODES = new Set(['3F000', '42P01', '42883']);

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length) return error.errors.map(errorMessage).join('; ');
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** True when the error is a lost or refused connection (the worker should back off and retry). */
export function isConnectionError(error: unknown): boolean {
  const code = errorCode(error);
  if (code && CONNECTION_CODES.has(code)) return true;
  if (error instanceof AggregateError) return error.errors.some(isConnectionError);
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable|Connection ended/i.test(message);
}

/** A description of where the store connects, without the password. */
export function describeTarget(config: PoolConfig): string {
  if (config.connectionString) return redactUrl(config.connectionString);
  const user = config.user ? `${config.user}@` : '';
  const host = config.host ?? process.env.PGHOST ?? 'localhost';
  const port = config.port ?? process.env.PGPORT ?? 5432;
  const database = config.database ?? process.env.PGDATABASE ?? '';
  return `postgres://${user}${host}:${port}/${database}`;
}

function passwordOf(config: PoolConfig): string | undefined {
  if (typeof config.password === 'string') return config.password;
  if (config.connectionString) {
    try {
      return decodeURIComponent(new URL(config.connectionString).password) || undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Turn a pg error into a Herald error when it is about the connection or the schema: `ConfigError` when the store
 * never connected, the credentials/database are wrong or (given `schema`) the schema was never migrated,
 * `TransientError` when a working connection was lost.
 * Other errors (SQL errors) pass through unchanged. Messages never contain the password.
 */
export function wrapError(error: unknown, config: PoolConfig, everConnected: boolean, schema?: string): unknown {
  if (error instanceof HeraldError) return error;
  const code = errorCode(error);
  const where = describeTarget(config);
  const detail = redact(errorMessage(error), [passwordOf(config)]);
  if (schema !== undefined && code && UNMIGRATED_CODES.has(code)) {
    return new ConfigError(
      `the schema "${schema}" at ${where} is missing or not migrated (${detail}): call \`await store.migrate()\` first (createHerald does it before first use), or run migrate() from @herald/store-postgres in a deploy step`,
      { backend: 'store-postgres', cause: error, field: 'schema' },
    );
  }
  if (code && CONFIG_CODES.has(code)) {
    return new ConfigError(`cannot use PostgreSQL at ${where}: ${detail}`, { backend: 'store-postgres', cause: error, field: 'connectionString' });
  }
  if (!isConnectionError(error)) return error;
  if (!everConnected) {
    return new ConfigError(`cannot connect to PostgreSQL at ${where}: ${detail}. Is the server running and the connection string right?`, {
      backend: 'store-postgres',
      cause: error,
      field: 'connectionString',
    });
  }
  return new TransientError(`lost connection to PostgreSQL at ${where}: ${detail}`, { backend: 'store-postgres', cause: error });
}
