import { ConfigError } from '@herald/core';
import { expect, it } from 'vitest';
import { postmark } from '../src';

it('postmark() rejects unknown options, top level and in webhookAuth', () => {
  // @ts-expect-error `serverTokn` is not an option
  const create = () => postmark({ serverTokn: 'pm-token-123456' });
  expect(create).toThrow(ConfigError);
  expect(create).toThrow('unknown option `serverTokn`; did you mean `serverToken`?');
  // @ts-expect-error `user` is not a credentials option
  expect(() => postmark({ serverToken: 'pm-token-123456', webhookAuth: { user: 'hook', password: 'pw-123456' } })).toThrow(
    'unknown option `webhookAuth.user`',
  );
  // @ts-expect-error `pasword` is not a credentials option
  expect(() => postmark({ serverToken: 't-123456', webhookAuth: [{ username: 'a', password: 'b' }, { username: 'c', pasword: 'd' }] })).toThrow(
    'unknown option `webhookAuth[1].pasword`; did you mean `webhookAuth[1].password`?',
  );
  expect(postmark({ serverToken: 'pm-token-123456', webhookAuth: { username: 'hook', password: 'pw-123456' } }).kind).toBe('postmark');
});
