import { ConfigError } from '@herald/core';
import { expect, it } from 'vitest';
import { jsonWebhook } from '../src';

// Regression: `jsonWebhook({ allowedHost })` was ignored, and the SSRF guard kept blocking the host.
it('jsonWebhook() rejects an unknown option, suggesting the closest one', () => {
  // @ts-expect-error `allowedHost` is not an option
  const create = () => jsonWebhook({ unsigned: true, allowedHost: ['hooks.internal'] });
  expect(create).toThrow(ConfigError);
  expect(create).toThrow('unknown option `allowedHost`; did you mean `allowedHosts`?');
  // @ts-expect-error `concurency` is not an option
  expect(() => jsonWebhook({ unsigned: true, concurency: 2 })).toThrow('did you mean `concurrency`?');
  expect(jsonWebhook({ unsigned: true, allowedHosts: ['hooks.internal'] }).kind).toBe('json-webhook');
});
