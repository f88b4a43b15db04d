import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { closestKey, ConfigError, defineBackend, parseOptions, strictParse, unknownKeys } from '../src';
import { issuesOf } from '../src/options';

/** A backend shaped like the real ones: nested objects, a union, a passthrough object, a refinement. */
const relay = defineBackend({
  name: 'relay',
  protocol: 'email',
  formats: ['text'],
  options: z
    .object({
      host: z.string().default('localhost'),
      port: z.number().int().optional(),
      tls: z.object({ rejectUnauthorized: z.boolean().optional(), servername: z.string().optional() }).optional(),
      auth: z.union([z.object({ user: z.string(), pass: z.string() }), z.array(z.object({ user: z.string(), pass: z.string() }))]).optional(),
      extra: z.looseObject({ known: z.string().optional() }).optional(),
      allowedHosts: z.array(z.string()).default([]),
    })
    .refine((o) => o.host !== 'forbidden', { message: 'not that host', path: ['host'] }),
  setup: () => ({ send: async () => ({ messageId: 'relay-1' }) }),
});

const configError = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  return expect.fail('expected a ConfigError');
};

describe('closestKey', () => {
  it('suggests the nearest key, counting a transposition as one edit and ignoring case', () => {
    expect(closestKey('hots', ['port', 'host', 'secure'])).toBe('host');
    expect(closestKey('allowedHost', ['allowPrivateNetworks', 'allowedHosts'])).toBe('allowedHosts');
    expect(closestKey('rejectUnauthorised', ['servername', 'rejectUnauthorized'])).toBe('rejectUnauthorized');
    expect(closestKey('ignoretls', ['ignoreTLS', 'requireTLS'])).toBe('ignoreTLS');
    expect(closestKey('rety', ['retry', 'routing'])).toBe('retry');
    expect(closestKey('perSec', ['perSecond'])).toBe('perSecond');
    expect(closestKey('password', ['user', 'pass'])).toBe('pass');
  });

  it('suggests nothing when no key is close', () => {
    expect(closestKey('zzz', ['host', 'port'])).toBeUndefined();
    expect(closestKey('colour', ['host', 'port', 'secure'])).toBeUndefined();
    expect(closestKey('x', [])).toBeUndefined();
  });
});

describe('defineBackend rejects unknown options', () => {
  // Regression: `smtp({ hots: 'x' })` was accepted and sent to localhost.
  it('names a misspelt top-level option and suggests the real one', () => {
    // @ts-expect-error `hots` is not an option
    const error = configError(() => relay({ hots: 'mail.example.org' }));
    expect(error.message).toBe('[herald] [relay] invalid options:\n  - options.hots: unknown option `hots`; did you mean `host`?');
    expect(error).toMatchObject({ field: 'hots', backend: 'relay', code: 'CONFIG' });
  });

  it('suggests a common option for a misspelt common option, and reports every problem at once', () => {
    // @ts-expect-error `concurency` is not an option
    const error = configError(() => relay({ concurency: 4, hots: 'x', port: 2.5 }));
    expect(error.message).toContain('options.concurency: unknown option `concurency`; did you mean `concurrency`?');
    expect(error.message).toContain('options.hots: unknown option `hots`; did you mean `host`?');
    expect(error.message).toMatch(/options\.port: .*expected int/i);
    // Unknown keys come first: a misspelt key is usually why a value is missing.
    expect(error.field).toBe('concurency');
  });

  it('names nested unknown options by their full path', () => {
    // @ts-expect-error `rejectUnauthorised` is not a tls option
    const error = configError(() => relay({ tls: { rejectUnauthorised: false } }));
    expect(error.message).toContain(
      'options.tls.rejectUnauthorised: unknown option `tls.rejectUnauthorised`; did you mean `tls.rejectUnauthorized`?',
    );
    expect(error.field).toBe('tls.rejectUnauthorised');
  });

  it('checks the union member that fits, inside arrays too', () => {
    // @ts-expect-error `password` is not an auth option
    expect(() => relay({ auth: { user: 'a', password: 'b' } })).toThrow(/options\.auth\.password: unknown option `auth\.password`/);
    // @ts-expect-error `usr` is not an auth option
    const error = configError(() => relay({ auth: [{ user: 'a', pass: 'b' }, { usr: 'c', pass: 'd' }] }));
    expect(error.message).toContain('unknown option `auth[1].usr`; did you mean `auth[1].user`?');
    expect(relay({ auth: [{ user: 'a', pass: 'b' }] }).name).toBe('relay');
  });

  it('gives no suggestion when nothing is close', () => {
    // @ts-expect-error not an option
    expect(() => relay({ colour: 'blue' })).toThrow(/unknown option `colour`$/m);
    // @ts-expect-error not an option
    expect(() => relay({ toString: 'x', constructor: 1 })).toThrow(/unknown option `toString`.*\n.*unknown option `constructor`/);
  });

  it('leaves objects that pass unknown keys through alone', () => {
    expect(relay({ extra: { known: 'a', anything: 1 } }).name).toBe('relay');
  });

  it('checks nested common options: rateLimit and defaults', () => {
    // @ts-expect-error `perSec` is not a rateLimit option
    expect(() => relay({ rateLimit: { perSec: 5 } })).toThrow(/unknown option `rateLimit\.perSec`; did you mean `rateLimit\.perSecond`\?/);
    // @ts-expect-error `form` is not a send option
    expect(() => relay({ defaults: { form: 'a@b.example' } })).toThrow(/unknown option `defaults\.form`; did you mean `defaults\.from`\?/);
    // @ts-expect-error replyTo is a list
    expect(() => relay({ defaults: { replyTo: 'a@b.example' } })).toThrow(/options\.defaults\.replyTo/);
    expect(relay({ defaults: { from: 'a@b.example', tags: ['x'] } }).defaults).toEqual({ from: 'a@b.example', tags: ['x'] });
  });

  it.each([0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses concurrency %s', (concurrency) => {
    expect(configError(() => relay({ concurrency })).field).toBe('concurrency');
  });

  it.each([0, -2, Number.POSITIVE_INFINITY])('refuses rateLimit.perSecond %s', (perSecond) => {
    expect(configError(() => relay({ rateLimit: { perSecond } })).field).toBe('rateLimit.perSecond');
  });

  it('accepts good options, fractional rates included, and still runs refinements', () => {
    expect(relay({ concurrency: 3, rateLimit: { perSecond: 0.5 }, tls: { servername: 'x' } })).toMatchObject({
      concurrency: 3,
      rateLimit: { perSecond: 0.5 },
    });
    expect(() => relay({ host: 'forbidden' })).toThrow(/options\.host: not that host/);
  });
});

