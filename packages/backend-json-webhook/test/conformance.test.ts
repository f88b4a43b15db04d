import type { LookupAddress } from 'node:dns';
import { type ReceivedMessage, testBackend } from '@herald/core/testing/vitest';
import { jsonWebhook } from '../src';
import { type LoopbackAnswer as Answer, loopback } from '@herald/core/testing';
import { SECRET } from './_fixtures';

const resolveTo = (address: string) => async (): Promise<LookupAddress[]> => [{ address, family: 4 }];
let server: Awaited<ReturnType<typeof loopback>>;
let next: Answer | null = null;

testBackend({
  name: 'json-webhook',
  start: async () => {
    server = await loopback(() => {
      const answer = next ?? { status: 204 };
      next = null;
      return answer;
    });
  },
  stop: () => server.close(),
  create: (o) => jsonWebhook({ secret: SECRET, allowedHosts: ['receiver.test'], resolve: resolveTo('127.0.0.1'), ...o }),
  // Nothing listens on 127.0.0.2: the connection is refused.
  createUnreachable: () => jsonWebhook({ secret: SECRET, allowedHosts: ['receiver.test'], resolve: resolveTo('127.0.0.2') }),
  get address() {
    return `http://receiver.test:${server.port}/hooks/herald`;
  },
  // The suite builds `text` content; this backend renders `params` only.
  message: (m) => (m.content.format === 'params' ? m : { ...m, content: { format: 'params', params: { text: m.content.text ?? '' } } }),
  failNext: (kind) => {
    next = kind === 'transient' ? { status: 503, headers: { 'retry-after': '1' } } : { status: 422, body: 'unprocessable' };
  },
  leakNext: () => {
    next = { status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: `bad signature, expected key ${SECRET}` }) };
  },
  // The body is the rendered `params`; custom headers travel as HTTP headers beside the Standard Webhooks ones.
  received: () =>
    server.requests
      .filter((r) => r.url === '/hooks/herald')
      .map(
        (r): ReceivedMessage => ({
          raw: `${JSON.stringify(r.headers)}\n${r.body}`,
          to: [`http://${r.headers.host}${r.url}`],
          headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, String(v)])),
        }),
      ),
  secrets: [SECRET],
});
