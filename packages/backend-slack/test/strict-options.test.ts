import { ConfigError } from '@herald/core';
import { expect, it } from 'vitest';
import { slack } from '../src';

it('slack() rejects an unknown option, suggesting the closest one', () => {
  // @ts-expect-error `allowedHost` is not an option
  const create = () => slack({ allowedHost: ['hooks.example.org'] });
  expect(create).toThrow(ConfigError);
  expect(create).toThrow('unknown option `allowedHost`; did you mean `allowedHosts`?');
  // @ts-expect-error `rateLimit.perSec` is not an option
  expect(() => slack({ rateLimit: { perSec: 1 } })).toThrow('unknown option `rateLimit.perSec`; did you mean `rateLimit.perSecond`?');
  expect(slack({ allowedHosts: ['hooks.example.org'] }).kind).toBe('slack');
});