describe('helpers for other option parsers', () => {
  const schema = z.object({ path: z.string(), wal: z.object({ autoCheckpoint: z.number().int().positive() }).optional() });

  it('strictParse returns the data, or every issue with its path and field', () => {
    expect(strictParse(schema, { path: 'x.db' }, 'options')).toEqual({ ok: true, data: { path: 'x.db' } });
    const result = strictParse(schema, { pth: 'x.db', wal: { autocheckpoint: 0 } }, 'options');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => [i.path, i.field, i.message])).toEqual([
      ['options.pth', 'pth', 'unknown option `pth`; did you mean `path`?'],
      ['options.wal.autocheckpoint', 'wal.autocheckpoint', 'unknown option `wal.autocheckpoint`; did you mean `wal.autoCheckpoint`?'],
      ['options.path', 'path', expect.stringMatching(/expected string/i)],
      ['options.wal.autoCheckpoint', 'wal.autoCheckpoint', expect.stringMatching(/expected number/i)],
    ]);
  });

  it('strictParse reports a strict schema’s unknown keys once', () => {
    const strict = z.strictObject({ host: z.string().optional(), tls: z.strictObject({ servername: z.string() }).optional() });
    const result = strictParse(strict, { hots: 'x', tls: { servrname: 'y' } }, 'options');
    expect(result.ok ? [] : result.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'options.hots: unknown option `hots`; did you mean `host`?',
      'options.tls.servrname: unknown option `tls.servrname`; did you mean `tls.servername`?',
      expect.stringMatching(/^options\.tls\.servername: .*expected string/i),
    ]);
  });

  it('parseOptions throws a ConfigError naming what was parsed', () => {
    const error = configError(() => parseOptions(schema, { path: 'x', pth: 'y' }, { prefix: 'options', what: 'sqliteStore options' }));
    expect(error.message).toBe('[herald] invalid sqliteStore options:\n  - options.pth: unknown option `pth`; did you mean `path`?');
    expect(error.field).toBe('pth');
  });

  it('unknownKeys checks an object against a list of keys', () => {
    expect(unknownKeys({ concurency: 1, pollMs: 5 }, ['concurrency', 'pollMs'], 'worker options')).toEqual([
      {
        path: 'worker options.concurency',
        field: 'concurency',
        message: 'unknown option `concurency`; did you mean `concurrency`?',
        unknownKey: 'concurency',
      },
    ]);
    expect(unknownKeys(undefined, ['a'], 'x')).toEqual([]);
  });

  it('issuesOf turns zod’s unrecognized_keys into one issue per key, suggesting from the schema at that path', () => {
    const strict = z.strictObject({ siteContacts: z.array(z.strictObject({ protocol: z.string(), address: z.string() })) });
    const parsed = strict.safeParse({ siteContacts: [{ protocol: 'email', adress: 'a@b.example', address: 'x' }], rety: 1 });
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    expect(issuesOf(parsed.error, 'options', strict).map((i) => `${i.path}: ${i.message}`)).toEqual([
      'options.siteContacts[0].adress: unknown key `siteContacts[0].adress`; did you mean `siteContacts[0].address`?',
      'options.rety: unknown key `rety`',
    ]);
  });
});
