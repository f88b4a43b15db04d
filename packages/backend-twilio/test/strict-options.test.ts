import { ConfigError } from '@herald/core';
import { expect, it } from 'vitest';
import { twilio } from '../src';

const credentials = { accountSid: `AC${'a'.repeat(32)}`, authToken: 'twilio-token-123456', from: '+14155550100' };

it('twilio() rejects an unknown option, suggesting the closest one', () => {
  // @ts-expect-error `statusCallbak` is not an option
  const create = () => twilio({ ...credentials, statusCallbak: 'https://example.org/herald/twilio/tracking' });
  expect(create).toThrow(ConfigError);
  expect(create).toThrow('unknown option `statusCallbak`; did you mean `statusCallback`?');
  // @ts-expect-error `authtoken` is not an option
  expect(() => twilio({ accountSid: credentials.accountSid, from: credentials.from, authtoken: 'x' })).toThrow(
    'unknown option `authtoken`; did you mean `authToken`?',
  );
  expect(twilio(credentials).kind).toBe('twilio');
});
