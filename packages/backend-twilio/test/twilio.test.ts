import { ConfigError, PermanentError, TransientError, type WebhookRequest } from '@herald/core';
import twilioSdk from 'twilio';
import { afterEach, describe, expect, it } from 'vitest';
import { twilio, twilioSignature, verifyTwilioSignature } from '../src';
import { type LoopbackAnswer as Answer, loopback, type RecordedRequest, secretLeaks, traceDelivery } from '@herald/core/testing';
import { ACCOUNT_SID, AUTH_TOKEN, LoopbackRequestClient, sendContext, smsMessage } from './_fixtures';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

const created = (req: RecordedRequest): Answer => {
  const form = new URLSearchParams(req.body);
  return {
    status: 201,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      sid: 'SM0123456789abcdef0123456789abcdef',
      account_sid: ACCOUNT_SID,
      to: form.get('To'),
      from: form.get('From'),
      messaging_service_sid: form.get('MessagingServiceSid'),
      body: form.get('Body'),
      status: 'queued',
      num_segments: '1',
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      date_created: 'Mon, 23 Nov 2026 09:40:00 +0000',
      uri: `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/SM0123456789abcdef0123456789abcdef.json`,
    }),
  };
};

async function setup(handler: (req: RecordedRequest) => Answer, extra: Partial<Parameters<typeof twilio>[0]> = {}) {
  const server = await loopback(handler);
  closers.push(server.close);
  const backend = twilio({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    from: '+14155550100',
    httpClient: new LoopbackRequestClient(server.origin),
    ...extra,
  } as Parameters<typeof twilio>[0]);
  return { server, backend };
}

const errorAnswer = (status: number, code: number, message: string, headers: Record<string, string> = {}): Answer => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }),
});

