import { ConfigError } from '@herald/core';
import { expect, it } from 'vitest';
import { xmpp } from '../src';

const account = { service: 'xmpp://127.0.0.1:5222', username: 'alice', password: 'alice-password' };

it('xmpp() rejects an unknown option, suggesting the closest one', async () => {
  // @ts-expect-error `resrouce` is not an option
  const create = () => xmpp({ ...account, resrouce: 'herald' });
  expect(create).toThrow(ConfigError);
  expect(create).toThrow('unknown option `resrouce`; did you mean `resource`?');
  const backend = xmpp({ ...account, resource: 'herald' });
  expect(backend.kind).toBe('xmpp');
  await backend.close?.();
});
