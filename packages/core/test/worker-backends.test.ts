import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, createHerald, defineNotification } from '../src';
import { captureBackend, memoryStore } from '../src/testing';

const hello = defineNotification({
  id: 'hello',
  schema: z.object({ n: z.number() }),
  templates: { email: { format: 'text', subject: 'Hello {{n}}', body: 'Hello {{n}}' } },
});

function setup() {
  const a = captureBackend({ protocol: 'email', name: 'mail-a' });
  const b = captureBackend({ protocol: 'email', name: 'mail-b' });
  const herald = createHerald({ store: memoryStore(), backends: [a, b], notifications: [hello], logger: false });
  const recipients = [
    { id: 'u1', contacts: [{ protocol: 'email', address: 'one@example.com', backend: 'mail-a' }] },
    { id: 'u2', contacts: [{ protocol: 'email', address: 'two@example.com', backend: 'mail-b' }] },
  ];
  return { a, b, herald, recipients };
}

// `herald worker --backends a,b`: a worker pool per provider claims only its backends' deliveries.
describe('worker({ backends })', () => {
  // Regression: a limited worker spun on the other backend's overdue delivery (`nextDueAt` counts every backend),
  // starving the timers its own sends need, so this drain never ended.
  it('claims only the named backends and leaves the others queued', async () => {
    const { a, b, herald, recipients } = setup();
    await herald.notify(hello, { n: 1 }, recipients);
    const result = await herald.drain({ backends: ['mail-a'] });
    expect(result.sent).toBe(1);
    expect(a.messages.map((m) => m.to)).toEqual(['one@example.com']);
    expect(b.messages).toHaveLength(0);
    expect((await herald.deliveries.list({ backend: 'mail-b' }))[0]?.status).toBe('queued');

    const worker = herald.worker({ backends: ['mail-b'], pollInterval: 20 });
    await expect.poll(() => b.messages.length).toBe(1);
    await worker.stop();
    expect(a.messages).toHaveLength(1);
    await herald.close();
  });

  it('rejects an unknown backend name, suggesting the closest one', async () => {
    const { herald } = setup();
    expect(() => herald.worker({ backends: ['mail-c'] })).toThrow(ConfigError);
    expect(() => herald.worker({ backends: ['mail-c'] })).toThrow(/no backend named "mail-c" \(did you mean "mail-a"\?\)/);
    await expect(herald.drain({ backends: [] })).rejects.toThrow(/at least one backend/);
    await herald.close();
  });
});
