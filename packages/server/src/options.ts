import { ConfigError, closestKey, type Logger } from '@herald/core';
import { DEFAULT_FLAG_CATEGORIES, type FlagTable } from './postmaster';

/** postmaster's JSON-RPC 2.0 endpoint at `POST <basePath>/rpc` (see docs/http-api.md, "postmaster compatibility"). */
export interface RpcOptions {
  /**
   * Serve `/rpc`. It needs `postmasterNotification` registered with `createHerald({ notifications })`: without it
   * `/rpc` answers 501 naming the fix, and `enabled: true` makes `createServer` throw instead.
   * @default true
   */
  enabled?: boolean;
  /**
   * `'key'`: every call needs an API key (`Authorization: Bearer hk_…`) with the method's scope. `'none'`: keyless
   * calls are accepted, as postmaster's own RPC port did — only on a loopback address (`herald serve` refuses it on
   * any other bind unless forced). A key that is sent is checked either way.
   * @default 'key'
   */
  auth?: 'key' | 'none';
  /**
   * Category of each flag bit (a power of two above 1; bit 1 is postmaster's reserved "all emails" bit). Bits not
   * listed keep the default category, `flag-<bit>` (`flag-2`, `flag-4`, … `flag-4503599627370496`).
   * @example { 2: 'marketing', 4: 'digest' }
   */
  flags?: Record<number, string>;
}

export interface ServerOptions {
  /**
   * `'keys'`: every `/v1` route but `/v1/openapi.json` needs an API key from the Herald store (`createApiKey`,
   * `herald keys create`). `'none'`: no authentication at all, for local development only.
   * @default 'keys'
   */
  auth?: 'keys' | 'none';
  /** postmaster's JSON-RPC at `/rpc`. */
  rpc?: RpcOptions;
  /** Largest request body in bytes; larger ones are refused with 413 before they are read. @default 1_048_576 */
  bodyLimitBytes?: number;
  /**
   * Requests a minute per API key (a token bucket in this process, bursts up to the same number); beyond it 429
   * with `Retry-After`. Keyless requests (`auth: 'none'`) share one bucket. `false` turns it off.
   * @default { perMinute: 600 }
   */
  rateLimit?: { perMinute: number } | false;
  /** Cross-origin requests from these origins (browsers). @default false (no CORS headers) */
  cors?: { origins: string[] } | false;
  /** Prefix of every route, e.g. `/herald` when mounted inside another app. @default '' */
  basePath?: string;
  /** Where request failures (5xx) are logged; `false` silences the server. Keys' secrets are never logged. @default the console */
  logger?: Logger | false;
}

export interface ResolvedOptions {
  auth: 'keys' | 'none';
  rpc: { enabled: boolean | undefined; auth: 'key' | 'none'; flags: FlagTable };
  bodyLimitBytes: number;
  rateLimit: { perMinute: number } | false;
  cors: { origins: string[] } | false;
  basePath: string;
  logger: Logger;
}

const KNOWN = ['auth', 'rpc', 'bodyLimitBytes', 'rateLimit', 'cors', 'basePath', 'logger'];
const RPC_KNOWN = ['enabled', 'auth', 'flags'];

const noop = () => {};
const consoleLogger: Logger = {
  debug: noop,
  info: noop,
  warn: (message, fields) => console.warn(`[herald] [server] ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`),
  error: (message, fields) => console.error(`[herald] [server] ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`),
};
const silent: Logger = { debug: noop, info: noop, warn: noop, error: noop };

function unknownKey(value: object, known: readonly string[], prefix: string): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const near = closestKey(key, known);
    throw new ConfigError(`unknown server option \`${prefix}${key}\`${near ? `; did you mean \`${prefix}${near}\`?` : ''}`, { field: `${prefix}${key}` });
  }
}

/** Check the options once, when the server is created: a typo is an error, never ignored. */
export function resolveOptions(options: ServerOptions = {}): ResolvedOptions {
  unknownKey(options, KNOWN, '');
  const auth = options.auth ?? 'keys';
  if (auth !== 'keys' && auth !== 'none') throw new ConfigError(`auth must be 'keys' or 'none', got ${JSON.stringify(auth)}`, { field: 'auth' });
  const rpc = options.rpc ?? {};
  unknownKey(rpc, RPC_KNOWN, 'rpc.');
  const rpcAuth = rpc.auth ?? 'key';
  if (rpcAuth !== 'key' && rpcAuth !== 'none') throw new ConfigError(`rpc.auth must be 'key' or 'none', got ${JSON.stringify(rpcAuth)}`, { field: 'rpc.auth' });
  const bodyLimitBytes = options.bodyLimitBytes ?? 1_048_576;
  if (!Number.isSafeInteger(bodyLimitBytes) || bodyLimitBytes < 1) throw new ConfigError('bodyLimitBytes must be a positive integer', { field: 'bodyLimitBytes' });
  const rateLimit = options.rateLimit ?? { perMinute: 600 };
  if (rateLimit !== false && !(typeof rateLimit === 'object' && Number.isFinite(rateLimit.perMinute) && rateLimit.perMinute > 0)) {
    throw new ConfigError('rateLimit must be { perMinute: <positive number> } or false', { field: 'rateLimit.perMinute' });
  }
  const cors = options.cors ?? false;
  if (cors !== false && !(Array.isArray(cors.origins) && cors.origins.length > 0 && cors.origins.every((o) => typeof o === 'string' && /^https?:\/\/[^/]+$/.test(o)))) {
    throw new ConfigError('cors.origins must list origins such as "https://app.example.org" (scheme and host, no path)', { field: 'cors.origins' });
  }
  const basePath = (options.basePath ?? '').replace(/\/+$/, '');
  if (basePath !== '' && !/^(?:\/[A-Za-z0-9._~-]+)+$/.test(basePath)) {
    throw new ConfigError(`basePath "${options.basePath}" must be a path such as "/herald"`, { field: 'basePath' });
  }
  return {
    auth,
    rpc: { enabled: rpc.enabled, auth: rpcAuth, flags: flagTable(rpc.flags) },
    bodyLimitBytes,
    rateLimit,
    cors,
    basePath,
    logger: options.logger === false ? silent : (options.logger ?? consoleLogger),
  };
}

function flagTable(flags: Record<number, string> | undefined): FlagTable {
  const table = new Map<bigint, string>(DEFAULT_FLAG_CATEGORIES);
  const names = new Set<string>();
  for (const [bit, category] of Object.entries(flags ?? {})) {
    const field = `rpc.flags.${bit}`;
    const value = /^\d+$/.test(bit) ? BigInt(bit) : -1n;
    if (value < 2n || value > 2n ** 52n || (value & (value - 1n)) !== 0n) {
      throw new ConfigError(`${field}: a flag is one bit, a power of two from 2 to 2^52 (bit 1 is postmaster's reserved bit)`, { field });
    }
    if (typeof category !== 'string' || category.length === 0) throw new ConfigError(`${field} must be a category name`, { field });
    if (names.has(category)) throw new ConfigError(`${field}: category "${category}" is already the category of another bit`, { field });
    names.add(category);
    table.set(value, category);
  }
  // GetPrefs turns categories back into bits: one category must name one bit.
  const owners = new Map<string, bigint>();
  for (const [bit, category] of table) {
    const other = owners.get(category);
    if (other !== undefined) throw new ConfigError(`rpc.flags: category "${category}" names bits ${other} and ${bit}; give each bit its own`, { field: `rpc.flags.${bit}` });
    owners.set(category, bit);
  }
  return table;
}
