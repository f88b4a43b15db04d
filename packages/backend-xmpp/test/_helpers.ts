import { readFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { client, xml } from '@xmpp/client';
import { inject } from 'vitest';
import type { ProsodyInfo } from './global-setup';

/** The run's prosody; throws the setup's reason when it could not be started (tests fail, never skip). */
export function prosody(): ProsodyInfo {
  const info = inject('prosody');
  if (info.error) throw new Error(info.error);
  return info;
}

export interface Received {
  from: string;
  id: string | undefined;
  body: string;
}

/**
 * A second account logged in with its own client: what it receives is what the backend delivered. Test files run
 * in parallel against one server, so each listener counts only messages addressed to the bare JID (`full: false`)
 * or only those addressed to its own full JID (`full: true`).
 */
export async function listen(account: ProsodyInfo['bob'], resource = 'listener', full = false) {
  const { service, domain } = prosody();
  const c = client({ service, domain, username: account.username, password: account.password, resource });
  c.reconnect.stop();
  const messages: Received[] = [];
  c.on('error', () => undefined);
  c.on('stanza', (s) => {
    const to = s.attrs.to ?? '';
    if (s.is('message') && s.attrs.type !== 'error' && (full ? to === `${account.jid}/${resource}` : to === account.jid)) {
      messages.push({ from: s.attrs.from ?? '', id: s.attrs.id, body: s.getChildText('body') ?? '' });
    }
  });
  await c.start();
  await c.send(xml('presence'));
  // Stanzas of one stream are handled in order: after this answer the server knows the account is available.
  await c.iqCaller.request(xml('iq', { type: 'get', to: domain }, xml('ping', { xmlns: 'urn:xmpp:ping' })), 5000);
  return {
    messages,
    client: c,
    async waitFor(count: number, timeout = 5000): Promise<Received[]> {
      const deadline = Date.now() + timeout;
      while (messages.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return messages;
    },
    stop: () => c.stop().catch(() => undefined),
  };
}

/**
 * A TCP proxy in front of prosody: counts connections, drops them on demand (what a server restart or a NAT
 * timeout does), or swallows the next chunk a client writes and cuts the connection (a drop in mid-send).
 */
export async function startProxy(port: number) {
  const sockets = new Set<Socket>();
  let connections = 0;
  let cutNext = false;
  const server: Server = createServer((downstream) => {
    connections++;
    const upstream = connect(port, '127.0.0.1');
    sockets.add(downstream).add(upstream);
    const cut = () => {
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('data', (chunk: Buffer) => {
      if (cutNext) {
        cutNext = false;
        cut();
      } else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => downstream.write(chunk));
    for (const s of [downstream, upstream]) {
      s.on('error', cut);
      s.on('close', () => {
        sockets.delete(s);
        cut();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const proxyPort = typeof address === 'object' && address ? address.port : 0;
  return {
    service: `xmpp://127.0.0.1:${proxyPort}`,
    get connections() {
      return connections;
    },
    dropAll() {
      for (const s of sockets) s.destroy();
    },
    cutNextWrite() {
      cutNext = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 1;
}

/**
 * A loopback XMPP server that requires STARTTLS (with prosody's test certificate), offers SASL PLAIN and refuses
 * every login, quoting the client's credentials back in the `<failure>` text: the token as received (base64 of
 * `\0user\0password`), the password, its hex and base64url.
 */
export async function startEchoingXmppServer() {
  const { tls } = prosody();
  const [cert, key] = await Promise.all([readFile(tls.cert), readFile(tls.key)]);
  const header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='echo-1' from='localhost' version='1.0'>";
  const server: Server = createServer((plain) => {
    plain.on('error', () => undefined);
    let buffer = '';
    const onPlain = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      if (buffer.includes('<stream:stream') && !buffer.includes('<starttls')) {
        plain.write(`${header}<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>`);
        buffer = '';
      } else if (buffer.includes('<starttls')) {
        plain.off('data', onPlain);
        plain.write("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", () => secure(new TLSSocket(plain, { isServer: true, cert, key })));
      }
    };
    plain.on('data', onPlain);
  });
  function secure(socket: TLSSocket) {
    socket.on('error', () => undefined);
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      if (buffer.includes('<stream:stream')) {
        socket.write(`${header}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`);
        buffer = '';
      }
      const auth = /<auth[^>]*>([^<]*)<\/auth>/.exec(buffer);
      if (auth) {
        const token = auth[1]!;
        const password = Buffer.from(token, 'base64').toString('utf8').split('\0')[2] ?? '';
        const quoted = [token, password, Buffer.from(password).toString('hex'), Buffer.from(password).toString('base64url')].join(' ');
        socket.end(`<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/><text>refused ${quoted}</text></failure></stream:stream>`);
        buffer = '';
      }
    });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { service: `xmpp://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
