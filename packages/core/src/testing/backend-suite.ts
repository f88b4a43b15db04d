import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeraldError, PermanentError, TransientError, UnsupportedFeatureError } from '../errors';
import { addressSchemas, normalizeAddress, PROTOCOLS } from '../protocols';
import { compileTemplate } from '../templates';
import {
  type Attachment,
  type Backend,
  type OutboundMessage,
  type RecipientStatus,
  type SendOptions,
  type SendResult,
  TEMPLATE_FORMATS,
  type TemplateFormat,
  type TemplateSpec,
} from '../types';
import { expectNoSecrets, foreignAddresses, makeOutboundMessage, makeSendContext, type OutboundMessageOverrides, SUITE_TEMPLATES } from './backend-helpers';

/**
 * One message as the provider received it, read by the harness from its peer (a JSON body, a form, the SMTP
 * envelope and MIME source …). The suite checks each capability the backend declares against these fields, so
 * fill every one the backend can put on the wire: a declared capability whose field is missing fails.
 */
export interface ReceivedMessage {
  /** Everything the peer got for this message as text (request headers and body; SMTP envelope and MIME source).
   *  Rendered data must appear here, and features the backend dropped must not. */
  raw: string;
  to?: readonly string[];
  cc?: readonly string[];
  /** For SMTP: the envelope recipients that are neither `to` nor `cc`. */
  bcc?: readonly string[];
  replyTo?: readonly string[];
  subject?: string;
  text?: string;
  html?: string;
  /** Custom headers; names compare case-insensitively. */
  headers?: Readonly<Record<string, string>>;
  metadata?: Readonly<Record<string, string>>;
  tags?: readonly string[];
  attachments?: readonly ReceivedAttachment[];
  trackOpens?: boolean;
  trackClicks?: boolean;
}

/** An attachment as the provider received it. */
export interface ReceivedAttachment {
  filename: string;
  /** The decoded bytes. */
  content: Uint8Array;
  contentType?: string;
  /** Content-ID of an inline attachment, with or without `<…>` or `cid:`. */
  contentId?: string;
}

/**
 * A message the backend must refuse with `UnsupportedFeatureError` before it reaches the provider — or, built with
 * `ignoreUnsupportedFeatures`, send without the feature. For features a backend declares but cannot honour in
 * every form (several reply-to addresses where the provider takes one, an attachment without a filename …).
 */
export interface UnsupportedCase {
  /** What is unsupported, for failure messages. */
  feature: string;
  options?: SendOptions;
  attachments?: Attachment[];
  /** Text that must not reach the provider when the backend drops the feature. */
  absent?: readonly string[];
}

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
  /** Three more addresses the peer accepts, used as cc, bcc and reply-to when the backend declares those.
   *  @default fresh `@example.org` addresses for email, none otherwise */
  copyAddresses?: readonly string[];
  /** Addresses of other protocols; each must be refused by the protocol schema or `backend.validateAddress`.
   *  @default {@link foreignAddresses}(protocol) */
  foreignAddresses?: readonly string[];
  /** Make the peer answer the next send with a retryable error (SMTP 4xx, HTTP 429/503 …) or a final one
   *  (SMTP 5xx, HTTP 400/404 …). Only the next send fails; later ones succeed again. */
  failNext(kind: 'transient' | 'permanent'): void | Promise<void>;
  /** Every message the peer has received so far, oldest first, as the provider saw it (see {@link ReceivedMessage}).
   *  Requests the peer answered with an error (after `failNext`) may be listed too. */
  received(): readonly ReceivedMessage[] | Promise<readonly ReceivedMessage[]>;
  /** Credentials configured on the backend: none may appear in any error the backend raises. */
  secrets: readonly string[];
  /** Make the peer's next answer an error that echoes the secrets (a provider quoting the request back):
   *  the backend must redact them. Strongly recommended. */
  leakNext?(): void | Promise<void>;
  /** Build the backend against a peer that does not answer (a closed port): sends must raise `TransientError`. */
  createUnreachable?(): Backend | Promise<Backend>;
  /** Messages the backend must refuse besides those its `capabilities` imply (see {@link UnsupportedCase}). */
  unsupported?: readonly UnsupportedCase[];
  /** Templates per format rendered by core (data `{ name, code }`, see {@link SUITE_TEMPLATES}); for `params`
   *  give the shape your provider expects (Block Kit, a template model …). */
  templates?: Partial<Record<TemplateFormat, TemplateSpec>>;
  /** Adjust every message the suite builds (e.g. set `options.from`). */
  message?(message: OutboundMessage): OutboundMessage;
  /** Skip named checks, with the reason as value (e.g. `{ 'transient errors': 'the peer cannot fail softly' }`). */
  skip?: Partial<Record<BackendCheck, string>>;
  /** Longest wait for the peer to list a message after `send()` resolved. @default 5000 */
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

