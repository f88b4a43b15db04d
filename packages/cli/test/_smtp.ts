import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string[];
  raw: string;
}

export interface LoopbackSmtp {
  port: number;
  messages: ReceivedMail[];
  /** Milliseconds to hold each message before accepting it (sends in flight for a while). */
  delayMs: number;
  /** Refuse every message to this address with a permanent 550. */
  refuse(address: string): void;
  /** Answer every message to this address with a temporary 451 (try again later). */
  defer(address: string): void;
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

/** A real SMTP server (smtp-server) on 127.0.0.1, port 0, keeping what it accepts. */
export async function startSmtp(): Promise<LoopbackSmtp> {
  const messages: ReceivedMail[] = [];
  const refused = new Set<string>();
  const deferred = new Set<string>();
  const state = { delayMs: 0 };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    closeTimeout: 100,
    logger: false,
    onRcptTo(address, _session, callback) {
      const to = address.address.toLowerCase();
      if (refused.has(to)) callback(Object.assign(new Error('5.1.1 no such user'), { responseCode: 550 }));
      else if (deferred.has(to)) callback(Object.assign(new Error('4.2.1 mailbox busy, try later'), { responseCode: 451 }));
      else callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        setTimeout(() => {
          messages.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
          callback();
        }, state.delayMs);
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    messages,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms: number) {
      state.delayMs = ms;
    },
    refuse: (address) => refused.add(address.toLowerCase()),
    defer: (address) => deferred.add(address.toLowerCase()),
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return messages;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
