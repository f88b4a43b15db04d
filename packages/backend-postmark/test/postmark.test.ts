import { ConfigError, PermanentError, TransientError, type Backend, type TrackingEvent, type WebhookRequest } from '@herald/core';
import { expectNoSecrets, makeOutboundMessage, makeSendContext, secretLeaks, traceDelivery } from '@herald/core/testing';
import { type ReceivedMessage, testBackend } from '@herald/core/testing/vitest';
import { ServerClient } from 'postmark';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postmark } from '../src';
import { closedPortUrl, fixture, type ReceivedRequest, startFakePostmark } from './_fake-postmark';

const TOKEN = 'pm-server-token-0123456789';
const HOOK = { username: 'postmark-hooks', password: 'hook-pass-9876543210' };

// ───────── the shared conformance suite against the loopback Postmark ─────────

let suitePeer: Awaited<ReturnType<typeof startFakePostmark>>;
const list = (v: unknown) => (typeof v === 'string' && v ? v.split(/,\s*/) : []);
/** A request to the loopback Postmark as the suite reads it, field by field from the documented JSON payload. */
function view({ headers, body, json }: ReceivedRequest): ReceivedMessage {
  const j = json as {
    Headers?: { Name: string; Value: string }[];
    Metadata?: Record<string, string>;
    Tag?: string;
    Attachments?: { Name: string; Content: string; ContentType: string; ContentID: string | null }[];
    Subject?: string;
    TextBody?: string;
    HtmlBody?: string;
    TrackOpens?: boolean;
    TrackLinks?: string;
  };
  return {
    raw: `${JSON.stringify(headers)}\n${body}`,
    to: list(json.To),
    cc: list(json.Cc),
    bcc: list(json.Bcc),
    replyTo: list(json.ReplyTo),
    subject: j.Subject,
    text: j.TextBody,
    html: j.HtmlBody,
    headers: Object.fromEntries((j.Headers ?? []).map((h) => [h.Name, h.Value])),
    metadata: j.Metadata,
    tags: j.Tag ? [j.Tag] : [],
    attachments: (j.Attachments ?? []).map((a) => ({
      filename: a.Name,
      content: Buffer.from(a.Content, 'base64'),
      contentType: a.ContentType,
      ...(a.ContentID ? { contentId: a.ContentID } : {}),
    })),
    trackOpens: j.TrackOpens,
    trackClicks: j.TrackLinks === undefined ? undefined : j.TrackLinks !== 'None',
  };
}
testBackend({
  name: 'postmark',
  async start() {
    suitePeer = await startFakePostmark();
  },
  stop: () => suitePeer.close(),
  create: (o) => postmark({ serverToken: TOKEN, apiUrl: suitePeer.url, defaults: { from: 'shop@example.net' }, webhookAuth: HOOK, ...o }),
  createUnreachable: async () => postmark({ serverToken: TOKEN, apiUrl: await closedPortUrl() }),
  address: 'ada@example.org',
  failNext: (kind) =>
    kind === 'transient' ? suitePeer.answer(503, { ErrorCode: 0, Message: 'Service unavailable' }) : suitePeer.answer(422, fixture('api/error-300-invalid.json')),
  received: () => suitePeer.requests.map(view),
  leakNext: () => suitePeer.echoToken(),
  secrets: [TOKEN, HOOK.password],
});

// ───────── the exact wire format ─────────

