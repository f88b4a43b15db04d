import { type Backend, ConfigError, PermanentError, TransientError } from '@herald/core';
import { expectNoSecrets, makeOutboundMessage, makeSendContext, secretForms, secretLeaks, traceDelivery } from '@herald/core/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { truncateTweet, tweetLength, twitter } from '../src';
import { ANSWERS, CREDENTIALS, startFakeTwitter } from './_fake-twitter';

let fake: Awaited<ReturnType<typeof startFakeTwitter>>;
beforeAll(async () => {
  fake = await startFakeTwitter();
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.requests.length = 0;
});

const SECRETS = Object.values(CREDENTIALS);
function backend(extra: { truncate?: boolean } = {}): Backend {
  return twitter({ ...CREDENTIALS, clientSettings: fake.clientSettings, ...extra });
}
function send(b: Backend, to: string, text: string) {
  const m = makeOutboundMessage({ protocol: 'twitter', backend: b.name, to, content: { format: 'text', text } });
  return b.send(m, makeSendContext(m));
}
const fail = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
let n = 0;
const unique = (text: string) => `${text} #${++n}`;

describe('twitter wire format (loopback Twitter API v2)', () => {
  it('an empty address posts to the timeline: POST /2/tweets { text }, signed with OAuth 1.0a', async () => {
    const result = await send(backend(), '', 'Order A1 shipped');
    expect(fake.requests).toHaveLength(1);
    const [req] = fake.requests;
    expect(req).toMatchObject({ method: 'POST', path: '/2/tweets' });
    expect(req!.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(req!.body)).toEqual({ text: 'Order A1 shipped' });
    expect(req!.headers.authorization).toMatch(/^OAuth /);
    expect(req!.oauth).toMatchObject({
      oauth_consumer_key: CREDENTIALS.appKey,
      oauth_token: CREDENTIALS.accessToken,
      oauth_signature_method: 'HMAC-SHA1',
      oauth_version: '1.0',
    });
    expect(req!.oauth.oauth_signature).toBeTruthy();
    expect(req!.signatureValid, 'oauth_signature is the HMAC-SHA1 of the request').toBe(true);
    expect(result.messageId).toMatch(/^\d+$/);
    expect(result.response).toEqual({ data: { id: result.messageId, text: 'Order A1 shipped' } });
  });

  it('a handle gets a direct message: user lookup once, then POST /2/dm_conversations/with/:id/messages', async () => {
    const b = backend();
    const first = await send(b, '@Ada_Lovelace', 'Your code is 123');
    await send(b, 'ada_lovelace', 'Your code is 456');
    expect(fake.requests.map((r) => `${r.method} ${r.path.split('?')[0]}`)).toEqual([
      'GET /2/users/by/username/Ada_Lovelace',
      'POST /2/dm_conversations/with/2244994945/messages',
      'POST /2/dm_conversations/with/2244994945/messages',
    ]);
    expect(JSON.parse(fake.requests[1]!.body)).toEqual({ text: 'Your code is 123' });
    expect(fake.requests.every((r) => r.signatureValid)).toBe(true);
    expect(first.recipients).toEqual({ '@Ada_Lovelace': { status: 'sent', messageId: first.messageId } });
    expect(first.response).toEqual({ data: { dm_conversation_id: '2244994945-1', dm_event_id: first.messageId } });
  });

  it('an unknown handle is a permanent `invalid` error', async () => {
    const error = await fail(send(backend(), '@nobody_here', 'hi'));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ rejectReason: 'invalid' });
    expect((error as Error).message).toContain('Could not find user with username: [nobody_here]');
  });

  it('duplicate content (403) is permanent', async () => {
    const b = backend();
    const text = unique('Same text twice');
    await send(b, '', text);
    const error = await fail(send(b, '', text));
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/duplicate content/);
    expect(error).toMatchObject({ statusCode: 403, response: { status: 403, body: ANSWERS.duplicate.body } });
  });

  it('429 is transient with retryAfterMs from x-rate-limit-reset', async () => {
    const reset = Math.floor(Date.now() / 1000) + 120;
    fake.answerNext(ANSWERS.rateLimited(reset));
    const error = await fail(send(backend(), '', unique('rate limited')));
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).retryAfterMs).toBeGreaterThan(100_000);
    expect((error as TransientError).retryAfterMs).toBeLessThanOrEqual(120_000);
  });

  it('5xx is transient', async () => {
    fake.answerNext(ANSWERS.unavailable);
    expect(await fail(send(backend(), '', unique('outage')))).toBeInstanceOf(TransientError);
  });

  it('401 is permanent and carries no credential', async () => {
    fake.answerNext(ANSWERS.unauthorized);
    const error = await fail(send(backend(), '', unique('bad keys')));
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/Twitter answered 401: authentication failed/);
    expectNoSecrets(error, SECRETS);
  });

  it('403 on a direct message is permanent `blocked`; 400 is permanent', async () => {
    fake.answerNext(ANSWERS.dmForbidden);
    expect(await fail(send(backend(), '@bob', 'hi'))).toMatchObject({ rejectReason: 'blocked', statusCode: 403 });
    fake.answerNext(ANSWERS.invalidRequest);
    expect(await fail(send(backend(), '', unique('bad')))).toBeInstanceOf(PermanentError);
  });

  it('redacts credentials a provider error quotes back', async () => {
    fake.answerNext({ status: 400, body: { title: 'Invalid Request', detail: `bad token ${CREDENTIALS.accessToken} for ${CREDENTIALS.appKey}` } });
    const error = await fail(send(backend(), '', unique('echo')));
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toContain('[redacted]');
    expectNoSecrets(error, SECRETS);
  });

  // Regression: only the raw, URL-encoded and base64 forms of the credentials were redacted.
  it('an answer echoing the OAuth header and the credentials in any encoding leaks them nowhere (lastError, attempts, events, logs)', async () => {
    fake.answerNext((req) => ({
      status: 401,
      headers: { 'x-echo': String(req.headers.authorization) },
      body: { title: 'Unauthorized', detail: `bad header ${String(req.headers.authorization)}`, forms: SECRETS.map(secretForms) },
    }));
    const trace = await traceDelivery(backend(), '', { format: 'text', body: 'Hi {{name}}' });
    expect(trace.delivery).toMatchObject({ status: 'failed', lastError: expect.stringContaining('authentication failed') });
    expect(trace.attempts[0]!.response).toMatchObject({ status: 401 });
    expect(secretLeaks(trace, SECRETS)).toEqual([]);
  });

  it('classifies refusals by what they are about (provider, recipient, content)', async () => {
    fake.answerNext(ANSWERS.unauthorized);
    expect(await fail(send(backend(), '', unique('a')))).toMatchObject({ scope: 'provider' });
    fake.answerNext({ status: 403, body: { title: 'Forbidden', detail: 'Your client app is not configured with the appropriate oauth1 app permissions' } });
    expect(await fail(send(backend(), '', unique('b')))).toMatchObject({ scope: 'provider' });
    fake.answerNext(ANSWERS.rateLimited(Math.floor(Date.now() / 1000) + 60));
    expect(await fail(send(backend(), '', unique('c')))).toMatchObject({ scope: 'provider' });
    fake.answerNext(ANSWERS.dmForbidden);
    expect(await fail(send(backend(), '@bob', 'hi'))).toMatchObject({ scope: 'recipient' });
    expect(await fail(send(backend(), '@nobody_here', 'hi'))).toMatchObject({ scope: 'recipient' });
    fake.answerNext(ANSWERS.invalidRequest);
    expect(await fail(send(backend(), '', unique('d')))).toMatchObject({ scope: 'content' });
    const b = backend();
    const text = unique('twice');
    await send(b, '', text);
    expect(await fail(send(b, '', text))).toMatchObject({ scope: 'content' });
    expect(await fail(send(b, '', 'x'.repeat(300)))).toMatchObject({ scope: 'content' });
  });

  it('an unreachable API is transient', async () => {
    const dead = await startFakeTwitter();
    const settings = dead.clientSettings;
    await dead.close();
    const error = await fail(send(twitter({ ...CREDENTIALS, clientSettings: settings }), '', 'x'));
    expect(error).toBeInstanceOf(TransientError);
    expectNoSecrets(error, SECRETS);
  });

  it('posts over 280 weighted characters fail before any request, or are truncated with truncate: true', async () => {
    const long = `${'word '.repeat(60)}end`;
    const error = await fail(send(backend(), '', long));
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/303 characters long; Twitter allows 280/);
    expect(fake.requests).toHaveLength(0);
    await send(backend({ truncate: true }), '', long);
    const posted = (JSON.parse(fake.requests[0]!.body) as { text: string }).text;
    expect(posted.endsWith('…')).toBe(true);
    expect(tweetLength(posted)).toBeLessThanOrEqual(280);
    expect(tweetLength(posted)).toBeGreaterThan(270);
  });

  it('direct messages may be longer than a post', async () => {
    await send(backend(), '@bob', 'x'.repeat(1000));
    expect(JSON.parse(fake.requests.at(-1)!.body)).toEqual({ text: 'x'.repeat(1000) });
  });

  it('stops waiting when the send is aborted (transient)', async () => {
    const b = backend();
    const m = makeOutboundMessage({ protocol: 'twitter', backend: b.name, to: '', content: { format: 'text', text: unique('aborted') } });
    const controller = new AbortController();
    const pending = b.send(m, makeSendContext(m, { signal: controller.signal }));
    controller.abort();
    const error = await fail(pending);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toMatch(/^\[herald\] \[twitter\] send aborted/);
  });

  it('accepts an injected TwitterApi client', async () => {
    const b = twitter({ client: fake.client() });
    expect((await send(b, '', unique('injected'))).messageId).toBeTruthy();
  });

  it('refuses incomplete credentials', () => {
    expect(() => twitter({ appKey: 'k', appSecret: 's' })).toThrow(ConfigError);
  });
});

