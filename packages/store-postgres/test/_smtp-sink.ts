import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** A loopback SMTP server that counts messages by the delivery id in their Message-ID (`<deliveryId@domain>`). */
export class SmtpSink {
  readonly received = new Map<string, number>();
  total = 0;
  readonly #server: SMTPServer;
  port = 0;

  constructor() {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      maxClients: 200,
      onData: (stream, _session, callback) => {
        const parts: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => parts.push(chunk));
        stream.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          const headerEnd = text.indexOf('\r\n\r\n');
          const match = /^Message-ID:\s*<([^@>]+)@/im.exec(headerEnd === -1 ? text : text.slice(0, headerEnd));
          if (match) {
            const id = match[1]!;
            this.received.set(id, (this.received.get(id) ?? 0) + 1);
            this.total++;
          }
          callback();
        });
      },
    });
    this.#server.on('error', () => undefined);
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.#server.server.address() as AddressInfo).port;
    return this.port;
  }

  /** Ids received more than once. */
  duplicates(): string[] {
    return [...this.received].filter(([, n]) => n > 1).map(([id]) => id);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