describe('twilio wire format', () => {
  it('posts the documented Messages.json form with basic auth and reports segments', async () => {
    const { server, backend } = await setup(created, { statusCallback: 'https://app.example.org/herald/twilio/tracking' });
    const result = await backend.send(smsMessage('Your order #42 shipped'), sendContext());
    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`);
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`);
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(req.body))).toEqual({
      To: '+14155550123',
      From: '+14155550100',
      Body: 'Your order #42 shipped',
      StatusCallback: 'https://app.example.org/herald/twilio/tracking',
    });
    expect(result.messageId).toBe('SM0123456789abcdef0123456789abcdef');
    expect(result.recipients).toEqual({ '+14155550123': { status: 'queued', messageId: 'SM0123456789abcdef0123456789abcdef' } });
    expect(result.response).toMatchObject({ status: 'queued', segments: 1, encoding: 'GSM-7', units: 22 });
  });

  it('sends through a messaging service, honours a per-message from and providerOptions', async () => {
    const { server, backend } = await setup(created, { from: undefined, messagingServiceSid: `MG${'a'.repeat(32)}` });
    await backend.send(smsMessage('hi'), sendContext());
    expect(new URLSearchParams(server.requests[0]!.body).get('MessagingServiceSid')).toBe(`MG${'a'.repeat(32)}`);
    expect(new URLSearchParams(server.requests[0]!.body).has('From')).toBe(false);
    const { server: s2, backend: b2 } = await setup(created);
    await b2.send(smsMessage('hi', '+14155550123', { options: { from: 'HERALD', providerOptions: { twilio: { validityPeriod: 600 } } } }), sendContext());
    const form = new URLSearchParams(s2.requests[0]!.body);
    expect(form.get('From')).toBe('HERALD');
    expect(form.get('ValidityPeriod')).toBe('600');
  });

  it('counts UCS-2 segments and refuses bodies over maxSegments', async () => {
    const { server, backend } = await setup(created, { maxSegments: 2 });
    const ucs = await backend.send(smsMessage('Grüße 🙂'), sendContext());
    expect(ucs.response).toMatchObject({ encoding: 'UCS-2', segments: 1 });
    const err = await backend.send(smsMessage('🙂'.repeat(100)), sendContext()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(String(err)).toMatch(/4 UCS-2 segments, more than maxSegments \(2\)/);
    expect(server.requests).toHaveLength(1);
  });

  it('truncates instead when onTooLong is truncate', async () => {
    const { server, backend } = await setup(created, { maxSegments: 1, onTooLong: 'truncate' });
    const result = await backend.send(smsMessage('a'.repeat(200)), sendContext());
    const sent = new URLSearchParams(server.requests[0]!.body).get('Body')!;
    expect(sent).toBe(`${'a'.repeat(157)}...`);
    expect(result.response).toMatchObject({ segments: 1, units: 160 });
  });

  it('maps invalid numbers (21211, 21614) to permanent invalid', async () => {
    for (const code of [21211, 21614]) {
      const { backend } = await setup(() => errorAnswer(400, code, "The 'To' number +15005550001 is not a valid phone number."));
      const err = await backend.send(smsMessage('x'), sendContext()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PermanentError);
      expect((err as PermanentError).rejectReason).toBe('invalid');
      expect((err as PermanentError).suppress).toBe(false);
      expect((err as PermanentError).statusCode).toBe(400);
      expect(String(err)).toContain(`error ${code}`);
    }
  });

  it('maps 21610 (unsubscribed recipient) to permanent + suppress', async () => {
    const { backend } = await setup(() => errorAnswer(400, 21610, 'Attempt to send to unsubscribed recipient'));
    const err = (await backend.send(smsMessage('x'), sendContext()).catch((e: unknown) => e)) as PermanentError;
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.rejectReason).toBe('unsubscribed');
    expect(err.suppress).toBe(true);
  });

  it('maps 429 / 20429 to transient honouring Retry-After, 5xx to transient', async () => {
    const { backend } = await setup(() => errorAnswer(429, 20429, 'Too Many Requests', { 'retry-after': '7' }));
    const err = (await backend.send(smsMessage('x'), sendContext()).catch((e: unknown) => e)) as TransientError;
    expect(err).toBeInstanceOf(TransientError);
    expect(err.retryAfterMs).toBe(7000);
    const { backend: b2 } = await setup(() => ({ status: 503, headers: { 'content-type': 'text/html' }, body: '<html>Service Unavailable</html>' }));
    const e2 = (await b2.send(smsMessage('x'), sendContext()).catch((e: unknown) => e)) as TransientError;
    expect(e2).toBeInstanceOf(TransientError);
    expect(e2.statusCode).toBe(503);
  });

  it('maps an authentication failure to permanent and never leaks the auth token', async () => {
    const { backend } = await setup(() => errorAnswer(401, 20003, `Authenticate: bad credentials ${AUTH_TOKEN}`));
    const err = (await backend.send(smsMessage('x'), sendContext()).catch((e: unknown) => e)) as PermanentError;
    expect(err).toBeInstanceOf(PermanentError);
    expect(JSON.stringify({ m: err.message, s: err.stack, r: err.response })).not.toContain(AUTH_TOKEN);
    expect(err.message).toContain('[redacted]');
  });

  // Regression: the base64 of AccountSid:authToken was stored when a provider echoed the Authorization header.
  it('a provider echoing the Authorization header leaks the credentials nowhere (lastError, attempts, events, logs)', async () => {
    const echo = (req: RecordedRequest): Answer => ({
      status: 401,
      headers: { 'content-type': 'application/json', 'www-authenticate': String(req.headers.authorization) },
      body: JSON.stringify({ code: 20003, message: `Authenticate: refused ${String(req.headers.authorization)}`, more_info: String(req.headers.authorization), status: 401 }),
    });
    const { server, backend } = await setup(echo);
    const trace = await traceDelivery(backend, '+14155550123', { format: 'text', body: 'Hi {{name}}' });
    expect(server.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`);
    expect(trace.delivery).toMatchObject({ status: 'failed', lastError: expect.stringContaining('Basic [redacted]') });
    expect(trace.attempts[0]!.response).toMatchObject({ status: 401, code: 20003 });
    expect(secretLeaks(trace, [AUTH_TOKEN, `${ACCOUNT_SID}:${AUTH_TOKEN}`])).toEqual([]);
  });

  it('classifies refusals by what they are about (provider, recipient, content)', async () => {
    const cases: [number, number, 'provider' | 'recipient' | 'content' | undefined, boolean][] = [
      [401, 20003, 'provider', false],
      [403, 20005, 'provider', false],
      [400, 21408, 'provider', false],
      [400, 21606, 'provider', false],
      [400, 21211, 'recipient', false],
      [400, 21612, 'recipient', false],
      [400, 21610, 'recipient', false],
      [400, 21617, 'content', false],
      [429, 20429, 'provider', true],
      [400, 21611, 'provider', true],
      [503, 20500, 'provider', true],
    ];
    for (const [status, code, scope, transient] of cases) {
      const { backend } = await setup(() => errorAnswer(status, code, 'refused'));
      const err = (await backend.send(smsMessage('x'), sendContext()).catch((e: unknown) => e)) as PermanentError;
      expect(err, `${code}`).toBeInstanceOf(transient ? TransientError : PermanentError);
      expect(err.scope, `${code}`).toBe(scope);
    }
  });

  it('maps a refused connection to transient', async () => {
    const server = await loopback(created);
    await server.close();
    const backend = twilio({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: '+14155550100', httpClient: new LoopbackRequestClient(server.origin) });
    const err = await backend.send(smsMessage('x'), sendContext()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(String((err as Error).message)).not.toContain(AUTH_TOKEN);
  });

  it('stops waiting when the send is aborted', async () => {
    const { backend } = await setup(created);
    const ac = new AbortController();
    ac.abort(new Error('timeout'));
    await expect(backend.send(smsMessage('x'), sendContext(ac.signal))).rejects.toBeInstanceOf(TransientError);
  });

  it('validates options at construction', () => {
    expect(() => twilio({ accountSid: 'AC123', authToken: 't', from: '+14155550100' })).toThrow(ConfigError);
    expect(() => twilio({ accountSid: ACCOUNT_SID, authToken: 't' })).toThrow(/exactly one of `from` or `messagingServiceSid`/);
  });
});

function webhookRequest(url: string, params: Record<string, string>, signature?: string): WebhookRequest {
  const text = new URLSearchParams(params).toString();
  const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded' });
  if (signature !== undefined) headers.set('x-twilio-signature', signature);
  return { method: 'POST', url: new URL(url), headers, body: new TextEncoder().encode(text), text };
}

describe('twilio status callback', () => {
  const publicUrl = 'https://app.example.org/herald/twilio/tracking';
  const params = {
    AccountSid: ACCOUNT_SID,
    ApiVersion: '2010-04-01',
    From: '+14155550100',
    MessageSid: 'SM0123456789abcdef0123456789abcdef',
    MessageStatus: 'delivered',
    SmsSid: 'SM0123456789abcdef0123456789abcdef',
    SmsStatus: 'delivered',
    To: '+14155550123',
  };
  const backend = twilio({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: '+14155550100', webhookUrl: publicUrl });
  const tracking = backend.webhooks!.tracking!;

  it('accepts a valid signature over the public URL even when the request URL was rewritten', async () => {
    const signature = twilioSignature(AUTH_TOKEN, publicUrl, params);
    expect(await tracking.verify(webhookRequest('http://10.0.0.7:3000/herald/twilio/tracking', params, signature))).toEqual({ ok: true });
  });

  // Regression: a signed JSON or multipart body was accepted and stored as a status callback.
  it('answers 400 to a body that is not application/x-www-form-urlencoded, signed or not', async () => {
    const signature = twilioSignature(AUTH_TOKEN, publicUrl, params);
    for (const type of ['application/json', 'multipart/form-data; boundary=x', 'text/plain', null]) {
      const request = webhookRequest(publicUrl, params, signature);
      if (type) request.headers.set('content-type', type);
      else request.headers.delete('content-type');
      expect(await tracking.verify(request), String(type)).toMatchObject({ ok: false, status: 400 });
    }
    const charset = webhookRequest(publicUrl, params, signature);
    charset.headers.set('content-type', 'application/x-www-form-urlencoded; charset=utf-8');
    expect(await tracking.verify(charset)).toEqual({ ok: true });
  });

  it("accepts what Twilio's own validateRequest accepts: the URL with or without its default port", async () => {
    for (const [configured, signed] of [
      ['https://app.example.org/herald/twilio/tracking', 'https://app.example.org:443/herald/twilio/tracking'],
      ['https://app.example.org:443/herald/twilio/tracking', 'https://app.example.org/herald/twilio/tracking'],
      ['http://app.example.org/t?x=1', 'http://app.example.org:80/t?x=1'],
    ] as const) {
      const signature = twilioSdk.getExpectedTwilioSignature(AUTH_TOKEN, signed, params);
      expect(twilioSdk.validateRequest(AUTH_TOKEN, signature, configured, params)).toBe(true);
      const b = twilio({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: '+14155550100', webhookUrl: configured });
      expect(await b.webhooks!.tracking!.verify(webhookRequest(configured, params, signature)), `${configured} ← ${signed}`).toEqual({ ok: true });
    }
  });

  it("signs repeated parameters in Twilio's documented order (names sorted, each name's values sorted)", () => {
    const form = new URLSearchParams([['To', '+14155550123'], ['MediaUrl', 'https://b.example/2'], ['MediaUrl', 'https://a.example/1'], ['Body', 'hi'], ['MediaUrl', 'https://a.example/1']]);
    const url = 'https://app.example.org/herald/twilio/tracking';
    const official = twilioSdk.getExpectedTwilioSignature(AUTH_TOKEN, url, { To: '+14155550123', MediaUrl: ['https://b.example/2', 'https://a.example/1', 'https://a.example/1'], Body: 'hi' });
    expect(twilioSignature(AUTH_TOKEN, url, form)).toBe(official);
    expect(twilioSignature(AUTH_TOKEN, url, { To: '+14155550123', MediaUrl: ['https://a.example/1', 'https://b.example/2'], Body: 'hi' })).toBe(official);
    expect(verifyTwilioSignature(AUTH_TOKEN, official, url, form)).toBe(true);
    expect(twilioSdk.validateRequest(AUTH_TOKEN, official, url, { To: '+14155550123', MediaUrl: ['https://a.example/1', 'https://b.example/2'], Body: 'hi' })).toBe(true);
  });

  it('refuses a forged or missing signature', async () => {
    const forged = twilioSignature('not-the-token', publicUrl, params);
    expect(await tracking.verify(webhookRequest(publicUrl, params, forged))).toMatchObject({ ok: false, status: 403 });
    const tampered = twilioSignature(AUTH_TOKEN, publicUrl, params);
    expect(await tracking.verify(webhookRequest(publicUrl, { ...params, MessageStatus: 'failed' }, tampered))).toMatchObject({ ok: false, status: 403 });
    expect(await tracking.verify(webhookRequest(publicUrl, params))).toMatchObject({ ok: false, status: 401 });
  });

  it('uses the request URL when no public URL is configured', async () => {
    const plain = twilio({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: '+14155550100' });
    const url = 'https://app.example.org/hooks/twilio/tracking?tenant=7';
    const signature = twilioSignature(AUTH_TOKEN, url, params);
    expect(await plain.webhooks!.tracking!.verify(webhookRequest(url, params, signature))).toEqual({ ok: true });
  });

  it('maps statuses to tracking events keyed by MessageSid + status', async () => {
    const events = async (extra: Record<string, string>) => tracking.parse(webhookRequest(publicUrl, { ...params, ...extra }));
    const [delivered] = await events({});
    expect(delivered).toMatchObject({
      eventType: 'delivered',
      eventId: 'SM0123456789abcdef0123456789abcdef:delivered',
      messageId: 'SM0123456789abcdef0123456789abcdef',
      recipient: '+14155550123',
    });
    expect((await events({ MessageStatus: 'queued' }))[0]!.eventType).toBe('queued');
    expect((await events({ MessageStatus: 'sent' }))[0]!.eventType).toBe('sent');
    expect((await events({ MessageStatus: 'undelivered', ErrorCode: '30005' }))[0]).toMatchObject({ eventType: 'bounced', rejectReason: 'invalid', mtaResponse: '30005' });
    expect((await events({ MessageStatus: 'undelivered', ErrorCode: '30006' }))[0]).toMatchObject({ eventType: 'bounced', rejectReason: 'invalid' });
    expect((await events({ MessageStatus: 'undelivered', ErrorCode: '30003' }))[0]).toMatchObject({ eventType: 'failed', rejectReason: 'other' });
    expect((await events({ MessageStatus: 'failed', ErrorCode: '30007' }))[0]).toMatchObject({ eventType: 'rejected', rejectReason: 'spam' });
    expect((await events({ MessageStatus: 'failed', ErrorCode: '21610' }))[0]).toMatchObject({ eventType: 'unsubscribed' });
  });

  it('rejects a body that is not a status callback', async () => {
    await expect(async () => tracking.parse(webhookRequest(publicUrl, { Body: 'hello' }))).rejects.toThrow(/MessageSid/);
  });
});
