import { ConfigError } from '@herald/core';
import { expect, it } from 'vitest';
import { twitter } from '../src';

const credentials = { appKey: 'app-key-1', appSecret: 'app-secret-1', accessToken: 'access-token-1', accessSecret: 'access-secret-1' };

it('twitter() rejects an unknown option, suggesting the closest one', () => {
  // @ts-expect-error `truncated` is not an option
  const create = () => twitter({ ...credentials, truncated: true });
  expect(create).toThrow(ConfigError);
  expect(create).toThrow('unknown option `truncated`; did you mean `truncate`?');
  expect(twitter(credentials).kind).toBe('twitter');
});
