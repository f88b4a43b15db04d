import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type ApiKeyRecord, ConfigError, type KeyStore } from '@herald/core';

/**
 * What an API key may do. `send`: `POST /v1/notify` and `Postmaster.Enqueue`. `read`: every `GET` and
 * `Postmaster.GetLastEmail` / `GetPrefs`. `admin`: everything else that changes state (redeliver, cancel,
 * preferences, suppressions, `Postmaster.UpdatePrefs` / `MovePrefs`) — and it includes `send` and `read`.
 */
export type Scope = 'send' | 'read' | 'admin';

export const SCOPES: readonly Scope[] = ['send', 'read', 'admin'];

const KEY = /^hk_([a-f0-9]{16})_([A-Za-z0-9_-]{43})$/;

/**
 * SHA-256 of the whole key, hex. A fast hash is enough here (no bcrypt/scrypt): the secret is 256 random bits, so
 * there is no dictionary to try; a slow hash only protects guessable passwords.
 */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * Create an API key and store its hash. The key (`hk_<id>_<secret>`) is returned once and never stored: show it to
 * the operator and forget it. The id is public (lists, logs); the secret part is 32 random bytes.
 *
 * Run the store's migrations first (`herald migrate`, or any call on the Herald instance).
 *
 * @example
 * ```ts
 * import { createHerald } from '@herald/core';
 * import { createApiKey } from '@herald/server';
 * import { sqliteStore } from '@herald/store-sqlite';
 *
 * const herald = createHerald({ store: sqliteStore({ path: 'herald.db' }), backends: [], notifications: [] });
 * await herald.store.migrate();
 * const { id, key } = await createApiKey(herald.store, { scopes: ['send', 'read'], name: 'billing service' });
 * console.log(`key ${id}: ${key}`); // printed once
 * await herald.close();
 * ```
 */
export async function createApiKey(store: KeyStore, options: { scopes: readonly Scope[]; name?: string }): Promise<{ id: string; key: string }> {
  const scopes = [...new Set(options?.scopes ?? [])];
  if (scopes.length === 0) throw new ConfigError(`an API key needs at least one scope: ${SCOPES.join(', ')}`, { field: 'scopes' });
  const unknown = scopes.filter((s) => !SCOPES.includes(s));
  if (unknown.length) throw new ConfigError(`unknown scope "${unknown[0]}"; scopes are ${SCOPES.join(', ')}`, { field: 'scopes' });
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length > 200)) {
    throw new ConfigError('name must be a string of at most 200 characters', { field: 'name' });
  }
  const id = randomBytes(8).toString('hex');
  const key = `hk_${id}_${randomBytes(32).toString('base64url')}`;
  await store.saveKey({ id, name: options.name ?? null, hash: hashKey(key), scopes, createdAt: new Date(), revokedAt: null, lastUsedAt: null });
  return { id, key };
}

/**
 * Every API key, revoked ones included, newest first. Records hold the hash, never the key.
 *
 * @example
 * ```ts
 * import { createHerald } from '@herald/core';
 * import { listApiKeys } from '@herald/server';
 * import { sqliteStore } from '@herald/store-sqlite';
 *
 * const herald = createHerald({ store: sqliteStore({ path: 'herald.db' }), backends: [], notifications: [] });
 * await herald.store.migrate();
 * for (const k of await listApiKeys(herald.store)) console.log(k.id, k.scopes.join(','), k.revokedAt ? 'revoked' : 'active');
 * await herald.close();
 * ```
 */
export function listApiKeys(store: KeyStore): Promise<ApiKeyRecord[]> {
  return store.listKeys();
}

/**
 * Revoke a key by id: it is refused (401) from the next request on. False when there is no such key or it was
 * revoked already.
 *
 * @example
 * ```ts
 * import { createHerald } from '@herald/core';
 * import { revokeApiKey } from '@herald/server';
 * import { sqliteStore } from '@herald/store-sqlite';
 *
 * const herald = createHerald({ store: sqliteStore({ path: 'herald.db' }), backends: [], notifications: [] });
 * await herald.store.migrate();
 * console.log(await revokeApiKey(herald.store, '0f1e2d3c4b5a6978'));
 * await herald.close();
 * ```
 */
export function revokeApiKey(store: KeyStore, id: string): Promise<boolean> {
  return store.revokeKey(id, new Date());
}

/** Why a presented key was refused, or the key's record. */
export type KeyCheck = { ok: true; record: ApiKeyRecord } | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' };

/**
 * Check a presented key against the store: the hash is compared in constant time (`timingSafeEqual`). An unknown id
 * answers faster than a wrong secret; ids are public, so that tells nothing.
 */
export async function checkKey(store: KeyStore, presented: string): Promise<KeyCheck> {
  const m = KEY.exec(presented);
  if (!m) return { ok: false, reason: 'malformed' };
  const record = await store.findKey(m[1]!);
  if (!record) return { ok: false, reason: 'unknown' };
  const expected = Buffer.from(record.hash, 'hex');
  const actual = createHash('sha256').update(presented).digest();
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return { ok: false, reason: 'unknown' };
  // Only a caller holding the real key learns that it was revoked.
  if (record.revokedAt) return { ok: false, reason: 'revoked' };
  return { ok: true, record };
}

/** Whether a key's scopes allow `needed` (`admin` allows everything). */
export function allows(scopes: readonly string[], needed: Scope): boolean {
  return scopes.includes(needed) || scopes.includes('admin');
}
