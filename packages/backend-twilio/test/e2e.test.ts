import { createHerald, defineNotification, type Herald, ValidationError } from '@herald/core';
import { memoryStore } from '@herald/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { twilio, twilioSignature } from '../src';
import { type LoopbackAnswer as Answer, loopback } from '@herald/core/testing';
import { ACCOUNT_SID, AUTH_TOKEN, LoopbackRequestClient } from './_fixtures';

const CALLBACK = 'https://app.example.org/herald/twilio/tracking';
const shipped = defineNotification({
  id: 'order-shipped',
  schema: z.object({ orderId: z.string() }),
  templates: { sms: { format: 'text', body: 'Hi {{recipient.name}}, order {{orderId}} shipped.' } },
});

let server: Awaited<ReturnType<typeof loopback>>;
let answer: () => Answer;
let herald: Herald;
const sid = (n: number) => `SM${n.toString(16).padStart(32, '0')}`;

beforeAll(async () => {
  server = await loopback(() => answer());
  herald = createHerald({
    store: memoryStore(),
    backends: [twilio({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: '+14155550100', statusCallback: CALLBACK, httpClient: new LoopbackRequestClient(server.origin) })],
    notifications: [shipped],
    retry: { maxAttempts: 3, backoff: { type: 'fixed', delay: 0 } },
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
});

const created = (): Answer => ({
  status: 201,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ sid: sid(server.requests.length), status: 'queued', num_segments: '1' }),
});

function statusCallback(params: Record<string, string>, signature = twilioSignature(AUTH_TOKEN, CALLBACK, params)): Request {
  return new Request(CALLBACK, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body: new URLSearchParams(params).toString(),
  });
}

describe('twilio end to end (notify → drain → status callback)', () => {
  it('sends the rendered SMS and moves the delivery to delivered on a signed status callback', async () => {
    answer = created;
    const { deliveries } = await herald.notify(shipped, { orderId: 'A-7' }, [{ id: 'u1', name: 'Ada', contacts: [{ protocol: 'sms', address: '+14155550123' }] }]);
    expect(await herald.drain()).toMatchObject({ sent: 1, failed: 0 });
    const form = new URLSearchParams(server.requests[0]!.body);
    expect(form.get('Body')).toBe('Hi Ada, order A-7 shipped.');
    expect(form.get('StatusCallback')).toBe(CALLBACK);
    const sent = (await herald.deliveries.get(deliveries[0]!.id))!;
    expect(sent.status).toBe('sent');
    expect(sent.providerMessageId).toBe(sid(1));

    const params = { MessageSid: sid(1), MessageStatus: 'delivered', AccountSid: ACCOUNT_SID, To: '+14155550123', From: '+14155550100' };
    const forged = await herald.webhooks.handle(statusCallback(params, 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='));
    expect(forged.status).toBe(403);
    expect((await herald.deliveries.get(sent.id))!.status).toBe('sent');
    const res = await herald.webhooks.handle(statusCallback(params));
    expect(res.status).toBe(200);
    expect((await herald.deliveries.get(sent.id))!.status).toBe('delivered');
    const events = await herald.deliveries.events(sent.id);
    expect(events.map((e) => e.eventId)).toEqual([`${sid(1)}:delivered`]);
  });

  it('retries a Twilio outage within the retry policy, then fails with the answer in the attempt log', async () => {
    answer = () => ({ status: 503, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 20500, message: 'Internal Server Error', status: 503 }) });
    const { deliveries } = await herald.notify(shipped, { orderId: 'A-8' }, [{ contacts: [{ protocol: 'sms', address: '+14155550124' }] }]);
    expect(await herald.drain()).toMatchObject({ failed: 1 });
    const failed = (await herald.deliveries.get(deliveries[0]!.id))!;
    expect(failed.status).toBe('failed');
    expect(server.requests).toHaveLength(3);
    const attempts = await herald.deliveries.attempts(failed.id);
    expect(attempts.map((a) => a.outcome)).toEqual(['transient', 'transient', 'transient']);
    expect(attempts[2]!.response).toMatchObject({ status: 503, code: 20500, message: 'Internal Server Error' });
    expect(JSON.stringify(attempts)).not.toContain(AUTH_TOKEN);
  });

  it('suppresses a number that replied STOP (21610)', async () => {
    answer = () => ({ status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 21610, message: 'Attempt to send to unsubscribed recipient', status: 400 }) });
    await herald.notify(shipped, { orderId: 'A-9' }, [{ contacts: [{ protocol: 'sms', address: '+14155550125' }] }]);
    expect(await herald.drain()).toMatchObject({ failed: 1 });
    expect(server.requests).toHaveLength(1);
    expect(await herald.suppressions.check('sms', '+14155550125')).not.toBeNull();
  });

  // Regression: a signed JSON or multipart body was accepted and its event stored.
  it('answers 400 to a signed status callback that is not form-encoded, and stores nothing', async () => {
    answer = created;
    const { deliveries } = await herald.notify(shipped, { orderId: 'A-11' }, [{ contacts: [{ protocol: 'sms', address: '+14155550126' }] }]);
    await herald.drain();
    const sent = (await herald.deliveries.get(deliveries[0]!.id))!;
    const params = { MessageSid: sent.providerMessageId!, MessageStatus: 'delivered', To: '+14155550126' };
    const signature = twilioSignature(AUTH_TOKEN, CALLBACK, params);
    const bodies: [string, string][] = [
      ['application/json', JSON.stringify(params)],
      ['multipart/form-data; boundary=b', `--b\r\nContent-Disposition: form-data; name="MessageSid"\r\n\r\n${params.MessageSid}\r\n--b--\r\n`],
    ];
    for (const [type, body] of bodies) {
      const res = await herald.webhooks.handle(new Request(CALLBACK, { method: 'POST', headers: { 'content-type': type, 'x-twilio-signature': signature }, body }));
      expect(res.status, type).toBe(400);
    }
    expect(await herald.deliveries.events(sent.id)).toEqual([]);
    expect((await herald.deliveries.get(sent.id))!.status).toBe('sent');
  });

  it('rejects an email address in an sms contact at notify()', async () => {
    const err = await herald.notify(shipped, { orderId: 'A-10' }, [{ contacts: [{ protocol: 'sms', address: 'ada@example.org' }] }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).issues[0]!.path).toMatch(/contacts\[0\]/);
  });
});
