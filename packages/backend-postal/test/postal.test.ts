import { applyCapabilities, ConfigError, PermanentError, TransientError, UnsupportedFeatureError, type Backend, type WebhookRequest } from '@herald/core';
import { expectNoSecrets, makeOutboundMessage, makeSendContext, secretLeaks, traceDelivery } from '@herald/core/testing';
import { type ReceivedMessage, testBackend } from '@herald/core/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postal } from '../src';
import { closedPortUrl, fixture, postalKeyPair, type ReceivedRequest, startFakePostal } from './_fake-postal';

const API_KEY = 'postal-api-key-0123456789';

// ───────── the shared conformance suite against the loopback Postal ─────────

let suitePeer: Awaited<ReturnType<typeof startFakePostal>>;
/** A request to the loopback Postal as the suite reads it, from the documented `/send/message` JSON. */
function view({ headers, body, json }: ReceivedRequest): ReceivedMessage {
  const j = json as {
    to?: string[];
    cc?: string[];
    bcc?: string[];
    reply_to?: string;
    subject?: string;
    plain_body?: string;
    html_body?: string;
    headers?: Record<string, string>;
    tag?: string;
    attachments?: { name: string; content_type: string; data: string }[];
  };
  return {
    raw: `${JSON.stringify(headers)}\n${body}`,
    to: j.to ?? [],
    cc: j.cc ?? [],
    bcc: j.bcc ?? [],
    replyTo: j.reply_to ? [j.reply_to] : [],
    subject: j.subject,
    text: j.plain_body,
    html: j.html_body,
    headers: j.headers ?? {},
    tags: j.tag ? [j.tag] : [],
    attachments: (j.attachments ?? []).map((a) => ({ filename: a.name, content: Buffer.from(a.data, 'base64'), contentType: a.content_type })),
  };
}
testBackend({
  name: 'postal',
  async start() {
    suitePeer = await startFakePostal();
  },
  stop: () => suitePeer.close(),
  create: (o) => postal({ apiUrl: suitePeer.url, apiKey: API_KEY, ...o }),
  createUnreachable: async () => postal({ apiUrl: await closedPortUrl(), apiKey: API_KEY }),
  address: 'ada@example.org',
  failNext: (kind) =>
    kind === 'transient' ? suitePeer.answer(503, '<html>upstream unavailable</html>') : suitePeer.answer(200, fixture('api/error-unauthenticated-from.json')),
  received: () => suitePeer.requests.map(view),
  leakNext: () => suitePeer.echoKey(),
  // Postal takes one reply-to address and names every attachment.
  unsupported: [
    { feature: 'multiple reply-to addresses', options: { replyTo: ['help@example.org', 'second.reply@example.org'] }, absent: ['second.reply@example.org'] },
    {
      feature: 'attachments without a filename',
      attachments: [{ filename: '', contentType: 'text/plain', content: Buffer.from('nameless attachment').toString('base64') }],
      absent: [Buffer.from('nameless attachment').toString('base64')],
    },
  ],
  secrets: [API_KEY],
});

// ───────── the exact wire format (SEEDS-SPEC §2.7) ─────────

