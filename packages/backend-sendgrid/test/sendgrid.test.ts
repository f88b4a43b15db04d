import { type Backend, ConfigError, PermanentError, TransientError, UnsupportedFeatureError } from '@herald/core';
import { expectNoSecrets, makeOutboundMessage, makeSendContext, secretLeaks, traceDelivery } from '@herald/core/testing';
import { type ReceivedMessage, testBackend } from '@herald/core/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendgrid } from '../src';
import { closedPortUrl, fixture, type ReceivedRequest, shapeErrors, startFakeSendgrid } from './_fake-sendgrid';

const KEY = 'SG.herald-test-key.0123456789abcdefABCDEF';
const HOOK = { username: 'sendgrid-hooks', password: 'hook-pass-9876543210' };
const TEMPLATE = 'd-0f1e2d3c4b5a69788796a5b4c3d2e1f0';

// ───────── the shared conformance suite against the loopback SendGrid ─────────

let suitePeer: Awaited<ReturnType<typeof startFakeSendgrid>>;
interface Email {
  email: string;
  name?: string;
}
const emails = (list: unknown) => ((list as Email[] | undefined) ?? []).map((e) => e.email);
/** A request to the loopback SendGrid as the suite reads it, field by field from the v3 JSON payload. */
function view({ headers, body, json }: ReceivedRequest): ReceivedMessage {
  const j = json as {
    personalizations?: { to?: Email[]; cc?: Email[]; bcc?: Email[] }[];
    reply_to?: Email;
    reply_to_list?: Email[];
    subject?: string;
    content?: { type: string; value: string }[];
    headers?: Record<string, string>;
    custom_args?: Record<string, string>;
    categories?: string[];
    attachments?: { content: string; filename: string; type?: string; content_id?: string }[];
    tracking_settings?: { open_tracking?: { enable: boolean }; click_tracking?: { enable: boolean } };
  };
  const p = j.personalizations?.[0] ?? {};
  return {
    raw: `${JSON.stringify(headers)}\n${body}`,
    to: emails(p.to),
    cc: emails(p.cc),
    bcc: emails(p.bcc),
    replyTo: j.reply_to ? [j.reply_to.email] : emails(j.reply_to_list),
    subject: j.subject,
    text: j.content?.find((c) => c.type === 'text/plain')?.value,
    html: j.content?.find((c) => c.type === 'text/html')?.value,
    headers: j.headers ?? {},
    metadata: j.custom_args,
    tags: j.categories ?? [],
    attachments: (j.attachments ?? []).map((a) => ({
      filename: a.filename,
      content: Buffer.from(a.content, 'base64'),
      ...(a.type ? { contentType: a.type } : {}),
      ...(a.content_id ? { contentId: a.content_id } : {}),
    })),
    trackOpens: j.tracking_settings?.open_tracking?.enable,
    trackClicks: j.tracking_settings?.click_tracking?.enable,
  };
}
testBackend({
  name: 'sendgrid',
  async start() {
    suitePeer = await startFakeSendgrid({ apiKey: KEY });
  },
  stop: () => suitePeer.close(),
  create: (o) => sendgrid({ apiKey: KEY, baseUrl: suitePeer.url, defaults: { from: 'shop@example.net' }, webhookAuth: HOOK, ...o }),
  createUnreachable: async () => sendgrid({ apiKey: KEY, baseUrl: await closedPortUrl(), defaults: { from: 'shop@example.net' } }),
  address: 'ada@example.org',
  // The suite calls send() directly, where `defaults` (merged by notify()) do not apply: SendGrid requires a sender.
  message: (m) => ({ ...m, options: { from: 'shop@example.net', ...m.options } }),
  failNext: (kind) => (kind === 'transient' ? suitePeer.answer(503, fixture('api/error-500.json')) : suitePeer.answer(400, fixture('api/error-400-content.json'))),
  received: () => suitePeer.requests.filter((r) => r.status < 300).map(view),
  leakNext: () => suitePeer.echoKey(),
  secrets: [KEY, HOOK.password],
  templates: { params: { format: 'params', subject: TEMPLATE, body: { text: 'Hello {{name}}, your code is {{code}}.', code: '{{code}}' } } },
});

// ───────── the exact wire format ─────────

