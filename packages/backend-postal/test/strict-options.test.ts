import { ConfigError } from '@herald/core';
import { expect, it } from 'vitest';
import { postal } from '../src';

it('postal() rejects an unknown option, suggesting the closest one', () => {
  // @ts-expect-error `apiURL` is not an option
  const create = () => postal({ apiURL: 'https://postal.example.org', apiKey: 'key-123456' });
  expect(create).toThrow(ConfigError);
  expect(create).toThrow('unknown option `apiURL`; did you mean `apiUrl`?');
  // @ts-expect-error `timeout` is not an option
  expect(() => postal({ apiUrl: 'https://postal.example.org', apiKey: 'key-123456', timeout: 5 })).toThrow('did you mean `timeoutMs`?');
  expect(postal({ apiUrl: 'https://postal.example.org', apiKey: 'key-123456' }).kind).toBe('postal');
});
