import { createHerald, defineNotification, type Herald, ValidationError } from '@herald/core';
import { memoryStore } from '@herald/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { twitter } from '../src';
import { ANSWERS, CREDENTIALS, startFakeTwitter } from './_fake-twitter';

const released = defineNotification({
  id: 'released',
  schema: z.object({ version: z.string() }),
  templates: { twitter: { format: 'text', body: 'Herald {{version}} is out, {{recipient.name}}!' } },
});

let fake: Awaited<ReturnType<typeof startFakeTwitter>>;
let herald: Herald;
beforeAll(async () => {
  fake = await startFakeTwitter();
  herald = createHerald({
    store: memoryStore(),
    backends: [twitter({ ...CREDENTIALS, clientSettings: fake.clientSettings })],
    notifications: [released],
    retry: { maxAttempts: 3, backoff: { type: 'fixed', delay: 0 } },
    logger: false,
  });
  await herald.store.migrate();
});
afterAll(async () => {
  await herald.close();
  await fake.close();
});

describe('twitter end to end (notify → drain)', () => {
  it('posts to the timeline for an empty address and sends a DM for a handle', async () => {
    const { deliveries } = await herald.notify(released, { version: '1.0' }, [
      { id: 'site', name: 'everyone', contacts: [{ protocol: 'twitter', address: '' }] },
      { id: 'ada', name: 'Ada', contacts: [{ protocol: 'twitter', address: '@ada_lovelace' }] },
    ]);
    expect(deliveries).toHaveLength(2);
    expect(await herald.drain()).toMatchObject({ sent: 2, failed: 0 });
    const posts = fake.requests.filter((r) => r.method === 'POST').map((r) => `${r.path} ${r.body}`);
    expect(posts).toEqual(
      expect.arrayContaining([
        '/2/tweets {"text":"Herald 1.0 is out, everyone!"}',
        '/2/dm_conversations/with/2244994945/messages {"text":"Herald 1.0 is out, Ada!"}',
      ]),
    );
    for (const d of deliveries) expect((await herald.deliveries.get(d.id))?.providerMessageId).toMatch(/^\d+$/);
  });

  it('retries a 429 and fails a duplicate post for good', async () => {
    fake.answerNext(ANSWERS.rateLimited(Math.floor(Date.now() / 1000)));
    const { deliveries: first } = await herald.notify(released, { version: '2.0' }, [{ id: 'site', name: 'all', contacts: [{ protocol: 'twitter', address: '' }] }]);
    await herald.drain();
    expect((await herald.deliveries.get(first[0]!.id))?.status).toBe('sent');
    expect(await herald.deliveries.attempts(first[0]!.id)).toHaveLength(2);
    const { deliveries: again } = await herald.notify(released, { version: '2.0' }, [{ id: 'site2', name: 'all', contacts: [{ protocol: 'twitter', address: '' }] }]);
    await herald.drain();
    const failed = await herald.deliveries.get(again[0]!.id);
    expect(failed?.status).toBe('failed');
    expect(failed?.lastError).toMatch(/duplicate content/);
  });

  it('refuses a malformed handle at notify()', async () => {
    await expect(
      herald.notify(released, { version: '3.0' }, [{ id: 'x', contacts: [{ protocol: 'twitter', address: 'not a handle!' }] }]),
    ).rejects.toBeInstanceOf(ValidationError);
  });
});
