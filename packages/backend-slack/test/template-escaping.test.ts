import { createHerald, defineNotification, type Herald } from '@herald/core';
import { loopback, memoryStore } from '@herald/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { slack } from '../src';

// Block Kit `params` templates: data in text fields is escaped for mrkdwn exactly like the `text` format, so a
// mention, channel ping or link in data arrives at Slack as text. Checked in the JSON a loopback incoming-webhook
// server received.

const incident = defineNotification({
  id: 'incident',
  schema: z.object({ title: z.string(), by: z.string(), severity: z.number(), services: z.array(z.string()) }),
  templates: {
    'slack-webhook': {
      format: 'params',
      body: {
        text: 'Incident: {{title}}',
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: '{{title}}' } },
          { type: 'section', text: { type: 'mrkdwn', text: '*{{title}}* reported by {{by}} — see <https://status.shop.dev|the status page>' } },
          { type: 'context', elements: [{ type: 'mrkdwn', text: '{{by}}' }] },
        ],
        metadata: { event_type: 'incident', event_payload: { severity: '{{severity}}', services: '{{services}}' } },
      },
    },
  },
});

const HOSTILE = {
  title: '<!channel> DB is down',
  by: '<@U123> & <https://evil.example|your bank> <!subteam^S1|@oncall>',
  severity: 2,
  services: ['api', '<!here>'],
};

let server: Awaited<ReturnType<typeof loopback>>;
let herald: Herald;
let url: string;
beforeAll(async () => {
  server = await loopback(() => ({ status: 200, body: 'ok' }));
  url = `${server.origin}/services/T0/B0/XXXX`;
  herald = createHerald({
    store: memoryStore(),
    backends: [slack({ allowedHosts: ['127.0.0.1'], allowInsecure: true })],
    notifications: [incident],
    logger: false,
  });
});
afterAll(async () => {
  await herald.close();
  await server.close();
});
afterEach(() => {
  server.requests.length = 0;
});

/** Every string in a JSON value. */
const strings = (value: unknown): string[] =>
  typeof value === 'string' ? [value] : Array.isArray(value) ? value.flatMap(strings) : value && typeof value === 'object' ? Object.values(value).flatMap(strings) : [];

describe('Slack Block Kit params: data is inert', () => {
  it('<!channel>, <@U123> and <https://x|y> in data arrive escaped; the template\'s own link stays a link', async () => {
    await herald.notify(incident, HOSTILE, [{ contacts: [{ protocol: 'slack-webhook', address: url }] }]);
    expect(await herald.drain()).toMatchObject({ sent: 1 });
    const body = JSON.parse(server.requests[0]!.body);
    expect(body.text).toBe('Incident: &lt;!channel&gt; DB is down');
    expect(body.blocks).toEqual([
      { type: 'header', text: { type: 'plain_text', text: '&lt;!channel&gt; DB is down' } },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: '*&lt;!channel&gt; DB is down* reported by &lt;@U123&gt; &amp; &lt;https://evil.example|your bank&gt; &lt;!subteam^S1|@oncall&gt; — see <https://status.shop.dev|the status page>',
        },
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: '&lt;@U123&gt; &amp; &lt;https://evil.example|your bank&gt; &lt;!subteam^S1|@oncall&gt;' }] },
    ]);
    // Slack parses `<…>` as a mention, ping or link: the only one left is the template's own.
    const controls = strings(body).flatMap((s) => [...s.matchAll(/<[^>]*>/g)].map((m) => m[0]));
    expect(controls).toEqual(['<https://status.shop.dev|the status page>']);
  });

  it('a leaf that is one expression keeps its JSON type, strings inside it escaped', async () => {
    await herald.notify(incident, HOSTILE, [{ contacts: [{ protocol: 'slack-webhook', address: url }] }]);
    await herald.drain();
    const body = JSON.parse(server.requests[0]!.body);
    expect(body.metadata).toEqual({ event_type: 'incident', event_payload: { severity: 2, services: ['api', '&lt;!here&gt;'] } });
  });

  it('apostrophes, quotes, emoji and CJK arrive as typed (only &, < and > are mrkdwn-escaped)', async () => {
    const title = `O'Brien's "deploy" 東京 🎉 ${'x'.repeat(300)}`;
    await herald.notify(incident, { ...HOSTILE, title, by: 'a=b `x`' }, [{ contacts: [{ protocol: 'slack-webhook', address: url }] }]);
    await herald.drain();
    const body = JSON.parse(server.requests[0]!.body);
    expect(body.text).toBe(`Incident: ${title}`);
    expect(body.blocks[2].elements[0].text).toBe('a=b `x`');
  });
});
