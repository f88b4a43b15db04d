import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../src/errors';
import { classifyStatus, httpFailure, MAX_RETRY_AFTER_MS, parseRetryAfter, readAnswer, requestFailure } from '../src/http';
import { secretsOf } from '../src/secrets';

describe('parseRetryAfter', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');

  it('reads delta-seconds and HTTP dates, a past date as 0', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter(' 0 ')).toBe(0);
    expect(parseRetryAfter('1.5')).toBe(1500);
    expect(parseRetryAfter(['2', '9'])).toBe(2000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:29:30 GMT', { now })).toBe(90_000);
    expect(parseRetryAfter('Wednesday, 21-Oct-15 07:28:10 GMT', { now })).toBe(10_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:00:00 GMT', { now })).toBe(0);
  });

  it('caps the wait, and ignores what is not a Retry-After', () => {
    expect(parseRetryAfter('999999')).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('120', { maxMs: 60_000 })).toBe(60_000);
    expect(parseRetryAfter('Fri, 31 Dec 9999 23:59:59 GMT')).toBe(MAX_RETRY_AFTER_MS);
    for (const value of [null, undefined, '', '-5', 'soon', '12 monkeys', '1e3']) expect(parseRetryAfter(value)).toBeUndefined();
  });
});

describe('readAnswer', () => {
  let server: Server;
  let origin: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/json') res.writeHead(400, { 'content-type': 'application/json; charset=utf-8' }).end('{"message":"bad token"}');
      else if (req.url === '/json-as-text') res.writeHead(400, { 'content-type': 'text/plain' }).end('  {"error":"nope"}');
      else if (req.url === '/text') res.writeHead(503, { 'content-type': 'text/plain' }).end('Service Unavailable');
      else if (req.url === '/broken-json') res.writeHead(500, { 'content-type': 'application/json' }).end('{"message":');
      else if (req.url === '/empty') res.writeHead(204).end();
      else if (req.url === '/endless') {
        // Never ends: the reader must stop at its limit and drop the connection.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"data":"');
        const timer = setInterval(() => res.write('x'.repeat(4096)), 1);
        res.on('close', () => clearInterval(timer));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('parses JSON by content type or by shape, keeps text otherwise', async () => {
    expect(await readAnswer(await fetch(`${origin}/json`))).toEqual({ message: 'bad token' });
    expect(await readAnswer(await fetch(`${origin}/json-as-text`))).toEqual({ error: 'nope' });
    expect(await readAnswer(await fetch(`${origin}/text`))).toBe('Service Unavailable');
    expect(await readAnswer(await fetch(`${origin}/broken-json`))).toBe('{"message":');
    expect(await readAnswer(await fetch(`${origin}/empty`))).toBe('');
  });

  it('reads at most the limit of an endless answer, as text', async () => {
    const body = await readAnswer(await fetch(`${origin}/endless`), 10_000);
    expect(typeof body).toBe('string');
    expect((body as string).length).toBe(10_000);
    expect(body).toMatch(/^\{"data":"x+$/);
  });

  it('reads undici-style answers (a Node stream and a header record)', async () => {
    const source = { headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from('{"a":'), Buffer.from('1}')]) };
    expect(await readAnswer(source)).toEqual({ a: 1 });
  });
});

describe('httpFailure', () => {
  const TOKEN = 'tok_secret_5f2b9c1d7e';
  const SID = `AC${'0'.repeat(32)}`;
  const options = { backend: 'acme', provider: 'Acme API' };

  it('classifies by status: 408/425/429/5xx transient, 401/403 permanent about the provider, other 4xx permanent', () => {
    for (const status of [408, 425, 429, 500, 502, 503, 504]) {
      const error = httpFailure({ status, body: '' }, options);
      expect(error, String(status)).toBeInstanceOf(TransientError);
      expect(error.scope).toBe('provider');
    }
    for (const status of [401, 403]) {
      const error = httpFailure({ status, body: { message: 'bad credentials' } }, options);
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.scope).toBe('provider');
    }
    for (const status of [400, 404, 409, 413, 422]) {
      const error = httpFailure({ status, body: 'nope' }, options);
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.scope).toBeUndefined();
    }
    expect(classifyStatus(429)).toEqual({ transient: true, scope: 'provider' });
  });

  it('names the provider, status and its explanation; keeps { status, body }', () => {
    const error = httpFailure({ status: 422, statusText: 'Unprocessable Entity', body: { ErrorCode: 300, Message: 'Invalid To' } }, options);
    expect(error.message).toBe('[herald] [acme] Acme API answered 422 Unprocessable Entity: Invalid To');
    expect(error.statusCode).toBe(422);
    expect(error.response).toEqual({ status: 422, body: { ErrorCode: 300, Message: 'Invalid To' } });
    expect(httpFailure({ status: 400, body: { error: { message: 'nested' } } }, options).message).toMatch(/: nested$/);
  });

  it('takes the backend classification over the status rule', () => {
    const error = httpFailure({ status: 422, body: {} }, { ...options, scope: 'recipient', rejectReason: 'bounced', suppress: true, detail: 'inactive' });
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ scope: 'recipient', rejectReason: 'bounced', suppress: true });
    expect(httpFailure({ status: 400, body: {} }, { ...options, transient: true })).toBeInstanceOf(TransientError);
    expect(httpFailure({ status: 503, body: {} }, { ...options, transient: false })).toBeInstanceOf(PermanentError);
  });

  it('reads Retry-After from Headers or a header record, capped; a given wait wins', () => {
    const fromHeaders = httpFailure({ status: 429, headers: new Headers({ 'Retry-After': '3' }), body: '' }, options) as TransientError;
    expect(fromHeaders.retryAfterMs).toBe(3000);
    const fromRecord = httpFailure({ status: 503, headers: { 'Retry-After': ['5'] }, body: '' }, options) as TransientError;
    expect(fromRecord.retryAfterMs).toBe(5000);
    const capped = httpFailure({ status: 429, headers: { 'retry-after': '86400' }, body: '' }, { ...options, maxRetryAfterMs: 60_000 }) as TransientError;
    expect(capped.retryAfterMs).toBe(60_000);
    const given = httpFailure({ status: 429, headers: { 'retry-after': '1' }, body: '' }, { ...options, retryAfterMs: 9_999_999 }) as TransientError;
    expect(given.retryAfterMs).toBe(MAX_RETRY_AFTER_MS);
    expect((httpFailure({ status: 500, body: '' }, options) as TransientError).retryAfterMs).toBeUndefined();
  });

  // Regression: a provider echoing the Authorization header had its base64 credentials stored.
  it('redacts the secrets, in every form, from the message and the kept response', () => {
    const basic = Buffer.from(`${SID}:${TOKEN}`).toString('base64');
    const body = { message: `invalid credentials Basic ${basic} (${encodeURIComponent(TOKEN)})`, echo: { authorization: `Basic ${basic}`, token: TOKEN } };
    const error = httpFailure({ status: 401, body }, { ...options, secrets: secretsOf([TOKEN], { basicAuth: [[SID, TOKEN]] }) });
    const kept = `${error.message}\n${JSON.stringify(error.response)}`;
    for (const form of [TOKEN, basic, encodeURIComponent(TOKEN), Buffer.from(TOKEN).toString('base64')]) expect(kept).not.toContain(form);
    expect(error.message).toBe('[herald] [acme] Acme API answered 401: invalid credentials Basic [redacted] ([redacted])');
  });
});

describe('requestFailure', () => {
  it('a request without an answer is transient, about the provider, with the error code', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await fetch(`http://127.0.0.1:${port}/`).then(
      () => null,
      (e: unknown) => requestFailure(e, { backend: 'acme', provider: 'Acme API', secrets: ['never-shown-1234'] }),
    );
    expect(error).toBeInstanceOf(TransientError);
    expect(error!.scope).toBe('provider');
    expect(error!.message).toMatch(/^\[herald\] \[acme\] request to Acme API failed \(ECONNREFUSED\): fetch failed: connect ECONNREFUSED/);
    expect(error!.response).toMatchObject({ code: 'ECONNREFUSED' });
  });
});
