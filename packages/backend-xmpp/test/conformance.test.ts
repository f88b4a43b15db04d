import { testBackend } from '@herald/core/testing/vitest';
import { xmpp } from '../src';
import { closedPort, listen, prosody, startProxy } from './_helpers';

let bob: Awaited<ReturnType<typeof listen>>;
let proxy: Awaited<ReturnType<typeof startProxy>>;
/** The next message goes to this address instead (a real refusal from prosody). */
let redirect: string | null = null;

testBackend({
  name: 'xmpp',
  async start() {
    bob = await listen(prosody().bob, 'conformance', true);
    proxy = await startProxy(prosody().port);
  },
  async stop() {
    await bob?.stop();
    await proxy?.close();
  },
  create: (o) => {
    const { domain, alice } = prosody();
    return xmpp({ service: proxy.service, domain, username: alice.username, password: alice.password, timeout: 5000, ...o });
  },
  createUnreachable: async () => {
    const { domain, alice } = prosody();
    return xmpp({ service: `xmpp://127.0.0.1:${await closedPort()}`, domain, username: alice.username, password: alice.password });
  },
  // A full JID: only this file's listener gets these (xmpp.test.ts sends to the bare JID at the same time).
  address: 'bob@localhost/conformance',
  message(m) {
    if (!redirect) return m;
    const to = redirect;
    redirect = null;
    return { ...m, to };
  },
  // transient: the connection is cut while the message is on its way; permanent: prosody bounces it.
  failNext: (kind) => {
    if (kind === 'transient') proxy.cutNextWrite();
    else redirect = 'nobody@localhost';
  },
  // prosody quotes the refused address back: one spelled like the password must come out redacted.
  leakNext: () => {
    redirect = `${prosody().alice.password}@localhost`;
  },
  // A chat stanza carries the text only.
  received: () => bob.messages.map((m) => ({ raw: m.body, text: m.body })),
  get secrets() {
    return [prosody().alice.password];
  },
});
