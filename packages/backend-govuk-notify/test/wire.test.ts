import { ConfigError, type Delivery, PermanentError, TransientError, UnsupportedFeatureError } from '@herald/core';
import { expectNoSecrets, makeSendContext, secretLeaks, traceDelivery } from '@herald/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { govukNotifyEmail, govukNotifySms } from '../src';
import { FAKE_TEMPLATES, type FakeNotify, notifyError, startFakeNotify } from '../src/testing';
import { API_KEY, CALLBACK_TOKEN, closedPortUrl, failure, jwt, paramsMessage, SECRET, SERVICE_ID, send, silentServer } from './_helpers';

const REPLY_TO = '5b7d0f0e-3a4c-4d5e-8f90-a1b2c3d4e5f6';
const SENDER = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const WELCOME = '9d751e0e-f929-4891-82a1-a3e1c3c18ee3';
const CODE = 'a3c1f2d4-5b6e-4f70-8a91-b2c3d4e5f601';

let notify: FakeNotify;
beforeAll(async () => {
  notify = await startFakeNotify({
    serviceId: SERVICE_ID,
    keys: [
      { name: 'herald_test', secret: SECRET },
      { name: 'team_key', secret: 'e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b', type: 'team' },
      { name: 'old_key', secret: 'ffffffff-c5d6-4e7f-8a9b-0c1d2e3f4a5b', revoked: true },
    ],
    guestList: ['team@example.org'],
    emailReplyToIds: [REPLY_TO],
    smsSenderIds: [SENDER],
    templates: [
      { id: FAKE_TEMPLATES.email, type: 'email', subject: 'Message', body: '((text))' },
      { id: WELCOME, type: 'email', subject: 'Welcome ((first_name))', body: 'Hello ((first_name)), your order ((order)) shipped.\n((items))\n((link_to_file))' },
      { id: CODE, type: 'sms', body: 'Your code is ((code))' },
    ],
  });
});
afterAll(() => notify.close());

const email = (options: Partial<Parameters<typeof govukNotifyEmail>[0]> = {}) => govukNotifyEmail({ apiKey: API_KEY, baseUrl: notify.url, ...options });
const sms = (options: Partial<Parameters<typeof govukNotifySms>[0]> = {}) => govukNotifySms({ apiKey: API_KEY, baseUrl: notify.url, ...options });