const RECIPIENT_STATUSES: readonly RecipientStatus[] = ['sent', 'queued', 'invalid', 'rejected', 'failed', 'unknown'];

// 1×1 transparent PNG
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

/** Values unique to one suite run, so a check finds what this send put on the wire and nothing else. */
function samples(code: string) {
  const text = (s: string) => Buffer.from(s).toString('base64');
  return {
    header: { name: 'X-Conformance', value: `h${code}` },
    metadata: { key: 'conformance', value: `m${code}` },
    tags: [`t${code}`, `u${code}`, `v${code}`],
    attachment: { filename: `a${code}.txt`, contentType: 'text/plain', content: text(`attachment a${code}`) } satisfies Attachment,
    inline: { filename: `i${code}.png`, contentType: 'image/png', content: PNG, contentId: `i${code}@herald` } satisfies Attachment,
    providerOption: `p${code}`,
    sendAt: new Date(Date.now() + 400 * 86_400_000).toISOString(),
  };
}

const bareContentId = (id: string) => id.replace(/^cid:/i, '').replace(/^<|>$/g, '');

/**
 * The unsupported features `capabilities` imply, each with a distinctive value; `copies` are the cc / bcc /
 * reply-to addresses to use (any address of the protocol will do for a backend that takes none).
 */
function derivedUnsupported(backend: Backend, code: string, copies: readonly string[]): UnsupportedCase[] {
  const c = backend.capabilities;
  const s = samples(code);
  const cases: UnsupportedCase[] = [];
  const add = (feature: string, options: SendOptions, absent: readonly string[] = [], attachments?: Attachment[]) =>
    cases.push({ feature, options, absent, ...(attachments ? { attachments } : {}) });
  const [cc, bcc, replyTo] = [copies[0]!, copies[1] ?? copies[0]!, copies[2] ?? copies[0]!];
  const distinct = (address: string) => (address.includes(code) ? [address] : []);
  if (!c.cc) add('cc', { cc: [cc] }, distinct(cc));
  if (!c.bcc) add('bcc', { bcc: [bcc] }, distinct(bcc));
  if (!c.replyTo) add('reply-to', { replyTo: [replyTo] }, distinct(replyTo));
  if (!c.headers) add('custom headers', { headers: { [s.header.name]: s.header.value } }, [s.header.value]);
  if (!c.metadata) add('metadata', { metadata: { [s.metadata.key]: s.metadata.value } }, [s.metadata.value]);
  if (c.maxTags === 0) add('tags', { tags: [s.tags[0]!] }, [s.tags[0]!]);
  else if (Number.isFinite(c.maxTags)) {
    const tags = Array.from({ length: c.maxTags + 1 }, (_, i) => `${s.tags[0]}n${i}`);
    add(`more than ${c.maxTags} tags`, { tags }, [tags.at(-1)!]);
  }
  if (!c.sendAt) add('sendAt', { sendAt: s.sendAt });
  if (!c.trackOpens) add('trackOpens', { trackOpens: true });
  if (!c.trackClicks) add('trackClicks', { trackClicks: true });
  if (!c.providerOptions) add('providerOptions', { providerOptions: { [backend.name]: { conformance: s.providerOption } } }, [s.providerOption]);
  if (!c.attachments) add('attachments', {}, [s.attachment.filename, s.attachment.content], [s.attachment]);
  else if (!c.inlineAttachments) add('inline attachments', {}, [s.inline.filename, s.inline.contentId!], [s.inline]);
  return cases;
}

