import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyCapabilities } from '../backend';
import { HeraldError, PermanentError, TransientError, UnsupportedFeatureError } from '../errors';
import { newId } from '../ids';
import { addressSchemas, normalizeAddress, PROTOCOLS, type Protocol } from '../protocols';
import { compileTemplate } from '../templates';
import {
  type Attachment,
  type Backend,
  type Logger,
  type OutboundMessage,
  type RecipientStatus,
  type RenderedContent,
  type SendContext,
  type SendOptions,
  type SendResult,
  TEMPLATE_FORMATS,
  type TemplateFormat,
  type TemplateSpec,
} from '../types';

/**
 * What a backend package gives {@link testBackend}: a way to build the backend against a loopback peer
 * (a real server or one speaking the provider's wire format) and to steer and observe that peer.
 */
export interface BackendHarness {
  /** Suite title, e.g. `smtp`. */
  name: string;
  /** Start the loopback peer. Called once, before any other member. */
  start?(): Promise<void>;
  /** Stop the peer. Called once, after every backend the suite created was closed. */
  stop?(): Promise<void>;
  /** Build the backend configured against the running peer. The suite calls `close()` on each one it creates. */
  create(options?: { ignoreUnsupportedFeatures?: boolean }): Backend | Promise<Backend>;
  /** A contact address on the backend's protocol that the peer accepts. */
  address: string;
  /** More addresses the peer accepts, used as cc / bcc / reply-to when the backend declares those capabilities.
   *  @default two `@example.org` addresses for email, none otherwise */
  copyAddresses?: readonly string[];
  /** Addresses of other protocols; each must be refused by the protocol schema or `backend.validateAddress`.
   *  @default {@link foreignAddresses}(protocol) */
  foreignAddresses?: readonly string[];
  /** Make the peer answer the next send with a retryable error (SMTP 4xx, HTTP 429/503 …) or a final one
   *  (SMTP 5xx, HTTP 400/404 …). Only the next send fails; later ones succeed again. */
  failNext(kind: 'transient' | 'permanent'): void | Promise<void>;
  /** How many messages the peer has received so far (read before and after each send). */
  received(): number | Promise<number>;
  /** The last message the peer received as raw text (MIME source, JSON or form body). When given, the suite
   *  checks that rendered data reached the peer. */
  lastReceived?(): string | Promise<string>;
  /** Credentials configured on the backend: none may appear in any error the backend raises. */
  secrets: readonly string[];
  /** Make the peer's next answer an error that echoes the secrets (a provider quoting the request back):
   *  the backend must redact them. Strongly recommended. */
  leakNext?(): void | Promise<void>;
  /** Build the backend against a peer that does not answer (a closed port): sends must raise `TransientError`. */
  createUnreachable?(): Backend | Promise<Backend>;
  /** A feature the backend does NOT support, put on the message for the `ignoreUnsupportedFeatures` checks.
   *  @default derived from `backend.capabilities` (sendAt, trackOpens, metadata … whichever is unsupported) */
  unsupported?: Partial<Pick<OutboundMessage, 'options' | 'attachments'>>;
  /** Templates per format rendered by core (data `{ name, code }`, see {@link SUITE_TEMPLATES}); for `params`
   *  give the shape your provider expects (Block Kit, a template model …). */
  templates?: Partial<Record<TemplateFormat, TemplateSpec>>;
  /** Adjust every message the suite builds (e.g. set `options.from`). */
  message?(message: OutboundMessage): OutboundMessage;
  /** Skip named checks, with the reason as value (e.g. `{ 'transient errors': 'the peer cannot fail softly' }`). */
  skip?: Partial<Record<BackendCheck, string>>;
  /** Longest wait for the peer to count a message after `send()` resolved. @default 5000 */
  receiveTimeoutMs?: number;
}

/** Names of the checks {@link testBackend} runs (keys of `harness.skip`). */
export type BackendCheck =
  | 'shape'
  | 'own address'
  | 'foreign addresses'
  | 'formats'
  | 'recipient status'
  | 'transient errors'
  | 'permanent errors'
  | 'unreachable peer'
  | 'capabilities'
  | 'unsupported features'
  | 'ignore unsupported features'
  | 'secrets';

