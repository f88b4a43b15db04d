import { ConfigError, PermanentError, TransientError } from '@herald/core';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonWebhook, verifyWebhook } from '../src';
import { type LoopbackAnswer as Answer, loopback, secretForms, secretLeaks, traceDelivery } from '@herald/core/testing';
import { hookMessage, SECRET, sendContext } from './_fixtures';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function setup(answer: Answer | (() => Answer), options: Partial<Parameters<typeof jsonWebhook>[0]> = {}) {
  const server = await loopback(typeof answer === 'function' ? answer : () => answer);
  const backend = jsonWebhook({ secret: SECRET, allowPrivateNetworks: true, ...options } as Parameters<typeof jsonWebhook>[0]);
  closers.push(server.close, () => backend.close!());
  return { server, backend, url: `${server.origin}/hooks/herald?tenant=7` };
}

const noContent: Answer = { status: 204 };

describe('json-webhook wire format', () => {
  it('posts the params as JSON with Standard Webhooks headers a receiver can verify', async () => {
    const { server, backend, url } = await setup({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"received":true}' });
    const result = await backend.send(hookMessage(url), sendContext('dlv_01HX'));
    const req = server.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/hooks/herald?tenant=7');
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual({ event: 'order.shipped', orderId: '42' });
    expect(req.headers['webhook-id']).toBe('dlv_01HX');
    expect(req.headers['webhook-timestamp']).toMatch(/^\d{10}$/);
    expect(req.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(verifyWebhook({ secret: SECRET, headers: req.headers, body: req.body })).toMatchObject({ ok: true, id: 'dlv_01HX' });
    expect(verifyWebhook({ secret: 'whsec_b3RoZXItc2VjcmV0', headers: req.headers, body: req.body })).toMatchObject({ ok: false, status: 403 });
    expect(verifyWebhook({ secret: SECRET, headers: req.headers, body: `${req.body} ` })).toMatchObject({ ok: false, status: 403 });
    expect(result.response).toEqual({ status: 200, body: { received: true } });
    expect(result.recipients?.[url]?.status).toBe('sent');
  });

  it('keeps webhook-id stable across retries (the idempotency key)', async () => {
    let n = 0;
    const { server, backend, url } = await setup(() => (n++ === 0 ? { status: 503 } : noContent));
    await expect(backend.send(hookMessage(url), sendContext('dlv_same'))).rejects.toBeInstanceOf(TransientError);
    await backend.send(hookMessage(url), sendContext('dlv_same'));
    expect(server.requests.map((r) => r.headers['webhook-id'])).toEqual(['dlv_same', 'dlv_same']);
  });

  it('signs with the per-endpoint secret, by exact URL or origin', async () => {
    const other = 'whsec_ZW5kcG9pbnQtc2VjcmV0LWtleQ==';
    const { server, url } = await setup(noContent);
    const b2 = jsonWebhook({ allowPrivateNetworks: true, endpointSecrets: { [server.origin]: other } });
    closers.push(() => b2.close!());
    await b2.send(hookMessage(url), sendContext());
    const req = server.requests[0]!;
    expect(verifyWebhook({ secret: other, headers: req.headers, body: req.body }).ok).toBe(true);
    expect(verifyWebhook({ secret: SECRET, headers: req.headers, body: req.body }).ok).toBe(false);
  });

  it('merges custom headers but never lets them replace the signature headers', async () => {
    const { server, backend, url } = await setup(noContent);
    await backend.send(hookMessage(url, undefined, { options: { headers: { 'X-Tenant': '7', 'webhook-id': 'forged', 'Content-Type': 'text/plain' } } }), sendContext());
    const req = server.requests[0]!;
    expect(req.headers['x-tenant']).toBe('7');
    expect(req.headers['webhook-id']).toBe('dlv_01HX');
    expect(req.headers['content-type']).toBe('application/json');
  });

  const cases: [number, 'transient' | 'permanent' | 'suppress'][] = [
    [400, 'permanent'],
    [401, 'permanent'],
    [404, 'permanent'],
    [408, 'transient'],
    [410, 'suppress'],
    [429, 'transient'],
    [500, 'transient'],
    [503, 'transient'],
  ];
  for (const [status, kind] of cases) {
    it(`maps ${status} to ${kind}`, async () => {
      const { backend, url } = await setup({ status, headers: { 'content-type': 'text/plain' }, body: `status ${status}` });
      const err = await backend.send(hookMessage(url), sendContext()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(kind === 'transient' ? TransientError : PermanentError);
      if (kind !== 'transient') expect((err as PermanentError).suppress).toBe(kind === 'suppress');
      expect((err as TransientError).statusCode).toBe(status);
      expect((err as TransientError).response).toEqual({ status, body: `status ${status}` });
    });
  }

  it('honours Retry-After in seconds and as an HTTP date', async () => {
    const { backend, url } = await setup({ status: 429, headers: { 'retry-after': '12' } });
    expect(((await backend.send(hookMessage(url), sendContext()).catch((e: unknown) => e)) as TransientError).retryAfterMs).toBe(12_000);
    const at = new Date(Date.now() + 60_000).toUTCString();
    const { backend: b2, url: u2 } = await setup({ status: 503, headers: { 'retry-after': at } });
    const ms = ((await b2.send(hookMessage(u2), sendContext()).catch((e: unknown) => e)) as TransientError).retryAfterMs!;
    expect(ms).toBeGreaterThan(55_000);
    expect(ms).toBeLessThanOrEqual(60_000);
  });

  it('does not follow redirects by default; follows 307/308 when maxRedirects allows', async () => {
    const { server, backend, url } = await setup(() => ({ status: 308, headers: { location: '/moved' } }));
    const err = await backend.send(hookMessage(url), sendContext()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(String(err)).toMatch(/redirect to \/moved not followed/);
    expect(server.requests).toHaveLength(1);
    const { server: s2, backend: b2, url: u2 } = await setup(
      () => (s2.requests.length === 1 ? { status: 307, headers: { location: '/moved' } } : noContent),
      { maxRedirects: 2 },
    );
    await b2.send(hookMessage(u2), sendContext());
    expect(s2.requests.map((r) => [r.method, r.url])).toEqual([
      ['POST', '/hooks/herald?tenant=7'],
      ['POST', '/moved'],
    ]);
    expect(verifyWebhook({ secret: SECRET, headers: s2.requests[1]!.headers, body: s2.requests[1]!.body }).ok).toBe(true);
  });

  it('times out a receiver that never answers (transient)', async () => {
    const server = await loopback(() => ({ status: 200 }));
    closers.push(server.close);
    const { createServer } = await import('node:http');
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => { silent.closeAllConnections(); silent.close(() => r()); }));
    const port = (silent.address() as { port: number }).port;
    const backend = jsonWebhook({ secret: SECRET, allowPrivateNetworks: true, timeout: 200 });
    closers.push(() => backend.close!());
    const started = Date.now();
    const err = await backend.send(hookMessage(`http://127.0.0.1:${port}/`), sendContext()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('maps a refused connection to transient', async () => {
    const { server, backend, url } = await setup(noContent);
    await server.close();
    await expect(backend.send(hookMessage(url), sendContext())).rejects.toBeInstanceOf(TransientError);
  });

  it('requires a secret unless unsigned, and sends no signature when unsigned', async () => {
    expect(() => jsonWebhook({})).toThrow(ConfigError);
    const { server, url } = await setup(noContent);
    const unsigned = jsonWebhook({ unsigned: true, allowPrivateNetworks: true });
    closers.push(() => unsigned.close!());
    await unsigned.send(hookMessage(url), sendContext());
    expect(server.requests[0]!.headers['webhook-id']).toBe('dlv_01HX');
    expect(server.requests[0]!.headers['webhook-signature']).toBeUndefined();
  });

  // Regression: the key a whsec_ secret decodes to was not redacted, in any of its forms.
  it('a receiver quoting the secret or its decoded key, in any form, leaks it nowhere (lastError, attempts, events, logs)', async () => {
    const keyText = 'herald-signing-key-0123';
    const secret = `whsec_${Buffer.from(keyText).toString('base64')}`;
    const key = Buffer.from(keyText);
    const quoted = [secret, ...Object.values(secretForms(keyText)), key.toString('base64url')];
    const { backend, url } = await setup({ status: 401, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: `bad signature, expected key ${quoted.join(' ')}`, quoted }) }, { secret, test: true });
    const trace = await traceDelivery(backend, url, { format: 'params', body: { hello: '{{name}}' } });
    expect(trace.delivery).toMatchObject({ status: 'failed', lastError: expect.stringContaining('answered 401') });
    expect(trace.attempts[0]!.response).toMatchObject({ status: 401 });
    expect(secretLeaks(trace, [secret, keyText, key.toString('base64')])).toEqual([]);
  });

  it('classifies answers: a refused signature is about this backend, the receiver being down or gone about the recipient', async () => {
    const cases: [number, 'provider' | 'recipient' | 'content'][] = [
      [401, 'provider'],
      [403, 'provider'],
      [404, 'recipient'],
      [410, 'recipient'],
      [308, 'recipient'],
      [503, 'recipient'],
      [429, 'recipient'],
      [400, 'content'],
      [413, 'content'],
    ];
    for (const [status, scope] of cases) {
      const { backend, url } = await setup({ status, headers: { location: '/elsewhere' }, body: 'no' });
      const err = (await backend.send(hookMessage(url), sendContext()).catch((e: unknown) => e)) as PermanentError;
      expect(err.scope, String(status)).toBe(scope);
    }
    const { server, backend, url } = await setup(noContent);
    await server.close();
    expect(await backend.send(hookMessage(url), sendContext()).catch((e: unknown) => e)).toMatchObject({ scope: 'recipient' });
  });

  it('never puts the secret in an error', async () => {
    const { backend, url } = await setup({ status: 400, body: `bad signature for ${SECRET}` });
    const err = (await backend.send(hookMessage(url), sendContext()).catch((e: unknown) => e)) as PermanentError;
    expect(backend.secrets).toContain(SECRET);
    // Core redacts backend.secrets from errors before storing them; the backend itself never adds the secret.
    expect(err.message.replace(`bad signature for ${SECRET}`, '')).not.toContain(SECRET);
  });
});