/**
 * The shared backend conformance suite: every backend package runs it against its loopback peer.
 *
 * It checks that each declared format renders (through core's template compiler) and reaches the peer, that every
 * declared capability (cc, bcc, reply-to, headers, metadata, tags, attachments, inline attachments, open and click
 * tracking) reaches the provider request as `harness.received()` reports it, that the backend itself refuses what
 * it does not support before contacting the peer — or, with `ignoreUnsupportedFeatures`, sends without it — that
 * addresses of other protocols are refused, that peer errors map to `TransientError` / `PermanentError`, that a
 * send reports a message id or per-recipient status, and that no credential leaks into any error. Add your
 * backend's own cases beside it.
 *
 * @example
 * ```ts
 * import { testBackend } from '@herald/core/testing/vitest';
 *
 * const peer = await startMyPeer();
 * testBackend({
 *   name: 'postmark',
 *   start: () => peer.listen(), stop: () => peer.close(),
 *   create: (o) => postmark({ serverToken: 'tok-123456', baseUrl: peer.url, ...o }),
 *   address: 'ada@example.org',
 *   failNext: (kind) => peer.failNext(kind === 'transient' ? 429 : 422),
 *   received: () => peer.requests.map((r) => ({ raw: r.body, to: [r.json.To], cc: r.json.Cc?.split(', ') })),
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
    const code = randomBytes(4).toString('hex');

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
    // Straight to the backend, as the worker calls it: the backend itself must honour its capabilities.
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
    const count = async () => (await harness.received()).length;
    const waitFor = async (atLeast: number): Promise<readonly ReceivedMessage[]> => {
      const deadline = Date.now() + timeout;
      for (;;) {
        const all = await harness.received();
        if (all.length >= atLeast || Date.now() > deadline) return all;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    /** Send, wait until the peer lists one more message, and return what it received. */
    const deliver = async (b: Backend, m: OutboundMessage): Promise<{ result: SendResult; received: ReceivedMessage }> => {
      const before = await count();
      const result = await send(b, m);
      const all = await waitFor(before + 1);
      expect(all.length, 'the peer should have received the message').toBeGreaterThanOrEqual(before + 1);
      return { result, received: all.at(-1)! };
    };
    const copies = (): readonly string[] =>
      harness.copyAddresses ??
      (backend.protocol === 'email' ? [`cc.${code}@example.org`, `bcc.${code}@example.org`, `reply.${code}@example.org`] : []);
    const normalized = (list: readonly string[] | undefined) => (list ?? []).map((a) => normalizeAddress(backend.protocol, a));
    const unsupportedCases = (): UnsupportedCase[] => [
      ...derivedUnsupported(backend, code, copies().length ? copies() : [harness.address]),
      ...(harness.unsupported ?? []),
    ];
    const withCase = (c: UnsupportedCase) => message({ options: c.options ?? {}, attachments: c.attachments ?? [] });

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
        const marker = `hx${randomBytes(5).toString('hex')}`;
        const spec = harness.templates?.[format] ?? SUITE_TEMPLATES[format];
        const template = compileTemplate(spec, { notification: 'conformance', channel: backend.name, escapeText: backend.escapeText });
        const content = template.render({
          data: { name: 'Ada', code: marker },
          recipient: { id: 'u1', name: 'Ada Lovelace' },
          contact: { protocol: backend.protocol, address: harness.address },
        });
        expect(content.format).toBe(format);
        const { received } = await deliver(backend, message({ content }));
        expect(received.raw, `${format}: the rendered data should reach the peer`).toContain(marker);
        // Each part the peer reports separately must carry its own rendering (html not sent as text …).
        for (const part of ['subject', 'text', 'html'] as const) {
          if (received[part] !== undefined && content[part]?.includes(marker)) {
            expect(received[part], `${format}: the rendered ${part} should reach the peer as the ${part}`).toContain(marker);
          }
        }
        if (received.to !== undefined) {
          expect(normalized(received.to), `${format}: the peer should get the message for ${harness.address}`).toContain(
            normalizeAddress(backend.protocol, harness.address),
          );
        }
      }
    });

    check('recipient status', async () => {
      const { result } = await deliver(backend, message());
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
      await deliver(backend, message());
    });

    check('permanent errors', async () => {
      await harness.failNext('permanent');
      const error = await failure(backend, message());
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as HeraldError).message).toMatch(/^\[herald\] /);
      expectNoSecrets(error, harness.secrets);
      await deliver(backend, message());
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
      const s = samples(code);
      const [cc, bcc, replyTo] = [copies()[0], copies()[1] ?? copies()[0], copies()[2] ?? copies()[0]];
      const options: SendOptions = {};
      const attachments: Attachment[] = [];
      if (c.attachments) attachments.push(s.attachment);
      if (c.attachments && c.inlineAttachments) attachments.push(s.inline);
      if (c.cc && cc) options.cc = [cc];
      if (c.bcc && bcc) options.bcc = [bcc];
      if (c.replyTo && replyTo) options.replyTo = [replyTo];
      if (c.headers) options.headers = { [s.header.name]: s.header.value };
      if (c.metadata) options.metadata = { [s.metadata.key]: s.metadata.value };
      if (c.maxTags > 0) options.tags = s.tags.slice(0, Math.min(2, c.maxTags));
      if (c.trackOpens) options.trackOpens = true;
      if (c.trackClicks) options.trackClicks = true;
      const { received } = await deliver(backend, message({ options, attachments }));
      const declared = (what: string, field: keyof ReceivedMessage) =>
        `${harness.name} declares ${what}: it should reach the provider, as received().${field} reports it`;

      for (const [field, list] of [['cc', options.cc], ['bcc', options.bcc], ['replyTo', options.replyTo]] as const) {
        if (!list) continue;
        expect(received[field], declared(field, field)).toBeDefined();
        expect(normalized(received[field]), declared(field, field)).toContain(normalizeAddress(backend.protocol, list[0]!));
      }
      if (options.headers) {
        const headers = Object.fromEntries(Object.entries(received.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
        expect(headers[s.header.name.toLowerCase()], declared('custom headers', 'headers')).toBe(s.header.value);
      }
      if (options.metadata) expect(received.metadata?.[s.metadata.key], declared('metadata', 'metadata')).toBe(s.metadata.value);
      if (options.tags) expect(received.tags ?? [], declared('tags', 'tags')).toEqual(expect.arrayContaining(options.tags));
      if (options.trackOpens) expect(received.trackOpens, declared('trackOpens', 'trackOpens')).toBe(true);
      if (options.trackClicks) expect(received.trackClicks, declared('trackClicks', 'trackClicks')).toBe(true);
      for (const sent of attachments) {
        const what = sent.contentId ? 'inline attachments' : 'attachments';
        const got = received.attachments?.find((a) => a.filename === sent.filename);
        expect(got, declared(what, 'attachments')).toBeDefined();
        expect(Buffer.from(got!.content).toString('base64'), `${sent.filename}: the content should arrive unchanged`).toBe(sent.content);
        if (sent.contentId) expect(bareContentId(got!.contentId ?? ''), `${sent.filename}: the Content-ID should arrive`).toBe(sent.contentId);
      }
    });

    check('unsupported features', async () => {
      const cases = unsupportedCases();
      if (!cases.length) return;
      const before = await count();
      for (const c of cases) {
        let error: unknown;
        try {
          await send(backend, withCase(c));
        } catch (e) {
          error = e;
          errors.push(e);
        }
        expect(error, `${harness.name} does not support ${c.feature}: send() should raise UnsupportedFeatureError`).toBeInstanceOf(
          UnsupportedFeatureError,
        );
        expect((error as UnsupportedFeatureError).message).toContain(backend.name);
      }
      // One more message as a barrier: the peer must list it and nothing before it from the refused sends.
      await deliver(backend, message());
      expect(await count(), 'a refused message should never reach the provider').toBe(before + 1);
    });

    check('ignore unsupported features', async () => {
      const cases = unsupportedCases();
      if (!cases.length) return;
      const lenient = await make({ ignoreUnsupportedFeatures: true });
      expect(lenient.ignoreUnsupportedFeatures).toBe(true);
      for (const c of cases) {
        const { received } = await deliver(lenient, withCase(c));
        const raw = received.raw.toLowerCase();
        for (const text of c.absent ?? []) {
          expect(raw.includes(text.toLowerCase()), `${c.feature} was dropped, so "${text}" should not reach the provider`).toBe(false);
        }
      }
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
