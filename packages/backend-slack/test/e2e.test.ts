import { createHerald, defineNotification, type Herald, ValidationError } from '@herald/core';
import { memoryStore } from '@herald/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { slack } from '../src';
import { type LoopbackAnswer as Answer, loopback } from '@herald/core/testing';

const deployed = defineNotification({
  id: 'deployed',
  schema: z.object({ service: z.string(), by: z.string() }),
  templates: { 'slack-webhook': { format: 'text', body: 'Deployed *{{service}}* by {{by}}' } },
});
const incident = defineNotification({
  id: 'incident',
  schema: z.object({ title: z.string() }),
  templates: {
    'slack-webhook': {
      format: 'params',
      body: { text: 'Incident: {{title}}', blocks: [{ type: 'header', text: { type: 'plain_text', text: '{{title}}' } }] },
    },
  },
});

let server: Awaited<ReturnType<typeof loopback>>;
let answer: () => Answer = () => ({ status: 200, body: 'ok' });
let herald: Herald;
let url: string;

beforeAll(async () => {
  server = await loopback(() => answer());
  url = `${server.origin}/services/T0/B0/XXXX`;
  herald = createHerald({
    store: memoryStore(),
    backends: [slack({ allowedHosts: ['127.0.0.1'], allowInsecure: true })],
    notifications: [deployed, incident],
    retry: { maxAttempts: 2, backoff: { type: 'fixed', delay: 0 } },
    logger: false,
  });
  await herald.store.migrate();
});
afterAll(async () => {
  await herald.close();
  await server.close();
});
afterEach(() => {
  server.requests.length = 0;
  answer = () => ({ status: 200, body: 'ok' });
});

describe('slack end to end (notify → drain)', () => {
  it('escapes mrkdwn control characters in data rendered into a text template', async () => {
    await herald.notify(deployed, { service: 'api', by: '<!channel> & <https://evil.example|me>' }, [{ contacts: [{ protocol: 'slack-webhook', address: url }] }]);
    expect(await herald.drain()).toMatchObject({ sent: 1 });
    expect(JSON.parse(server.requests[0]!.body)).toEqual({ text: 'Deployed *api* by &lt;!channel&gt; &amp; &lt;https://evil.example|me&gt;' });
  });

  it('renders params into Block Kit JSON', async () => {
    await herald.notify(incident, { title: 'DB latency' }, [{ contacts: [{ protocol: 'slack-webhook', address: url }] }]);
    expect(await herald.drain()).toMatchObject({ sent: 1 });
    expect(JSON.parse(server.requests[0]!.body)).toEqual({ text: 'Incident: DB latency', blocks: [{ type: 'header', text: { type: 'plain_text', text: 'DB latency' } }] });
  });

  it('fails a removed channel for good and suppresses the webhook URL', async () => {
    answer = () => ({ status: 404, body: 'channel_not_found' });
    const { deliveries } = await herald.notify(deployed, { service: 'api', by: 'ci' }, [{ contacts: [{ protocol: 'slack-webhook', address: url }] }]);
    expect(await herald.drain()).toMatchObject({ failed: 1 });
    expect(server.requests).toHaveLength(1);
    expect((await herald.deliveries.get(deliveries[0]!.id))!.lastError).toContain('channel_not_found');
    expect(await herald.suppressions.check('slack-webhook', url)).not.toBeNull();
    await herald.suppressions.remove('slack-webhook', url);
  });

  it('retries an outage, then fails with Slack\'s answer in the attempt log', async () => {
    answer = () => ({ status: 500, body: 'rollup_error' });
    const { deliveries } = await herald.notify(deployed, { service: 'web', by: 'ci' }, [{ contacts: [{ protocol: 'slack-webhook', address: url }] }]);
    expect(await herald.drain()).toMatchObject({ failed: 1 });
    const attempts = await herald.deliveries.attempts(deliveries[0]!.id);
    expect(attempts.map((a) => a.outcome)).toEqual(['transient', 'transient']);
    expect(attempts[1]!.response).toEqual({ status: 500, body: 'rollup_error' });
  });

  // Regression: a Slack webhook URL (its path is the credential) was printed whole in notify() validation errors.
  it('never prints a webhook token in notify() errors', async () => {
    const strict = createHerald({ store: memoryStore(), backends: [slack()], notifications: [deployed], logger: false });
    const token = 'xoxSECRETtoken0123456789';
    const err = await strict
      .notify(deployed, { service: 'api', by: 'ci' }, [{ id: 'u1', contacts: [{ protocol: 'slack-webhook', address: `https://hooks.attacker.net/services/T0/B0/${token}` }] }])
      .catch((e: unknown) => e);
    await strict.close();
    expect(err).toBeInstanceOf(ValidationError);
    expect(String(err)).toMatch(/not an allowed Slack webhook host/);
    expect(String(err)).toContain('/services/T0/B0/[redacted]');
    expect(`${String(err)} ${JSON.stringify(err)}`).not.toContain(token);
  });

  it('rejects a plain http:// Slack URL at notify() when the backend does not allow it', async () => {
    const strict = createHerald({ store: memoryStore(), backends: [slack()], notifications: [deployed], logger: false });
    const err = await strict
      .notify(deployed, { service: 'api', by: 'ci' }, [{ contacts: [{ protocol: 'slack-webhook', address: 'http://hooks.slack.com/services/T0/B0/X' }] }])
      .catch((e: unknown) => e);
    await strict.close();
    expect(err).toBeInstanceOf(ValidationError);
    expect(String(err)).toMatch(/contacts\[0\].*https/s);
  });
});
