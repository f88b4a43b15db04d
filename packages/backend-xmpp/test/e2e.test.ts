import { createHerald, defineNotification, type Herald, ValidationError } from '@herald/core';
import { memoryStore } from '@herald/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { xmpp } from '../src';
import { listen, prosody } from './_helpers';

const deployed = defineNotification({
  id: 'deployed',
  schema: z.object({ service: z.string() }),
  templates: { xmpp: { format: 'text', body: '{{service}} is live, {{recipient.name}}.' } },
});

let herald: Herald;
let bob: Awaited<ReturnType<typeof listen>>;
beforeAll(async () => {
  const { service, domain, alice } = prosody();
  // Its own resource: xmpp.test.ts counts messages to the bare JID at the same time.
  bob = await listen(prosody().bob, 'e2e', true);
  herald = createHerald({
    store: memoryStore(),
    // test: true — `localhost` is a reserved test domain, which only test backends may deliver to.
    backends: [xmpp({ service, domain, username: alice.username, password: alice.password, timeout: 5000, test: true })],
    notifications: [deployed],
    retry: { maxAttempts: 2, backoff: { type: 'fixed', delay: 0 } },
    logger: false,
  });
  await herald.store.migrate();
});
afterAll(async () => {
  await herald?.close();
  await bob?.stop();
});

describe('xmpp end to end (notify → drain)', () => {
  it('delivers to the contact and records the stanza id; an unknown account fails as invalid', async () => {
    const { deliveries } = await herald.notify(deployed, { service: 'api' }, [
      { id: 'bob', name: 'Bob', contacts: [{ protocol: 'xmpp', address: 'bob@localhost/e2e' }] },
      { id: 'zed', name: 'Zed', contacts: [{ protocol: 'xmpp', address: 'zed@localhost' }] },
    ]);
    expect(await herald.drain()).toMatchObject({ sent: 1, failed: 1 });
    expect((await bob.waitFor(1)).map((m) => m.body)).toEqual(['api is live, Bob.']);
    const sent = await herald.deliveries.get(deliveries.find((d) => d.recipientId === 'bob')!.id);
    expect(sent).toMatchObject({ status: 'sent', providerMessageId: sent?.id });
    const failed = await herald.deliveries.get(deliveries.find((d) => d.recipientId === 'zed')!.id);
    expect(failed?.status).toBe('failed');
    expect(failed?.lastError).toMatch(/service-unavailable/);
  });

  it('refuses a JID without a domain at notify()', async () => {
    await expect(herald.notify(deployed, { service: 'api' }, [{ id: 'x', contacts: [{ protocol: 'xmpp', address: 'bob' }] }])).rejects.toBeInstanceOf(
      ValidationError,
    );
  });
});
