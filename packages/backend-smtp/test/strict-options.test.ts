import { ConfigError } from '@herald/core';
import { describe, expect, it } from 'vitest';
import { smtp } from '../src';

describe('smtp() rejects unknown options', () => {
  // Regression: `smtp({ hots })` was accepted and every message went to localhost.
  it('names a misspelt option and suggests the real one', () => {
    // @ts-expect-error `hots` is not an option
    const create = () => smtp({ hots: 'smtp.example.org', port: 587 });
    expect(create).toThrow(ConfigError);
    expect(create).toThrow('[herald] [smtp] invalid options:\n  - options.hots: unknown option `hots`; did you mean `host`?');
  });

  it('checks nested tls and auth options by their full path', () => {
    // @ts-expect-error `rejectUnauthorised` is not a tls option
    expect(() => smtp({ tls: { rejectUnauthorised: false } })).toThrow(
      'unknown option `tls.rejectUnauthorised`; did you mean `tls.rejectUnauthorized`?',
    );
    // @ts-expect-error `password` is not an auth option
    expect(() => smtp({ auth: { user: 'app', password: 'x' } })).toThrow('unknown option `auth.password`; did you mean `auth.pass`?');
  });

  it('suggests common options too, and validates counts', () => {
    // @ts-expect-error `maxConnection` is not an option
    expect(() => smtp({ maxConnection: 4 })).toThrow('did you mean `maxConnections`?');
    // @ts-expect-error `concurency` is not an option
    expect(() => smtp({ concurency: 4 })).toThrow('did you mean `concurrency`?');
    for (const concurrency of [0, -1, 2.5]) expect(() => smtp({ concurrency })).toThrow(/options\.concurrency/);
    expect(() => smtp({ maxConnections: 0 })).toThrow(/options\.maxConnections/);
    expect(() => smtp({ rateLimit: { perSecond: 0 } })).toThrow(/options\.rateLimit\.perSecond/);
  });

  it('accepts every documented option', () => {
    const backend = smtp({
      host: 'smtp.example.org',
      port: 587,
      secure: false,
      ignoreTLS: false,
      requireTLS: true,
      auth: { user: 'app', pass: 'secret-pass' },
      pool: true,
      maxConnections: 2,
      maxMessages: Number.POSITIVE_INFINITY,
      connectionTimeout: 5000,
      socketTimeout: 30_000,
      noDelay: true,
      tls: { rejectUnauthorized: true, servername: 'smtp.example.org' },
      from: 'Shop <shop@example.org>',
      messageIdDomain: 'example.org',
      name: 'mail',
      concurrency: 4,
      rateLimit: { perSecond: 10 },
      defaults: { replyTo: ['support@example.org'] },
    });
    expect(backend.name).toBe('mail');
    return backend.close?.();
  });
});
