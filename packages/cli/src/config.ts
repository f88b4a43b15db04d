import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, createHerald, type Herald, type HeraldOptions } from '@herald/core';
import type { ServerOptions } from '@herald/server';

/** Config file names looked for in the project root, in this order. */
export const CONFIG_FILES = ['herald.config.ts', 'herald.config.mts', 'herald.config.js', 'herald.config.mjs'] as const;

export interface LoadConfigOptions {
  /** `--config <file>`, relative to `cwd`. Also read from `HERALD_CONFIG`. */
  config?: string;
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

/** A loaded `herald.config.*`: the Herald instance the commands run against. */
export interface LoadedConfig {
  /** Absolute path of the config file. */
  file: string;
  /** The path as people should read it (relative to the working directory). */
  displayPath: string;
  herald: Herald;
  /** The createHerald options, when the file exported options rather than an instance (`herald check` names each problem). */
  options: HeraldOptions | null;
  /** The file's named `server` export: options for `herald serve`. */
  server: ServerOptions | undefined;
}

/** The config file failed to load or its default export is not usable; `cause` is what the file threw. */
export class ConfigLoadError extends ConfigError {
  constructor(
    message: string,
    readonly file: string,
    cause?: unknown,
    /** No config file was found (a usage error), rather than one that failed. */
    readonly missing = false,
  ) {
    super(message, { field: 'config', ...(cause === undefined ? {} : { cause }) });
    this.name = 'ConfigLoadError';
  }
}

/**
 * Find the config file: `--config` (or `HERALD_CONFIG`) when given, else the first of {@link CONFIG_FILES} in the
 * working directory or a parent, up to the nearest folder holding a `package.json` (the project root).
 */
export function findConfig(options: LoadConfigOptions): string {
  const explicit = options.config ?? options.env?.HERALD_CONFIG;
  if (explicit) {
    const file = resolve(options.cwd, explicit);
    if (!existsSync(file)) throw new ConfigLoadError(`config file ${explicit} does not exist (from --config${options.config ? '' : ' / HERALD_CONFIG'})`, file, undefined, true);
    return file;
  }
  for (let dir = resolve(options.cwd); ; dir = dirname(dir)) {
    for (const name of CONFIG_FILES) {
      const file = join(dir, name);
      if (existsSync(file)) return file;
    }
    if (existsSync(join(dir, 'package.json')) || dirname(dir) === dir) break;
  }
  throw new ConfigLoadError(
    `no herald.config.ts (or .mts, .js, .mjs) in ${options.cwd} or its parents up to the project root; create one whose default export is createHerald(...) or its options, or pass --config <file>`,
    join(options.cwd, CONFIG_FILES[0]),
    undefined,
    true,
  );
}

// Failures Node reports before any of the file's code has run, where jiti can do what the runtime cannot (strip
// types on Node 20, resolve extensionless imports): only then is the file loaded a second way, so a config
// never runs twice.
const BEFORE_EVALUATION = new Set(['ERR_UNKNOWN_FILE_EXTENSION', 'ERR_REQUIRE_CYCLE_MODULE', 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX', 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING', 'ERR_MODULE_NOT_FOUND']);

/**
 * Import the config module with Node's own `import()` when the runtime can load it (JavaScript; TypeScript with
 * type stripping or a registered loader), else through jiti, which transpiles it (and a `.js` config's `.ts`
 * imports).
 */
async function importModule(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if (!BEFORE_EVALUATION.has((error as { code?: string }).code ?? '')) throw error;
  }
  const { createJiti } = await import('jiti');
  const jiti = createJiti(import.meta.url, { interopDefault: false });
  return await jiti.import<Record<string, unknown>>(file);
}

function isHerald(value: unknown): value is Herald {
  const v = value as Partial<Herald> | null;
  return !!v && typeof v === 'object' && typeof v.notify === 'function' && typeof v.worker === 'function' && !!v.store;
}

function isOptions(value: unknown): value is HeraldOptions {
  const v = value as Partial<HeraldOptions> | null;
  return !!v && typeof v === 'object' && 'store' in v && Array.isArray(v.backends) && Array.isArray(v.notifications);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (no default export)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object with keys ${Object.keys(value).slice(0, 6).join(', ') || '(none)'}`;
  return `a ${typeof value}`;
}

function messageOf(error: unknown): string {
  // The CLI's own error adds the `[herald]` prefix once.
  return (error instanceof Error ? error.message : String(error)).replace(/^\[herald\] /, '');
}

/** The config module's default export, resolved (a function called) but not yet turned into an instance. */
export interface ImportedConfig {
  file: string;
  displayPath: string;
  value: Herald | HeraldOptions;
  server: ServerOptions | undefined;
}

/**
 * Find and import the config file and resolve its default export to a Herald instance or createHerald options,
 * without calling createHerald (`herald check` does, one notification at a time, to name every problem).
 */
export async function importConfig(options: LoadConfigOptions): Promise<ImportedConfig> {
  const file = findConfig(options);
  const displayPath = relative(options.cwd, file) || file;
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(file);
  } catch (error) {
    throw new ConfigLoadError(`${displayPath} threw while loading: ${messageOf(error)}`, file, error);
  }
  let value: unknown = mod.default;
  if (typeof value === 'function' && !isHerald(value)) {
    try {
      value = await (value as () => unknown)();
    } catch (error) {
      throw new ConfigLoadError(`${displayPath}: the default export (a function) threw: ${messageOf(error)}`, file, error);
    }
  }
  const server = mod.server as ServerOptions | undefined;
  if (server !== undefined && (typeof server !== 'object' || server === null)) {
    throw new ConfigLoadError(`${displayPath}: the \`server\` export must be an object of @herald/server options, got ${describe(server)}`, file);
  }
  if (isHerald(value) || isOptions(value)) return { file, displayPath, value, server };
  throw new ConfigLoadError(
    `${displayPath}: the default export must be a Herald instance (export default createHerald({ … })) or createHerald options ({ store, backends, notifications }); got ${describe(value)}`,
    file,
  );
}

/** True when the config exported a Herald instance (rather than its options). */
export function isHeraldInstance(value: Herald | HeraldOptions): value is Herald {
  return isHerald(value);
}

/**
 * Load `herald.config.ts` (or `.mts`, `.js`, `.mjs`): its default export is a Herald instance, createHerald
 * options, or a (possibly async) function returning either. A named `server` export holds `herald serve`'s
 * options. Every failure is a {@link ConfigLoadError} naming the file.
 *
 * @example
 * ```ts
 * import { loadConfig } from '@herald/cli';
 *
 * const { herald, displayPath } = await loadConfig({ cwd: process.cwd() });
 * console.log(displayPath, (await herald.deliveries.count()).queued ?? 0);
 * await herald.close();
 * ```
 */
export async function loadConfig(options: LoadConfigOptions): Promise<LoadedConfig> {
  const { file, displayPath, value, server } = await importConfig(options);
  if (isHerald(value)) return { file, displayPath, herald: value, options: null, server };
  try {
    return { file, displayPath, herald: createHerald(value), options: value, server };
  } catch (error) {
    throw new ConfigLoadError(`${displayPath}: createHerald failed: ${messageOf(error)}`, file, error);
  }
}
