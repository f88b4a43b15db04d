import { type ReceivedMessage, testBackend } from '@herald/core/testing/vitest';
import { twilio } from '../src';
import { type LoopbackAnswer as Answer, loopback } from '@herald/core/testing';
import { ACCOUNT_SID, AUTH_TOKEN, LoopbackRequestClient } from './_fixtures';

let server: Awaited<ReturnType<typeof loopback>>;
let next: Answer | null = null;
const json = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): Answer => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

testBackend({
  name: 'twilio',
  start: async () => {
    server = await loopback(() => {
      const answer = next ?? json(201, { sid: `SM${'f'.repeat(32)}`, status: 'queued', num_segments: '1' });
      next = null;
      return answer;
    });
  },
  stop: () => server.close(),
  create: (o) => twilio({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: '+14155550100', httpClient: new LoopbackRequestClient(server.origin), ...o }),
  createUnreachable: () =>
    twilio({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: '+14155550100', httpClient: new LoopbackRequestClient('http://127.0.0.1:9') }),
  address: '+14155550123',
  failNext: (kind) => {
    next =
      kind === 'transient'
        ? json(429, { code: 20429, message: 'Too Many Requests', status: 429 }, { 'retry-after': '1' })
        : json(400, { code: 21211, message: "The 'To' number is not a valid phone number.", status: 400 });
  },
  leakNext: () => {
    next = json(401, { code: 20003, message: `Authentication Error - invalid token ${AUTH_TOKEN}`, status: 401 });
  },
  // Twilio's Messages API takes a form: To, From, Body.
  received: () =>
    server.requests.map((r): ReceivedMessage => {
      const form = new URLSearchParams(r.body);
      return { raw: [...form].map(([k, v]) => `${k}=${v}`).join('\n'), to: form.getAll('To'), text: form.get('Body') ?? undefined };
    }),
  secrets: [AUTH_TOKEN],
});
