import { testBackend } from '@herald/core/testing/vitest';
import { twitter } from '../src';
import { ANSWERS, CREDENTIALS, startFakeTwitter } from './_fake-twitter';

let fake: Awaited<ReturnType<typeof startFakeTwitter>>;
/** Messages that reached the DM endpoint. */
const sent = () => fake.requests.filter((r) => r.method === 'POST' && r.path.includes('/messages'));

testBackend({
  name: 'twitter',
  async start() {
    fake = await startFakeTwitter();
  },
  stop: () => fake.close(),
  create: (o) => twitter({ ...CREDENTIALS, clientSettings: fake.clientSettings, ...o }),
  createUnreachable: async () => {
    const dead = await startFakeTwitter();
    await dead.close();
    return twitter({ ...CREDENTIALS, clientSettings: dead.clientSettings });
  },
  address: '@ada_lovelace',
  failNext: (kind) => fake.answerNext(kind === 'transient' ? ANSWERS.rateLimited(Math.floor(Date.now() / 1000) + 60) : ANSWERS.dmForbidden),
  leakNext: () => fake.answerNext({ status: 400, body: { title: 'Invalid Request', detail: `echo ${Object.values(CREDENTIALS).join(' ')}` } }),
  // A direct message is `{ text }` posted to the recipient's conversation.
  received: () => sent().map((r) => ({ raw: r.body, text: (JSON.parse(r.body) as { text?: string }).text })),
  secrets: Object.values(CREDENTIALS),
});
