import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, createHerald, defineNotification, HeraldError, type HeraldOptions, type Recipient, StoreError, ValidationError } from '../src';
import { captureBackend, memoryStore } from '../src/testing';

const welcome = defineNotification({
  id: 'welcome',
  schema: z.object({ name: z.string(), tags: z.array(z.string()).optional() }),
  templates: { email: { format: 'text', subject: 'Welcome {{name}}', body: 'Hi {{name}}' } },
});

function setup(extra: Partial<HeraldOptions> = {}) {
  const email = captureBackend({ protocol: 'email' });
  const store = memoryStore();
  const herald = createHerald({ store, backends: [email], notifications: [welcome], logger: false, ...extra });
  return { herald, email, store };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

const ada: Recipient = { id: 'u1', name: 'Ada', contacts: [{ protocol: 'email', address: 'ada@shop.dev' }] };

describe('strict configuration', () => {
  // Regression: `createHerald({ rety })` and nested typos were silently ignored.
  it.each([
    [{ rety: { maxAttempts: 2 } }, 'options.rety', '`retry`'],
    [{ retry: { maxAtempts: 2 } }, 'options.retry.maxAtempts', '`retry.maxAttempts`'],
    [{ siteContacts: [{ protocol: 'email', adress: 'ops@shop.dev', address: 'ops@shop.dev' }] }, 'options.siteContacts[0].adress', '`siteContacts[0].address`'],
    [{ webhooks: { maxBodyByte: 10 } }, 'options.webhooks.maxBodyByte', '`webhooks.maxBodyBytes`'],
    [{ failover: { circut: false } }, 'options.failover.circut', '`failover.circuit`'],
  ])('an unknown key is a ConfigError naming it and the closest known one (%j)', (extra, field, suggestion) => {
    const error = thrown(() => setup(extra as Partial<HeraldOptions>));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
    expect((error as ConfigError).message).toContain(`did you mean ${suggestion}`);
  });

  it('duplicate backend names say which entries, in words and in field', () => {
    const error = thrown(() => createHerald({ store: memoryStore(), backends: [captureBackend({ protocol: 'email' }), captureBackend({ protocol: 'email' })], notifications: [] })) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('backends[1]');
    expect(error.field).toBe('options.backends[1].name');
  });

  it('a bad site contact names siteContacts[i].address', () => {
    const error = thrown(() => setup({ siteContacts: [{ protocol: 'email', address: 'not-an-address' }] })) as ConfigError;
    expect(error.message).toContain('siteContacts[0].address');
    expect(error.field).toBe('options.siteContacts[0].address');
  });

  // Regression: worker({ concurrency: 0 | -1 | 2.5 }) never sent, and drain({ concurrency: 0 }) spun and froze the process.
  it.each([0, -1, 2.5, Number.NaN])('worker and drain refuse concurrency %s', async (concurrency) => {
    const { herald } = setup();
    expect(() => herald.worker({ concurrency })).toThrow(ConfigError);
    await expect(herald.drain({ concurrency })).rejects.toThrow(/concurrency/);
  });

  it('worker options: unknown keys and zero durations are errors', async () => {
    const { herald } = setup();
    expect(() => herald.worker({ concurency: 4 } as never)).toThrow(/unknown option `concurency`; did you mean `concurrency`/);
    expect(() => herald.worker({ lease: 0 })).toThrow(/lease must be longer than 0/);
    await expect(herald.drain({ pollInterval: 'soon' as never })).rejects.toThrow(ConfigError);
  });

  it('notify() options and send options: unknown keys are errors, nothing enqueued', async () => {
    const { herald, store } = setup();
    await expect(herald.notify(welcome, { name: 'Ada' }, [ada], { transacton: {} } as never)).rejects.toThrow(/unknown option `transacton`; did you mean `transaction`/);
    await expect(herald.notify(welcome, { name: 'Ada' }, [ada], { options: { replyto: ['x@shop.dev'] } } as never)).rejects.toThrow(/did you mean `replyTo`/);
    expect(await store.list()).toEqual([]);
  });

  it('defineNotification refuses unknown keys', () => {
    expect(() => defineNotification({ id: 'x', schema: z.object({}), templats: {} } as never)).toThrow(/unknown option `templats`; did you mean `templates`/);
  });
});

describe('input a store cannot hold, or that could inject headers', () => {
  // Regression: a CR/LF display name reached the SMTP backend as an injected Bcc header.
  it.each([
    ['"Eve\r\nBcc: x@y.test" <eve@shop.dev>', 'recipients[0].contacts[0].address'],
    ['eve@shop.dev\n', 'recipients[0].contacts[0].address'],
    ['eve\u0000@shop.dev', 'recipients[0].contacts[0].address'],
  ])('an address with control characters is a ValidationError naming the contact (%j)', async (address, path) => {
    const { herald, store } = setup();
    const error = await herald.notify(welcome, { name: 'Ada' }, [{ id: 'eve', contacts: [{ protocol: 'email', address }] }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toEqual([path]);
    expect((error as ValidationError).message).toContain('recipient "eve"');
    expect(await store.list()).toEqual([]);
  });

  // Regression: these surfaced as a SQLite RangeError or a PostgreSQL DatabaseError after thousands of rows were built.
  it.each([
    [{ id: 42, contacts: [{ protocol: 'email', address: 'a@shop.dev' }] }, 'recipients[1].id', /must be a string/],
    [{ id: 'u\u0000', contacts: [{ protocol: 'email', address: 'a@shop.dev' }] }, 'recipients[1].id', /NUL/],
    [{ id: 'u3', name: 'Ada\r\nBcc: x', contacts: [{ protocol: 'email', address: 'a@shop.dev' }] }, 'recipients[1].name', /control character/],
    [{ id: 'u4', name: 'bad \ud800 half', contacts: [{ protocol: 'email', address: 'a@shop.dev' }] }, 'recipients[1].name', /surrogate/],
  ])('recipient fields a store cannot hold are ValidationErrors before anything is prepared (%j)', async (bad, path, message) => {
    const { herald, store } = setup();
    const error = await herald.notify(welcome, { name: 'Ada' }, [ada, bad as Recipient]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const issue = (error as ValidationError).issues.find((i) => i.path === path);
    expect(issue?.message).toMatch(message);
    expect(await store.list()).toEqual([]);
  });

  it.each([
    [{ name: 'Ada\u0000' }, 'data.name', /NUL/],
    [{ name: 'Ada', tags: ['ok', 'x\udc00y'] }, 'data.tags[1]', /surrogate/],
  ])('data strings a store cannot hold are ValidationErrors naming the field (%j)', async (data, path, message) => {
    const { herald, store } = setup();
    const error = await herald.notify(welcome, data, [ada]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.find((i) => i.path === path)?.message).toMatch(message);
    expect(await store.list()).toEqual([]);
  });

  it('emoji and CJK (paired surrogates) are fine', async () => {
    const { herald, email } = setup();
    await herald.notify(welcome, { name: '🎉 山田' }, [{ id: 'u1', name: '山田 🎉', contacts: [{ protocol: 'email', address: 'yamada@shop.dev' }] }]);
    await herald.drain();
    expect(email.messages[0]!.content.subject).toBe('Welcome 🎉 山田');
  });

  it('every error notify() throws is a HeraldError: a store failure is a StoreError naming the store', async () => {
    const store = memoryStore();
    store.enqueue = async () => {
      throw new RangeError('driver exploded');
    };
    const herald = createHerald({ store, backends: [captureBackend({ protocol: 'email' })], notifications: [welcome], logger: false });
    const error = await herald.notify(welcome, { name: 'Ada' }, [ada]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toBeInstanceOf(HeraldError);
    expect((error as StoreError).message).toContain('driver exploded');
    expect((error as StoreError).cause).toBeInstanceOf(RangeError);
  });

  it('notify(…, { transaction }) on a store that cannot join one is a ConfigError, never ignored', async () => {
    const { herald, store } = setup();
    await expect(herald.notify(welcome, { name: 'Ada' }, [ada], { transaction: {} })).rejects.toThrow(ConfigError);
    expect(await store.list()).toEqual([]);
  });
});
