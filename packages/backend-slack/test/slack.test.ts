import { PermanentError, TransientError } from '@herald/core';
import { afterEach, describe, expect, it } from 'vitest';
import { escapeMrkdwn, slack } from '../src';
import { type LoopbackAnswer as Answer, loopback, type RecordedRequest, secretForms, secretLeaks, traceDelivery } from '@herald/core/testing';
import { sendContext, slackMessage } from './_fixtures';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

const PATH = '/services/T0000000/B0000000/XXXXXXXXXXXXXXXXXXXXXXXX';
const ok: Answer = { status: 200, headers: { 'content-type': 'text/html' }, body: 'ok' };

async function setup(answer: Answer | ((req: RecordedRequest) => Answer)) {
  const server = await loopback(typeof answer === 'function' ? answer : () => answer);
  closers.push(server.close);
  const backend = slack({ allowedHosts: ['127.0.0.1'], allowInsecure: true });
  return { server, backend, url: server.origin + PATH };
}

describe('slack wire format', () => {
  it('posts {"text"} JSON to the webhook URL', async () => {
    const { server, backend, url } = await setup(ok);
    const result = await backend.send(slackMessage(url, { format: 'text', text: 'Deploy *api* finished &lt;ok&gt;' }), sendContext());
    const req = server.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe(PATH);
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual({ text: 'Deploy *api* finished &lt;ok&gt;' });
    expect(result.response).toEqual({ status: 200, body: 'ok' });
    expect(result.recipients?.[url]?.status).toBe('sent');
  });

  it('posts Block Kit params as { text, blocks } and merges providerOptions', async () => {
    const { server, backend, url } = await setup(ok);
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*Deploy* finished' } }];
    await backend.send(
      slackMessage(url, { format: 'params', subject: 'Deploy finished', params: { blocks } }, { options: { providerOptions: { slack: { unfurl_links: false } } } }),
      sendContext(),
    );
    expect(JSON.parse(server.requests[0]!.body)).toEqual({ text: 'Deploy finished', blocks, unfurl_links: false });
  });

  it('refuses params that are not a Slack payload', async () => {
    const { server, backend, url } = await setup(ok);
    await expect(backend.send(slackMessage(url, { format: 'params', params: { foo: 'bar' } }), sendContext())).rejects.toBeInstanceOf(PermanentError);
    expect(server.requests).toHaveLength(0);
  });

  it('escapes mrkdwn control characters in data', () => {
    expect(escapeMrkdwn('<!channel> & <https://evil.example|click>')).toBe('&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
    expect(slack().escapeText).toBe(escapeMrkdwn);
  });

  it('validates webhook addresses: https, allowed host, /services/ path', () => {
    const strict = slack();
    expect(strict.validateAddress!('https://hooks.slack.com/services/T0/B0/X')).toBeNull();
    expect(strict.validateAddress!('http://hooks.slack.com/services/T0/B0/X')).toMatch(/https/);
    expect(strict.validateAddress!('https://hooks.evil.example/services/T0/B0/X')).toMatch(/not an allowed Slack webhook host/);
    expect(strict.validateAddress!('https://hooks.slack.com/triggers/T0/1/X')).toMatch(/\/services\//);
    expect(strict.validateAddress!('not a url')).toMatch(/URL/);
    const local = slack({ allowedHosts: ['127.0.0.1:8080'], allowInsecure: true });
    expect(local.validateAddress!('http://127.0.0.1:8080/services/T/B/X')).toBeNull();
    expect(local.validateAddress!('http://127.0.0.1:9090/services/T/B/X')).toMatch(/not an allowed/);
  });

  it('refuses to send to a disallowed address even if it got queued', async () => {
    const { server, url } = await setup(ok);
    const strict = slack();
    const err = await strict.send(slackMessage(url, { format: 'text', text: 'x' }), sendContext()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(server.requests).toHaveLength(0);
  });

  const cases: [number, string, 'permanent' | 'suppress' | 'transient'][] = [
    [400, 'invalid_payload', 'permanent'],
    [400, 'no_text', 'permanent'],
    [403, 'action_prohibited', 'permanent'],
    [403, 'invalid_token', 'suppress'],
    [404, 'channel_not_found', 'suppress'],
    [404, 'no_service', 'suppress'],
    [410, 'channel_is_archived', 'suppress'],
    [500, 'rollup_error', 'transient'],
  ];
  for (const [status, body, kind] of cases) {
    it(`maps ${status} ${body} to ${kind}`, async () => {
      const { backend, url } = await setup({ status, headers: { 'content-type': 'text/html' }, body });
      const err = await backend.send(slackMessage(url, { format: 'text', text: 'x' }), sendContext()).catch((e: unknown) => e);
      if (kind === 'transient') {
        expect(err).toBeInstanceOf(TransientError);
      } else {
        expect(err).toBeInstanceOf(PermanentError);
        expect((err as PermanentError).suppress).toBe(kind === 'suppress');
      }
      expect((err as Error).message).toContain(body);
      expect((err as Error).message).not.toContain('XXXXXXXX');
    });
  }

  it('classifies refusals: a gone or refused webhook is about the recipient, a bad payload about the content', async () => {
    const cases: [number, string, 'provider' | 'recipient' | 'content' | undefined][] = [
      [404, 'no_service', 'recipient'],
      [403, 'invalid_token', 'recipient'],
      [403, 'action_prohibited', 'recipient'],
      [400, 'invalid_payload', 'content'],
      [400, 'invalid_blocks', 'content'],
      [400, 'something_new', undefined],
      [429, 'rate_limited', 'provider'],
      [503, 'unavailable', 'provider'],
    ];
    for (const [status, body, scope] of cases) {
      const { backend, url } = await setup({ status, body });
      const err = (await backend.send(slackMessage(url, { format: 'text', text: 'x' }), sendContext()).catch((e: unknown) => e)) as PermanentError;
      expect(err.scope, body).toBe(scope);
    }
  });

  // Regression: an answer quoting the webhook URL (its path is the credential) was stored whole.
  it('an answer quoting the webhook URL or its token, in any form, leaks it nowhere Herald keeps', async () => {
    const token = 'XXXXXXXXXXXXXXXXXXXXXXXX';
    const echo = (req: RecordedRequest): Answer => {
      const forms = secretForms(token);
      return { status: 404, headers: { 'x-echo': forms.base64 }, body: `no_service for http://${req.headers.host}${req.url} (${Object.values(forms).join(' ')})` };
    };
    const { backend, url } = await setup(echo);
    const trace = await traceDelivery(backend, url, { format: 'text', body: 'Hi {{name}}' });
    expect(trace.delivery).toMatchObject({ status: 'failed', lastError: expect.stringContaining('/services/T0000000/B0000000/[redacted]') });
    // The address itself is where Herald must keep the URL; everything said about the delivery must not.
    const said = {
      lastError: trace.delivery!.lastError,
      attempts: trace.attempts.map((a) => ({ error: a.error, response: a.response })),
      events: trace.events.map((e) => (e as unknown[]).slice(2)),
      errors: trace.events.map((e) => (e as [string, { lastError?: string }])[1]?.lastError ?? null),
      logs: trace.logs,
    };
    expect(secretLeaks(said, [token])).toEqual([]);
  });

  it('maps 429 to transient honouring Retry-After', async () => {
    const { backend, url } = await setup({ status: 429, headers: { 'retry-after': '30' }, body: 'rate_limited' });
    const err = (await backend.send(slackMessage(url, { format: 'text', text: 'x' }), sendContext()).catch((e: unknown) => e)) as TransientError;
    expect(err).toBeInstanceOf(TransientError);
    expect(err.retryAfterMs).toBe(30_000);
    expect(err.statusCode).toBe(429);
  });

  it('maps a refused connection and an abort to transient', async () => {
    const { backend, url, server } = await setup(ok);
    await server.close();
    await expect(backend.send(slackMessage(url, { format: 'text', text: 'x' }), sendContext())).rejects.toBeInstanceOf(TransientError);
    const ac = new AbortController();
    ac.abort();
    await expect(backend.send(slackMessage(url, { format: 'text', text: 'x' }), sendContext(ac.signal))).rejects.toBeInstanceOf(TransientError);
  });
});