describe('postal: requests and answers', () => {
  let peer: Awaited<ReturnType<typeof startFakePostal>>;
  let backend: Backend;
  beforeAll(async () => {
    peer = await startFakePostal();
    backend = postal({ apiUrl: `${peer.url}/`, apiKey: API_KEY });
  });
  afterAll(() => peer.close());

  const message = (overrides: Parameters<typeof makeOutboundMessage>[0] = {}) =>
    makeOutboundMessage({ to: 'Ada Lovelace <ada@example.org>', ...overrides, options: { from: 'Shop <shop@example.net>', ...overrides.options } });
  const send = (b: Backend, m = message()) => b.send(m, makeSendContext(m));
  const failure = (promise: Promise<unknown>) => promise.then(() => expect.unreachable('send should fail'), (e: unknown) => e);

  it('POSTs {apiUrl}/api/v1/send/message with X-Server-API-Key and the documented payload', async () => {
    peer.answer(200, fixture('api/send-ok.json'));
    const result = await send(
      backend,
      message({
        attachments: [{ filename: 'a.txt', contentType: 'text/plain', content: 'aGVsbG8=' }],
        options: {
          cc: ['bob@example.org'],
          bcc: ['carol@example.org'],
          replyTo: ['help@example.net'],
          headers: { 'X-Order': 'A1' },
          tags: ['welcome'],
        },
      }),
    );
    const req = peer.last();
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/api/v1/send/message');
    expect(req.headers['x-server-api-key']).toBe(API_KEY);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers.accept).toBe('application/json');
    expect(req.json).toEqual({
      to: ['Ada Lovelace <ada@example.org>'],
      cc: ['bob@example.org'],
      bcc: ['carol@example.org'],
      from: 'Shop <shop@example.net>',
      subject: 'Hello from Herald',
      plain_body: 'Hello Ada',
      html_body: '<p>Hello <b>Ada</b></p>',
      reply_to: 'help@example.net',
      headers: { 'X-Order': 'A1' },
      tag: 'welcome',
      attachments: [{ name: 'a.txt', content_type: 'text/plain', data: 'aGVsbG8=' }],
    });
    expect(result).toEqual({
      messageId: '4821',
      recipients: {
        'ada@example.org': { status: 'queued', messageId: '4821' },
        'bob@example.org': { status: 'queued', messageId: '4822' },
        'carol@example.org': { status: 'queued', messageId: '4823' },
      },
      response: fixture('api/send-ok.json'),
    });
  });

  it('keys only when set; IDNA domain, display name quoted when needed', async () => {
    await send(backend, message({ to: 'Dr. Ada, PhD <ada@bücher.example>', content: { html: undefined, text: 'plain only' } }));
    expect(peer.last().json).toEqual({
      to: ['"Dr. Ada, PhD" <ada@xn--bcher-kva.example>'],
      from: 'Shop <shop@example.net>',
      subject: 'Hello from Herald',
      plain_body: 'plain only',
    });
  });

  it('providerOptions are deep-merged into the payload (esp_extra), overriding', async () => {
    await send(
      backend,
      message({ options: { headers: { 'X-A': '1' }, providerOptions: { postal: { bounce: true, headers: { 'X-B': '2' }, subject: 'override' } } } }),
    );
    expect(peer.last().json).toMatchObject({ bounce: true, headers: { 'X-A': '1', 'X-B': '2' }, subject: 'override' });
  });

  it('more than one reply-to → UnsupportedFeatureError; the first when ignoring', async () => {
    const m = message({ options: { replyTo: ['a@example.net', 'b@example.net'] } });
    expect(await failure(send(backend, m))).toBeInstanceOf(UnsupportedFeatureError);
    const lenient = postal({ apiUrl: peer.url, apiKey: API_KEY, ignoreUnsupportedFeatures: true });
    await send(lenient, m);
    expect(peer.last().json.reply_to).toBe('a@example.net');
  });

  it('unnamed attachments → UnsupportedFeatureError; dropped when ignoring', async () => {
    const m = message({ attachments: [{ filename: '', contentType: 'text/plain', content: 'aGk=' }] });
    const error = await failure(send(backend, m));
    expect(error).toBeInstanceOf(UnsupportedFeatureError);
    expect(String(error)).toMatch(/attachments without a filename/);
    await send(postal({ apiUrl: peer.url, apiKey: API_KEY, ignoreUnsupportedFeatures: true }), m);
    expect(peer.last().json.attachments).toBeUndefined();
  });

  it('core capabilities: sendAt, tracking toggles, metadata unsupported; more than one tag → error, or the first tag', () => {
    for (const options of [{ sendAt: '2030-01-01T00:00:00Z' }, { trackOpens: true }, { trackClicks: false }, { metadata: { a: '1' } }, { tags: ['a', 'b'] }]) {
      expect(() => applyCapabilities(backend, message({ options }))).toThrow(UnsupportedFeatureError);
    }
    const lenient = postal({ apiUrl: peer.url, apiKey: API_KEY, ignoreUnsupportedFeatures: true });
    expect(applyCapabilities(lenient, message({ options: { tags: ['a', 'b'] } })).options.tags).toEqual(['a']);
  });

  it('status "error" on HTTP 200 → PermanentError naming the code', async () => {
    peer.answer(200, fixture('api/error-unauthenticated-from.json'));
    const error = (await failure(send(backend))) as PermanentError;
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toBe(
      '[herald] [postal] Postal API answered status "error": UnauthenticatedFromAddress: The From address is not authorised to send mail from this server',
    );
    expect(error.response).toEqual(fixture('api/error-unauthenticated-from.json'));
    peer.answer(200, fixture('api/parameter-error.json'));
    expect(await failure(send(backend))).toBeInstanceOf(PermanentError);
  });

  it('an error body quoting the API key is redacted', async () => {
    peer.echoKey();
    const error = await failure(send(backend));
    expectNoSecrets(error, [API_KEY]);
  });

  // Regression: only the raw, URL-encoded and base64 forms were redacted; hex and base64url were stored.
  it('an answer quoting the API key in any encoding leaks it nowhere (lastError, attempts, events, logs)', async () => {
    peer.echoKeyForms();
    const trace = await traceDelivery(postal({ apiUrl: peer.url, apiKey: API_KEY, test: true, defaults: { from: 'shop@example.net' } }), 'ada@example.org', { format: 'markdown', subject: 'Hi', body: 'Hi {{name}}' });
    expect(trace.delivery).toMatchObject({ status: 'failed', lastError: expect.stringContaining('Postal API answered 401') });
    expect(trace.attempts[0]!.response).toMatchObject({ status: 'error', data: { code: 'AccessDenied' } });
    expect(secretLeaks(trace, [API_KEY])).toEqual([]);
  });

  it('classifies refusals: credentials and sender about the provider, the rest about the message', async () => {
    peer.answer(200, fixture('api/error-unauthenticated-from.json'));
    expect(await failure(send(backend))).toMatchObject({ scope: 'provider' });
    peer.echoKey();
    expect(await failure(send(backend))).toMatchObject({ scope: 'provider' });
    peer.answer(200, { status: 'error', data: { code: 'NoContent', message: 'There is no content defined for this e-mail' } });
    expect(await failure(send(backend))).toMatchObject({ scope: 'content' });
    peer.answer(401, 'Unauthorized');
    expect(await failure(send(backend))).toMatchObject({ scope: 'provider' });
    peer.answer(503, 'down');
    expect(await failure(send(backend))).toMatchObject({ scope: 'provider' });
    expect(await failure(send(postal({ apiUrl: await closedPortUrl(), apiKey: API_KEY })))).toMatchObject({ scope: 'provider' });
  });

  it('non-2xx: 429/5xx → TransientError (Retry-After), 4xx → PermanentError', async () => {
    peer.answer(429, { status: 'error', data: { message: 'slow down' } }, { 'retry-after': '12' });
    const limited = (await failure(send(backend))) as TransientError;
    expect(limited).toBeInstanceOf(TransientError);
    expect(limited.retryAfterMs).toBe(12_000);
    expect(limited.statusCode).toBe(429);
    peer.answer(502, 'Bad Gateway');
    expect(await failure(send(backend))).toBeInstanceOf(TransientError);
    peer.answer(404, 'Not Found');
    const notFound = (await failure(send(backend))) as PermanentError;
    expect(notFound).toBeInstanceOf(PermanentError);
    expect(notFound.message).toBe('[herald] [postal] Postal API answered 404 Not Found: Not Found');
    expect(notFound.response).toBe('Not Found');
  });

  it('invalid JSON on 200 → PermanentError (the message may have been accepted: no blind retry)', async () => {
    peer.answer(200, 'this is not json');
    const error = (await failure(send(backend))) as PermanentError;
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toMatch(/Invalid JSON in Postal API response/);
  });

  it('network errors and aborts → TransientError', async () => {
    expect(await failure(send(postal({ apiUrl: await closedPortUrl(), apiKey: API_KEY })))).toBeInstanceOf(TransientError);
    const controller = new AbortController();
    controller.abort(new Error('worker stopping'));
    const m = message();
    expect(await failure(backend.send(m, makeSendContext(m, { signal: controller.signal })))).toBeInstanceOf(TransientError);
  });

  it('validates options at start-up (apiUrl, apiKey, webhookKey)', () => {
    expect(() => postal({ apiUrl: 'not a url', apiKey: API_KEY })).toThrow(ConfigError);
    expect(() => postal({ apiUrl: 'https://postal.example.net', apiKey: '' })).toThrow(/apiKey/);
    expect(() => postal({ apiUrl: 'https://postal.example.net', apiKey: API_KEY, webhookKey: 'bm90IGEga2V5' })).toThrow(/webhookKey is not Postal's public key/);
    expect(postal({ apiUrl: 'https://postal.example.net', apiKey: API_KEY }).secrets).toEqual([API_KEY]);
  });
});