describe('the API-key JWT, checked as Notify checks it', () => {
  const post = (authorization?: string) =>
    fetch(`${notify.url}/v2/notifications/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ template_id: FAKE_TEMPLATES.email, email_address: 'ada@example.org', personalisation: { text: 'hi' } }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as unknown }));
  const now = () => Math.floor(Date.now() / 1000);
  const authError = (status: number, message: string) => ({ status, body: { errors: [{ error: 'AuthError', message }], status_code: status } });

  it('the backend signs HS256 over iss = service id and iat = now, with the secret part of the key', async () => {
    const result = await send(email(), paramsMessage({ templateId: FAKE_TEMPLATES.email, text: 'hello' }));
    const request = notify.last();
    expect(request.status).toBe(201);
    expect(request.auth).toMatchObject({ iss: SERVICE_ID, key: 'herald_test', header: { typ: 'JWT', alg: 'HS256' } });
    expect(Math.abs(request.auth!.iat - now())).toBeLessThanOrEqual(2);
    expect(request.headers['user-agent']).toMatch(/^NOTIFY-API-NODE-CLIENT\/8\./);
    expect(result.messageId).toBe([...notify.notifications.keys()].at(-1));
  });

  it('accepts a token up to 30 s old or ahead, refuses one beyond with the clock message', async () => {
    expect((await post(`Bearer ${jwt(SECRET, { iss: SERVICE_ID, iat: now() - 29 })}`)).status).toBe(201);
    expect((await post(`Bearer ${jwt(SECRET, { iss: SERVICE_ID, iat: now() + 29 })}`)).status).toBe(201);
    const clock = authError(403, 'Error: Your system clock must be accurate to within 30 seconds');
    expect(await post(`Bearer ${jwt(SECRET, { iss: SERVICE_ID, iat: now() - 32 })}`)).toEqual(clock);
    expect(await post(`Bearer ${jwt(SECRET, { iss: SERVICE_ID, iat: now() + 32 })}`)).toEqual(clock);
  });

  it('answers each malformed token with Notify’s status and message', async () => {
    expect(await post()).toEqual(authError(401, 'Unauthorized: authentication token must be provided'));
    expect(await post(`Basic ${Buffer.from('a:b').toString('base64')}`)).toEqual(authError(401, 'Unauthorized: authentication bearer scheme must be used'));
    expect((await post(`bearer ${jwt(SECRET, { iss: SERVICE_ID, iat: now() })}`)).status).toBe(201);
    expect((await post('Bearer not-a-jwt')).body).toMatchObject({ errors: [{ message: expect.stringMatching(/^Invalid token: make sure your API token matches/) }] });
    expect(await post(`Bearer ${jwt(SECRET, { iat: now() })}`)).toEqual(authError(403, 'Invalid token: iss field not provided'));
    expect(await post(`Bearer ${jwt(SECRET, { iss: 'my-service', iat: now() })}`)).toEqual(authError(403, 'Invalid token: service id is not the right data type'));
    expect(await post(`Bearer ${jwt(SECRET, { iss: '00000000-0000-4000-8000-000000000000', iat: now() })}`)).toEqual(authError(403, 'Invalid token: service not found'));
    expect(await post(`Bearer ${jwt('wrong-secret', { iss: SERVICE_ID, iat: now() })}`)).toEqual(authError(403, 'Invalid token: API key not found'));
    expect(await post(`Bearer ${jwt(SECRET, { iss: SERVICE_ID })}`)).toEqual(authError(403, 'Invalid token: API key not found'));
    expect(await post(`Bearer ${jwt(SECRET, { iss: SERVICE_ID, iat: now() }, { typ: 'JWT', alg: 'HS512' })}`)).toEqual(authError(403, 'Invalid token: algorithm used is not HS256'));
    expect(await post(`Bearer ${jwt('ffffffff-c5d6-4e7f-8a9b-0c1d2e3f4a5b', { iss: SERVICE_ID, iat: now() })}`)).toEqual(authError(403, 'Invalid token: API key revoked'));
  });
});

describe('requests', () => {
  it('email: template id, personalisation, reference = delivery id, reply-to id and one-click unsubscribe URL', async () => {
    const message = paramsMessage(
      {
        templateId: WELCOME,
        first_name: 'Ada',
        items: ['tea', 'cake'],
        personalisation: { order: 1042 },
        emailReplyToId: REPLY_TO,
        oneClickUnsubscribeURL: 'https://app.example.org/unsubscribe/ada',
        link_to_file: 'none',
      },
      { to: 'Ada Lovelace <ada@example.org>' },
    );
    const result = await send(email(), message);
    const request = notify.last();
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/v2/notifications/email');
    expect(request.headers['content-type']).toMatch(/^application\/json/);
    expect(request.json).toEqual({
      template_id: WELCOME,
      email_address: 'ada@example.org',
      personalisation: { first_name: 'Ada', items: ['tea', 'cake'], order: 1042, link_to_file: 'none' },
      reference: message.deliveryId,
      email_reply_to_id: REPLY_TO,
      one_click_unsubscribe_url: 'https://app.example.org/unsubscribe/ada',
    });
    const stored = notify.notifications.get(result.messageId!)!;
    expect(stored.body).toBe('Hello Ada, your order 1042 shipped.\n\n* tea\n* cake\nnone');
    expect(stored.subject).toBe('Welcome Ada');
    expect(result).toEqual({
      messageId: stored.id,
      recipients: { 'ada@example.org': { status: 'queued', messageId: stored.id } },
      response: expect.objectContaining({ id: stored.id, reference: message.deliveryId, content: expect.objectContaining({ subject: 'Welcome Ada' }) }),
    });
  });

  it('the template id: providerOptions, then the template’s templateId, then the backend option (a string or a function)', async () => {
    const sent = async (backend: ReturnType<typeof email>, params: Record<string, string>, providerOptions?: Record<string, Record<string, string>>) => {
      await send(backend, paramsMessage({ text: 'x', ...params }, { options: providerOptions ? { providerOptions } : {} }));
      return notify.last().json.template_id;
    };
    const other = '11111111-2222-4333-8444-555555555555';
    expect(await sent(email({ templateId: FAKE_TEMPLATES.email }), {})).toBe(FAKE_TEMPLATES.email);
    expect(await sent(email({ templateId: other }), { templateId: FAKE_TEMPLATES.email })).toBe(FAKE_TEMPLATES.email);
    expect(await sent(email({ templateId: other }), { templateId: other }, { 'govuk-notify-email': { templateId: FAKE_TEMPLATES.email } })).toBe(FAKE_TEMPLATES.email);
    expect(await sent(email({ templateId: (m) => (m.notification === 'herald-test' ? FAKE_TEMPLATES.email : undefined) }), {})).toBe(FAKE_TEMPLATES.email);
    // By instance name too, and personalisation given there is merged over the template's.
    const named = email({ name: 'notify', templateId: FAKE_TEMPLATES.email });
    await send(named, paramsMessage({ text: 'from the template' }, { options: { providerOptions: { notify: { personalisation: { text: 'from providerOptions' } } } } }));
    expect(notify.last().json.personalisation).toEqual({ text: 'from providerOptions' });
  });

  it('sms: phone number, personalisation, reference, sms_sender_id (option or template)', async () => {
    const message = paramsMessage({ templateId: CODE, code: '4821' }, { protocol: 'sms', to: '+447700900123' });
    const result = await send(sms({ smsSenderId: SENDER }), message);
    expect(notify.last().path).toBe('/v2/notifications/sms');
    expect(notify.last().json).toEqual({ template_id: CODE, phone_number: '+447700900123', personalisation: { code: '4821' }, reference: message.deliveryId, sms_sender_id: SENDER });
    expect(notify.notifications.get(result.messageId!)!.body).toBe('Your code is 4821');
    expect(result.recipients).toEqual({ '+447700900123': { status: 'queued', messageId: result.messageId } });
    await send(sms(), paramsMessage({ templateId: CODE, code: '1', smsSenderId: SENDER }, { protocol: 'sms', to: '+447700900123' }));
    expect(notify.last().json.sms_sender_id).toBe(SENDER);
  });

  it('attachments are files by email (prepareUpload) under the configured placeholders', async () => {
    const pdf = Buffer.from('%PDF-1.4 invoice').toString('base64');
    const backend = email({ files: { keys: ['link_to_file'], confirmEmailBeforeDownload: false, retentionPeriod: '4 weeks' } });
    const result = await send(
      backend,
      paramsMessage({ templateId: WELCOME, first_name: 'Ada', order: '1', items: [] }, { attachments: [{ filename: 'invoice.pdf', contentType: 'application/pdf', content: pdf }] }),
    );
    expect((notify.last().json.personalisation as Record<string, unknown>).link_to_file).toEqual({
      file: pdf,
      filename: 'invoice.pdf',
      confirm_email_before_download: false,
      retention_period: '4 weeks',
    });
    expect(notify.uploads.at(-1)).toMatchObject({ notificationId: result.messageId, key: 'link_to_file', filename: 'invoice.pdf', confirmEmailBeforeDownload: false, retentionPeriod: '4 weeks' });
    expect(notify.uploads.at(-1)!.content.toString()).toBe('%PDF-1.4 invoice');
    expect(notify.notifications.get(result.messageId!)!.body).toMatch(/https:\/\/documents\.service\.gov\.uk\/d\//);

    const two = [
      { filename: 'a.txt', contentType: 'text/plain', content: Buffer.from('a').toString('base64') },
      { filename: 'b.txt', contentType: 'text/plain', content: Buffer.from('b').toString('base64') },
    ];
    const before = notify.requests.length;
    expect(await failure(send(email(), paramsMessage({ templateId: FAKE_TEMPLATES.email, text: 'x' }, { attachments: two })))).toBeInstanceOf(UnsupportedFeatureError);
    const big = [{ filename: 'big.pdf', contentType: 'application/pdf', content: Buffer.alloc(2 * 1024 * 1024 + 1).toString('base64') }];
    const tooBig = (await failure(send(email(), paramsMessage({ templateId: FAKE_TEMPLATES.email, text: 'x' }, { attachments: big })))) as PermanentError;
    expect(tooBig).toBeInstanceOf(PermanentError);
    expect(tooBig).toMatchObject({ scope: 'content', message: expect.stringContaining('at most 2 MB') });
    expect(notify.requests.length).toBe(before);
    await send(email({ ignoreUnsupportedFeatures: true }), paramsMessage({ templateId: FAKE_TEMPLATES.email, text: 'x' }, { attachments: two }));
    expect(Object.keys(notify.last().json.personalisation as object)).toEqual(['text', 'link_to_file']);
    expect(sms().capabilities.attachments).toBe(false);
  });

  it('refuses what Notify cannot take before any request: no template id, a sender address, unknown providerOptions, non-params content', async () => {
    const before = notify.requests.length;
    const none = (await failure(send(email(), paramsMessage({ text: 'x' })))) as PermanentError;
    expect(none).toBeInstanceOf(PermanentError);
    expect(none.message).toMatch(/no Notify template for notification "herald-test": put a templateId in its params template/);
    expect(await failure(send(email(), paramsMessage({ templateId: FAKE_TEMPLATES.email, text: 'x' }, { options: { from: 'shop@example.org' } })))).toBeInstanceOf(UnsupportedFeatureError);
    const extra = await failure(send(email(), paramsMessage({ templateId: FAKE_TEMPLATES.email, text: 'x' }, { options: { providerOptions: { 'govuk-notify-email': { scheduled_for: 'x' } } } })));
    expect(extra).toBeInstanceOf(UnsupportedFeatureError);
    expect(String(extra)).toMatch(/providerOptions\.scheduled_for/);
    const html = (await failure(send(email(), paramsMessage({}, { content: { format: 'html', html: '<p>x</p>', params: undefined } })))) as PermanentError;
    expect(html.message).toMatch(/give the notification a `params` template/);
    expect(notify.requests.length).toBe(before);
    // Ignoring unsupported features drops the sender and the unknown key.
    await send(email({ ignoreUnsupportedFeatures: true }), paramsMessage({ templateId: FAKE_TEMPLATES.email, text: 'x' }, { options: { from: 'shop@example.org' } }));
    expect(notify.last().status).toBe(201);
  });
});

describe('answers', () => {
  it('400 ValidationError on the address → permanent, about the recipient, with Notify’s message', async () => {
    const { status, body } = { status: 400, body: { errors: [{ error: 'ValidationError', message: 'email_address Not a valid email address' }], status_code: 400 } };
    notify.answerNext(status, body);
    const error = (await failure(send(email(), paramsMessage({ templateId: FAKE_TEMPLATES.email, text: 'x' })))) as PermanentError;
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ scope: 'recipient', rejectReason: 'invalid', statusCode: 400, suppress: false });
    expect(error.message).toBe('[herald] [govuk-notify-email] GOV.UK Notify answered 400: ValidationError: email_address Not a valid email address');
    expect(error.response).toEqual({ status: 400, body });
  });

  it('400 BadRequestError from the template → permanent, about the content', async () => {
    const missing = (await failure(send(email(), paramsMessage({ templateId: WELCOME, first_name: 'Ada' })))) as PermanentError;
    expect(missing).toMatchObject({ scope: 'content', statusCode: 400 });
    expect(missing.message).toMatch(/BadRequestError: Missing personalisation: order, items, link_to_file$/);
    const wrongType = (await failure(send(email(), paramsMessage({ templateId: CODE, code: '1' })))) as PermanentError;
    expect(wrongType.message).toMatch(/sms template is not suitable for email notification/);
    const unknownReplyTo = '99999999-2222-4333-8444-555555555555';
    const replyTo = (await failure(send(email(), paramsMessage({ templateId: FAKE_TEMPLATES.email, text: 'x', emailReplyToId: unknownReplyTo })))) as PermanentError;
    expect(replyTo).toMatchObject({ scope: 'content', message: expect.stringContaining(`email_reply_to_id ${unknownReplyTo} does not exist`) });
    const badId = (await failure(send(email(), paramsMessage({ templateId: 'not-a-uuid', text: 'x' })))) as PermanentError;
    expect(badId.message).toMatch(/ValidationError: template_id is not a valid UUID/);
  });

  it('a team key sending outside the guest list → permanent, about the recipient', async () => {
    const team = email({ apiKey: notify.keyOf('team_key') });
    const error = (await failure(send(team, paramsMessage({ templateId: FAKE_TEMPLATES.email, text: 'x' })))) as PermanentError;
    expect(error).toMatchObject({ scope: 'recipient', message: expect.stringContaining('Can’t send to this recipient using a team-only API key') });
    await send(team, paramsMessage({ templateId: FAKE_TEMPLATES.email, text: 'x' }, { to: 'team@example.org' }));
    expect(notify.last().status).toBe(201);
  });

  it('403 AuthError (a key Notify does not know) → permanent, about the provider, saying it is a configuration problem', async () => {
    const stranger = `herald_test-${SERVICE_ID}-00000000-1111-4222-8333-444444444444`;
    const error = (await failure(send(email({ apiKey: stranger }), paramsMessage({ templateId: FAKE_TEMPLATES.email, text: 'x' })))) as PermanentError;
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ scope: 'provider', statusCode: 403 });
    expect(error.message).toMatch(/^\[herald\] \[govuk-notify-email\] GOV\.UK Notify answered 403: AuthError: Invalid token: API key not found — a configuration problem: check apiKey/);
    expectNoSecrets(error, [stranger, '00000000-1111-4222-8333-444444444444']);
  });

  it('429 (rate limit, daily limit) and 5xx → transient; Retry-After is honoured', async () => {
    const backend = email();
    const m = () => paramsMessage({ templateId: FAKE_TEMPLATES.email, text: 'x' });
    const rate = notifyError(429, 'RateLimitError', 'Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds');
    notify.answerNext(rate.status, rate.body, { 'retry-after': '7' });
    const limited = (await failure(send(backend, m()))) as TransientError;
    expect(limited).toBeInstanceOf(TransientError);
    expect(limited).toMatchObject({ retryAfterMs: 7000, scope: 'provider', statusCode: 429 });
    expect(limited.message).toMatch(/RateLimitError: Exceeded rate limit for key type LIVE/);
    const daily = notifyError(429, 'TooManyRequestsError', 'Exceeded send limits (email: 250000) for today');
    notify.answerNext(daily.status, daily.body);
    expect(await failure(send(backend, m()))).toBeInstanceOf(TransientError);
    const down = notifyError(500, 'Exception', 'Internal server error');
    notify.answerNext(down.status, down.body);
    expect(await failure(send(backend, m()))).toMatchObject({ name: 'TransientError', scope: 'provider', statusCode: 500 });
    notify.answerNext(503, '<html>Service Unavailable</html>');
    expect(await failure(send(backend, m()))).toBeInstanceOf(TransientError);
  });

  it('no answer (refused, timed out, aborted) → transient', async () => {
    const m = paramsMessage({ templateId: FAKE_TEMPLATES.email, text: 'x' });
    const refused = (await failure(send(email({ baseUrl: await closedPortUrl() }), m))) as TransientError;
    expect(refused).toBeInstanceOf(TransientError);
    expect(refused.message).toMatch(/request to GOV\.UK Notify failed \(ECONNREFUSED\)/);
    const silent = await silentServer();
    try {
      const slow = (await failure(send(email({ baseUrl: silent.url, timeoutMs: 200 }), m))) as TransientError;
      expect(slow).toBeInstanceOf(TransientError);
      const controller = new AbortController();
      const pending = email({ baseUrl: silent.url }).send(m, makeSendContext(m, { signal: controller.signal }));
      setTimeout(() => controller.abort(new Error('worker stopping')), 50);
      expect(await failure(pending)).toBeInstanceOf(TransientError);
    } finally {
      await silent.close();
    }
  });

  it('a 2xx without a notification id → permanent (Notify may have accepted it: no blind retry)', async () => {
    notify.answerNext(201, { unexpected: true });
    const error = (await failure(send(email(), paramsMessage({ templateId: FAKE_TEMPLATES.email, text: 'x' })))) as PermanentError;
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toMatch(/answered without a notification id/);
  });

  // Regression guard: a provider (or proxy) quoting the key back must not put its secret in any log, attempt or event.
  it('an answer quoting the key’s secret in several encodings leaks it nowhere (lastError, attempts, events, logs)', async () => {
    notify.echoSecretNext();
    const backend = email({ test: true, callbackToken: CALLBACK_TOKEN });
    const trace = await traceDelivery(backend, 'ada@example.org', { format: 'params', body: { templateId: FAKE_TEMPLATES.email, text: 'Hi {{name}}' } });
    expect(trace.delivery).toMatchObject({ status: 'failed', lastError: expect.stringContaining('GOV.UK Notify answered 403') });
    expect(secretLeaks(trace, [API_KEY, SECRET, CALLBACK_TOKEN])).toEqual([]);
    const ok = await traceDelivery(backend, 'ada@example.org', { format: 'params', body: { templateId: FAKE_TEMPLATES.email, text: 'Hi {{name}}' } });
    expect((ok.delivery as Delivery).status).toBe('sent');
    expect(secretLeaks(ok, [API_KEY, SECRET, CALLBACK_TOKEN])).toEqual([]);
  });
});

describe('options', () => {
  it('a key of the wrong shape is a ConfigError at start naming apiKey, never printing the key', () => {
    const shapes = [
      'not-a-key',
      SECRET,
      `${SERVICE_ID}-${SECRET}`.slice(1),
      `herald_test-${SERVICE_ID}-${SECRET.slice(0, -1)}`,
      ` herald_test-${SERVICE_ID}-${SECRET}\n`,
      `herald_test-${SERVICE_ID}`,
    ];
    for (const apiKey of shapes) {
      let error: unknown;
      try {
        govukNotifyEmail({ apiKey });
      } catch (e) {
        error = e;
      }
      expect(error, apiKey).toBeInstanceOf(ConfigError);
      expect(error).toMatchObject({ field: 'apiKey' });
      expect((error as Error).message).toMatch(/apiKey.*is not a GOV\.UK Notify API key/s);
      expect(secretLeaks(error, [apiKey.trim(), SECRET, SERVICE_ID.slice(9)])).toEqual([]);
    }
    expect(() => govukNotifySms({ apiKey: 'nope' })).toThrow(ConfigError);
  });

  it('the other options are checked at start too', () => {
    expect(() => email({ callbackToken: 'short' })).toThrow(/callbackToken.*at least 10 characters/s);
    expect(() => email({ templateId: 'welcome' })).toThrow(/templateId.*template id \(a UUID\)/s);
    expect(() => email({ emailReplyToId: 'help@example.org' })).toThrow(/emailReplyToId/);
    expect(() => sms({ smsSenderId: 'GOVUK' })).toThrow(/smsSenderId/);
    expect(() => email({ baseUrl: 'not a url' })).toThrow(/baseUrl/);
    expect(() => email({ poll: { every: 'soon' as never } })).toThrow(/poll\.every.*duration/s);
    expect(() => email({ files: { retentionPeriod: '2 years' } })).toThrow(/retentionPeriod/);
    // @ts-expect-error `callbackSecret` is not an option
    expect(() => email({ callbackSecret: 'x' })).toThrow('did you mean `callbackToken`?');
    // @ts-expect-error an SMS backend takes no reply-to address id
    expect(() => sms({ emailReplyToId: REPLY_TO })).toThrow(/emailReplyToId/);
  });

  it('declares the whole key, its secret part and the callback token as secrets', () => {
    const backend = email({ callbackToken: CALLBACK_TOKEN });
    for (const secret of [API_KEY, SECRET, CALLBACK_TOKEN]) expect(backend.secrets).toContain(secret);
    expect(backend).toMatchObject({ name: 'govuk-notify-email', kind: 'govuk-notify-email', protocol: 'email', formats: ['params'] });
    expect(sms()).toMatchObject({ name: 'govuk-notify-sms', protocol: 'sms' });
    expect(email({ poll: false }).poll).toBeUndefined();
    expect(email().poll).toMatchObject({ afterMs: 60_000, everyMs: 300_000, batchSize: 50 });
    expect(email({ poll: { after: '1s', every: 1000, batchSize: 5 } }).poll).toMatchObject({ afterMs: 1000, everyMs: 1000, batchSize: 5 });
  });
});
