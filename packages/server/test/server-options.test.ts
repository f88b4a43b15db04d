import { createHash } from 'node:crypto';
import { ConfigError, createHerald, type Store } from '@herald/core';
import { captureBackend, memoryStore } from '@herald/core/testing';
import { describe, expect, it } from 'vitest';
import { createApiKey, createServer, isLoopback, listApiKeys, openApiDocument, revokeApiKey } from '../src/index';
import { client, conformance, startFixture, STORES_UNDER_TEST } from './_harness';

const [kind] = STORES_UNDER_TEST;

const notify = (key: string | null, name = 'R') => ({
  method: 'POST',
  path: '/v1/notify',
  key,
  body: { notification: 'welcome', data: { name }, recipients: [{ contacts: [{ protocol: 'email', address: 'r@example.org' }] }] },
});

describe('rate limit', () => {
  it('429 with Retry-After once a key used its requests; other keys are unaffected; nothing is enqueued', async () => {
    const f = await startFixture(kind!, { rateLimit: { perMinute: 3 } });
    const doc = conformance();
    try {
      const answers = await client('node', f, [notify(f.keys.send), notify(f.keys.send), notify(f.keys.send), notify(f.keys.send, 'fourth'), { method: 'GET', path: '/v1/deliveries', key: f.keys.read }]);
      for (const a of answers) doc.check(a);
      expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 429, 200]);
      expect(Number(answers[3]!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((answers[3]!.json as { error: { code: string } }).error.code).toBe('rate_limited');
      expect(await f.herald.deliveries.list({ limit: 100 })).toHaveLength(3);
    } finally {
      await f.close();
    }
  });
});