/** One valid address per protocol, each refused by every other protocol's schema. */
export const SAMPLE_ADDRESSES: Readonly<Record<Protocol, string>> = {
  email: 'ada@example.org',
  sms: '+14155550123',
  'slack-webhook': 'https://hooks.slack.com/services/T000/B000/XXXXXXXX',
  'json-webhook': 'https://receiver.example.org/hooks/herald',
  xmpp: 'ada@chat.example.org/desk',
  twitter: '@ada_lovelace',
};

/** Addresses that belong to protocols other than `protocol` and must be refused by its backends.
 *  (The two webhook protocols share the URL form: a json-webhook backend is not expected to refuse a Slack URL.
 *  A bare `user@host` is both an email and a JID, so the email sample here carries a display name.) */
export function foreignAddresses(protocol: Protocol): string[] {
  const samples: Record<Protocol, string> = { ...SAMPLE_ADDRESSES, email: 'Ada Lovelace <ada@example.org>' };
  return PROTOCOLS.filter((p) => p !== protocol && !(protocol === 'json-webhook' && p === 'slack-webhook')).map((p) => samples[p]);
}

/** Templates the suite renders for each format, with data `{ name, code }`. */
export const SUITE_TEMPLATES: Readonly<Record<TemplateFormat, TemplateSpec>> = {
  html: { format: 'html', subject: 'Conformance {{code}}', body: '<p>Hello {{name}}, your code is <b>{{code}}</b>.</p>' },
  markdown: { format: 'markdown', subject: 'Conformance {{code}}', body: '# Hello {{name}}\n\nYour code is **{{code}}**.' },
  blocks: {
    format: 'blocks',
    body: '{{#block "subject"}}Conformance {{code}}{{/block}}\n{{#block "text"}}Hello {{name}}, your code is {{code}}.{{/block}}\n{{#block "html"}}<p>Hello {{name}}, your code is <b>{{code}}</b>.</p>{{/block}}',
  },
  params: { format: 'params', subject: 'Conformance {{code}}', body: { text: 'Hello {{name}}, your code is {{code}}.', code: '{{code}}' } },
  text: { format: 'text', subject: 'Conformance {{code}}', body: 'Hello {{name}}, your code is {{code}}.' },
};

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const RECIPIENT_STATUSES: readonly RecipientStatus[] = ['sent', 'queued', 'invalid', 'rejected', 'failed', 'unknown'];

/** Fields of {@link makeOutboundMessage}: any of the message's, with `content` and `options` merged over the defaults. */
export type OutboundMessageOverrides = Partial<Omit<OutboundMessage, 'content'>> & { content?: Partial<RenderedContent> };

/**
 * Build a valid {@link OutboundMessage} for tests: a fresh delivery id, the protocol's sample address and a
 * short rendered content (`html` with text for email, `text` otherwise).
 *
 * @example
 * ```ts
 * const message = makeOutboundMessage({ protocol: 'email', to: 'ada@example.org', options: { cc: ['bob@example.org'] } });
 * const result = await backend.send(message, makeSendContext(message));
 * ```
 */
export function makeOutboundMessage(overrides: OutboundMessageOverrides = {}): OutboundMessage {
  const protocol = overrides.protocol ?? 'email';
  const deliveryId = overrides.deliveryId ?? newId();
  const content: RenderedContent =
    protocol === 'email'
      ? { format: 'html', subject: 'Hello from Herald', html: '<p>Hello <b>Ada</b></p>', text: 'Hello Ada' }
      : { format: 'text', subject: 'Hello from Herald', text: 'Hello Ada' };
  return {
    deliveryId,
    notification: 'herald-test',
    protocol,
    backend: protocol,
    to: SAMPLE_ADDRESSES[protocol],
    recipient: { id: 'u1', name: 'Ada Lovelace' },
    attachments: [],
    ...overrides,
    content: { ...content, ...overrides.content },
    options: { ...overrides.options },
  };
}