// ───────── signed webhooks (SEEDS-SPEC §2.9, §2.10) ─────────

describe('postal: webhooks', () => {
  const keys = postalKeyPair();
  const other = postalKeyPair();
  const backend = postal({ apiUrl: 'https://postal.example.net', apiKey: API_KEY, webhookKey: `p=${keys.webhookKey};` });
  const tracking = backend.webhooks!.tracking!;
  const inbound = backend.webhooks!.inbound!;

  const request = (body: unknown, headers: Record<string, string> = {}, kind = 'tracking'): WebhookRequest => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return {
      method: 'POST',
      url: new URL(`https://app.example/herald/postal/${kind}`),
      headers: new Headers({ 'content-type': 'application/json', ...headers }),
      body: new TextEncoder().encode(text),
      text,
    };
  };
  const signed = (body: unknown, kind = 'tracking') => {
    const text = JSON.stringify(body);
    return request(text, { 'x-postal-signature': keys.sign(text) }, kind);
  };

  it('signature: valid SHA-1 (and SHA-256 header) pass; missing → 401; forged or tampered → 403', async () => {
    const body = JSON.stringify(fixture('message-sent.json'));
    expect(await tracking.verify(request(body, { 'x-postal-signature': keys.sign(body) }))).toEqual({ ok: true });
    expect(await tracking.verify(request(body, { 'x-postal-signature-256': keys.sign(body, 'sha256') }))).toEqual({ ok: true });
    expect(await tracking.verify(request(body))).toEqual({ ok: false, status: 401, reason: 'X-Postal-Signature header missing from webhook' });
    expect(await tracking.verify(request(body, { 'x-postal-signature': other.sign(body) }))).toMatchObject({ ok: false, status: 403 });
    expect(await tracking.verify(request(`${body} `, { 'x-postal-signature': keys.sign(body) }))).toMatchObject({ ok: false, status: 403 });
    expect(await tracking.verify(request(body, { 'x-postal-signature': 'not base64 !!' }))).toMatchObject({ ok: false, status: 403 });
    expect(await inbound.verify(request(body, { 'x-postal-signature': other.sign(body) }))).toMatchObject({ ok: false, status: 403 });
    const unkeyed = postal({ apiUrl: 'https://postal.example.net', apiKey: API_KEY });
    expect(await unkeyed.webhooks!.tracking!.verify(request(body, { 'x-postal-signature': keys.sign(body) }))).toMatchObject({ ok: false, status: 401 });
  });

  const parse = async (name: string) => {
    const events = await tracking.parse(signed(fixture(name)));
    expect(events).toHaveLength(1);
    return events[0]!;
  };

  it('MessageSent → delivered with every normalized field', async () => {
    expect(await parse('message-sent.json')).toEqual({
      eventType: 'delivered',
      eventId: '0c6f7c61-2a8e-4a4b-8d36-5b1e0f3a9d01',
      messageId: '4821',
      timestamp: new Date(1795428062 * 1000),
      recipient: 'ada@example.org',
      metadata: {},
      tags: ['welcome'],
      rejectReason: null,
      description: 'Message for ada@example.org accepted by mx.example.org (192.0.2.25)',
      mtaResponse: '250 2.0.0 Ok: queued as 4Xb1Zq3kPz',
      userAgent: null,
      clickUrl: null,
      raw: fixture('message-sent.json'),
    });
  });

  it('status mapping: SoftFail → deferred, HardFail → failed, Held → queued; bounce → bounced; url → clicked; else unknown', async () => {
    expect((await parse('message-delayed.json')).eventType).toBe('deferred');
    expect((await parse('message-delivery-failed.json')).eventType).toBe('failed');
    expect((await parse('message-held.json')).eventType).toBe('queued');
    expect(await parse('message-bounced.json')).toMatchObject({ eventType: 'bounced', rejectReason: 'bounced', messageId: '4821', recipient: 'ada@example.org' });
    expect(await parse('message-link-clicked.json')).toMatchObject({
      eventType: 'clicked',
      clickUrl: 'https://shop.example.org/orders/A1',
      userAgent: expect.stringContaining('Firefox/121.0'),
    });
    expect(await parse('message-loaded.json')).toMatchObject({ eventType: 'unknown', raw: fixture('message-loaded.json') });
    const odd = fixture('message-sent.json');
    expect((await tracking.parse(signed({ ...odd, payload: { ...(odd.payload as object), status: 'Bounced' } })))[0]!.eventType).toBe('unknown');
  });

  it('a null tag gives no tags (not [null]); incoming messages give no events', async () => {
    const sent = fixture('message-sent.json') as { payload: { message: Record<string, unknown> } };
    const untagged = { ...sent, payload: { ...sent.payload, message: { ...sent.payload.message, tag: null } } };
    expect((await tracking.parse(signed(untagged)))[0]!.tags).toEqual([]);
    const incoming = { ...sent, payload: { ...sent.payload, message: { ...sent.payload.message, direction: 'incoming' } } };
    expect(await tracking.parse(signed(incoming))).toEqual([]);
  });

  it('an inbound payload on the tracking URL, or a tracking payload on the inbound URL → ConfigError', async () => {
    await expect(async () => tracking.parse(signed(fixture('inbound-raw.json')))).rejects.toThrow(ConfigError);
    await expect(async () => tracking.parse(signed(fixture('inbound-raw.json')))).rejects.toThrow(/inbound message was posted to the tracking webhook URL/);
    await expect(async () => inbound.parse(signed(fixture('message-sent.json'), 'inbound'))).rejects.toThrow(/tracking event was posted to the inbound webhook URL/);
  });

  it('malformed JSON / wrong content type → ValidationError', async () => {
    await expect(async () => tracking.parse(request('{"event":'))).rejects.toThrow(/not valid JSON/);
    await expect(async () => tracking.parse(request('a=b', { 'content-type': 'application/x-www-form-urlencoded' }))).rejects.toThrow(/must be JSON/);
    await expect(async () => inbound.parse(signed({ id: 1, rcpt_to: 'a@example.net', plain_body: 'processed format' }, 'inbound'))).rejects.toThrow(
      /Delivered as the raw message/,
    );
  });

  it('inbound raw message → InboundEvent parsed with mailparser', async () => {
    const [event] = await inbound.parse(signed(fixture('inbound-raw.json'), 'inbound'));
    expect(event).toMatchObject({
      eventType: 'inbound',
      eventId: '7731',
      timestamp: null,
      message: {
        from: 'Ada Lovelace <ada@example.org>',
        to: ['Support <support@example.net>'],
        cc: ['bob@example.org'],
        subject: 'Re: Welcome aboard',
        date: new Date('2026-11-23T10:20:00Z'),
        text: 'Thanks! Where is order A1? — Ada\n',
        html: '<p>Thanks! Where is order <b>A1</b>? — Ada</p>\n',
        envelopeSender: 'ada@example.org',
        envelopeRecipient: 'support@example.net',
        spamScore: 1.4,
        attachments: [
          { filename: 'note.txt', contentType: 'text/plain', content: Buffer.from('order A1, please hurry\n').toString('base64'), contentId: null },
        ],
      },
    });
    expect(event!.message.headers['in-reply-to']).toBe('<8d1f5c2e-7a43-4b6e-9f10-3c2d1e0a9b87@rp.postal.example.net>');
    expect(event!.raw).toEqual(fixture('inbound-raw.json'));
  });
});