describe('CORS', () => {
  it('answers a preflight from a configured origin only', async () => {
    const f = await startFixture(kind!, { cors: { origins: ['https://app.example.org'] } });
    try {
      const preflight = (origin: string) => ({ method: 'OPTIONS', path: '/v1/notify', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
      const [ok, other] = await client('node', f, [preflight('https://app.example.org'), preflight('https://evil.example')]);
      expect(ok!.headers['access-control-allow-origin']).toBe('https://app.example.org');
      expect(ok!.headers['access-control-allow-headers']?.toLowerCase()).toContain('authorization');
      expect(other!.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await f.close();
    }
  });
});

describe("auth: 'none' and basePath", () => {
  it('serves every route without a key under the base path; the document says no security', async () => {
    const f = await startFixture(kind!, { auth: 'none', basePath: '/herald' });
    try {
      const [created, list, rpc, outside] = await client('node', f, [
        { ...notify(null), path: '/herald/v1/notify' },
        { method: 'GET', path: '/herald/v1/deliveries' },
        { method: 'POST', path: '/herald/rpc', body: { jsonrpc: '2.0', method: 'Postmaster.GetPrefs', params: { email: 'a@example.org' }, id: 1 } },
        { method: 'GET', path: '/v1/deliveries' },
      ]);
      expect([created!.status, list!.status, rpc!.status, outside!.status]).toEqual([201, 200, 200, 404]);
      const doc = openApiDocument({ auth: 'none', basePath: '/herald' }) as { paths: Record<string, Record<string, { security?: unknown }>> };
      expect(Object.keys(doc.paths).every((p) => p.startsWith('/herald/'))).toBe(true);
      expect(doc.paths['/herald/v1/notify']!.post!.security).toBeUndefined();
      const full = openApiDocument() as { paths: Record<string, Record<string, { security?: unknown }>> };
      expect(full.paths['/v1/notify']!.post!.security).toEqual([{ bearerAuth: [] }]);
    } finally {
      await f.close();
    }
  });
});

describe('failures inside the server', () => {
  it('a store that throws answers 500 without its message; the log has it, the response does not', async () => {
    const failing = async () => {
      throw new Error('connection to db-7.internal refused');
    };
    // Methods are bound to the real store: a class store's private fields need their own `this`.
    const wrap = (store: Store): Store =>
      new Proxy(store, {
        get(target, key) {
          if (key === 'list') return failing;
          const value: unknown = Reflect.get(target, key, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    const f = await startFixture(kind!, {}, { wrap });
    try {
      const [r] = await client('node', f, [{ method: 'GET', path: '/v1/deliveries', key: f.keys.read }]);
      expect(r!.status).toBe(500);
      expect(r!.body).not.toContain('db-7');
      expect((r!.json as { error: { code: string } }).error.code).toBe('internal');
      expect(f.logs.some((l) => l.startsWith('error') && l.includes('db-7.internal'))).toBe(true);
    } finally {
      await f.close();
    }
  });
});

describe('options', () => {
  const herald = createHerald({ store: memoryStore(), backends: [captureBackend({ protocol: 'email' })], notifications: [], logger: false });

  it('refuses unknown and invalid options naming the field', () => {
    const field = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return [(error as ConfigError).field, (error as Error).message];
      }
      throw new Error('did not throw');
    };
    expect(field(() => createServer(herald, { bodyLimit: 10 } as never))).toEqual(['bodyLimit', expect.stringContaining('did you mean `bodyLimitBytes`')]);
    expect(field(() => createServer(herald, { rpc: { auth: 'nobody' } } as never))[0]).toBe('rpc.auth');
    expect(field(() => createServer(herald, { rpc: { flags: { 1: 'all' } } }))[0]).toBe('rpc.flags.1');
    expect(field(() => createServer(herald, { rpc: { flags: { 6: 'two-bits' } } }))[0]).toBe('rpc.flags.6');
    expect(field(() => createServer(herald, { rpc: { flags: { 2: 'news', 4: 'news' } } }))[0]).toBe('rpc.flags.4');
    expect(field(() => createServer(herald, { rateLimit: { perMinute: 0 } }))[0]).toBe('rateLimit.perMinute');
    expect(field(() => createServer(herald, { cors: { origins: ['*'] } }))[0]).toBe('cors.origins');
    expect(field(() => createServer(herald, { basePath: 'herald' }))[0]).toBe('basePath');
  });

  it('isLoopback tells this-machine-only binds apart', () => {
    const yes = ['localhost', '127.0.0.1', '127.8.9.10', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'LOCALHOST'];
    const no = ['0.0.0.0', '::', '192.168.1.2', '10.0.0.1', 'example.org', 'localhost.example.org', '::2', '128.0.0.1', ''];
    expect(yes.filter((h) => !isLoopback(h))).toEqual([]);
    expect(no.filter((h) => isLoopback(h))).toEqual([]);
  });
});

describe('API keys', () => {
  it.each(STORES_UNDER_TEST)('stores only the SHA-256 of the key; lists and revokes by id ($name)', async (storeKind) => {
    const { store, cleanup } = await storeKind.make();
    await store.migrate();
    const { id, key } = await createApiKey(store, { scopes: ['send', 'read'], name: 'billing' });
    expect(key).toMatch(new RegExp(`^hk_${id}_[A-Za-z0-9_-]{43}$`));
    const [record] = await listApiKeys(store);
    expect(record).toMatchObject({ id, name: 'billing', scopes: ['send', 'read'], revokedAt: null, hash: createHash('sha256').update(key).digest('hex') });
    expect(JSON.stringify(record)).not.toContain(key.slice(20));
    expect(await revokeApiKey(store, id)).toBe(true);
    expect(await revokeApiKey(store, id)).toBe(false);
    expect((await listApiKeys(store))[0]!.revokedAt).toBeInstanceOf(Date);
    await expect(createApiKey(store, { scopes: [] })).rejects.toThrow(ConfigError);
    await expect(createApiKey(store, { scopes: ['write' as never] })).rejects.toThrow(/unknown scope "write"/);
    await store.close();
    await cleanup();
  });
});