/**
 * A {@link SendContext} for calling `backend.send()` directly: attempt 1, the delivery id as idempotency key,
 * a silent logger and a signal that never aborts (unless you pass one).
 *
 * @example
 * ```ts
 * await backend.send(message, makeSendContext(message, { attempt: 2 }));
 * ```
 */
export function makeSendContext(message: Pick<OutboundMessage, 'deliveryId'>, overrides: Partial<SendContext> = {}): SendContext {
  return { attempt: 1, idempotencyKey: message.deliveryId, signal: new AbortController().signal, logger: SILENT, ...overrides };
}

/** Every text form an error can reach a log or an API answer in. */
function errorTexts(error: unknown): string[] {
  const texts = [inspect(error, { depth: 8, showHidden: false })];
  if (error instanceof Error) texts.push(error.message, error.stack ?? '', String(error.cause ?? ''));
  const seen = new WeakSet<object>();
  try {
    texts.push(
      JSON.stringify(error, (_key, value: unknown) => {
        if (typeof value === 'object' && value !== null) {
          if (seen.has(value)) return undefined;
          seen.add(value);
        }
        return value;
      }) ?? '',
    );
  } catch {
    // not serializable: inspect() above covers it
  }
  return texts;
}

/**
 * Assert that no secret (raw, URL-encoded or base64) appears in an error's message, stack, cause, own properties
 * or JSON form.
 *
 * @example
 * ```ts
 * const error = await backend.send(message, ctx).catch((e: unknown) => e);
 * expectNoSecrets(error, ['s3cret-token']);
 * ```
 */
export function expectNoSecrets(error: unknown, secrets: readonly string[]): void {
  const texts = errorTexts(error);
  for (const secret of secrets) {
    if (!secret || secret.length < 4) continue;
    for (const form of new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')])) {
      const leaked = texts.find((t) => t.includes(form));
      expect(leaked === undefined, `a secret (${secret.slice(0, 2)}…) appears in the error: ${leaked?.slice(0, 300)}`).toBe(true);
    }
  }
}

/** A message-level option set that `capabilities` says the backend does not support. */
function derivedUnsupported(backend: Backend): Partial<Pick<OutboundMessage, 'options' | 'attachments'>> | undefined {
  const c = backend.capabilities;
  if (!c.sendAt) return { options: { sendAt: new Date(Date.now() + 86_400_000).toISOString() } };
  if (!c.trackOpens) return { options: { trackOpens: true } };
  if (!c.trackClicks) return { options: { trackClicks: true } };
  if (!c.metadata) return { options: { metadata: { order: 'A1' } } };
  if (!c.headers) return { options: { headers: { 'X-Conformance': '1' } } };
  if (c.maxTags === 0) return { options: { tags: ['conformance'] } };
  if (!c.attachments) return { attachments: [TEXT_ATTACHMENT] };
  return undefined;
}

const TEXT_ATTACHMENT: Attachment = {
  filename: 'hello.txt',
  contentType: 'text/plain',
  content: Buffer.from('hello attachment').toString('base64'),
};
// 1×1 transparent PNG
const INLINE_IMAGE: Attachment = {
  filename: 'dot.png',
  contentType: 'image/png',
  content: 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  contentId: 'dot@herald',
};

/**
 * The shared backend conformance suite: every backend package runs it against its loopback peer.
 *
 * It checks that each declared format renders (through core's template compiler) and sends, that addresses of
 * other protocols are refused, that peer errors map to `TransientError` / `PermanentError`, that
 * `ignoreUnsupportedFeatures` is honoured through `applyCapabilities`, that a send reports a message id or
 * per-recipient status, and that no credential leaks into any error. Add your backend's own cases beside it.
 *
 * @example
 * ```ts
 * import { testBackend } from '@herald/core/testing';
 *
 * const peer = await startMyPeer();
 * testBackend({
 *   name: 'postmark',
 *   start: () => peer.listen(), stop: () => peer.close(),
 *   create: (o) => postmark({ serverToken: 'tok-123456', baseUrl: peer.url, ...o }),
 *   address: 'ada@example.org',
 *   failNext: (kind) => peer.failNext(kind === 'transient' ? 429 : 422),
 *   received: () => peer.requests.length,
 *   lastReceived: () => peer.requests.at(-1)?.body ?? '',
 *   leakNext: () => peer.echoNext(),
 *   secrets: ['tok-123456'],
 * });
 * ```
 */
