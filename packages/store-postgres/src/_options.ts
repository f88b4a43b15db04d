import { ConfigError, closestKey } from '@herald/core';

/**
 * Reject keys of `options` that are not in `known` (a typo must not silently fall back to a default), naming the
 * key and the closest known one (core's `closestKey`, so every factory suggests alike). `path` prefixes nested keys (`connection.hots`).
 */
export function rejectUnknownKeys(factory: string, options: object, known: readonly string[], path = ''): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = closestKey(key, known);
    const hint = near ? `did you mean \`${path}${near}\`?` : `known options: ${known.map((k) => `\`${path}${k}\``).join(', ')}.`;
    throw new ConfigError(`${factory}: unknown option \`${path}${key}\`; ${hint}`, { backend: 'store-postgres', field: `${path}${key}` });
  }
}