describe('postmark: requests and answers', () => {
  let peer: Awaited<ReturnType<typeof startFakePostmark>>;
  let backend: Backend;
  beforeAll(async () => {
    peer = await startFakePostmark();
    backend = postmark({ serverToken: TOKEN, apiUrl: peer.url, messageStream: 'transactional' });
  });
  afterAll(() => peer.close());

  const send = (overrides: Parameters<typeof makeOutboundMessage>[0] = {}) => {
    const m = makeOutboundMessage({ deliveryId: 'd-1', to: 'Ada Lovelace <ada@example.org>', ...overrides, options: { from: 'Shop <shop@example.net>', ...overrides.options } });
    return backend.send(m, makeSendContext(m));
  };
  const failure = async (promise: Promise<unknown>) => promise.then(() => expect.unreachable('send should fail'), (e: unknown) => e);

  it('POSTs /email with the server token and every option mapped', async () => {
    peer.answer(200, fixture('api/send-ok.json'));
    const result = await send({
      attachments: [
        { filename: 'a.txt', contentType: 'text/plain', content: 'aGVsbG8=' },
        { filename: 'dot.png', contentType: 'image/png', content: 'iVBORw0=', contentId: 'dot@herald' },
      ],
      options: {
        cc: ['bob@example.org'],
        bcc: ['carol@example.org', 'dan@example.org'],
        replyTo: ['help@example.net'],
        headers: { 'X-Order': 'A1' },
        tags: ['welcome'],
        metadata: { plan: 'pro' },
        trackOpens: true,
        trackClicks: false,
      },
    });
    const req = peer.last();
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/email');
    expect(req.headers['x-postmark-server-token']).toBe(TOKEN);
    expect(req.headers.accept).toBe('application/json');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.json).toEqual({
      From: 'Shop <shop@example.net>',
      To: 'Ada Lovelace <ada@example.org>',
      Cc: 'bob@example.org',
      Bcc: 'carol@example.org, dan@example.org',
      ReplyTo: 'help@example.net',
      Subject: 'Hello from Herald',
      HtmlBody: '<p>Hello <b>Ada</b></p>',
      TextBody: 'Hello Ada',
      Tag: 'welcome',
      Headers: [{ Name: 'X-Order', Value: 'A1' }],
      Metadata: { plan: 'pro', herald_delivery_id: 'd-1' },
      TrackOpens: true,
      TrackLinks: 'None',
      MessageStream: 'transactional',
      Attachments: [
        { Name: 'a.txt', Content: 'aGVsbG8=', ContentType: 'text/plain', ContentID: null },
        { Name: 'dot.png', Content: 'iVBORw0=', ContentType: 'image/png', ContentID: 'cid:dot@herald' },
      ],
    });
    const id = '5b3f1a6e-2c47-4f0e-9d11-0a5c7d2e8b41';
    expect(result.messageId).toBe(id);
    expect(result.recipients).toEqual({
      'ada@example.org': { status: 'sent', messageId: id },
      'bob@example.org': { status: 'sent', messageId: id },
      'carol@example.org': { status: 'sent', messageId: id },
      'dan@example.org': { status: 'sent', messageId: id },
    });
    expect(result.response).toEqual(fixture('api/send-ok.json'));
  });

  it('params format → POST /email/withTemplate, alias = rendered subject, model = params', async () => {
    await send({ content: { format: 'params', subject: 'welcome-v2', params: { name: 'Ada', order: { id: 'A1' } }, html: undefined, text: undefined } });
    const req = peer.last();
    expect(req.url).toBe('/email/withTemplate');
    expect(req.json).toEqual({
      From: 'Shop <shop@example.net>',
      To: 'Ada Lovelace <ada@example.org>',
      TemplateAlias: 'welcome-v2',
      TemplateModel: { name: 'Ada', order: { id: 'A1' } },
      Metadata: { herald_delivery_id: 'd-1' },
      MessageStream: 'transactional',
    });
  });

  it('the templateAlias option and providerOptions choose the template; providerOptions deep-merge (esp_extra)', async () => {
    const named = postmark({ serverToken: TOKEN, apiUrl: peer.url, templateAlias: (m) => `tpl-${m.notification}` });
    const m = makeOutboundMessage({ content: { format: 'params', params: { a: 1 } }, options: { from: 'shop@example.net', metadata: { plan: 'pro' } } });
    await named.send(m, makeSendContext(m));
    expect(peer.last().json.TemplateAlias).toBe('tpl-herald-test');

    const withExtra = makeOutboundMessage({
      content: { format: 'params', params: { a: 1 } },
      options: {
        from: 'shop@example.net',
        metadata: { plan: 'pro' },
        providerOptions: { postmark: { TemplateId: 1234, TemplateAlias: null, Metadata: { source: 'extra' }, InlineCss: true } },
      },
    });
    await named.send(withExtra, makeSendContext(withExtra));
    expect(peer.last().json).toMatchObject({
      TemplateId: 1234,
      TemplateAlias: null,
      InlineCss: true,
      Metadata: { plan: 'pro', herald_delivery_id: withExtra.deliveryId, source: 'extra' },
    });
  });

  it('params without any template alias is a permanent error, nothing sent', async () => {
    const before = peer.requests.length;
    const error = await failure(send({ content: { format: 'params', subject: undefined, params: { a: 1 } } }));
    expect(error).toBeInstanceOf(PermanentError);
    expect(String(error)).toMatch(/needs a Postmark template/);
    expect(peer.requests.length).toBe(before);
  });

  it('a partially inactive send marks those recipients rejected', async () => {
    peer.answer(200, fixture('api/send-partially-inactive.json'));
    const result = await send({ to: 'ada@example.org', options: { cc: ['Carol <carol@example.org>'] } });
    expect(result.recipients).toEqual({
      'ada@example.org': { status: 'sent', messageId: '7c1e9a2b-3d4f-4a5b-8c6d-7e8f9a0b1c2d' },
      'carol@example.org': { status: 'rejected' },
    });
  });

  it('the `to` recipient inactive in a 200 answer → permanent, suppress', async () => {
    peer.answer(200, { ...fixture('api/send-partially-inactive.json'), Message: 'Message OK, but will not deliver to these inactive addresses: ada@example.org.' });
    const error = await failure(send({ to: 'ada@example.org', options: { cc: ['carol@example.org'] } }));
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).suppress).toBe(true);
  });

  it('422 / 406 inactive recipient → PermanentError, rejectReason bounced, suppress', async () => {
    peer.answer(422, fixture('api/error-406-inactive.json'));
    const error = (await failure(send())) as PermanentError;
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.rejectReason).toBe('bounced');
    expect(error.suppress).toBe(true);
    expect(error.statusCode).toBe(422);
    expect(error.response).toMatchObject({ ErrorCode: 406 });
    expect(error.message).toMatch(/^\[herald\] \[postmark\] Postmark API answered 422: recipient is inactive/);
    expect(error.scope).toBe('recipient');
  });

  it('422 / 300 invalid email request → PermanentError, rejectReason invalid', async () => {
    peer.answer(422, fixture('api/error-300-invalid.json'));
    const error = (await failure(send())) as PermanentError;
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.rejectReason).toBe('invalid');
    expect(error.suppress).toBe(false);
  });

  it('401 / 10 bad token → PermanentError that never shows the token', async () => {
    peer.answer(401, fixture('api/error-10-token.json'));
    const error = await failure(send());
    expect(error).toBeInstanceOf(PermanentError);
    expect(String(error)).toMatch(/refused the server token/);
    expectNoSecrets(error, [TOKEN]);
  });

  // Regression: hex and base64url forms of the token were kept; nothing checked lastError, events or logs.
  it('an answer quoting the token in any encoding leaks it nowhere (lastError, attempts, events, logs)', async () => {
    peer.echoTokenForms();
    const trace = await traceDelivery(postmark({ serverToken: TOKEN, apiUrl: peer.url, test: true, defaults: { from: 'shop@example.net' } }), 'ada@example.org', { format: 'markdown', subject: 'Hi', body: 'Hi {{name}}' });
    expect(trace.delivery).toMatchObject({ status: 'failed', lastError: expect.stringContaining('refused the server token') });
    expect(trace.attempts[0]!.response).toMatchObject({ ErrorCode: 10 });
    expect(secretLeaks(trace, [TOKEN])).toEqual([]);
  });

  it('classifies refusals by what they are about (provider, recipient, content)', async () => {
    const cases: [number, number, string, 'provider' | 'recipient' | 'content', boolean][] = [
      [401, 10, 'Bad or missing API token', 'provider', false],
      [422, 400, 'Sender signature not found', 'provider', false],
      [422, 405, 'Not allowed to send: account ran out of credits', 'provider', false],
      [422, 412, 'Account pending approval', 'provider', false],
      [422, 1101, 'Template not found', 'provider', false],
      [422, 406, 'You tried to send to recipient(s) that have been marked as inactive.', 'recipient', false],
      [422, 300, "Error parsing 'To': Illegal email address 'ada@@example.org'.", 'recipient', false],
      [422, 300, "Invalid 'HtmlBody'", 'content', false],
      [422, 411, 'Forbidden attachment type', 'content', false],
      [500, 0, 'Internal Server Error', 'provider', true],
      [503, 100, 'Maintenance', 'provider', true],
      [429, 0, 'Rate limit exceeded', 'provider', true],
    ];
    for (const [status, ErrorCode, Message, scope, transient] of cases) {
      peer.answer(status, { ErrorCode, Message });
      const error = (await failure(send())) as PermanentError;
      expect(error, `${status}/${ErrorCode}`).toBeInstanceOf(transient ? TransientError : PermanentError);
      expect(error.scope, `${status}/${ErrorCode}`).toBe(scope);
    }
  });

  it('429 → TransientError with retryAfterMs from Retry-After', async () => {
    peer.answer(429, fixture('api/error-429-rate.json'), { 'retry-after': '7' });
    const error = (await failure(send())) as TransientError;
    expect(error).toBeInstanceOf(TransientError);
    expect(error.retryAfterMs).toBe(7000);
  });

  it('500 / 503 → TransientError; other 422 codes (template not found) → PermanentError', async () => {
    peer.answer(500, fixture('api/error-500.json'));
    expect(await failure(send())).toBeInstanceOf(TransientError);
    peer.answer(503, 'Service Unavailable');
    expect(await failure(send())).toBeInstanceOf(TransientError);
    peer.answer(422, fixture('api/error-1101-template.json'));
    expect(await failure(send())).toBeInstanceOf(PermanentError);
  });

  it('an aborted send (worker timeout) → TransientError', async () => {
    const controller = new AbortController();
    controller.abort(new Error('send timed out'));
    const m = makeOutboundMessage({ options: { from: 'shop@example.net' } });
    expect(await failure(backend.send(m, makeSendContext(m, { signal: controller.signal })))).toBeInstanceOf(TransientError);
  });

  it('accepts an injected ServerClient', async () => {
    const url = new URL(peer.url);
    const client = new ServerClient('injected-token-1234', { useHttps: false, requestHost: url.host });
    const injected = postmark({ client });
    const m = makeOutboundMessage({ options: { from: 'shop@example.net' } });
    await injected.send(m, makeSendContext(m));
    expect(peer.last().headers['x-postmark-server-token']).toBe('injected-token-1234');
  });

  it('validates options at start-up', () => {
    expect(() => postmark({})).toThrow(ConfigError);
    expect(() => postmark({ serverToken: TOKEN, webhookAuth: { username: '', password: 'x' } })).toThrow(/webhookAuth/);
    expect(postmark({ serverToken: TOKEN, webhookAuth: HOOK }).secrets).toEqual([TOKEN, HOOK.password, `${HOOK.username}:${HOOK.password}`]);
  });
});