export function testBackend(harness: BackendHarness): void {
  describe(`backend conformance: ${harness.name}`, () => {
    const created: Backend[] = [];
    const errors: unknown[] = [];
    let backend: Backend;
    const timeout = harness.receiveTimeoutMs ?? 5000;

    const check = (name: BackendCheck, fn: () => Promise<void> | void) => {
      const reason = harness.skip?.[name];
      if (reason !== undefined) it.skip(`${name} (skipped: ${reason})`, fn);
      else it(name, fn);
    };
    const make = async (options?: { ignoreUnsupportedFeatures?: boolean }): Promise<Backend> => {
      const b = await harness.create(options);
      created.push(b);
      return b;
    };
    const message = (overrides: OutboundMessageOverrides = {}): OutboundMessage => {
      const m = makeOutboundMessage({ protocol: backend.protocol, backend: backend.name, to: harness.address, ...overrides });
      return harness.message ? harness.message(m) : m;
    };
    const send = (b: Backend, m: OutboundMessage): Promise<SendResult> => b.send(m, makeSendContext(m));
    const failure = async (b: Backend, m: OutboundMessage): Promise<unknown> => {
      let caught: unknown;
      try {
        await send(b, m);
      } catch (error) {
        caught = error;
      }
      expect(caught, 'send() should have raised').toBeDefined();
      errors.push(caught);
      return caught;
    };
    const waitForCount = async (atLeast: number): Promise<number> => {
      const deadline = Date.now() + timeout;
      for (;;) {
        const n = await harness.received();
        if (n >= atLeast || Date.now() > deadline) return n;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const sendsAndArrives = async (b: Backend, m: OutboundMessage, marker?: string): Promise<SendResult> => {
      const before = await harness.received();
      const result = await send(b, m);
      expect(await waitForCount(before + 1), 'the peer should have received the message').toBeGreaterThanOrEqual(before + 1);
      if (marker && harness.lastReceived) expect(await harness.lastReceived()).toContain(marker);
      return result;
    };
    const copies = (): readonly string[] =>
      harness.copyAddresses ?? (backend.protocol === 'email' ? ['copy.one@example.org', 'copy.two@example.org'] : []);

    beforeAll(async () => {
      await harness.start?.();
      backend = await make();
    });
    afterAll(async () => {
      for (const b of created) await b.close?.();
      await harness.stop?.();
    });

    check('shape', () => {
      expect(PROTOCOLS).toContain(backend.protocol);
      expect(backend.name).toMatch(/^[a-z0-9][a-z0-9-]*$/);
      expect(backend.formats.length).toBeGreaterThan(0);
      for (const f of backend.formats) expect(TEMPLATE_FORMATS).toContain(f);
      expect(typeof backend.send).toBe('function');
      expect(backend.ignoreUnsupportedFeatures).toBe(false);
    });

    check('own address', () => {
      expect(addressSchemas[backend.protocol].safeParse(harness.address).success).toBe(true);
      expect(backend.validateAddress?.(harness.address) ?? null).toBeNull();
    });

    check('foreign addresses', () => {
      const samples = harness.foreignAddresses ?? foreignAddresses(backend.protocol);
      const accepted = samples.filter(
        (a) => addressSchemas[backend.protocol].safeParse(a).success && (backend.validateAddress?.(a) ?? null) === null,
      );
      expect(accepted, `${backend.protocol} should refuse addresses of other protocols`).toEqual([]);
    });

    check('formats', async () => {
      for (const format of backend.formats) {
        const code = `hx${randomBytes(5).toString('hex')}`;
        const spec = harness.templates?.[format] ?? SUITE_TEMPLATES[format];
        const template = compileTemplate(spec, { notification: 'conformance', channel: backend.name, escapeText: backend.escapeText });
        const content = template.render({
          data: { name: 'Ada', code },
          recipient: { id: 'u1', name: 'Ada Lovelace' },
          contact: { protocol: backend.protocol, address: harness.address },
        });
        expect(content.format).toBe(format);
        await sendsAndArrives(backend, message({ content }), code);
      }
    });

    check('recipient status', async () => {
      const result = await sendsAndArrives(backend, message());
      const recipients = Object.entries(result.recipients ?? {});
      expect(Boolean(result.messageId) || recipients.length > 0, 'send() should return messageId and/or recipients').toBe(true);
      if (result.messageId !== undefined) expect(typeof result.messageId).toBe('string');
      for (const [, status] of recipients) expect(RECIPIENT_STATUSES).toContain(status.status);
      if (recipients.length) {
        const own = normalizeAddress(backend.protocol, harness.address);
        const keys = recipients.map(([k]) => normalizeAddress(backend.protocol, k));
        expect(keys, 'recipients should include the `to` address').toContain(own);
      }
      if (result.response !== undefined) expect(() => JSON.stringify(result.response)).not.toThrow();
    });

    check('transient errors', async () => {
      await harness.failNext('transient');
      const error = await failure(backend, message());
      expect(error).toBeInstanceOf(TransientError);
      expect((error as HeraldError).message).toMatch(/^\[herald\] /);
      expectNoSecrets(error, harness.secrets);
      await sendsAndArrives(backend, message());
    });

    check('permanent errors', async () => {
      await harness.failNext('permanent');
      const error = await failure(backend, message());
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as HeraldError).message).toMatch(/^\[herald\] /);
      expectNoSecrets(error, harness.secrets);
      await sendsAndArrives(backend, message());
    });

    if (harness.createUnreachable) {
      const createUnreachable = harness.createUnreachable.bind(harness);
      check('unreachable peer', async () => {
        const b = await createUnreachable();
        created.push(b);
        const error = await failure(b, message());
        expect(error).toBeInstanceOf(TransientError);
        expectNoSecrets(error, harness.secrets);
      });
    }

    check('capabilities', async () => {
      const c = backend.capabilities;
      const [first, second] = copies();
      const options: SendOptions = {};
      const attachments: Attachment[] = [];
      if (c.attachments) attachments.push(TEXT_ATTACHMENT);
      if (c.attachments && c.inlineAttachments) attachments.push(INLINE_IMAGE);
      if (c.cc && first) options.cc = [first];
      if (c.bcc && second) options.bcc = [second];
      if (c.replyTo && first) options.replyTo = [first];
      if (c.headers) options.headers = { 'X-Conformance': 'yes' };
      if (c.metadata) options.metadata = { order: 'A1' };
      if (c.maxTags > 0) options.tags = ['conformance', 'second'].slice(0, Math.min(2, c.maxTags));
      const m = applyCapabilities(backend, message({ options, attachments }));
      expect(m.options).toEqual(options);
      await sendsAndArrives(backend, m);
    });

    check('unsupported features', async () => {
      const feature = harness.unsupported ?? derivedUnsupported(backend);
      if (!feature) return;
      const m = message(feature);
      let error: unknown;
      try {
        await send(backend, applyCapabilities(backend, m));
      } catch (e) {
        error = e;
        errors.push(e);
      }
      expect(error).toBeInstanceOf(UnsupportedFeatureError);
      expect((error as UnsupportedFeatureError).message).toContain(backend.name);
    });

    check('ignore unsupported features', async () => {
      const feature = harness.unsupported ?? derivedUnsupported(backend);
      if (!feature) return;
      const lenient = await make({ ignoreUnsupportedFeatures: true });
      expect(lenient.ignoreUnsupportedFeatures).toBe(true);
      const m = applyCapabilities(lenient, message(feature));
      await sendsAndArrives(lenient, m);
    });

    check('secrets', async () => {
      if (harness.leakNext) {
        await harness.leakNext();
        const error = await failure(backend, message());
        expect(error).toBeInstanceOf(HeraldError);
        expectNoSecrets(error, harness.secrets);
      }
      for (const error of errors) expectNoSecrets(error, harness.secrets);
      for (const secret of harness.secrets) {
        expect(backend.secrets, 'backend.secrets should list every credential so core redacts it from logs').toContain(secret);
      }
    });
  });
}
