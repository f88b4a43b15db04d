import { type ReceivedMessage, testBackend } from '@herald/core/testing/vitest';
import { slack } from '../src';
import { type LoopbackAnswer as Answer, loopback } from '@herald/core/testing';

const PATH = '/services/T0000000/B0000000/XXXXXXXXXXXXXXXXXXXXXXXX';
let server: Awaited<ReturnType<typeof loopback>>;
let next: Answer | null = null;
const local = { allowedHosts: ['127.0.0.1'], allowInsecure: true };

testBackend({
  name: 'slack',
  start: async () => {
    server = await loopback(() => {
      const answer = next ?? { status: 200, body: 'ok' };
      next = null;
      return answer;
    });
  },
  stop: () => server.close(),
  create: (o) => slack({ ...local, ...o }),
  get address() {
    return server.origin + PATH;
  },
  failNext: (kind) => {
    next = kind === 'transient' ? { status: 429, headers: { 'retry-after': '1' }, body: 'rate_limited' } : { status: 400, body: 'invalid_payload' };
  },
  // An incoming webhook takes a JSON body: `text` (mrkdwn) and optional `blocks`.
  received: () => server.requests.map((r): ReceivedMessage => ({ raw: r.body, text: (JSON.parse(r.body) as { text?: string }).text })),
  secrets: [],
  templates: {
    params: {
      format: 'params',
      body: { text: 'Code {{code}}', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'Hello *{{name}}*, your code is `{{code}}`.' } }] },
    },
  },
});