// ───────── tracking webhooks ─────────

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

function hookRequest(body: unknown, authorization: string | null = basic(HOOK.username, HOOK.password)): WebhookRequest {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const headers = new Headers({ 'content-type': 'application/json' });
  if (authorization) headers.set('authorization', authorization);
  return { method: 'POST', url: new URL('https://app.example/herald/postmark/tracking'), headers, body: new TextEncoder().encode(text), text };
}

describe('postmark: tracking webhook', () => {
  const backend = postmark({ serverToken: TOKEN, webhookAuth: [{ username: 'old', password: 'old-pass-0000' }, HOOK] });
  const tracking = backend.webhooks!.tracking!;
  const parse = async (name: string): Promise<TrackingEvent> => {
    const events = await tracking.parse(hookRequest(fixture(name)));
    expect(events).toHaveLength(1);
    return events[0]!;
  };

  it('basic auth: any configured pair passes; missing → 401; wrong → 403; unconfigured → 401', async () => {
    expect(await tracking.verify(hookRequest({}))).toEqual({ ok: true });
    expect(await tracking.verify(hookRequest({}, basic('old', 'old-pass-0000')))).toEqual({ ok: true });
    expect(await tracking.verify(hookRequest({}, null))).toMatchObject({ ok: false, status: 401 });
    expect(await tracking.verify(hookRequest({}, basic(HOOK.username, 'forged')))).toMatchObject({ ok: false, status: 403 });
    const open = postmark({ serverToken: TOKEN }).webhooks!.tracking!;
    expect(await open.verify(hookRequest({}))).toMatchObject({ ok: false, status: 401, reason: expect.stringMatching(/webhookAuth is not configured/) });
  });

  it('Delivery → delivered', async () => {
    const e = await parse('delivery.json');
    expect(e).toEqual({
      eventType: 'delivered',
      eventId: 'Delivery:5b3f1a6e-2c47-4f0e-9d11-0a5c7d2e8b41:ada@example.org:2026-11-23T10:01:02.5230000Z',
      messageId: '5b3f1a6e-2c47-4f0e-9d11-0a5c7d2e8b41',
      timestamp: new Date('2026-11-23T10:01:02.523Z'),
      recipient: 'ada@example.org',
      metadata: { herald_delivery_id: 'd-example', plan: 'pro' },
      tags: ['welcome'],
      rejectReason: null,
      description: null,
      mtaResponse: 'smtp;250 2.0.0 OK 1700000000 q7si123456qkb.42 - gsmtp',
      userAgent: null,
      clickUrl: null,
      raw: fixture('delivery.json'),
    });
  });

  it('Bounce types map to event types and reject reasons', async () => {
    expect(await parse('bounce-hard.json')).toMatchObject({
      eventType: 'bounced',
      rejectReason: 'bounced',
      recipient: 'ada@example.org',
      timestamp: new Date('2026-11-23T10:02:00Z'),
      description: 'The server was unable to deliver your message (ex: unknown user, mailbox not found).',
      mtaResponse: 'smtp;550 5.1.1 The email account that you tried to reach does not exist.',
    });
    expect(await parse('bounce-soft.json')).toMatchObject({ eventType: 'deferred', rejectReason: 'other' });
    expect(await parse('bounce-blocked.json')).toMatchObject({ eventType: 'rejected', rejectReason: 'blocked', tags: [] });
    const spamNotification = await tracking.parse(hookRequest({ ...fixture('bounce-hard.json'), Type: 'SpamNotification', TypeCode: 512 }));
    expect(spamNotification[0]).toMatchObject({ eventType: 'complained', rejectReason: 'spam' });
    const odd = await tracking.parse(hookRequest({ ...fixture('bounce-hard.json'), Type: 'SomethingNew', TypeCode: 99 }));
    expect(odd[0]).toMatchObject({ eventType: 'unknown', rejectReason: null });
  });

  it('SpamComplaint → complained (spam); Open → opened; Click → clicked', async () => {
    expect(await parse('spam-complaint.json')).toMatchObject({ eventType: 'complained', rejectReason: 'spam', recipient: 'ada@example.org' });
    expect(await parse('open.json')).toMatchObject({
      eventType: 'opened',
      userAgent: expect.stringContaining('Chrome/120.0'),
      timestamp: new Date('2026-11-23T10:05:00Z'),
    });
    expect(await parse('click.json')).toMatchObject({ eventType: 'clicked', clickUrl: 'https://shop.example.org/orders/A1' });
  });

  it('SubscriptionChange → unsubscribed (suppressed) or subscribed (reactivated)', async () => {
    expect(await parse('subscription-change.json')).toMatchObject({ eventType: 'unsubscribed', rejectReason: 'unsubscribed' });
    expect(await parse('subscription-reactivated.json')).toMatchObject({ eventType: 'subscribed', rejectReason: null, messageId: null, tags: [] });
  });

  it('the same POST twice yields the same event id (Postmark sends none)', async () => {
    for (const name of ['delivery.json', 'bounce-hard.json', 'open.json', 'click.json', 'subscription-change.json']) {
      expect((await parse(name)).eventId).toBe((await parse(name)).eventId);
    }
    expect((await parse('bounce-hard.json')).eventId).not.toBe((await parse('bounce-soft.json')).eventId);
  });

  it('an unknown record type → unknown with the raw event', async () => {
    const e = await tracking.parse(hookRequest({ RecordType: 'Teleport', MessageID: 'x' }));
    expect(e[0]).toMatchObject({ eventType: 'unknown', eventId: '', raw: { RecordType: 'Teleport', MessageID: 'x' } });
  });

  it('malformed JSON / non-object → ValidationError; an inbound payload → ConfigError', async () => {
    await expect(async () => tracking.parse(hookRequest('{"RecordType":'))).rejects.toThrow(/not valid JSON/);
    await expect(async () => tracking.parse(hookRequest('[1,2]'))).rejects.toThrow(/JSON object/);
    await expect(async () => tracking.parse(hookRequest(fixture('inbound.json')))).rejects.toThrow(ConfigError);
  });
});