describe('tweetLength / truncateTweet', () => {
  it('weighs like twitter-text', () => {
    expect(tweetLength('hello')).toBe(5);
    expect(tweetLength('Ünïcödé café')).toBe(12);
    expect(tweetLength('日本語')).toBe(6);
    expect(tweetLength('👍')).toBe(2);
    expect(tweetLength('👩‍👩‍👧‍👦')).toBe(2); // one ZWJ family
    expect(tweetLength('🇫🇷')).toBe(2);
    expect(tweetLength('e\u0301')).toBe(1); // NFC: é
    expect(tweetLength('…')).toBe(2);
    expect(tweetLength(`see https://example.org/${'x'.repeat(100)}`)).toBe(4 + 23);
    expect(tweetLength('see https://example.org/a.')).toBe(4 + 23 + 1); // trailing punctuation is not part of the URL
  });

  it('truncates without splitting URLs or emoji', () => {
    expect(truncateTweet('short')).toBe('short');
    const cut = truncateTweet(`${'a'.repeat(270)} https://example.org/page more`);
    expect(cut).toBe(`${'a'.repeat(270)}…`);
    const emoji = truncateTweet('👍'.repeat(200));
    expect(emoji).toBe(`${'👍'.repeat(139)}…`);
    expect(tweetLength(emoji)).toBe(280);
  });
});