describe('sendgrid: requests and answers', () => {
  let peer: Awaited<ReturnType<typeof startFakeSendgrid>>;
  let backend: Backend;
  beforeAll(async () => {
    peer = await startFakeSendgrid({ apiKey: KEY });
    backend = sendgrid({ apiKey: KEY, baseUrl: peer.url, ipPoolName: 'transactional', asmGroupId: 42, asmGroupsToDisplay: [42, 43] });
  });
  afterAll(() => peer.close());

  const send = (overrides: Parameters<typeof makeOutboundMessage>[0] = {}, b: Backend = backend) => {
    const m = makeOutboundMessage({ deliveryId: 'd-1', to: 'Ada Lovelace <ada@example.org>', ...overrides, options: { from: 'Shop <shop@example.net>', ...overrides.options } });
    return b.send(m, makeSendContext(m));
  };
  const failure = async (promise: Promise<unknown>) => promise.then(() => expect.unreachable('send should fail'), (e: unknown) => e);

  it('POSTs /v3/mail/send with the bearer key and every option mapped', async () => {
    const sendAt = new Date(Date.now() + 3_600_000);
    const result = await send({
      attachments: [
        { filename: 'a.txt', contentType: 'text/plain', content: 'aGVsbG8=' },
        { filename: 'dot.png', contentType: 'image/png', content: 'iVBORw0=', contentId: 'dot@herald' },
      ],
      options: {
        cc: ['Bob <bob@example.org>'],
        bcc: ['carol@example.org', 'dan@example.org'],
        replyTo: ['help@example.net'],
        headers: { 'X-Order': 'A1' },
        tags: ['welcome', 'onboarding'],
        metadata: { plan: 'pro' },
        sendAt: sendAt.toISOString(),
        trackOpens: true,
        trackClicks: false,
      },
    });
    const req = peer.last();
    expect(req.status).toBe(202);
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v3/mail/send');
    expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(req.headers['content-type']).toMatch(/^application\/json/);
    expect(req.headers.accept).toBe('application/json');
    expect(req.headers['user-agent']).toMatch(/^sendgrid\/8\.\d+\.\d+;nodejs$/);
    expect(req.json).toEqual({
      personalizations: [
        {
          to: [{ email: 'ada@example.org', name: 'Ada Lovelace' }],
          cc: [{ email: 'bob@example.org', name: 'Bob' }],
          bcc: [{ email: 'carol@example.org' }, { email: 'dan@example.org' }],
        },
      ],
      from: { email: 'shop@example.net', name: 'Shop' },
      reply_to: { email: 'help@example.net' },
      subject: 'Hello from Herald',
      content: [
        { type: 'text/plain', value: 'Hello Ada' },
        { type: 'text/html', value: '<p>Hello <b>Ada</b></p>' },
      ],
      headers: { 'X-Order': 'A1' },
      categories: ['welcome', 'onboarding'],
      custom_args: { plan: 'pro', herald_delivery_id: 'd-1' },
      send_at: Math.floor(sendAt.getTime() / 1000),
      asm: { group_id: 42, groups_to_display: [42, 43] },
      ip_pool_name: 'transactional',
      tracking_settings: { open_tracking: { enable: true }, click_tracking: { enable: false, enable_text: false } },
      attachments: [
        { content: 'aGVsbG8=', filename: 'a.txt', type: 'text/plain', disposition: 'attachment' },
        { content: 'iVBORw0=', filename: 'dot.png', type: 'image/png', disposition: 'inline', content_id: 'dot@herald' },
      ],
    });
    expect(result.messageId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(result.recipients).toEqual({
      'ada@example.org': { status: 'queued', messageId: result.messageId },
      'bob@example.org': { status: 'queued', messageId: result.messageId },
      'carol@example.org': { status: 'queued', messageId: result.messageId },
      'dan@example.org': { status: 'queued', messageId: result.messageId },
    });
    expect(result.response).toEqual({ status: 202, messageId: result.messageId });
  });

  it('several reply-to addresses → reply_to_list', async () => {
    await send({ options: { replyTo: ['a@example.net', 'B <b@example.net>'] } });
    expect(peer.last().json).toMatchObject({ reply_to_list: [{ email: 'a@example.net' }, { email: 'b@example.net', name: 'B' }] });
    expect(peer.last().json.reply_to).toBeUndefined();
  });

  it('params → template_id (the rendered subject) + dynamic_template_data, no subject or content', async () => {
    await send({ content: { format: 'params', subject: TEMPLATE, params: { name: 'Ada', order: { id: 'A1', total: "4 & 2 'quoted'" } }, html: undefined, text: undefined } });
    const req = peer.last();
    expect(req.status).toBe(202);
    expect(req.json).toEqual({
      personalizations: [{ to: [{ email: 'ada@example.org', name: 'Ada Lovelace' }], dynamic_template_data: { name: 'Ada', order: { id: 'A1', total: "4 & 2 'quoted'" } } }],
      from: { email: 'shop@example.net', name: 'Shop' },
      template_id: TEMPLATE,
      custom_args: { herald_delivery_id: 'd-1' },
      asm: { group_id: 42, groups_to_display: [42, 43] },
      ip_pool_name: 'transactional',
    });
  });

  it('the templateId option and providerOptions choose the template; providerOptions deep-merge (esp_extra)', async () => {
    const named = sendgrid({ apiKey: KEY, baseUrl: peer.url, templateId: (m) => (m.notification === 'herald-test' ? TEMPLATE : 'd-x') });
    await send({ content: { format: 'params', subject: 'Welcome', params: { a: 1 } } }, named);
    expect(peer.last().json.template_id).toBe(TEMPLATE);

    const other = 'd-aaaabbbbccccddddeeeeffff00001111';
    await send(
      {
        options: {
          metadata: { plan: 'pro' },
          providerOptions: {
            sendgrid: {
              template_id: other,
              custom_args: { source: 'extra' },
              mail_settings: { bypass_list_management: { enable: true } },
              tracking_settings: { subscription_tracking: { enable: false } },
              batch_id: 'YOUR_BATCH_ID',
            },
          },
          trackOpens: true,
        },
        content: { format: 'params', subject: 'Welcome', params: { a: 1 } },
      },
      named,
    );
    expect(peer.last().json).toMatchObject({
      template_id: other,
      custom_args: { plan: 'pro', herald_delivery_id: 'd-1', source: 'extra' },
      mail_settings: { bypass_list_management: { enable: true } },
      tracking_settings: { open_tracking: { enable: true }, subscription_tracking: { enable: false } },
      batch_id: 'YOUR_BATCH_ID',
    });
  });

  it('a providerOptions field the SDK would drop → UnsupportedFeatureError, nothing sent', async () => {
    const before = peer.requests.length;
    const error = await failure(send({ options: { providerOptions: { sendgrid: { brand_new_field: true } } } }));
    expect(error).toBeInstanceOf(UnsupportedFeatureError);
    expect(String(error)).toContain('providerOptions.sendgrid.brand_new_field');
    expect(peer.requests.length).toBe(before);
  });

  it('params without a dynamic template id is a permanent error, nothing sent', async () => {
    const before = peer.requests.length;
    const missing = await failure(send({ content: { format: 'params', subject: undefined, params: { a: 1 } } }));
    expect(missing).toBeInstanceOf(PermanentError);
    expect(String(missing)).toMatch(/needs a SendGrid dynamic template/);
    const legacy = await failure(send({ content: { format: 'params', subject: 'Welcome aboard', params: { a: 1 } } }));
    expect(String(legacy)).toMatch(/not a dynamic template id/);
    expect(peer.requests.length).toBe(before);
  });

  it('sendAt more than 72 hours ahead, or not a date → permanent (content), nothing sent', async () => {
    const before = peer.requests.length;
    const far = (await failure(send({ options: { sendAt: new Date(Date.now() + 80 * 3_600_000).toISOString() } }))) as PermanentError;
    expect(far).toBeInstanceOf(PermanentError);
    expect(far.scope).toBe('content');
    expect(String(far)).toMatch(/72 hours/);
    expect(await failure(send({ options: { sendAt: 'next tuesday' } }))).toBeInstanceOf(PermanentError);
    expect(peer.requests.length).toBe(before);
  });

  it('sandbox mode: mail_settings.sandbox_mode, 200 accepted without a message id', async () => {
    const sandbox = sendgrid({ apiKey: KEY, baseUrl: peer.url, sandboxMode: true });
    const result = await send({}, sandbox);
    expect(peer.last().json.mail_settings).toEqual({ sandbox_mode: { enable: true } });
    expect(peer.last().status).toBe(200);
    expect(result.messageId).toBeUndefined();
    expect(result.recipients).toEqual({ 'ada@example.org': { status: 'queued' } });
    expect(result.response).toEqual({ status: 200, messageId: null, sandbox: true });
  });

  it('onBehalfOf sends the On-Behalf-Of header; baseUrl may end with a slash', async () => {
    await send({}, sendgrid({ apiKey: KEY, baseUrl: `${peer.url}/`, onBehalfOf: 'subuser-eu' }));
    expect(peer.last().headers['on-behalf-of']).toBe('subuser-eu');
    expect(peer.last().url).toBe('/v3/mail/send');
  });

  it('400 naming a recipient field → permanent, scope recipient, rejectReason invalid', async () => {
    peer.answer(400, fixture('api/error-400-to.json'));
    const error = (await failure(send())) as PermanentError;
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.scope).toBe('recipient');
    expect(error.rejectReason).toBe('invalid');
    expect(error.statusCode).toBe(400);
    expect(error.message).toBe('[herald] [sendgrid] SendGrid API answered 400: personalizations.0.to.0.email: Does not contain a valid address.');
    expect(error.response).toEqual({ status: 400, body: fixture('api/error-400-to.json') });
  });

  it('the fake refuses what SendGrid refuses: an invalid address reaches it and comes back as a recipient error', async () => {
    const error = (await failure(send({ to: 'ada@localhost' }))) as PermanentError;
    expect(peer.last().status).toBe(400);
    expect(error.scope).toBe('recipient');
    expect(shapeErrors({ personalizations: [{ to: [] }], from: { email: 'x' } }).map((e) => e.field)).toEqual(['personalizations.0.to', 'from.email', 'subject', 'content']);
  });

  it('classifies refusals by what they are about (provider, recipient, content)', async () => {
    const cases: [number, string, 'provider' | 'recipient' | 'content', boolean][] = [
      [401, 'api/error-401.json', 'provider', false],
      [403, 'api/error-403-sender.json', 'provider', false],
      [400, 'api/error-400-to.json', 'recipient', false],
      [400, 'api/error-400-template.json', 'provider', false],
      [400, 'api/error-400-content.json', 'content', false],
      [413, 'api/error-413.json', 'content', false],
      [429, 'api/error-429.json', 'provider', true],
      [500, 'api/error-500.json', 'provider', true],
      [503, 'api/error-500.json', 'provider', true],
    ];
    for (const [status, name, scope, transient] of cases) {
      peer.answer(status, fixture(name));
      const error = (await failure(send())) as PermanentError;
      expect(error, `${status} ${name}`).toBeInstanceOf(transient ? TransientError : PermanentError);
      expect(error.scope, `${status} ${name}`).toBe(scope);
      expect(error.message, `${status} ${name}`).toMatch(new RegExp(`^\\[herald\\] \\[sendgrid\\] SendGrid API answered ${status}`));
    }
    // A mixed 400: one recipient field and one content field is about the message.
    peer.answer(400, { errors: [...fixture<{ errors: unknown[] }>('api/error-400-to.json').errors, ...fixture<{ errors: unknown[] }>('api/error-400-content.json').errors] });
    expect(((await failure(send())) as PermanentError).scope).toBe('content');
  });

  it('401 → permanent, says the key was refused, never shows it', async () => {
    const bad = sendgrid({ apiKey: 'SG.wrong-key.0000000000', baseUrl: peer.url });
    const error = await failure(send({}, bad));
    expect(peer.last().status).toBe(401);
    expect(error).toBeInstanceOf(PermanentError);
    expect(String(error)).toMatch(/refused the API key: The provided authorization grant is invalid/);
    expectNoSecrets(error, ['SG.wrong-key.0000000000']);
  });

  it('429 → transient, waiting until X-RateLimit-Reset', async () => {
    const reset = Math.floor(Date.now() / 1000) + 30;
    peer.answer(429, fixture('api/error-429.json'), { 'x-ratelimit-limit': '600', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) });
    const error = (await failure(send())) as TransientError;
    expect(error).toBeInstanceOf(TransientError);
    expect(error.retryAfterMs).toBeGreaterThan(25_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(30_000);
    // Without the reset header, Retry-After (when a proxy sends one) is honoured.
    peer.answer(429, fixture('api/error-429.json'), { 'retry-after': '7' });
    expect(((await failure(send())) as TransientError).retryAfterMs).toBe(7000);
  });

  it('a 5xx with a text body, and no answer at all, are transient', async () => {
    peer.answer(502, 'Bad Gateway');
    expect(await failure(send())).toBeInstanceOf(TransientError);
    const down = sendgrid({ apiKey: KEY, baseUrl: await closedPortUrl() });
    const error = await failure(send({}, down));
    expect(error).toBeInstanceOf(TransientError);
    expect(String(error)).toMatch(/request to the SendGrid API failed \(ECONNREFUSED\)/);
    expectNoSecrets(error, [KEY]);
  });

  it('a request that outlives timeoutMs → transient', async () => {
    const { createServer } = await import('node:http');
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const slow = sendgrid({ apiKey: KEY, baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 200 });
    const error = await failure(send({}, slow));
    expect(error).toBeInstanceOf(TransientError);
    silent.closeAllConnections();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  // Regression guard: a provider (or proxy) quoting the key back in any encoding must leak it nowhere Herald keeps or says things.
  it('an answer quoting the key in any encoding leaks it nowhere (lastError, attempts, events, logs)', async () => {
    peer.echoKey();
    const b = sendgrid({ apiKey: KEY, baseUrl: peer.url, test: true, defaults: { from: 'shop@example.net' }, webhookAuth: HOOK });
    const trace = await traceDelivery(b, 'ada@example.org', { format: 'markdown', subject: 'Hi', body: 'Hi {{name}}' });
    expect(trace.delivery).toMatchObject({ status: 'failed', lastError: expect.stringContaining('refused the API key') });
    expect(trace.attempts[0]!.response).toMatchObject({ status: 401 });
    expect(secretLeaks(trace, [KEY, HOOK.password])).toEqual([]);
  });

  it('a send through Herald ends sent, with the X-Message-Id as provider id and the delivery id in custom_args', async () => {
    const b = sendgrid({ apiKey: KEY, baseUrl: peer.url, test: true, defaults: { from: 'shop@example.net' } });
    const trace = await traceDelivery(b, 'ada@example.org', { format: 'markdown', subject: 'Order {{name}}', body: 'Hello **{{name}}**' });
    expect(trace.delivery).toMatchObject({ status: 'sent', providerMessageId: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) });
    expect(peer.last().json).toMatchObject({ subject: 'Order Ada', custom_args: { herald_delivery_id: trace.delivery!.id } });
  });
});

describe('sendgrid: options', () => {
  it('a missing or empty API key is a ConfigError naming apiKey, at start-up', () => {
    // @ts-expect-error apiKey is required
    const missing = () => sendgrid({});
    expect(missing).toThrow(ConfigError);
    expect(missing).toThrow(/options\.apiKey: required: your SendGrid API key/);
    const error = (() => {
      try {
        sendgrid({ apiKey: '   ' });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(error?.field).toBe('apiKey');
    expect(error?.message).toMatch(/apiKey: is empty/);
  });

  it('a key of the wrong shape is refused without printing it', () => {
    const secret = 'not-a-sendgrid-key-1234567890';
    let error: unknown;
    try {
      sendgrid({ apiKey: secret });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toMatch(/apiKey: is not a SendGrid API key \(they start with "SG\."/);
    expectNoSecrets(error, [secret]);
  });

  it('rejects unknown and malformed options', () => {
    // @ts-expect-error `apiKy` is not an option
    expect(() => sendgrid({ apiKy: KEY })).toThrow('unknown option `apiKy`; did you mean `apiKey`?');
    expect(() => sendgrid({ apiKey: KEY, templateId: 'welcome' })).toThrow(/templateId/);
    expect(() => sendgrid({ apiKey: KEY, webhookAuth: { username: '', password: 'x' } })).toThrow(/webhookAuth/);
    expect(() => sendgrid({ apiKey: KEY, asmGroupId: 1.5 })).toThrow(/asmGroupId/);
    expect(() => sendgrid({ apiKey: KEY, baseUrl: 'not a url' })).toThrow(/baseUrl/);
  });

  it('declares its secrets: the key, webhook passwords and their basic-auth pairs', () => {
    const parse = { username: 'parse', password: 'parse-pass-0000' };
    expect(sendgrid({ apiKey: KEY, webhookAuth: HOOK, inboundAuth: parse }).secrets).toEqual([
      KEY,
      HOOK.password,
      parse.password,
      `${HOOK.username}:${HOOK.password}`,
      `${parse.username}:${parse.password}`,
    ]);
  });
});
