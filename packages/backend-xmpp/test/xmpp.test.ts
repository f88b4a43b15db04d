import { type Backend, ConfigError, PermanentError, TransientError } from '@herald/core';
import { expectNoSecrets, makeOutboundMessage, makeSendContext, secretLeaks, traceDelivery } from '@herald/core/testing';
import { client as createClient, xml } from '@xmpp/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xmpp } from '../src';
import { closedPort, listen, prosody, startEchoingXmppServer, startProxy } from './_helpers';

const open: Backend[] = [];
function backend(options: Partial<Parameters<typeof xmpp>[0]> = {}): Backend {
  const { service, domain, alice } = prosody();
  const b = xmpp({ service, domain, username: alice.username, password: alice.password, timeout: 5000, ...options });
  open.push(b);
  return b;
}
function send(b: Backend, to: string, text: string) {
  const m = makeOutboundMessage({ protocol: 'xmpp', backend: b.name, to, content: { format: 'text', text } });
  return b.send(m, makeSendContext(m));
}

let bob: Awaited<ReturnType<typeof listen>>;
beforeAll(async () => {
  bob = await listen(prosody().bob);
});
afterAll(async () => {
  for (const b of open) await b.close?.();
  await bob?.stop();
});

describe('xmpp backend against a real prosody', () => {
  it('delivers a chat message from alice to bob', async () => {
    const before = bob.messages.length;
    const result = await send(backend(), 'bob@localhost', 'Hello Bob — ünïcødé & <markup>');
    const got = await bob.waitFor(before + 1);
    expect(got.at(-1)).toMatchObject({ body: 'Hello Bob — ünïcødé & <markup>', id: result.messageId });
    expect(got.at(-1)?.from).toMatch(/^alice@localhost\//);
    expect(bob.client.isSecure(), 'STARTTLS with the test CA (NODE_EXTRA_CA_CERTS from global setup)').toBe(true);
    expect(result.recipients).toEqual({ 'bob@localhost': { status: 'sent', messageId: result.messageId } });
  });

  it('reuses one connection across sends, concurrent ones included', async () => {
    const proxy = await startProxy(prosody().port);
    try {
      const b = backend({ service: proxy.service });
      const before = bob.messages.length;
      await send(b, 'bob@localhost', 'one');
      await send(b, 'bob@localhost', 'two');
      await Promise.all(Array.from({ length: 8 }, (_, i) => send(b, 'bob@localhost', `parallel ${i}`)));
      expect((await bob.waitFor(before + 10)).length).toBe(before + 10);
      expect(proxy.connections).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('reconnects on the next send after the connection was dropped', async () => {
    const proxy = await startProxy(prosody().port);
    try {
      const b = backend({ service: proxy.service });
      await send(b, 'bob@localhost', 'before the drop');
      proxy.dropAll();
      await new Promise((r) => setTimeout(r, 50));
      const before = bob.messages.length;
      await send(b, 'bob@localhost', 'after the drop');
      expect((await bob.waitFor(before + 1)).at(-1)?.body).toBe('after the drop');
      expect(proxy.connections).toBe(2);
    } finally {
      await proxy.close();
    }
  });

  it('reconnects after the server closed the session (resource conflict)', async () => {
    const { service, domain, alice } = prosody();
    const b = backend({ resource: 'herald' });
    await send(b, 'bob@localhost', 'first session');
    // Logging in again with the same resource makes prosody close the backend's stream with <conflict/>.
    const intruder = createClient({ service, domain, username: alice.username, password: alice.password, resource: 'herald' });
    intruder.reconnect.stop();
    intruder.on('error', () => undefined);
    await intruder.start();
    await new Promise((r) => setTimeout(r, 100));
    const before = bob.messages.length;
    await send(b, 'bob@localhost', 'second session');
    expect((await bob.waitFor(before + 1)).at(-1)?.body).toBe('second session');
    await intruder.stop().catch(() => undefined);
  });

  it('fails transient when the connection drops in mid-send, then delivers on retry', async () => {
    const proxy = await startProxy(prosody().port);
    try {
      const b = backend({ service: proxy.service });
      await send(b, 'bob@localhost', 'warm up');
      proxy.cutNextWrite();
      const error = await send(b, 'bob@localhost', 'lost').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientError);
      const before = bob.messages.length;
      await send(b, 'bob@localhost', 'retried');
      expect((await bob.waitFor(before + 1)).at(-1)?.body).toBe('retried');
    } finally {
      await proxy.close();
    }
  });

  it('a wrong password is a permanent error that does not contain the password', async () => {
    const error = await send(backend({ password: 'not-the-password-42' }), 'bob@localhost', 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/authentication failed for alice@localhost.*not-authorized/);
    expectNoSecrets(error, ['not-the-password-42']);
  });

  // Regression: the SASL PLAIN token (base64 of "\0user\0password") a server quoted back was kept.
  it('a server quoting the credentials back leaks them nowhere (lastError, attempts, events, logs)', async () => {
    const echo = await startEchoingXmppServer();
    const password = 'echoed-password-0123';
    const b = xmpp({ service: echo.service, domain: 'localhost', username: 'alice', password, timeout: 5000 });
    try {
      const trace = await traceDelivery(b, 'bob@chat.herald-leak.org', { format: 'text', body: 'Hi {{name}}' });
      expect(trace.delivery).toMatchObject({ status: 'failed', lastError: expect.stringContaining('authentication failed') });
      expect(trace.attempts[0]!.error).toContain('[redacted]');
      expect(secretLeaks(trace, [password, '\0alice\0echoed-password-0123'])).toEqual([]);
    } finally {
      await b.close?.();
      await echo.close();
    }
  });

  it('classifies failures: a refused login is about the provider, a refused recipient about the recipient', async () => {
    expect(await send(backend({ password: 'not-the-password-42' }), 'bob@localhost', 'x').catch((e: unknown) => e)).toMatchObject({ scope: 'provider' });
    expect(await send(backend(), 'nobody@localhost', 'x').catch((e: unknown) => e)).toMatchObject({ scope: 'recipient' });
    expect(await send(backend(), 'ada@remote.example.org', 'x').catch((e: unknown) => e)).toMatchObject({ scope: 'recipient' });
    const unreachable = backend({ service: `xmpp://127.0.0.1:${await closedPort()}` });
    expect(await send(unreachable, 'bob@localhost', 'x').catch((e: unknown) => e)).toMatchObject({ scope: 'provider' });
  });

  it('an unknown or unavailable recipient is a permanent `invalid` error', async () => {
    const error = await send(backend(), 'nobody@localhost', 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ rejectReason: 'invalid', response: { type: 'cancel', condition: 'service-unavailable' } });
  });

  it('a refused remote domain is a permanent `blocked` error', async () => {
    const error = await send(backend(), 'ada@remote.example.org', 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ rejectReason: 'blocked', response: { condition: 'not-allowed' } });
  });

  it('an unreachable server is a transient error', async () => {
    const error = await send(backend({ service: `xmpp://127.0.0.1:${await closedPort()}` }), 'bob@localhost', 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
  });

  it('close() ends the session and a later send opens a new one', async () => {
    const proxy = await startProxy(prosody().port);
    try {
      const b = backend({ service: proxy.service });
      await send(b, 'bob@localhost', 'one');
      await b.close?.();
      await send(b, 'bob@localhost', 'two');
      expect(proxy.connections).toBe(2);
    } finally {
      await proxy.close();
    }
  });

  it('accepts an injected @xmpp/client instance', async () => {
    const { service, domain, alice } = prosody();
    const c = createClient({ service, domain, username: alice.username, password: alice.password, resource: 'injected' });
    const b = xmpp({ client: c });
    open.push(b);
    const before = bob.messages.length;
    await send(b, 'bob@localhost', 'via an injected client');
    expect((await bob.waitFor(before + 1)).at(-1)?.from).toBe('alice@localhost/injected');
  });

  it('refuses incomplete options and empty bodies', async () => {
    expect(() => xmpp({ service: 'xmpp://127.0.0.1:5222' })).toThrow(ConfigError);
    await expect(send(backend(), 'bob@localhost', '  ')).rejects.toBeInstanceOf(PermanentError);
  });

  it('xml() builds the stanza the backend sends', () => {
    // guards the ambient typing of @xmpp/client: the element carries id and body
    const el = xml('message', { to: 'bob@localhost', id: 'x1' }, xml('body', {}, 'hi'));
    expect(el.toString()).toBe('<message to="bob@localhost" id="x1"><body>hi</body></message>');
  });
});
