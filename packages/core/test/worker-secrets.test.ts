import { expect, it } from 'vitest';
import { z } from 'zod';
import { createHerald, defineBackend, defineNotification, PermanentError, secretsOf, TransientError } from '../src';
import { memoryStore } from '../src/testing';

const token = 'tok_9f8e7d6c5b4a39281706';
const sid = 'AC0123456789abcdef0123456789abcdef';
const basic = Buffer.from(`${sid}:${token}`).toString('base64');
const forms = [token, basic, Buffer.from(token).toString('base64'), Buffer.from(token).toString('base64url'), encodeURIComponent(token), Buffer.from(token).toString('hex')];

// A provider that echoes the credentials it got, in the error text and the answer body (some do).
const echo = defineBackend({
  name: 'echo',
  protocol: 'sms',
  formats: ['text'],
  options: z.strictObject({ accountSid: z.string(), authToken: z.string(), fail: z.enum(['transient', 'permanent', 'none']) }),
  secrets: (o) => secretsOf([o.authToken], { basicAuth: [[o.accountSid, o.authToken]] }),
  setup: (o) => ({
    async send() {
      const response = { echoed: { authorization: `Basic ${basic}`, query: `token=${encodeURIComponent(o.authToken)}`, hex: Buffer.from(o.authToken).toString('hex') } };
      if (o.fail === 'none') return { messageId: 'm1', response };
      const ErrorClass = o.fail === 'transient' ? TransientError : PermanentError;
      throw new ErrorClass(`401 for Authorization: Basic ${basic} (token ${o.authToken})`, { backend: 'echo', response });
    },
  }),
});

const alert = defineNotification({ id: 'alert', schema: z.object({}), templates: { sms: { format: 'text', body: 'Alert' } } });

it.each(['transient', 'permanent', 'none'] as const)('no form of a secret reaches lastError, the attempt log, events or the logger (%s)', async (fail) => {
  const lines: string[] = [];
  const log = (message: string, fields?: Record<string, unknown>) => lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
  const store = memoryStore();
  const herald = createHerald({
    store,
    backends: [echo({ accountSid: sid, authToken: token, fail })],
    notifications: [alert],
    retry: { maxAttempts: 2, backoff: { type: 'fixed', delay: 0 } },
    logger: { debug: log, info: log, warn: log, error: log },
  });
  const seen: string[] = [];
  herald.on('delivery', (d) => seen.push(JSON.stringify(d)));
  const { deliveries } = await herald.notify(alert, {}, [{ contacts: [{ protocol: 'sms', address: '+14155550123' }] }]);
  await herald.drain();
  const d = (await herald.deliveries.get(deliveries[0]!.id))!;
  const attempts = await herald.deliveries.attempts(d.id);
  const everything = [JSON.stringify(d), JSON.stringify(attempts), ...seen, ...lines].join('\n');
  expect(attempts.length).toBeGreaterThan(0);
  for (const form of forms) expect(everything).not.toContain(form);
  expect(everything).toContain('[redacted]');
  await herald.close();
});
