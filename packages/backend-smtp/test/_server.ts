import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  /** The MIME source as received. */
  raw: string;
  parsed: ParsedMail;
  /** The authenticated user, when AUTH was used. */
  user: string | undefined;
  /** Whether the session was encrypted (implicit TLS or STARTTLS). */
  secure: boolean;
}

/** Where a queued failure answers: the greeting (`connect`), `AUTH`, `MAIL FROM`, `RCPT TO` or the end of `DATA`. */
export type Stage = 'connect' | 'auth' | 'mail' | 'rcpt' | 'data';

export interface TestSmtpServer {
  host: string;
  port: number;
  messages: ReceivedMail[];
  /** Connections opened so far. */
  readonly connections: number;
  /** Answer the next transaction with this SMTP code at this stage (default MAIL FROM, which refuses the whole message). */
  failNext(code: number, text: string, stage?: Stage): void;
  /** Always refuse this recipient at RCPT TO. */
  refuseRecipient(address: string, code: number, text: string): void;
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

const smtpError = (code: number, text: string) => Object.assign(new Error(text), { responseCode: code });

/** A real SMTP server (smtp-server) on 127.0.0.1 and a free port (or `port`), keeping every message it accepts. */
export async function startSmtpServer(
  options: { auth?: { user: string; pass: string }; tls?: 'implicit' | 'starttls'; port?: number } = {},
): Promise<TestSmtpServer> {
  const messages: ReceivedMail[] = [];
  const failures: { code: number; text: string; stage: Stage }[] = [];
  const refused = new Map<string, { code: number; text: string }>();
  const take = (stage: Stage) => {
    if (failures[0]?.stage !== stage) return null;
    const f = failures.shift()!;
    return smtpError(f.code, f.text);
  };
  const { auth } = options;
  let connections = 0;
  const server = new SMTPServer({
    // smtp-server falls back to its bundled self-signed certificate.
    secure: options.tls === 'implicit',
    authOptional: !auth,
    allowInsecureAuth: true,
    disabledCommands: [...(options.tls === 'starttls' ? [] : ['STARTTLS']), ...(auth ? [] : ['AUTH'])],
    disableReverseLookup: true,
    closeTimeout: 200,
    logger: false,
    onConnect(_session, callback) {
      connections++;
      callback(take('connect'));
    },
    onAuth(login, _session, callback) {
      const failure = take('auth');
      if (failure) callback(failure);
      else if (auth && login.username === auth.user && login.password === auth.pass) callback(null, { user: login.username });
      else callback(smtpError(535, '5.7.8 Authentication credentials invalid'));
    },
    onMailFrom(_address, _session, callback) {
      callback(take('mail'));
    },
    onRcptTo(address, _session, callback) {
      const r = refused.get(address.address.toLowerCase());
      callback(r ? smtpError(r.code, r.text) : take('rcpt'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const failure = take('data');
        if (failure) return callback(failure);
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw).then(
          (parsed) => {
            messages.push({
              envelope: {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to: session.envelope.rcptTo.map((r) => r.address),
              },
              raw,
              parsed,
              user: typeof session.user === 'string' ? session.user : undefined,
              secure: session.secure,
            });
            callback();
          },
          (error: Error) => callback(error),
        );
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    messages,
    get connections() {
      return connections;
    },
    failNext(code, text, stage = 'mail') {
      failures.push({ code, text, stage });
    },
    refuseRecipient(address, code, text) {
      refused.set(address.toLowerCase(), { code, text });
    },
    async waitFor(count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return messages;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
